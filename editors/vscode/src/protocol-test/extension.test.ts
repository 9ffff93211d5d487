/**
 * The extension itself, activated in Node with a stand-in `vscode` module (fakeVscode.ts)
 * and the real vscode-languageclient, against a real starcoder-ls: the server starts
 * from the `starcoder.server.*` settings, the status bar follows the model, the toggle
 * command and a settings edit reach the server, and the inline completion provider the
 * client registers with "VS Code" returns the server's items.
 *
 * Run by tests/editors (pytest) with STARCODER_LS_COMMAND (JSON argv of the server) and
 * STARCODER_LS_EXPECT (text the completion of `def add(a, b):` must contain).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { FakeVscode, fakeDocument, InlineCompletionList, Position } from './fakeVscode';

const given: string[] | undefined = process.env.STARCODER_LS_COMMAND
  ? JSON.parse(process.env.STARCODER_LS_COMMAND)
  : undefined;
/** The server logs to stderr here, as for a user: what the output channel makes of it is tested. */
const command = given?.filter((arg, i) => arg !== '--log-file' && given[i - 1] !== '--log-file');
const expected = process.env.STARCODER_LS_EXPECT;
const root = path.resolve(__dirname, '..', '..');

async function until(what: string, check: () => boolean, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('the extension against starcoder-ls', { skip: !command && 'STARCODER_LS_COMMAND is not set' }, async (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const vscode = new FakeVscode(manifest.contributes.configuration.properties);
  vscode.settings.set('starcoder.server.command', command![0]);
  vscode.settings.set('starcoder.server.args', command!.slice(1));
  vscode.settings.set('starcoder.debounceMs', 0);
  vscode.settings.set('starcoder.maxNewTokens', 16);
  const text = 'def add(a, b):\n    return \n\n\nprint(add(1, 2))\n';
  const document = fakeDocument('/tmp/starcoder-ls-extension/add.py', 'python', text);
  vscode.documents.push(document);
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

  await t.test('the status bar shows the model loading, then ready', async () => {
    await until('a ready status', () => status.text.startsWith('$(sparkle)'));
    assert.equal(status.text, '$(sparkle) StarCoder: SmolLM2-135M (embedded)');
    assert.match(status.tooltip, /ready on cpu/);
    assert.ok(
      status.history.some((text) => text.startsWith('$(loading~spin)')),
      JSON.stringify(status.history),
    );
  });

  await t.test('commands: ours, and the server\'s registered by the client', () => {
    for (const id of ['starcoder.toggle', 'starcoder.restart', 'starcoder.showLog']) {
      assert.ok(vscode.commands.has(id), id);
    }
    assert.ok(vscode.commands.has('starcoder.status'), 'executeCommandProvider commands');
  });

  await t.test('the log names the command once, with single spaces', () => {
    const starting = vscode.log.filter((line) => line.text.startsWith('starting '));
    assert.equal(starting.length, 1, JSON.stringify(vscode.log));
    assert.equal(starting[0].level, 'info');
    assert.equal(starting[0].text, `starting ${command!.join(' ')} (from setting)`);
  });

  let accepted: { command: string; arguments?: unknown[] } | undefined;
  await t.test('the client registered an inline completion provider that answers', async () => {
    assert.equal(vscode.inlineProviders.length, 1);
    const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    const list = (await vscode.inlineProviders[0].provideInlineCompletionItems(
      document,
      new Position(1, 11),
      { triggerKind: 1, selectedCompletionInfo: undefined },
      token,
    )) as InlineCompletionList;
    assert.ok(list instanceof InlineCompletionList, String(list));
    assert.equal(list.items.length, 1);
    const item = list.items[0];
    assert.equal(typeof item.insertText, 'string');
    assert.deepEqual(item.range?.start, new Position(1, 11));
    if (expected) {
      assert.ok((item.insertText as string).includes(expected), String(item.insertText));
    }
    accepted = item.command as typeof accepted;
  });

  await t.test("the server's log lines reach the output channel at their own levels", async () => {
    assert.ok(accepted, 'the item carries the acceptance command');
    await vscode.commands.get(accepted!.command)!(...(accepted!.arguments ?? []));
    await until('the acceptance in the log', () =>
      vscode.log.some((line) => line.text.includes('suggestion accepted')),
    );
    const server = vscode.log.filter((line) => /^starcoder_ls[\w.]*: /.test(line.text));
    const at = (text: string) => server.find((line) => line.text.includes(text))?.level;
    assert.equal(at('suggestion accepted'), 'info', JSON.stringify(server));
    assert.equal(at(': ready'), 'info', JSON.stringify(server));
    assert.deepEqual(
      server.filter((line) => line.level === 'error'),
      [],
      'a healthy server logs no errors',
    );
    assert.ok(
      !vscode.log.some((line) => /^\d{4}-\d\d-\d\d /.test(line.text)),
      "the server's own time stamp is taken off (the channel has its own)",
    );
  });

  await t.test('toggling turns the server off and on, and the status bar says so', async () => {
    await vscode.commands.get('starcoder.toggle')!();
    assert.equal(vscode.settings.get('starcoder.enabled'), false);
    await until('the disabled status', () => status.text === '$(circle-slash) StarCoder: off');
    await vscode.commands.get('starcoder.toggle')!();
    await until('the ready status again', () => status.text.startsWith('$(sparkle)'));
  });

  await t.test('an invalid setting is reported by the server and shown', async () => {
    vscode.setSetting('starcoder.maxNewTokens', 0);
    await until('an error message', () =>
      vscode.messages.some((m) => m.level === 'error' && m.text.includes('maxNewTokens')),
    );
    assert.ok(
      !vscode.messages.some((m) => /unknown setting/.test(m.text)),
      `client-only settings must not reach the server: ${JSON.stringify(vscode.messages)}`,
    );
  });
});
