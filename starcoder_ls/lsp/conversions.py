"""Conversions between LSP types and the pipeline's plain data, beside `server.py`.

Documents and cursors come in as `CompletionRequest`s and `OpenDocument`s; positions
cross here in the negotiated encoding (`context.py` does the arithmetic); suggestions
leave as `InlineCompletionItem`s or, for editors without inline completion, as popup
`CompletionItem`s that insert the same text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from lsprotocol import types

from starcoder_ls.completion.prefetch import command_arguments
from starcoder_ls.completion.request import MAX_DOCUMENT_CHARS, CompletionRequest
from starcoder_ls.completion.selection import Selected
from starcoder_ls.cursor.context import (
    character_to_units,
    detect_line_ending,
    line_text,
    offset_at_or_raise,
)
from starcoder_ls.cursor.crossfile import MAX_CANDIDATES
from starcoder_ls.cursor.documents import LINE_BREAK, has_lone_surrogate
from starcoder_ls.text.types import CompletionContext, OpenDocument, Suggestion

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

ACCEPTED_COMMAND = "starcoder.accepted"
"""Attached to every item; the editor runs it when the user accepts a suggestion, with
`prefetch.command_arguments` (where the insertion ends, for the next completion)."""


def completion_request(
    doc: TextDocument,
    position: types.Position,
    encoding: str,
    *,
    other_documents: Callable[[], Iterable[OpenDocument]],
    invoked: bool = False,
    selected: Selected | None = None,
) -> CompletionRequest:
    """The service's request for a cursor in `doc` (`position.character` in code units of
    `encoding`), with the document as the editor holds it."""
    return CompletionRequest(
        uri=doc.uri,
        version=doc.version or 0,
        language_id=doc.language_id or "",
        text=doc.source,
        line=position.line,
        character=position.character,
        encoding=encoding,
        invoked=invoked,
        selected=selected,
        other_documents=other_documents,
    )


def open_documents(
    documents: Mapping[str, TextDocument], last_edit: Mapping[str, float], *, besides: str
) -> tuple[OpenDocument, ...]:
    """The open documents but `besides` that cross-file context may look at: the
    `crossfile.MAX_CANDIDATES` most recently edited (never-edited ones in the order they
    were opened), without the huge ones and those holding a lone surrogate, which no
    prompt can take. A request's cost does not grow with the documents open."""
    recent = sorted(documents, key=lambda uri: -last_edit.get(uri, 0.0))
    found: list[OpenDocument] = []
    for uri in recent:
        doc = documents[uri]
        if uri == besides or len(doc.source) > MAX_DOCUMENT_CHARS:
            continue
        if has_lone_surrogate(doc.source):
            continue
        found.append(
            OpenDocument(
                uri=doc.uri,
                path=doc.filename or doc.uri,
                language_id=doc.language_id or "",
                text=doc.source,
                last_edit=last_edit.get(uri, 0.0),
            )
        )
        if len(found) == MAX_CANDIDATES:
            break
    return tuple(found)


def selected(
    info: types.SelectedCompletionInfo | None, position: types.Position, text: str, encoding: str
) -> Selected | None:
    """The popup item to complete over, as string indices into the cursor line.

    An item on another line than the cursor cannot be extended there: ignored.
    """
    if info is None or info.range.start.line != position.line:
        return None
    line = line_text(text, position.line)
    return Selected(
        text=info.text,
        start=offset_at_or_raise(line, 0, info.range.start.character, encoding),
        end=offset_at_or_raise(line, 0, info.range.end.character, encoding),
    )


def with_line_endings(suggestions: list[Suggestion], text: str) -> list[Suggestion]:
    """Suggestions with the document's own line ending (the pipeline writes "\\n")."""
    eol = detect_line_ending(text)
    if eol == "\n":
        return suggestions
    return [dataclasses.replace(s, text=s.text.replace("\n", eol)) for s in suggestions]


def lsp_range(ctx: CompletionContext, suggestion: Suggestion, encoding: str) -> types.Range:
    """The cursor-line range a suggestion replaces, in the negotiated encoding."""
    line = ctx.line_prefix + ctx.line_suffix
    start = character_to_units(line, suggestion.character, encoding)
    end = character_to_units(line, suggestion.end_character, encoding)
    return types.Range(
        start=types.Position(line=ctx.line, character=start),
        end=types.Position(line=ctx.line, character=end),
    )


def end_of_insertion(
    ctx: CompletionContext, suggestion: Suggestion, encoding: str
) -> types.Position:
    """Where the cursor stands once the editor has inserted `suggestion` (with the line
    endings it was sent with): the place of the editor's next request."""
    lines = LINE_BREAK.split(suggestion.text)
    last = lines[-1]
    if len(lines) == 1:
        last = (ctx.line_prefix + ctx.line_suffix)[: suggestion.character] + last
    return types.Position(
        line=ctx.line + len(lines) - 1,
        character=character_to_units(last, len(last), encoding),
    )


def accepted_command(
    ctx: CompletionContext, suggestion: Suggestion, index: int, encoding: str, uri: str
) -> types.Command:
    end = end_of_insertion(ctx, suggestion, encoding)
    return types.Command(
        title="Accepted",
        command=ACCEPTED_COMMAND,
        arguments=command_arguments(uri, index, ctx.version, end.line, end.character),
    )


def inline_list(
    ctx: CompletionContext | None, suggestions: list[Suggestion], encoding: str, uri: str
) -> types.InlineCompletionList:
    if ctx is None:
        return types.InlineCompletionList(items=[])
    items = [
        types.InlineCompletionItem(
            insert_text=s.text,
            range=lsp_range(ctx, s, encoding),
            command=accepted_command(ctx, s, i, encoding, uri),
        )
        for i, s in enumerate(suggestions)
    ]
    return types.InlineCompletionList(items=items)


def completion_list(
    ctx: CompletionContext | None,
    suggestions: list[Suggestion],
    encoding: str,
    model: str,
    *,
    markdown: bool = True,
) -> types.CompletionList:
    """Always incomplete: the editor asks again as the user types, for a fresh answer. A
    suggestion of the lines below a line end (completion/line_end.py) is ghost text only:
    a popup item completes the word being typed."""
    items = (
        []
        if ctx is None
        else [
            completion_item(ctx, s, model, i, encoding, markdown=markdown)
            for i, s in enumerate(s for s in suggestions if not s.text.startswith(("\n", "\r")))
        ]
    )
    return types.CompletionList(is_incomplete=True, items=items)


def _word_start(line_prefix: str) -> int:
    i = len(line_prefix)
    while i > 0 and (line_prefix[i - 1].isalnum() or line_prefix[i - 1] == "_"):
        i -= 1
    return i


def completion_item(
    ctx: CompletionContext,
    suggestion: Suggestion,
    model: str,
    index: int,
    encoding: str,
    *,
    markdown: bool = True,
) -> types.CompletionItem:
    """A popup item that inserts the same text as the inline suggestion.

    The edit starts at the word being typed so that the editor's own filtering keeps the
    item while the user types on (the list is incomplete and will be asked for again).
    The documentation shows the whole text, as a fenced block only for clients that
    render Markdown (eglot offers plain text only).
    """
    start = min(_word_start(ctx.line_prefix), suggestion.character)
    typed = ctx.line_prefix[start : suggestion.character]
    new_text = typed + suggestion.text
    edit_suggestion = Suggestion(
        text=new_text, character=start, end_character=suggestion.end_character
    )
    first_line = new_text.split("\n", 1)[0].strip() or new_text.strip()
    label = first_line if len(first_line) <= 60 else first_line[:57] + "..."
    if "\n" in new_text.strip():
        label += " …"
    return types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Snippet,
        detail=f"starcoder-ls · {model}",
        documentation=(
            types.MarkupContent(
                kind=types.MarkupKind.Markdown, value=f"```{ctx.language_id}\n{new_text}\n```"
            )
            if markdown
            else types.MarkupContent(kind=types.MarkupKind.PlainText, value=new_text)
        ),
        sort_text=f"0{index}",
        filter_text=new_text,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(
            range=lsp_range(ctx, edit_suggestion, encoding), new_text=new_text
        ),
        command=accepted_command(ctx, edit_suggestion, index, encoding, ctx.uri),
    )
