import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  describeServerCommand,
  launchFailure,
  resolveServerCommand,
  venvExecutable,
} from '../serverCommand';

const base = {
  configured: '',
  args: [] as string[],
  roots: ['/src/starcoder-ls', '/home/me/project'],
  platform: 'linux' as NodeJS.Platform,
};

test('an explicit command wins and keeps its arguments', () => {
  const found = resolveServerCommand({
    ...base,
    configured: ' /opt/bin/starcoder-ls ',
    args: ['--model', 'bigcode/starcoder'],
    isExecutable: () => true,
  });
  assert.deepEqual(found, {
    command: '/opt/bin/starcoder-ls',
    args: ['--model', 'bigcode/starcoder'],
    source: 'setting',
  });
});

test("by default the repository's .venv is used, the first root that has one", () => {
  const found = resolveServerCommand({
    ...base,
    isExecutable: (file) => file === '/home/me/project/.venv/bin/starcoder-ls',
  });
  assert.equal(found.command, '/home/me/project/.venv/bin/starcoder-ls');
  assert.equal(found.source, 'repository');
  const first = resolveServerCommand({ ...base, isExecutable: () => true });
  assert.equal(first.command, '/src/starcoder-ls/.venv/bin/starcoder-ls');
});

test('without a .venv the command is looked up on PATH', () => {
  const found = resolveServerCommand({ ...base, isExecutable: () => false });
  assert.deepEqual(found, { command: 'starcoder-ls', args: [], source: 'PATH' });
});

test('Windows virtual environments keep their executables in Scripts', () => {
  assert.equal(venvExecutable('C:\\repo', 'win32'), 'C:\\repo\\.venv\\Scripts\\starcoder-ls.exe');
  assert.equal(venvExecutable('/repo', 'darwin'), '/repo/.venv/bin/starcoder-ls');
});

test('the logged command line has one space between parts, and quotes what needs it', () => {
  assert.equal(
    describeServerCommand({ command: '/r/.venv/bin/starcoder-ls', args: [], source: 'repository' }),
    '/r/.venv/bin/starcoder-ls (from repository)',
  );
  assert.equal(
    describeServerCommand({
      command: 'starcoder-ls',
      args: ['--log-file', '/tmp/my logs/ls.log'],
      source: 'setting',
    }),
    'starcoder-ls --log-file "/tmp/my logs/ls.log" (from setting)',
  );
});

test('a launch failure names the command once', () => {
  assert.equal(
    launchFailure('/x/starcoder-ls', 'Launching server using command /x/starcoder-ls failed.'),
    'Launching server using command /x/starcoder-ls failed.',
  );
  assert.equal(launchFailure('/x/starcoder-ls', 'EACCES'), '/x/starcoder-ls: EACCES');
});
