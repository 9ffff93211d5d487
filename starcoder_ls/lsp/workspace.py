"""pygls' workspace and text documents, on LSP's rules and the server's URI keys.

pygls 2.1 splits a document's lines with `str.splitlines` (which also breaks at form
feeds, U+2028 and six more characters LSP does not count) and files documents under
`unquote(uri)`. Here lines break at "\n", "\r\n" and "\r" only, edits apply by
`cursor/documents.py`, and documents are filed under `uris.canonical`. `StarcoderProtocol`
puts this workspace in place of pygls' own at `initialize`.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from starcoder_ls.cursor import documents, uris


class SyncedTextDocument(TextDocument):
    """pygls' document with LSP's line breaks and position rules (`documents.py`)."""

    # Overrides of pygls 2.1 (`workspace/text_document.py`); they go when pygls splits
    # lines at "\n", "\r\n" and "\r" alone and applies an edit as `documents.apply_edit`
    # does (past the end of a line or of the document means its end, a reversed range is
    # the same range, the halves of a surrogate pair sent in two edits make one character).

    @property
    def lines(self) -> tuple[str, ...]:
        """Lines with their line breaks, as `splitlines(True)` gives them for `\\n` alone."""
        text = self.source
        lines, start = [], 0
        for match in documents.LINE_BREAK.finditer(text):
            lines.append(text[start : match.end()])
            start = match.end()
        if start < len(text):
            lines.append(text[start:])
        return tuple(lines)

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        start, end = change.range.start, change.range.end
        self._source = documents.apply_edit(
            self.source,
            (start.line, start.character),
            (end.line, end.character),
            change.text,
            documents.encoding_name(self.position_codec.encoding),
        )


class SyncedWorkspace(Workspace):
    """pygls' workspace with documents filed under `uris.canonical`, the key every other
    table of the server uses; pygls files them under `unquote(uri)`, which no handler
    could look up with the URI it receives (`My%20Project`, `c%3A`)."""

    # Overrides of pygls 2.1 (`workspace/workspace.py`); they go when pygls files documents
    # under a key the server can choose (or the URI as the client sent it), and lets a
    # server choose its document class (asked in pygls#131; the answer was subclassing).

    def put_text_document(
        self, text_document: types.TextDocumentItem, notebook_uri: str | None = None
    ) -> None:
        key = uris.canonical(text_document.uri)
        self._text_documents[key] = self._create_text_document(
            key,
            source=text_document.text,
            version=text_document.version,
            language_id=text_document.language_id,
        )
        if notebook_uri:
            self._cell_in_notebook[key] = uris.canonical(notebook_uri)

    def get_text_document(self, doc_uri: str) -> TextDocument:
        key = uris.canonical(doc_uri)
        return self._text_documents.get(key) or self._create_text_document(key)

    def remove_text_document(self, doc_uri: str) -> None:
        key = uris.canonical(doc_uri)
        self._text_documents.pop(key, None)
        self._cell_in_notebook.pop(key, None)

    def update_text_document(
        self,
        text_doc: types.VersionedTextDocumentIdentifier,
        change: types.TextDocumentContentChangeEvent,
    ) -> None:
        doc = self._text_documents[uris.canonical(text_doc.uri)]
        doc.apply_change(change)
        doc.version = text_doc.version

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return SyncedTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )
