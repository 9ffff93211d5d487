/**
 * Which `starcoder.*` settings go to the server, and how.
 *
 * The server rejects keys it does not know (and says so in a message box), so the
 * client-only settings (`starcoder.server.*`, `starcoder.trace.server`) must never be
 * forwarded: this module is the one place that draws that line.
 */

export const SECTION = 'starcoder';

/** The server's settings, by their wire names (camelCase), as in its README. */
export const SERVER_SETTINGS = [
  'enabled',
  'model',
  'device',
  'dtype',
  'allowDownloads',
  'maxNewTokens',
  'contextWindow',
  'temperature',
  'topP',
  'debounceMs',
  'fim',
  'fimTemplate',
  'prefixShare',
  'languages',
  'maxSuggestions',
  'tokenHealing',
  'healIndentation',
  'repetitionStop',
  'leadingLineBreak',
  'kvReuse',
  'promptLookup',
  'draftModel',
  'attention',
  'staticCache',
  'compile',
  'cpuWeights',
  'crossFileContext',
  'prefetch',
  'warmOnFocus',
  'decodeBudgetMs',
  'keepTypedGeneration',
  'nextLineAhead',
  'excludedFiles',
  'multiline',
  'postprocess',
  'disabledFilters',
  'backend',
  'endpoint',
  'remoteModel',
  'apiKeyEnv',
  'caBundle',
  'connectTimeoutMs',
  'readTimeoutMs',
] as const;

export type ServerSettingName = (typeof SERVER_SETTINGS)[number];
export type ServerSettings = Record<ServerSettingName, unknown>;

/** Settings read by the extension itself; changing them restarts the server. */
export const PROCESS_SETTINGS = ['server.command', 'server.args'] as const;

/** Reads one key of the `starcoder` section (as `WorkspaceConfiguration.get` does). */
export type ConfigGetter = (key: string) => unknown;

/**
 * The object sent as `initializationOptions` and in `workspace/didChangeConfiguration`.
 *
 * Every key is present: VS Code reports a setting the user removed as its default, and
 * the server must hear that default, or it would keep the value it had. A key VS Code
 * knows nothing about is sent as `null`, which the server reads as "leave it as it is".
 */
export function serverSettings(get: ConfigGetter): ServerSettings {
  const result = {} as ServerSettings;
  for (const name of SERVER_SETTINGS) {
    const value = get(name);
    result[name] = value === undefined ? null : value;
  }
  return result;
}

/** True when a configuration change needs a new server process rather than a notification. */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return PROCESS_SETTINGS.some((key) => affects(`${SECTION}.${key}`));
}

/** True when a configuration change concerns the server's own settings. */
export function needsForwarding(affects: (section: string) => boolean): boolean {
  return SERVER_SETTINGS.some((key) => affects(`${SECTION}.${key}`));
}

/**
 * Answer for a `workspace/configuration` request: the `starcoder` section is replaced by
 * the server settings alone; other sections are passed through.
 */
export function filterConfigurationResult(
  sections: readonly (string | undefined)[],
  results: readonly unknown[],
  get: ConfigGetter,
): unknown[] {
  return results.map((value, i) => (sections[i] === SECTION ? serverSettings(get) : value));
}

/** What `inspect()` tells about one setting; only the scopes we write to matter. */
export interface SettingScopes {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

export type ToggleTarget = 'global' | 'workspace' | 'workspaceFolder';

/**
 * Where "toggle completions" writes `starcoder.enabled`: the most specific scope that
 * already sets it, since writing a broader one would be shadowed and change nothing.
 */
export function toggleTarget(scopes: SettingScopes | undefined): ToggleTarget {
  if (scopes?.workspaceFolderValue !== undefined) {
    return 'workspaceFolder';
  }
  if (scopes?.workspaceValue !== undefined) {
    return 'workspace';
  }
  return 'global';
}
