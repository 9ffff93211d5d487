"""LSP wiring: capabilities, thin handlers, and the one error boundary.

Handlers fetch the document, build a `CompletionContext` and hand it to `CompletionService`;
this is the only module that imports pygls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from starcoder_ls import __version__
from starcoder_ls.config import Settings, merge
from starcoder_ls.context import (
    PositionError,
    build_context,
    character_to_units,
    detect_line_ending,
    offset_at,
)
from starcoder_ls.engine.base import EngineError
from starcoder_ls.service import (
    CompletionRequest,
    CompletionService,
    EngineFactory,
    ModelStatus,
    Selected,
)
from starcoder_ls.types import OpenDocument, Suggestion

log = logging.getLogger(__name__)

STATUS_COMMAND = "starcoder.status"
"""workspace/executeCommand: returns the model status (state, model, message, device, ...)."""
ACCEPTED_COMMAND = "starcoder.accepted"
"""Attached to every item; the editor runs it when the user accepts a suggestion."""
STATUS_NOTIFICATION = "starcoder/status"
"""Sent whenever the status changes, so a status bar needs no polling."""
MAX_DOCUMENT_CHARS = 16 * 1024 * 1024
"""Larger documents are not completed: building context for them costs more than it helps."""

R = TypeVar("R")


def error_boundary(
    handler: Callable[..., Awaitable[R]],
) -> Callable[..., Awaitable[R]]:
    """Turn every failure into a JSON-RPC error the client can show, and one log line."""

    @functools.wraps(handler)
    async def wrapped(*args: Any) -> R:
        try:
            return await handler(*args)
        except (asyncio.CancelledError, JsonRpcException):
            raise
        except PositionError as exc:
            log.warning("%s: %s", handler.__name__, exc)
            raise JsonRpcInvalidParams(str(exc)) from exc
        except EngineError as exc:
            log.error("%s: %s", handler.__name__, exc)
            raise JsonRpcInternalError(str(exc)) from exc
        except Exception as exc:
            log.exception("%s failed", handler.__name__)
            raise JsonRpcInternalError(f"starcoder-ls: {type(exc).__name__}: {exc}") from exc

    return wrapped


class StarcoderServer(LanguageServer):
    def __init__(self, settings: Settings, engine_factory: EngineFactory) -> None:
        super().__init__("starcoder-ls", __version__)
        self.settings = settings
        self.service = CompletionService(
            settings,
            engine_factory=engine_factory,
            current_version=self._document_version,
            on_status=self._publish_status,
        )
        self.accepted = 0
        self.last_edit: dict[str, float] = {}
        """uri -> monotonic time of its last didOpen/didChange, to rank other files by recency."""
        self._pending_options: Any = None
        self._load_task: asyncio.Task[None] | None = None

    @property
    def encoding(self) -> str:
        """The negotiated position encoding: "utf-16", "utf-8" or "utf-32"."""
        value = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        return getattr(value, "value", value)

    def _document_version(self, uri: str) -> int | None:
        doc = self.workspace.text_documents.get(uri)
        return None if doc is None else doc.version

    def _publish_status(self, status: ModelStatus) -> None:
        if self.protocol.writer is not None:
            self.protocol.notify(STATUS_NOTIFICATION, status.to_json())

    def show_error(self, message: str) -> None:
        log.error("%s", message)
        self.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Error, message=f"starcoder-ls: {message}"
            )
        )

    def apply_options(self, options: Any) -> None:
        """Merge client settings; invalid fields are reported and keep their old value."""
        result = merge(self.settings, options)
        for error in result.errors:
            self.show_error(error)
        self.settings = result.settings
        if self.service.update_settings(result.settings):
            self.start_loading()

    def start_loading(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = asyncio.get_running_loop().create_task(self._load_with_progress())

    async def _load_with_progress(self) -> None:
        label = self.service.status.model
        token = str(uuid.uuid4())
        caps = self.client_capabilities.window
        use_progress = bool(caps and caps.work_done_progress)
        if use_progress:
            try:
                await self.work_done_progress.create_async(token)
            except Exception as exc:
                log.warning("client refused a progress token: %s", exc)
                use_progress = False
        if use_progress:
            self.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=f"Loading {label}", percentage=0)
            )
        loop = asyncio.get_running_loop()

        def report(message: str, percentage: int | None) -> None:
            if use_progress:
                value = types.WorkDoneProgressReport(message=message, percentage=percentage)
                loop.call_soon_threadsafe(self.work_done_progress.report, token, value)

        status = await self.service.load(report)
        if use_progress:
            self.work_done_progress.end(
                token, types.WorkDoneProgressEnd(message=f"{status.model}: {status.state}")
            )
        if status.state == "error":
            self.show_error(f"could not load {status.model}: {status.message}")

    def context_for(
        self, text_document: types.TextDocumentIdentifier, position: types.Position
    ) -> tuple[Any, Any]:
        doc = self.workspace.text_documents.get(text_document.uri)
        if doc is None:
            raise JsonRpcInvalidParams(
                f"unknown document {text_document.uri}: open it with textDocument/didOpen first"
            )
        text = doc.source
        if len(text) > MAX_DOCUMENT_CHARS:
            return doc, None
        others = tuple(
            OpenDocument(
                uri=d.uri,
                path=d.filename or d.uri,
                language_id=d.language_id or "",
                text=d.source,
                last_edit=self.last_edit.get(uri, 0.0),
            )
            for uri, d in self.workspace.text_documents.items()
            if uri != doc.uri and len(d.source) <= MAX_DOCUMENT_CHARS
        )
        ctx = build_context(
            text=text,
            uri=doc.uri,
            version=doc.version or 0,
            language_id=doc.language_id or "",
            line=position.line,
            character=position.character,
            encoding=self.encoding,
            other_documents=others,
        )
        return doc, ctx

    def lsp_range(self, ctx: Any, suggestion: Suggestion) -> types.Range:
        """The cursor-line range a suggestion replaces, in the negotiated encoding."""
        line_text = ctx.line_prefix + ctx.line_suffix
        encoding = self.encoding
        start = character_to_units(line_text, suggestion.character, encoding)
        end = character_to_units(line_text, suggestion.end_character, encoding)
        return types.Range(
            start=types.Position(line=ctx.line, character=start),
            end=types.Position(line=ctx.line, character=end),
        )


def looks_binary(text: str) -> bool:
    """NUL bytes or mostly control characters: not source code, nothing to complete."""
    sample = text[:8192]
    if "\x00" in sample:
        return True
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f\v")
    return bool(sample) and controls / len(sample) > 0.1


def create_server(settings: Settings, engine_factory: EngineFactory) -> StarcoderServer:
    server = StarcoderServer(settings, engine_factory)

    @server.feature(types.INITIALIZE)
    def initialize(ls: StarcoderServer, params: types.InitializeParams) -> None:
        ls._pending_options = params.initialization_options
        text_caps = params.capabilities.text_document
        if text_caps is None or text_caps.inline_completion is None:
            ls.feature(
                types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=[".", "(", " "]),
            )(completion)

    @server.feature(types.INITIALIZED)
    def initialized(ls: StarcoderServer, params: types.InitializedParams) -> None:
        result = merge(ls.settings, ls._pending_options)
        for error in result.errors:
            ls.show_error(error)
        ls.settings = result.settings
        ls.service.update_settings(result.settings)
        ls.start_loading()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: StarcoderServer, params: None) -> None:
        ls.service.shutdown()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: StarcoderServer, params: types.DidChangeConfigurationParams
    ) -> None:
        options = params.settings
        if not options:
            caps = ls.client_capabilities.workspace
            if not (caps and caps.configuration):
                return
            items = [types.ConfigurationItem(section="starcoder")]
            answer = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
            options = answer[0] if answer else None
        ls.apply_options(options)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: StarcoderServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.last_edit[params.text_document.uri] = time.monotonic()

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: StarcoderServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.last_edit[params.text_document.uri] = time.monotonic()
        ls.service.document_changed(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: StarcoderServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.last_edit.pop(params.text_document.uri, None)
        ls.service.document_closed(params.text_document.uri)

    @server.command(STATUS_COMMAND)
    def status(ls: StarcoderServer, *args: Any) -> dict[str, str]:
        return ls.service.status.to_json()

    @server.command(ACCEPTED_COMMAND)
    def accepted(ls: StarcoderServer, *args: Any) -> None:
        ls.accepted += 1
        log.info("suggestion accepted (%d this session)", ls.accepted)

    async def suggestions(
        ls: StarcoderServer,
        text_document: types.TextDocumentIdentifier,
        position: types.Position,
        *,
        invoked: bool,
        selected: types.SelectedCompletionInfo | None = None,
    ) -> tuple[Any, list[Suggestion]]:
        doc, ctx = ls.context_for(text_document, position)
        if ctx is None:
            log.info("no completion: %s is over %d characters", doc.uri, MAX_DOCUMENT_CHARS)
            return None, []
        if looks_binary(doc.source):
            log.info("no completion: %s looks binary", doc.uri)
            return ctx, []
        sel = None
        if selected is not None and selected.range.start.line == position.line:
            encoding = ls.encoding
            line_text = ctx.line_prefix + ctx.line_suffix
            sel = Selected(
                text=selected.text,
                start=offset_at(line_text, 0, selected.range.start.character, encoding),
                end=offset_at(line_text, 0, selected.range.end.character, encoding),
            )
        request = CompletionRequest(ctx=ctx, invoked=invoked, selected=sel)
        found = await ls.service.complete(request)
        eol = detect_line_ending(doc.source)
        if eol != "\n":
            found = [dataclasses.replace(s, text=s.text.replace("\n", eol)) for s in found]
        return ctx, found

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @error_boundary
    async def inline_completion(
        ls: StarcoderServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        ctx, found = await suggestions(
            ls,
            params.text_document,
            params.position,
            invoked=invoked,
            selected=params.context.selected_completion_info,
        )
        items = [
            types.InlineCompletionItem(
                insert_text=s.text,
                range=ls.lsp_range(ctx, s),
                command=types.Command(
                    title="Accepted",
                    command=ACCEPTED_COMMAND,
                    arguments=[{"uri": params.text_document.uri, "index": i}],
                ),
            )
            for i, s in enumerate(found)
        ]
        return types.InlineCompletionList(items=items)

    @error_boundary
    async def completion(
        ls: StarcoderServer, params: types.CompletionParams
    ) -> types.CompletionList:
        invoked = (
            params.context is not None
            and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        ctx, found = await suggestions(ls, params.text_document, params.position, invoked=invoked)
        model = ls.service.status.model
        return types.CompletionList(
            is_incomplete=True,
            items=[completion_item(ls, ctx, s, model, i) for i, s in enumerate(found)],
        )

    return server


def _word_start(line_prefix: str) -> int:
    i = len(line_prefix)
    while i > 0 and (line_prefix[i - 1].isalnum() or line_prefix[i - 1] == "_"):
        i -= 1
    return i


def completion_item(
    ls: StarcoderServer, ctx: Any, suggestion: Suggestion, model: str, index: int
) -> types.CompletionItem:
    """A popup item that inserts the same text as the inline suggestion.

    The edit starts at the word being typed so that the editor's own filtering keeps the
    item while the user types on (the list is incomplete and will be asked for again).
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
        documentation=types.MarkupContent(
            kind=types.MarkupKind.Markdown, value=f"```{ctx.language_id}\n{new_text}\n```"
        ),
        sort_text=f"0{index}",
        filter_text=new_text,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=ls.lsp_range(ctx, edit_suggestion), new_text=new_text),
        command=types.Command(title="Accepted", command=ACCEPTED_COMMAND, arguments=[]),
    )
