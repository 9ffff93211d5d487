"""LSP wiring: capabilities, thin handlers, and the one error boundary.

Handlers fetch the document, hand it to `CompletionService` as a `CompletionRequest` and
turn the answer into LSP types with `conversions.py`. pygls is imported in `lsp/` alone
(and by `tools/`): this module wires it; `protocol.py` and `transport.py` harden it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.workspace import TextDocument

from starcoder_ls import __version__
from starcoder_ls.completion.lifecycle import EngineFactory, ModelHandle, ModelStatus, load_engine
from starcoder_ls.completion.prefetch import Acceptances, Accepted, accepted_from
from starcoder_ls.completion.request import Answer, CompletionRequest
from starcoder_ls.completion.selection import Selected
from starcoder_ls.completion.service import CompletionService
from starcoder_ls.completion.warm import FOCUS_NOTIFICATION, Warmups, focus_from
from starcoder_ls.config import Settings, merge
from starcoder_ls.cursor import uris
from starcoder_ls.cursor.context import PositionError
from starcoder_ls.cursor.documents import encoding_name
from starcoder_ls.engine.base import EngineError
from starcoder_ls.lsp import conversions
from starcoder_ls.lsp.conversions import ACCEPTED_COMMAND
from starcoder_ls.lsp.protocol import StarcoderProtocol, summarize
from starcoder_ls.lsp.transport import HardenedLanguageServer
from starcoder_ls.text.types import OpenDocument

log = logging.getLogger(__name__)

STATUS_COMMAND = "starcoder.status"
"""workspace/executeCommand: returns the model status (state, model, message, device, ...)."""
STATS_COMMAND = "starcoder.stats"
"""workspace/executeCommand: the service's counters since start (`stats.ServiceStats`)."""
STATUS_NOTIFICATION = "starcoder/status"
"""Sent whenever the status changes, so a status bar needs no polling."""

R = TypeVar("R")


def error_boundary(
    handler: Callable[..., Awaitable[R]],
) -> Callable[..., Awaitable[R]]:
    """Turn every failure that reaches a handler into a JSON-RPC error the client can
    show, and one log line. Whether an engine's error reaches it at all (shown once, kept
    from a prefetch, held during a back-off) was decided in `completion/failures.py`."""

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


class StarcoderServer(HardenedLanguageServer):
    def __init__(
        self,
        settings: Settings,
        engine_factory: EngineFactory,
        model: ModelHandle | None = None,
        *,
        protocol_cls: type[StarcoderProtocol] = StarcoderProtocol,
    ) -> None:
        """`model` and `protocol_cls`: a TCP connection's (`tcp.py`) instead of its own."""
        super().__init__("starcoder-ls", __version__, protocol_cls=protocol_cls)
        self.service = CompletionService(
            settings,
            engine_factory=engine_factory,
            current_version=self._document_version,
            on_status=self._publish_status,
            model=model,
        )
        self.acceptances = Acceptances()
        self.warmups = Warmups(self.service)
        self.last_edit: dict[str, float] = {}
        """uri -> monotonic time of its last didOpen/didChange, to rank other files by recency."""
        self._pending_options: Any = None
        self._load_task: asyncio.Task[None] | None = None

    def before_exit(self) -> None:
        self.warmups.cancel()
        self.service.shutdown()

    @property
    def settings(self) -> Settings:
        """Kept by the service only, so that no second copy can fall behind."""
        return self.service.settings

    @property
    def encoding(self) -> str:
        """The negotiated position encoding: "utf-16", "utf-8" or "utf-32"."""
        return encoding_name(self.workspace.position_encoding)

    @property
    def client_renders_markdown(self) -> bool:
        """Whether completion documentation may be Markdown (eglot offers plain text only)."""
        text = self.client_capabilities.text_document
        item = text.completion.completion_item if text and text.completion else None
        formats = item.documentation_format if item else None
        return formats is None or types.MarkupKind.Markdown in formats

    def _document_version(self, uri: str) -> int | None:
        doc = self.workspace.text_documents.get(uris.canonical(uri))
        return None if doc is None else doc.version

    def _publish_status(self, status: ModelStatus) -> None:
        if self.protocol.writer is not None:
            self.protocol.notify(STATUS_NOTIFICATION, status.to_json())

    def show_error(self, message: str, *, logged: str | None = None) -> None:
        """`logged`: the message as the log gets it, when `message` quotes a setting."""
        log.error("%s", message if logged is None else logged)
        self.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Error, message=f"starcoder-ls: {message}"
            )
        )

    def apply_options(self, options: Any) -> None:
        """Merge client settings; invalid fields are reported and keep their old value."""
        if self.adopt_options(options):
            self.start_loading()

    def adopt_options(self, options: Any) -> bool:
        """Merge and adopt client settings; True when the model must be reloaded. Their
        problems are one message however many there are (300 unknown keys were 300
        popups and 300 log lines), with the first few named."""
        result = merge(self.settings, options)
        if result.errors:
            self.show_error(summarize(result.errors), logged=summarize(result.logged))
        return self.service.update_settings(self.client_settings(result.settings))

    def client_settings(self, asked: Settings) -> Settings:
        """The settings this client gets for the ones it asked for; all of them here,
        where the server is its own (over TCP the model's are the server's: `tcp.py`)."""
        return asked

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

    def prefetch_after(self, item: Accepted) -> None:
        """Have the service compute, unseen, the completion at the end of an accepted
        insertion: the editor's next request will be there."""
        doc = self.workspace.text_documents.get(uris.canonical(item.uri))
        if doc is not None:
            at = types.Position(line=item.line, character=item.character)
            self.service.prefetch(self.request_at(doc, at))

    def request_at(
        self,
        doc: TextDocument,
        position: types.Position,
        *,
        invoked: bool = False,
        selected: Selected | None = None,
    ) -> CompletionRequest:
        """The service's request for a cursor in `doc`; the other open documents are read
        only if a generation uses them."""
        return conversions.completion_request(
            doc,
            position,
            self.encoding,
            invoked=invoked,
            selected=selected,
            other_documents=functools.partial(self.other_documents, doc.uri),
        )

    async def suggestions(
        self,
        text_document: types.TextDocumentIdentifier,
        position: types.Position,
        *,
        invoked: bool,
        selected: types.SelectedCompletionInfo | None = None,
    ) -> Answer:
        """The service's answer at `position`, with the document's own line endings."""
        doc = self.document(text_document.uri)
        over = conversions.selected(selected, position, doc.source, self.encoding)
        request = self.request_at(doc, position, invoked=invoked, selected=over)
        self.warmups.cancel()  # the worker is the request's
        answer = await self.service.complete(request)
        found = conversions.with_line_endings(answer.suggestions, doc.source)
        return Answer(ctx=answer.ctx, suggestions=found)

    def document(self, uri: str) -> TextDocument:
        """The open document at `uri`, however the client spells it (`uris.canonical`)."""
        doc = self.workspace.text_documents.get(uris.canonical(uri))
        if doc is None:
            raise JsonRpcInvalidParams(
                f"unknown document {uri}: open it with textDocument/didOpen first"
            )
        return doc

    def other_documents(self, uri: str) -> tuple[OpenDocument, ...]:
        """Every open document but `uri` that a prompt can take, for cross-file context."""
        return conversions.open_documents(
            self.workspace.text_documents, self.last_edit, besides=uri
        )


# -- handlers: each takes the server first (`ls`), as pygls passes it --------------------


def initialize(ls: StarcoderServer, params: types.InitializeParams) -> None:
    """Keeps the client's options for `initialized`; editors without inline completion get
    popup completions instead."""
    ls._pending_options = params.initialization_options
    text_caps = params.capabilities.text_document
    if text_caps is None or text_caps.inline_completion is None:
        ls.feature(
            types.TEXT_DOCUMENT_COMPLETION,
            types.CompletionOptions(trigger_characters=[".", "(", " "]),
        )(completion)


def initialized(ls: StarcoderServer, params: types.InitializedParams) -> None:
    ls.adopt_options(ls._pending_options)
    ls.start_loading()


def shutdown(ls: StarcoderServer, params: None) -> None:
    ls.service.shutdown()


async def did_change_configuration(
    ls: StarcoderServer, params: types.DidChangeConfigurationParams
) -> None:
    """Settings pushed by the client, or, when it pushes none, pulled from it."""
    options = params.settings
    if not options:
        caps = ls.client_capabilities.workspace
        if not (caps and caps.configuration):
            return
        items = [types.ConfigurationItem(section="starcoder")]
        answer = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
        options = answer[0] if answer else None
    ls.apply_options(options)


def did_open(ls: StarcoderServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.last_edit[uris.canonical(params.text_document.uri)] = time.monotonic()


def did_change(ls: StarcoderServer, params: types.DidChangeTextDocumentParams) -> None:
    uri, version = uris.canonical(params.text_document.uri), params.text_document.version
    ls.last_edit[uri] = time.monotonic()
    ls.service.document_changed(uri, version)
    shown = ls.acceptances.changed(uri, version)
    if shown is not None:
        ls.prefetch_after(shown)


def did_focus(ls: StarcoderServer, params: Any) -> None:
    """`starcoder/didFocus`: warm the engine's cache at the cursor (completion/warm.py)."""
    focus = focus_from(params)
    doc = None if focus is None else ls.workspace.text_documents.get(focus.uri)
    if focus is not None and doc is not None:
        at = types.Position(line=focus.line, character=focus.character)
        ls.warmups.begin(ls.request_at(doc, at))


def did_close(ls: StarcoderServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = uris.canonical(params.text_document.uri)
    ls.warmups.document_closed(uri)
    ls.last_edit.pop(uri, None)
    ls.service.document_closed(uri)
    ls.acceptances.closed(uri)


def status(ls: StarcoderServer, *args: Any) -> dict[str, str]:
    return ls.service.status.to_json()


def stats(ls: StarcoderServer, *args: Any) -> dict[str, int | float]:
    return ls.service.stats.to_json()


def accepted(ls: StarcoderServer, *args: Any) -> None:
    ls.service.stats.accepted += 1
    log.info("suggestion accepted (%d this session)", ls.service.stats.accepted)
    item = accepted_from(args)
    if item is not None:
        # The editor sends its didChange before or right after the command.
        shown = ls.acceptances.accepted(item, ls._document_version(item.uri))
        if shown is not None:
            ls.prefetch_after(shown)


@error_boundary
async def inline_completion(
    ls: StarcoderServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    answer = await ls.suggestions(
        params.text_document,
        params.position,
        invoked=invoked,
        selected=params.context.selected_completion_info,
    )
    return conversions.inline_list(
        answer.ctx, answer.suggestions, ls.encoding, uris.canonical(params.text_document.uri)
    )


@error_boundary
async def completion(ls: StarcoderServer, params: types.CompletionParams) -> types.CompletionList:
    """For editors without inline completion (`initialize` registers it)."""
    invoked = (
        params.context is not None
        and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
    )
    answer = await ls.suggestions(params.text_document, params.position, invoked=invoked)
    model = ls.service.status.model
    return conversions.completion_list(
        answer.ctx, answer.suggestions, ls.encoding, model, markdown=ls.client_renders_markdown
    )


def create_server(
    settings: Settings,
    engine_factory: EngineFactory = load_engine,
    *,
    server_cls: Callable[[Settings, EngineFactory], StarcoderServer] = StarcoderServer,
) -> StarcoderServer:
    """The server with its handlers; `server_cls` builds it (one per TCP client: `tcp.py`)."""
    server = server_cls(settings, engine_factory)
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(FOCUS_NOTIFICATION)(did_focus)
    server.command(STATUS_COMMAND)(status)
    server.command(STATS_COMMAND)(stats)
    server.command(ACCEPTED_COMMAND)(accepted)
    server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(
        inline_completion
    )
    return server
