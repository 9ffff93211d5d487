import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  filterConfigurationResult,
  needsForwarding,
  needsRestart,
  SERVER_SETTINGS,
  serverSettings,
  toggleTarget,
} from '../settings';

const userConfig: Record<string, unknown> = {
  enabled: false,
  model: 'bigcode/starcoder',
  debounceMs: 0,
  languages: ['*', '!markdown'],
  'server.command': '/opt/starcoder-ls',
  'server.args': ['--log-level', 'debug'],
  'trace.server': 'verbose',
};

test('every server setting is sent, and only those', () => {
  const settings = serverSettings((key) => userConfig[key]);
  assert.deepEqual(Object.keys(settings).sort(), [...SERVER_SETTINGS].sort());
  assert.equal(settings.enabled, false);
  assert.equal(settings.model, 'bigcode/starcoder');
  assert.equal(settings.debounceMs, 0);
  assert.deepEqual(settings.languages, ['*', '!markdown']);
  assert.ok(!('server' in settings) && !('trace' in settings));
});

test('a setting VS Code does not know is sent as null, which the server leaves as it is', () => {
  const settings = serverSettings(() => undefined);
  for (const name of SERVER_SETTINGS) {
    assert.equal(settings[name], null, name);
  }
});

test('a false or zero value is sent as such, not dropped', () => {
  const settings = serverSettings((key) => ({ fim: false, temperature: 0 })[key]);
  assert.equal(settings.fim, false);
  assert.equal(settings.temperature, 0);
});

test('server command changes restart the process, server settings are forwarded', () => {
  const only = (changed: string) => (section: string) =>
    changed === section || changed.startsWith(`${section}.`);
  assert.ok(needsRestart(only('starcoder.server.command')));
  assert.ok(needsRestart(only('starcoder.server.args')));
  assert.ok(!needsForwarding(only('starcoder.server.command')));
  assert.ok(needsForwarding(only('starcoder.maxNewTokens')));
  assert.ok(!needsRestart(only('starcoder.maxNewTokens')));
  assert.ok(!needsForwarding(only('starcoder.trace.server')));
  assert.ok(!needsForwarding(only('editor.fontSize')));
});

test('workspace/configuration answers carry the server settings alone', () => {
  const answer = filterConfigurationResult(
    ['starcoder', 'editor', undefined],
    [{ ...userConfig, server: { command: 'x' } }, { tabSize: 4 }, null],
    (key) => userConfig[key],
  );
  assert.deepEqual(Object.keys(answer[0] as object).sort(), [...SERVER_SETTINGS].sort());
  assert.deepEqual(answer[1], { tabSize: 4 });
  assert.equal(answer[2], null);
});

test('toggling writes to the most specific scope that sets the value', () => {
  assert.equal(toggleTarget(undefined), 'global');
  assert.equal(toggleTarget({}), 'global');
  assert.equal(toggleTarget({ globalValue: false }), 'global');
  assert.equal(toggleTarget({ globalValue: true, workspaceValue: false }), 'workspace');
  assert.equal(
    toggleTarget({ workspaceValue: true, workspaceFolderValue: false }),
    'workspaceFolder',
  );
});
