/**
 * A server command that does not exist: the status bar says the server is not running and
 * why, and the launch error is logged once (vscode-languageclient logs it; the extension
 * used to log it a second time).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { FakeVscode } from './fakeVscode';

const root = path.resolve(__dirname, '..', '..');

test('a missing server is reported once, in the log and the status bar', async (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const vscode = new FakeVscode(manifest.contributes.configuration.properties);
  const missing = '/nonexistent/starcoder-ls-test/starcoder-ls';
  vscode.settings.set('starcoder.server.command', missing);
  const uninstall = vscode.install();
  const extension = require('../extension');
  const context = { subscriptions: [] as { dispose(): unknown }[], extensionPath: root };
  t.after(async () => {
    await extension.deactivate();
    context.subscriptions.forEach((item) => item.dispose());
    uninstall();
  });

  await extension.activate(context);

  const status = vscode.statusItems[0];
  assert.equal(status.text, '$(error) StarCoder');
  assert.match(status.tooltip, /starcoder-ls is not running: .*starcoder-ls-test.*ENOENT/);
  const errors = vscode.log.filter((line) => line.level === 'error');
  assert.equal(
    errors.filter((line) => line.text.includes('ENOENT')).length,
    1,
    JSON.stringify(vscode.log, null, 1),
  );
  assert.equal(
    vscode.log.filter((line) => line.text === `starting ${missing} (from setting)`).length,
    1,
    JSON.stringify(vscode.log, null, 1),
  );

  // Restart Server after a failed start tries again (it used to throw: the failed client
  // "is not running and can't be stopped").
  await vscode.commands.get('starcoder.restart')!();
  assert.equal(vscode.log.filter((line) => line.text.startsWith('starting ')).length, 2);
  assert.equal(status.text, '$(error) StarCoder');
});
