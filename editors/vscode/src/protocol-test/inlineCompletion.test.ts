/**
 * starcoder-ls as VS Code talks to it: the connection is vscode-languageserver-protocol
 * over vscode-jsonrpc (the libraries vscode-languageclient is built on), the capabilities
 * are the ones vscode-languageclient declares, and the requests are the ones VS Code's
 * inline completion provider sends.
 *
 * Run by tests/editors (pytest), which sets:
 *   STARCODER_LS_COMMAND  JSON array: the server's argv
 *   STARCODER_LS_OPTIONS  JSON object: initializationOptions (optional)
 *   STARCODER_LS_EXPECT   text the first completion of `def add(a, b):` must contain (optional)
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { test } from 'node:test';
import {
  createProtocolConnection,
  ProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';
import type {
  InitializeResult,
  InlineCompletionItem,
  InlineCompletionList,
  Position,
} from 'vscode-languageserver-protocol';

import { vscodeClientCapabilities } from './vscodeCapabilities';

const command: string[] | undefined = process.env.STARCODER_LS_COMMAND
  ? JSON.parse(process.env.STARCODER_LS_COMMAND)
  : undefined;
const options = JSON.parse(process.env.STARCODER_LS_OPTIONS ?? '{}');
const expected = process.env.STARCODER_LS_EXPECT;

const Automatic = 2;
const Invoked = 1;

interface Server {
  process: ChildProcess;
  connection: ProtocolConnection;
  initialize: InitializeResult;
  statuses: { state: string; model: string }[];
  stderr: string[];
}

async function startServer(argv: string[]): Promise<Server> {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk) => stderr.push(String(chunk)));
  const connection = createProtocolConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const statuses: Server['statuses'] = [];
  connection.onNotification('starcoder/status', (status) => {
    statuses.push(status);
  });
  // Server-to-client requests VS Code answers on its own.
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onRequest('client/registerCapability', () => null);
  connection.onRequest('workspace/configuration', (params: { items: unknown[] }) =>
    params.items.map(() => options),
  );
  connection.onNotification('window/logMessage', () => undefined);
  connection.onNotification('window/showMessage', (params) => {
    stderr.push(JSON.stringify(params));
  });
  connection.onNotification('$/progress', () => undefined);
  connection.listen();
  const initialize = (await connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'Visual Studio Code', version: '1.91.0' },
    rootUri: null,
    capabilities: vscodeClientCapabilities(),
    initializationOptions: options,
    workspaceFolders: null,
  })) as InitializeResult;
  await connection.sendNotification('initialized', {});
  return { process: child, connection, initialize, statuses, stderr };
}

async function waitReady(server: Server, timeoutMs: number): Promise<{ state: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await server.connection.sendRequest('workspace/executeCommand', {
      command: 'starcoder.status',
      arguments: [],
    })) as { state: string };
    if (status.state === 'ready' || status.state === 'error' || Date.now() > deadline) {
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Where the cursor is: the `|` in `marked`, as a UTF-16 LSP position. */
function cursorAt(marked: string): { text: string; position: Position } {
  const offset = marked.indexOf('|');
  const text = marked.slice(0, offset) + marked.slice(offset + 1);
  const before = text.slice(0, offset).split('\n');
  return {
    text,
    position: { line: before.length - 1, character: before[before.length - 1].length },
  };
}

/** What VS Code does with an accepted item: replace its range with its text. */
function accept(text: string, item: InlineCompletionItem): string {
  const lines = text.split('\n');
  const start = item.range!.start;
  const end = item.range!.end;
  const offset = (p: Position) =>
    lines.slice(0, p.line).reduce((n, line) => n + line.length + 1, 0) + p.character;
  return text.slice(0, offset(start)) + (item.insertText as string) + text.slice(offset(end));
}

function checkItems(list: InlineCompletionList, text: string, position: Position): void {
  assert.ok(Array.isArray(list.items), JSON.stringify(list));
  const line = text.split('\n')[position.line];
  for (const item of list.items) {
    assert.equal(typeof item.insertText, 'string', JSON.stringify(item));
    assert.ok(item.range, `no range: ${JSON.stringify(item)}`);
    const { start, end } = item.range!;
    assert.equal(start.line, position.line, 'the range starts on the cursor line');
    assert.equal(end.line, position.line, 'the range ends on the cursor line');
    assert.ok(start.character <= position.character, JSON.stringify(item.range));
    assert.ok(end.character >= position.character, JSON.stringify(item.range));
    assert.ok(end.character <= line.length, JSON.stringify(item.range));
    // VS Code only shows an item whose text starts with what the range covers up to the cursor.
    const typed = line.slice(start.character, position.character);
    assert.ok((item.insertText as string).startsWith(typed), JSON.stringify({ typed, item }));
    // Text right of the cursor is replaced only when it is auto-closed punctuation.
    assert.match(line.slice(position.character, end.character), /^[)\]}"'`;:,]*$/);
    assert.equal(item.command?.command, 'starcoder.accepted');
  }
}

test('VS Code inline completion against starcoder-ls', { skip: !command && 'STARCODER_LS_COMMAND is not set' }, async (t) => {
  const server = await startServer(command!);
  t.after(async () => {
    try {
      await server.connection.sendRequest('shutdown');
      await server.connection.sendNotification('exit');
    } finally {
      server.connection.dispose();
      server.process.kill();
    }
  });

  await t.test('capabilities: inline completion offered, popup completion not', () => {
    const caps = server.initialize.capabilities;
    assert.ok(caps.inlineCompletionProvider, JSON.stringify(caps));
    assert.equal(caps.completionProvider, undefined);
    assert.ok(caps.executeCommandProvider?.commands.includes('starcoder.status'));
    const encoding = caps.positionEncoding ?? 'utf-16';
    assert.equal(encoding, 'utf-16', 'VS Code only speaks UTF-16 positions');
  });

  await t.test('the model loads and the status says so', async () => {
    const status = await waitReady(server, 240_000);
    assert.equal(status.state, 'ready', `${JSON.stringify(status)}\n${server.stderr.join('')}`);
    assert.ok(server.statuses.some((s) => s.state === 'ready'), JSON.stringify(server.statuses));
  });

  const uri = 'file:///tmp/starcoder-ls-vscode/add.py';
  const { text, position } = cursorAt('def add(a, b):\n    return |\n\n\nprint(add(1, 2))\n');
  await server.connection.sendNotification('textDocument/didOpen', {
    textDocument: { uri, languageId: 'python', version: 1, text },
  });

  await t.test('an automatic request (as on typing) returns an item at the cursor', async () => {
    const list = (await server.connection.sendRequest('textDocument/inlineCompletion', {
      textDocument: { uri },
      position,
      context: { triggerKind: Automatic },
    })) as InlineCompletionList;
    checkItems(list, text, position);
    assert.equal(list.items.length, 1, 'automatic requests get one item');
    const completed = accept(text, list.items[0]);
    assert.ok(completed.startsWith('def add(a, b):\n    return '), completed);
    assert.ok(completed.endsWith('\n\n\nprint(add(1, 2))\n'), completed);
    if (expected) {
      assert.ok(
        (list.items[0].insertText as string).includes(expected),
        `expected ${JSON.stringify(expected)} in ${JSON.stringify(list.items[0].insertText)}`,
      );
    }
    const accepted = await server.connection.sendRequest('workspace/executeCommand', {
      command: list.items[0].command!.command,
      arguments: list.items[0].command!.arguments ?? [],
    });
    assert.equal(accepted ?? null, null);
  });

  await t.test('an invoked request (Alt+\\) returns up to maxSuggestions items', async () => {
    const list = (await server.connection.sendRequest('textDocument/inlineCompletion', {
      textDocument: { uri },
      position,
      context: { triggerKind: Invoked },
    })) as InlineCompletionList;
    checkItems(list, text, position);
    assert.ok(list.items.length >= 1 && list.items.length <= (options.maxSuggestions ?? 3));
  });

  await t.test('ranges are UTF-16 code units after non-BMP characters', async () => {
    const emojiUri = 'file:///tmp/starcoder-ls-vscode/emoji.py';
    const marked = cursorAt('greeting = "\u{1F600}\u{1F600}"\nprint(greeting, |)\n');
    await server.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: emojiUri, languageId: 'python', version: 1, text: marked.text },
    });
    const list = (await server.connection.sendRequest('textDocument/inlineCompletion', {
      textDocument: { uri: emojiUri },
      position: marked.position,
      context: { triggerKind: Automatic },
    })) as InlineCompletionList;
    checkItems(list, marked.text, marked.position);
  });
});
