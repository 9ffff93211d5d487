/**
 * The client capabilities VS Code sends, computed by vscode-languageclient itself.
 *
 * vscode-languageclient fills the `initialize` capabilities from its feature objects,
 * which need the `vscode` API only to exist, not to work. Outside the editor we give it
 * an inert stand-in for that API and ask the real client what it would declare, so the
 * server sees exactly what the extension's client sends (inline completion included),
 * and the set follows the library's version without a hand-kept copy.
 */
import Module from 'node:module';
import type { ClientCapabilities } from 'vscode-languageserver-protocol';

function inert(path: string): unknown {
  const target = function () {} as unknown as Record<string | symbol, unknown>;
  return new Proxy(target, {
    get(object, property) {
      if (property === 'then' || property === Symbol.iterator) {
        return undefined; // not a promise, not iterable
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

export function vscodeClientCapabilities(vscodeVersion = '1.91.0'): ClientCapabilities {
  const api = inert('vscode') as Record<string, unknown> & { env: Record<string, unknown> };
  api.version = vscodeVersion;
  api.env.appName = 'Visual Studio Code';
  api.env.language = 'en';
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = loader._load;
  loader._load = function (request: string, ...rest: unknown[]) {
    return request === 'vscode' ? api : load.call(this, request, ...rest);
  };
  try {
    const { LanguageClient } = require('vscode-languageclient/node');
    const client = new LanguageClient(
      'starcoder',
      'StarCoder',
      { command: 'starcoder-ls' },
      { documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }] },
    );
    return client.computeClientCapabilities() as ClientCapabilities;
  } finally {
    loader._load = load;
  }
}
