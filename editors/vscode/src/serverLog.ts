/**
 * The server's stderr, line by line, at the level each line was logged at.
 *
 * vscode-languageclient writes every stderr line with `outputChannel.error`, so a log
 * channel showed "suggestion accepted" as an error. starcoder-ls logs with Python's
 * `%(asctime)s %(levelname)s %(name)s: %(message)s` (starcoder_ls/cli.py); the output
 * channel adds its own time and level, so both are taken off the line.
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  level: LogLevel;
  text: string;
}

const RECORD =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{3} (DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL) (.*)$/;

const LEVELS: Record<string, LogLevel> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  WARN: 'warn',
  ERROR: 'error',
  CRITICAL: 'error',
  FATAL: 'error',
};

/**
 * Levels lines one after another: a line that is not a record (a traceback, the rest of
 * a multi-line message) belongs to the record above it; a Python warning printed by the
 * `warnings` module is a warning; anything before the first record (the server crashing
 * before its logging is set up) is an error.
 */
export class ServerLogLeveler {
  private last: LogLevel = 'error';

  line(raw: string): LogLine {
    const record = RECORD.exec(raw);
    if (record) {
      this.last = LEVELS[record[1]];
      return { level: this.last, text: record[2] };
    }
    if (/^\S.*\b[A-Z]\w*Warning: /.test(raw)) {
      this.last = 'warn';
    }
    return { level: this.last, text: raw };
  }
}
