import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { PROCESS_SETTINGS, SECTION, SERVER_SETTINGS } from '../settings';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const properties: Record<string, Record<string, unknown>> =
  manifest.contributes.configuration.properties;

test('every server setting is contributed under starcoder.* with a description', () => {
  for (const name of SERVER_SETTINGS) {
    const property = properties[`${SECTION}.${name}`];
    assert.ok(property, `starcoder.${name} is not contributed`);
    assert.ok(property.description || property.markdownDescription, `starcoder.${name}`);
    assert.ok('default' in property, `starcoder.${name} has no default`);
  }
});

test('every contributed setting is either forwarded or used by the extension', () => {
  const known = new Set([
    ...SERVER_SETTINGS.map((name) => `${SECTION}.${name}`),
    ...PROCESS_SETTINGS.map((name) => `${SECTION}.${name}`),
    `${SECTION}.trace.server`,
  ]);
  for (const key of Object.keys(properties)) {
    assert.ok(known.has(key), `${key} is contributed but neither forwarded nor read`);
  }
});

test('the commands the extension registers are contributed', () => {
  const source = fs.readFileSync(path.join(root, 'src', 'extension.ts'), 'utf8');
  const registered = [...source.matchAll(/registerCommand\('([^']+)'/g)].map((m) => m[1]);
  const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command);
  assert.deepEqual([...registered].sort(), [...contributed].sort());
  assert.ok(contributed.includes('starcoder.toggle'));
  // The server's own commands are registered by vscode-languageclient; ours must differ.
  for (const serverCommand of ['starcoder.status', 'starcoder.accepted']) {
    assert.ok(!contributed.includes(serverCommand), serverCommand);
  }
});

test('built on vscode-languageclient 10.0.1 or later (inline completion is built in)', () => {
  const range: string = manifest.dependencies['vscode-languageclient'];
  const [major, minor, patch] = range.replace(/^[\^~>=\s]+/, '').split('.').map(Number);
  assert.ok(major > 10 || (major === 10 && (minor > 0 || patch >= 1)), range);
  const installed = JSON.parse(
    fs.readFileSync(
      path.join(root, 'node_modules', 'vscode-languageclient', 'package.json'),
      'utf8',
    ),
  ).version as string;
  assert.ok(Number(installed.split('.')[0]) >= 10, installed);
});

test('the entry point is the compiled extension', () => {
  assert.equal(manifest.main, './out/extension.js');
  assert.ok(fs.existsSync(path.join(root, 'out', 'extension.js')));
});

test('starcoder.trace.server says what vscode-languageclient 10 does with it', () => {
  // The client traces only when the output channel's log level is Trace; the setting then
  // picks messages or verbose, and "off" is read as messages: no value can turn it off or on.
  const client = fs.readFileSync(
    path.join(root, 'node_modules', 'vscode-languageclient', 'lib', 'common', 'client.js'),
    'utf8',
  );
  assert.match(client, /_traceLogLevel !== vscode_1\.LogLevel\.Trace \? [\w.]*Trace\.Off/);
  assert.match(client, /config\.get\('trace\.server', 'messages'\)/);
  const trace = properties[`${SECTION}.trace.server`];
  assert.deepEqual(trace.enum, ['messages', 'verbose']);
  assert.equal(trace.default, 'messages');
  assert.match(String(trace.markdownDescription), /log level is Trace/);
  assert.match(String(trace.markdownDescription), /Developer: Set Log Level/);
});
