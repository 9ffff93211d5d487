/**
 * A stand-in for the `vscode` module, for running the extension in Node.
 *
 * VS Code itself cannot be installed on the machines that test this project. What the
 * extension and vscode-languageclient touch gets a small working model here: settings
 * (read, written, change events), the status bar item, the command registry, open
 * documents, provider registration and the value classes. Anything else is inert: a
 * callable, constructible object whose every property is again inert, so that the
 * client's features can set themselves up without a real editor behind them.
 */
import Module from 'node:module';

type Listener<T> = (value: T) => unknown;

export class Disposable {
  constructor(private readonly callOnDispose: () => unknown = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  dispose(): void {
    this.callOnDispose();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      listener(value);
    }
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: number | Position, b: number | Position, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c!, d!) : (b as Position);
  }
}

export class InlineCompletionItem {
  filterText?: string;
  constructor(
    readonly insertText: string | { value: string },
    readonly range?: Range,
    readonly command?: unknown,
  ) {}
}

export class InlineCompletionList {
  constructor(readonly items: InlineCompletionItem[]) {}
}

export class SnippetString {
  constructor(readonly value: string) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static file(path: string): Uri {
    return new Uri('file', path);
  }
  static parse(value: string): Uri {
    const match = /^([a-z]+):\/\/(.*)$/.exec(value);
    return match ? new Uri(match[1], match[2]) : new Uri('file', value);
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
  with(): Uri {
    return this;
  }
}

function inert(path: string): unknown {
  const target = function () {} as unknown as Record<string | symbol, unknown>;
  return new Proxy(target, {
    get(object, property) {
      if (property === 'then' || property === Symbol.iterator) {
        return undefined;
      }
      if (property === Symbol.toPrimitive) {
        return () => path;
      }
      if (!(property in object)) {
        object[property] = inert(`${path}.${String(property)}`);
      }
      return object[property];
    },
    apply: () => inert(`${path}()`),
    construct: () => inert(`new ${path}`) as object,
  });
}

/** An object whose listed members are real and whose other members are inert. */
function partly<T extends object>(path: string, real: T): T {
  return new Proxy(real, {
    get(object, property, receiver) {
      if (property in object) {
        return Reflect.get(object, property, receiver);
      }
      if (property === 'then' || property === Symbol.iterator) {
        return undefined;
      }
      return inert(`${path}.${String(property)}`);
    },
  });
}

export interface StatusBarItemState {
  text: string;
  tooltip: string;
  backgroundColor?: ThemeColor;
  history: string[];
}

export interface FakeDocument {
  uri: Uri;
  fileName: string;
  languageId: string;
  version: number;
  isClosed: boolean;
  isUntitled: boolean;
  lineCount: number;
  eol: number;
  getText(): string;
}

export function fakeDocument(path: string, languageId: string, text: string): FakeDocument {
  return {
    uri: Uri.file(path),
    fileName: path,
    languageId,
    version: 1,
    isClosed: false,
    isUntitled: false,
    lineCount: text.split('\n').length,
    eol: 1,
    getText: () => text,
  };
}

export class FakeVscode {
  readonly settings = new Map<string, unknown>();
  readonly statusItems: StatusBarItemState[] = [];
  readonly commands = new Map<string, (...args: unknown[]) => unknown>();
  readonly messages: { level: string; text: string }[] = [];
  /** What the output channels were given, with the level of the method called. */
  readonly log: { level: string; text: string }[] = [];
  readonly inlineProviders: {
    provideInlineCompletionItems: (...args: unknown[]) => Promise<unknown>;
  }[] = [];
  readonly documents: FakeDocument[] = [];
  private readonly configurationChanged = new EventEmitter<{
    affectsConfiguration(section: string): boolean;
  }>();

  /** `starcoder.*` defaults from the extension's package.json, as VS Code would have them. */
  constructor(properties: Record<string, { default?: unknown }>) {
    for (const [key, value] of Object.entries(properties)) {
      this.settings.set(key, value.default);
    }
  }

  /** What a user's edit of settings.json does: store, then tell the listeners. */
  setSetting(key: string, value: unknown): void {
    this.settings.set(key, value);
    this.configurationChanged.fire({
      affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`),
    });
  }

  module(): Record<string, unknown> {
    const fake = this;
    const configuration = (section?: string) => {
      const full = (key: string) => (section ? `${section}.${key}` : key);
      return partly(`configuration(${section})`, {
        get: (key: string, fallback?: unknown) => {
          const value = fake.settings.get(full(key));
          return value === undefined ? fallback : value;
        },
        has: (key: string) => fake.settings.has(full(key)),
        inspect: (key: string) => ({ key: full(key), globalValue: fake.settings.get(full(key)) }),
        update: async (key: string, value: unknown) => fake.setSetting(full(key), value),
      });
    };
    const event = () => () => new Disposable();
    const show = (level: string) => async (text: string) => {
      fake.messages.push({ level, text });
      return undefined;
    };
    const write = (level: string) => (text: unknown) => {
      fake.log.push({ level, text: String(text) });
    };
    const outputChannel = (name: string) =>
      partly(`outputChannel(${name})`, {
        name,
        logLevel: 2,
        onDidChangeLogLevel: event(),
        trace: write('trace'),
        debug: write('debug'),
        info: write('info'),
        warn: write('warn'),
        error: write('error'),
        append: write('append'),
        appendLine: write('append'),
        replace: () => undefined,
        clear: () => undefined,
        show: () => undefined,
        hide: () => undefined,
        dispose: () => undefined,
      });
    const api = {
      version: '1.91.0',
      env: partly('env', { appName: 'Visual Studio Code', language: 'en', machineId: 'test' }),
      Disposable,
      EventEmitter,
      Position,
      Range,
      InlineCompletionItem,
      InlineCompletionList,
      SnippetString,
      ThemeColor,
      Uri,
      StatusBarAlignment: { Left: 1, Right: 2 },
      ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
      InlineCompletionTriggerKind: { Invoke: 0, Automatic: 1 },
      LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
      workspace: partly('workspace', {
        getConfiguration: configuration,
        onDidChangeConfiguration: this.configurationChanged.event,
        get textDocuments() {
          return fake.documents;
        },
        notebookDocuments: [],
        workspaceFolders: undefined,
        onDidOpenTextDocument: event(),
        onDidCloseTextDocument: event(),
        onDidChangeTextDocument: event(),
        onDidSaveTextDocument: event(),
        onWillSaveTextDocument: event(),
        onDidChangeWorkspaceFolders: event(),
        onDidOpenNotebookDocument: event(),
        onDidCloseNotebookDocument: event(),
        onDidChangeNotebookDocument: event(),
        onDidSaveNotebookDocument: event(),
        onDidCreateFiles: event(),
        onDidRenameFiles: event(),
        onDidDeleteFiles: event(),
        onWillCreateFiles: event(),
        onWillRenameFiles: event(),
        onWillDeleteFiles: event(),
      }),
      window: partly('window', {
        createOutputChannel: outputChannel,
        createStatusBarItem: () => {
          const state: StatusBarItemState = { text: '', tooltip: '', history: [] };
          fake.statusItems.push(state);
          return partly('statusBarItem', {
            get text() {
              return state.text;
            },
            set text(value: string) {
              state.text = value;
              state.history.push(value);
            },
            get tooltip() {
              return state.tooltip;
            },
            set tooltip(value: string) {
              state.tooltip = value;
            },
            get backgroundColor() {
              return state.backgroundColor;
            },
            set backgroundColor(value: ThemeColor | undefined) {
              state.backgroundColor = value;
            },
            name: '',
            command: '',
            show: () => undefined,
            hide: () => undefined,
            dispose: () => undefined,
          });
        },
        showErrorMessage: show('error'),
        showWarningMessage: show('warning'),
        showInformationMessage: show('info'),
        setStatusBarMessage: () => new Disposable(),
        visibleTextEditors: [],
        activeTextEditor: undefined,
        tabGroups: partly('tabGroups', { all: [], onDidChangeTabs: event() }),
        onDidChangeVisibleTextEditors: event(),
        onDidChangeActiveTextEditor: event(),
      }),
      commands: partly('commands', {
        registerCommand: (id: string, handler: (...args: unknown[]) => unknown) => {
          fake.commands.set(id, handler);
          return new Disposable(() => fake.commands.delete(id));
        },
        executeCommand: async (id: string, ...args: unknown[]) => {
          const handler = fake.commands.get(id);
          if (!handler) {
            throw new Error(`command ${id} not found`);
          }
          return handler(...args);
        },
      }),
      languages: partly('languages', {
        match: () => 10,
        registerInlineCompletionItemProvider: (_selector: unknown, provider: never) => {
          fake.inlineProviders.push(provider);
          return new Disposable(() => fake.inlineProviders.splice(fake.inlineProviders.indexOf(provider), 1));
        },
      }),
    };
    return partly('vscode', api);
  }

  /** Makes `require('vscode')` return this fake until the returned function is called. */
  install(): () => void {
    const api = this.module();
    const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const load = loader._load;
    loader._load = function (request: string, ...rest: unknown[]) {
      return request === 'vscode' ? api : load.call(this, request, ...rest);
    };
    return () => {
      loader._load = load;
    };
  }
}
