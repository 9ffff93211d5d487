/**
 * The status bar item's look for each state of the server.
 *
 * The server reports `{state, model, message, device, dtype, template}` through the
 * `starcoder.status` command and the `starcoder/status` notification; the client adds
 * two states of its own, before the server answers and after it failed to start.
 */

export type ServerState = 'loading' | 'ready' | 'error' | 'disabled';
export type ClientState = 'starting' | 'stopped';

export interface ServerStatus {
  state: ServerState;
  model?: string;
  message?: string;
  device?: string;
  dtype?: string;
  template?: string;
  /** Smaller copies of a CPU model's weights for decoding (cpuWeights), e.g. "float16". */
  weights?: string;
}

export interface ClientStatus {
  state: ClientState;
  message?: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** Shown with the theme's error background. */
  error: boolean;
}

/**
 * A model name short enough for the status bar: a hub id stays as it is, a local path
 * is reduced to its last folder.
 */
export function shortModelName(model: string | undefined): string {
  if (!model) {
    return 'model';
  }
  const isPath = /^([/~.]|[A-Za-z]:[\\/])/.test(model);
  if (!isPath) {
    return model;
  }
  const parts = model.split(/[\\/]+/).filter((part) => part.length > 0);
  return parts.length > 0 ? parts[parts.length - 1] : model;
}

function where(status: ServerStatus): string {
  const weights = status.weights ? `${status.weights} products` : '';
  const details = [status.device, status.dtype, weights].filter((part) => part);
  return details.length > 0 ? ` on ${details.join(', ')}` : '';
}

export function statusView(status: ServerStatus | ClientStatus): StatusView {
  switch (status.state) {
    case 'starting':
      return {
        text: '$(loading~spin) StarCoder',
        // With a message: vscode-languageclient is starting it again after it ended.
        tooltip: status.message
          ? `Starting starcoder-ls again: ${status.message}…`
          : 'Starting starcoder-ls…',
        error: false,
      };
    case 'stopped':
      return {
        text: '$(error) StarCoder',
        tooltip:
          `starcoder-ls is not running: ${status.message ?? 'it stopped'}. ` +
          'Run "StarCoder: Restart Server" after fixing it.',
        error: true,
      };
    case 'loading': {
      const name = shortModelName(status.model);
      // The server's message while loading is progress ("3/5 shards"), or only the state.
      const progress = status.message && status.message !== status.state ? ` ${status.message}` : '';
      return {
        text: `$(loading~spin) StarCoder: ${name}`,
        tooltip: `Loading ${status.model ?? name}${where(status)}…${progress}`,
        error: false,
      };
    }
    case 'ready': {
      const name = shortModelName(status.model);
      const template = status.template ? `, prompt template ${status.template}` : '';
      return {
        text: `$(sparkle) StarCoder: ${name}`,
        tooltip:
          `${status.model ?? name} is ready${where(status)}${template}. ` +
          'Click to turn completions off.',
        error: false,
      };
    }
    case 'error': {
      const name = shortModelName(status.model);
      return {
        text: `$(error) StarCoder: ${name}`,
        tooltip: `Could not load ${status.model ?? name}: ${status.message ?? 'unknown error'}`,
        error: true,
      };
    }
    case 'disabled':
      return {
        text: '$(circle-slash) StarCoder: off',
        tooltip: 'Completions are off. Click to turn them on.',
        error: false,
      };
    default:
      return {
        text: '$(question) StarCoder',
        tooltip: `Unknown server state: ${JSON.stringify(status)}`,
        error: false,
      };
  }
}
