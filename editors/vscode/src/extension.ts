/**
 * The VS Code side of starcoder-ls: start the server, keep its settings in step, show
 * its state. Inline completion itself is vscode-languageclient's built-in feature.
 *
 * Decisions live in the pure modules (settings, status, serverCommand) so that they are
 * unit-tested without VS Code; this file only connects them to the editor.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import type { Readable } from 'stream';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorHandler,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

import {
  filterConfigurationResult,
  needsForwarding,
  needsRestart,
  SECTION,
  serverSettings,
  toggleTarget,
} from './settings';
import { FOCUS_NOTIFICATION, FocusReporter, landed } from './focus';
import { describeServerCommand, launchFailure, resolveServerCommand } from './serverCommand';
import { ServerLogLeveler } from './serverLog';
import { ClientStatus, ServerStatus, statusView } from './status';

const STATUS_COMMAND = 'starcoder.status';
const STATUS_NOTIFICATION = 'starcoder/status';

class Controller {
  private client: LanguageClient | undefined;
  /** vscode-languageclient's decision on the last close: it starts the server again itself. */
  private restarting = false;
  private readonly output: vscode.LogOutputChannel;
  private readonly statusItem: vscode.StatusBarItem;
  private focusWatch: vscode.Disposable | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('StarCoder', { log: true });
    this.statusItem = vscode.window.createStatusBarItem(
      'starcoder.status',
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.statusItem.name = 'StarCoder';
    this.statusItem.command = 'starcoder.toggle';
    this.statusItem.show();
    context.subscriptions.push(this.output, this.statusItem);
  }

  private config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(SECTION);
  }

  private settings(): ReturnType<typeof serverSettings> {
    const config = this.config();
    return serverSettings((key) => config.get(key));
  }

  show(status: ServerStatus | ClientStatus): void {
    const view = statusView(status);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.backgroundColor = view.error
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : undefined;
  }

  private repositoryRoots(): string[] {
    const roots: string[] = [];
    const recorded = path.join(this.context.extensionPath, 'out', 'repo-root.json');
    try {
      const root = JSON.parse(fs.readFileSync(recorded, 'utf8')).root;
      if (typeof root === 'string') {
        roots.push(root);
      }
    } catch {
      // Not built by `npm run package`: development mode, the folders below cover it.
    }
    roots.push(path.resolve(this.context.extensionPath, '..', '..'));
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme === 'file') {
        roots.push(folder.uri.fsPath);
      }
    }
    return roots;
  }

  async start(): Promise<void> {
    const config = this.config();
    const server = resolveServerCommand({
      configured: config.get<string>('server.command', ''),
      args: config.get<string[]>('server.args', []),
      roots: this.repositoryRoots(),
      isExecutable: (file) => {
        try {
          fs.accessSync(file, fs.constants.X_OK);
          return true;
        } catch {
          return false;
        }
      },
      platform: process.platform,
    });
    this.output.info(`starting ${describeServerCommand(server)}`);

    const serverOptions: ServerOptions = {
      command: server.command,
      args: server.args,
      transport: TransportKind.stdio,
    };
    // vscode-languageclient's own handler (restart up to 4 times in 3 minutes), watched so
    // that the status bar does not say "not running" while the client starts it again.
    let fallback: ErrorHandler | undefined;
    const errorHandler: ErrorHandler = {
      error: (error, message, count) => fallback!.error(error, message, count),
      closed: async () => {
        const result = await fallback!.closed();
        this.restarting = result.action === CloseAction.Restart;
        return result;
      },
    };
    const clientOptions: LanguageClientOptions = {
      errorHandler,
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      initializationOptions: () => this.settings(),
      outputChannel: this.output,
      stdioOptions: {
        stdout: (input) => this.pipeLog(input, () => ({ level: 'info' })),
        stderr: (input) => {
          const leveler = new ServerLogLeveler();
          this.pipeLog(input, (line) => leveler.line(line));
        },
      },
      initializationFailedHandler: () => false,
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (result instanceof ResponseError) {
              return result;
            }
            const config = this.config();
            return filterConfigurationResult(
              params.items.map((item) => item.section),
              result,
              (key) => config.get(key),
            );
          },
        },
      },
    };
    const client = new LanguageClient('starcoder', 'StarCoder', serverOptions, clientOptions);
    fallback = client.createDefaultErrorHandler();
    this.client = client;
    client.onNotification(STATUS_NOTIFICATION, (status: ServerStatus) => this.show(status));
    client.onDidChangeState((event) => {
      if (this.client !== client) {
        return;
      }
      if (event.newState === State.Stopped && this.restarting) {
        this.show({ state: 'starting', message: 'the server process ended' });
      } else if (event.newState === State.Stopped) {
        this.show({ state: 'stopped', message: 'the server process ended' });
      } else if (event.newState === State.Running && this.restarting) {
        this.restarting = false;
        void this.refreshStatus(client);
      }
    });

    this.show({ state: 'starting' });
    try {
      await client.start();
    } catch (error) {
      // The client has logged it already ("couldn't create connection to server").
      const message = error instanceof Error ? error.message : String(error);
      this.show({ state: 'stopped', message: launchFailure(server.command, message) });
      return;
    }
    await this.refreshStatus(client);
    this.watchFocus(client);
  }

  /**
   * `starcoder/didFocus` when an editor gains focus or a click or jump lands its cursor,
   * so that the server warms its cache there before the first key.
   */
  private watchFocus(client: LanguageClient): void {
    const reporter = new FocusReporter((params) => {
      if (this.client === client && client.state === State.Running) {
        void client.sendNotification(FOCUS_NOTIFICATION, params).catch(() => undefined);
      }
    });
    const report = (editor: vscode.TextEditor | undefined) => {
      const uri = editor?.document?.uri;
      const active = editor?.selection?.active;
      if (typeof uri?.scheme === 'string' && typeof active?.line === 'number') {
        const wire = client.code2ProtocolConverter.asUri(uri);
        reporter.focus(uri.scheme, wire, active.line, active.character);
      }
    };
    this.focusWatch?.dispose();
    this.focusWatch = vscode.Disposable.from(
      vscode.window.onDidChangeActiveTextEditor((editor) => report(editor)),
      vscode.window.onDidChangeTextEditorSelection((event) => {
        if (landed(event.kind) && event.textEditor === vscode.window.activeTextEditor) {
          report(event.textEditor);
        }
      }),
      vscode.workspace.onDidChangeTextDocument(() => reporter.forget()),
    );
    report(vscode.window.activeTextEditor);
  }

  private async refreshStatus(client: LanguageClient): Promise<void> {
    try {
      const status = await client.sendRequest(ExecuteCommandRequest.type, {
        command: STATUS_COMMAND,
        arguments: [],
      });
      if (status && this.client === client) {
        this.show(status as ServerStatus);
      }
    } catch (error) {
      this.output.warn(`${STATUS_COMMAND} failed: ${String(error)}`);
    }
  }

  /** The server's output into the channel, each line at its own level (not all as errors). */
  private pipeLog(
    input: Readable,
    level: (line: string) => { level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; text?: string },
  ): void {
    readline
      .createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 })
      .on('line', (line) => {
        const leveled = level(line);
        this.output[leveled.level](leveled.text ?? line);
      });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.restarting = false;
    this.focusWatch?.dispose();
    this.focusWatch = undefined;
    // A client whose start failed cannot be stopped (vscode-languageclient throws), and
    // Restart Server after a failed start must still start a new one.
    if (client && (client.state === State.Running || client.state === State.Starting)) {
      await client.stop();
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Sends the server settings as they are now; nothing else reaches the server. */
  async forwardSettings(): Promise<void> {
    if (this.client?.state !== State.Running) {
      return;
    }
    await this.client.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { [SECTION]: this.settings() },
    });
  }

  async toggle(): Promise<void> {
    const config = this.config();
    const enabled = config.get<boolean>('enabled', true);
    const target = {
      global: vscode.ConfigurationTarget.Global,
      workspace: vscode.ConfigurationTarget.Workspace,
      workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
    }[toggleTarget(config.inspect('enabled'))];
    await config.update('enabled', !enabled, target);
    vscode.window.setStatusBarMessage(`StarCoder completions ${enabled ? 'off' : 'on'}`, 2000);
  }

  showLog(): void {
    this.output.show(true);
  }
}

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const current = new Controller(context);
  controller = current;
  context.subscriptions.push(
    vscode.commands.registerCommand('starcoder.toggle', () => current.toggle()),
    vscode.commands.registerCommand('starcoder.restart', () => current.restart()),
    vscode.commands.registerCommand('starcoder.showLog', () => current.showLog()),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      const affects = (section: string) => event.affectsConfiguration(section);
      if (needsRestart(affects)) {
        await current.restart();
      } else if (needsForwarding(affects)) {
        await current.forwardSettings();
      }
    }),
  );
  await current.start();
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}
