/**
 * Which executable runs the server.
 *
 * An explicit `starcoder.server.command` wins. Otherwise the repository's own virtual
 * environment, which `make run` / `make test` create, is looked for where this extension
 * can know the repository: the folder recorded when the .vsix was built, the folder the
 * extension runs from during development, and the open workspace folders. The last resort
 * is `starcoder-ls` on PATH, so a `pip install`ed server also works.
 */
import * as path from 'path';

export interface ResolveInput {
  configured: string;
  args: readonly string[];
  /** Repository folders to look in, most trusted first. */
  roots: readonly string[];
  isExecutable: (file: string) => boolean;
  platform: NodeJS.Platform;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the command came from, for the log. */
  source: 'setting' | 'repository' | 'PATH';
}

export function venvExecutable(root: string, platform: NodeJS.Platform): string {
  const join = platform === 'win32' ? path.win32.join : path.posix.join;
  return platform === 'win32'
    ? join(root, '.venv', 'Scripts', 'starcoder-ls.exe')
    : join(root, '.venv', 'bin', 'starcoder-ls');
}

export function resolveServerCommand(input: ResolveInput): ServerCommand {
  const args = [...input.args];
  const configured = input.configured.trim();
  if (configured) {
    return { command: configured, args, source: 'setting' };
  }
  for (const root of input.roots) {
    const candidate = venvExecutable(root, input.platform);
    if (input.isExecutable(candidate)) {
      return { command: candidate, args, source: 'repository' };
    }
  }
  return { command: 'starcoder-ls', args, source: 'PATH' };
}

/** The command line as the log shows it: arguments with spaces quoted, none left out. */
export function describeServerCommand(server: ServerCommand): string {
  const quote = (part: string) => (/[\s"']/.test(part) || part === '' ? JSON.stringify(part) : part);
  return `${[server.command, ...server.args].map(quote).join(' ')} (from ${server.source})`;
}

/** Why the server could not be started, for the status bar: the command once (the
 * client's own message already names it: "Launching server using command X failed"). */
export function launchFailure(command: string, message: string): string {
  return message.includes(command) ? message : `${command}: ${message}`;
}
