/**
 * `starcoder/didFocus`: where the cursor lands when an editor gains focus, so that the
 * server prefills the prompt there in the background (its `warmOnFocus` setting) and the
 * first pause in a file does not wait for the whole prompt to be read.
 *
 * Pure: extension.ts passes the editor's events in and sends what comes out.
 */

export const FOCUS_NOTIFICATION = 'starcoder/didFocus';

export interface FocusParams {
  textDocument: { uri: string };
  position: { line: number; character: number };
}

/** The documents the client syncs (its documentSelector): nothing else is the server's. */
const SCHEMES = new Set(['file', 'untitled']);

/** `vscode.TextEditorSelectionChangeKind`: Keyboard 1, Mouse 2, Command 3. */
const LANDED = new Set([2, 3]);

/**
 * Whether a selection change put the cursor somewhere new (a click, a jump to a
 * definition, a restored view): typing and arrow keys are the requests' business.
 */
export function landed(kind: number | undefined): boolean {
  return kind !== undefined && LANDED.has(kind);
}

/** Sends each focus once: the same place twice in a row says nothing new. */
export class FocusReporter {
  private last = '';

  constructor(private readonly send: (params: FocusParams) => unknown) {}

  focus(scheme: string, uri: string, line: number, character: number): FocusParams | undefined {
    if (!SCHEMES.has(scheme)) {
      return undefined;
    }
    const params = { textDocument: { uri }, position: { line, character } };
    const key = JSON.stringify(params);
    if (key === this.last) {
      return undefined;
    }
    this.last = key;
    this.send(params);
    return params;
  }

  /** The document changed or closed: the same place is worth warming again. */
  forget(): void {
    this.last = '';
  }
}
