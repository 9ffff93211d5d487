"""A stricter JSON-RPC layer under pygls: every request gets an answer, and the server's
text is the editor's text.

What pygls 2.1 does and this module changes (each case has its test):

- A request whose params do not match the LSP types (`position.line: -1`, `params: null`,
  an unknown `triggerKind`...) fails while pygls deserialises it, and nothing is sent back:
  here it gets -32602. An envelope that is not a request (`$/cancelRequest` with an id, a
  missing or wrong `jsonrpc`, an `id` of the wrong type) gets -32600, invalid JSON -32700.
- A request before `initialize` reaches the handler and fails with -32603 and a traceback;
  LSP asks for -32002. A second `initialize` is refused, and so is any request after
  `shutdown` (pygls drops those without an answer; LSP says -32600).
- Documents follow LSP's line breaks and edit rules and are filed under `uris.canonical`
  (`workspace.py`), where pygls uses `splitlines` and `unquote(uri)`.
- `exit` sets `exit_code` instead of calling `sys.exit` from a handler: the read loop
  (`transport.py`, which also frames the bytes with `framing.FrameParser`) ends, and the
  engine's worker stops before the process leaves.
- A `$/cancelRequest` for a request already answered is normal (VS Code cancels on every
  keystroke): logged at debug level, where pygls warns.
- What a client sends comes back and reaches the log cut short (`clip`: a method name of
  1 MB was echoed whole in its refusal), and a method no handler takes is answered here
  (-32601), where pygls logs the whole name as a warning. Over TCP, a connection's first
  `WARNINGS_LOGGED` problems are warnings and the rest go to the debug log: a client that
  sends nothing but mistakes cannot fill the log.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
)
from pygls.protocol.language_server import lsp_method

from starcoder_ls.lsp.framing import BadFrame, Event, Message, Unparsable
from starcoder_ls.lsp.workspace import SyncedWorkspace

log = logging.getLogger(__name__)

SHOWN = 100
"""How many characters of a client's string (a method name, an id) an answer or a log line
repeats."""
WARNINGS_LOGGED = 20
"""A TCP connection's problems (refusals, bad frames, dropped notifications) logged as
warnings (`StarcoderProtocol.warnings_logged`); the ones after it at debug level."""


# The overrides below are of pygls 2.1 (pyproject.toml pins it to 2.1.x): each says which
# upstream change would let it go. Pins to a newer pygls re-read each one first.


def _strict_primitives(converter: cattrs.Converter) -> None:
    """cattrs turns `"5"` into 5 and `5` into `"5"`; LSP's types are JSON's types."""
    # Goes when pygls' `default_converter` (on lsprotocol's `converters.get_converter`)
    # structures str, int, float and bool without coercing one into another.

    def strict(kind: type, accepted: tuple[type, ...]) -> None:
        def check(value: Any, cls: type) -> Any:
            if (isinstance(value, bool) and kind is not bool) or not isinstance(value, accepted):
                raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
            if cls is not kind:
                return cls(value)  # an enum on this type: unknown values still raise
            return float(value) if kind is float else value

        converter.register_structure_hook(kind, check)

    strict(int, (int,))
    strict(float, (int, float))
    strict(str, (str,))
    strict(bool, (bool,))


def clip(text: str, limit: int = SHOWN) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def summarize(problems: list[str], *, shown: int = 5) -> str:
    """Several problems as one message: the first `shown` of them (each cut short) and how
    many more there are, so that a flood of them is one popup and one log line."""
    if len(problems) == 1:
        return clip(problems[0], 3 * SHOWN)
    listed = "; ".join(clip(problem, 2 * SHOWN) for problem in problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    return f"{len(problems)} problems: {listed}{more}"


def _error(msg_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _is_notification_method(method: str) -> bool:
    entry = types.METHOD_TO_TYPES.get(method)
    return entry is not None and entry[0].__name__.endswith("Notification")


def _is_request_method(method: str) -> bool:
    entry = types.METHOD_TO_TYPES.get(method)
    return entry is not None and entry[0].__name__.endswith("Request")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _params_problem(exc: Exception) -> str:
    """Where the params went wrong, in cattrs' words (paths and types, never values)."""
    if isinstance(exc, cattrs.BaseValidationError):
        details = cattrs.transform_error(exc)
        shown = "; ".join(details[:3]) + ("; ..." if len(details) > 3 else "")
        return shown.replace("$.params.", "").replace("$.params", "params")
    return f"{type(exc).__name__}"


class StarcoderProtocol(LanguageServerProtocol):
    """Validates every incoming message before pygls dispatches it."""

    def __init__(self, server: LanguageServer, converter: cattrs.Converter) -> None:
        _strict_primitives(converter)
        super().__init__(server, converter)
        self.initialize_received = False
        self.exit_code: int | None = None
        """Set by `exit`: the read loop ends and the process leaves with it."""
        self.warnings_logged: int | None = None
        """How many of the client's problems are warnings (None: all); the rest are logged
        at debug level. Over TCP, `WARNINGS_LOGGED`: any local user can connect."""
        self._warnings = 0

    def warn(self, message: str, *args: Any) -> None:
        """A problem of this client's: a warning, or a debug line past `warnings_logged`."""
        self._warnings += 1
        if self.warnings_logged is None or self._warnings <= self.warnings_logged:
            log.warning(message, *args)
            if self._warnings == self.warnings_logged:
                log.warning("this client's further problems are logged at debug level")
        else:
            log.debug(message, *args)

    # -- entry point from the read loop --
    # `receive` and `receive_value` replace pygls' read path (`io_.py`'s loops, then
    # `structure_message` and `handle_message`), which only logs a message whose params
    # do not structure ("Unable to handle message") and leaves the request unanswered,
    # hands a request before `initialize` to its handler, and drops one after `shutdown`
    # with a warning. They go when pygls answers each of these as LSP asks (-32602,
    # -32600, -32002, -32601 with the client's strings cut short).

    def receive(self, event: Event) -> None:
        if isinstance(event, Message):
            self.receive_value(event.value)
        elif isinstance(event, Unparsable):
            self.warn("unreadable message: %s", event.reason)
            self._send_data(_error(None, JsonRpcParseError.CODE, f"Parse error: {event.reason}"))
        elif isinstance(event, BadFrame):
            self.warn("bad frame: %s; reading on from the next header", event.reason)
            if event.sample:
                log.debug("bad frame bytes: %r", event.sample)

    def receive_value(self, value: Any) -> None:
        """One decoded JSON value: answer what is not a valid message, dispatch the rest."""
        if not isinstance(value, dict):
            kind = "a batch (LSP has none)" if isinstance(value, list) else "not an object"
            self._refuse(None, JsonRpcInvalidRequest.CODE, f"Invalid request: {kind}")
            return
        has_id = "id" in value
        msg_id = value.get("id")
        method = value.get("method")
        if "method" not in value:
            self._receive_response(value)
            return
        if has_id and not _valid_id(msg_id):
            self._refuse(
                None, JsonRpcInvalidRequest.CODE, "Invalid request: id must be a string or integer"
            )
            return
        problem = self._envelope_problem(value, method, has_id) or self._unknown(method, has_id)
        if problem is not None:
            code, text = problem
            if has_id:
                self._refuse(msg_id, code, text)
            elif code == JsonRpcMethodNotFound.CODE and (
                method.startswith("$/") or _is_notification_method(method)
            ):
                log.debug("notification %s ignored: no handler", clip(method))  # didSave...
            else:
                self.warn("notification dropped: %s", text)
            return
        message = self._structure(value, method, has_id)
        if message is not None:
            if method == types.INITIALIZE:
                self.initialize_received = True
            self.handle_message(message)

    def _envelope_problem(
        self, value: dict[str, Any], method: Any, has_id: bool
    ) -> tuple[int, str] | None:
        invalid = JsonRpcInvalidRequest.CODE
        if value.get("jsonrpc") != "2.0":
            return invalid, 'Invalid request: "jsonrpc" must be "2.0"'
        if not isinstance(method, str):
            return invalid, "Invalid request: method must be a string"
        name = clip(method)
        if not has_id:
            if method == types.EXIT:
                return None
            if not self.initialize_received:
                return invalid, f"{name} before initialize"
            if self._shutdown:
                return invalid, f"{name} after shutdown"
            if _is_request_method(method):
                return invalid, f"{name} is a request but came without an id"
            return None
        if self._shutdown:
            return invalid, f"Invalid request: {name} after shutdown"
        if method == types.INITIALIZE:
            if self.initialize_received:
                return invalid, "Invalid request: initialize was already received"
            return None
        if not self.initialize_received:
            return (
                JsonRpcServerNotInitialized.CODE,
                f"Server not initialized: {name} before initialize",
            )
        if _is_notification_method(method):
            return invalid, f"Invalid request: {name} is a notification (send it without an id)"
        return None

    def _unknown(self, method: str, has_id: bool) -> tuple[int, str] | None:
        """A method no handler takes (pygls would log its whole name as a warning)."""
        if method == types.CANCEL_REQUEST or method == types.EXIT:
            return None
        try:
            self._get_handler(method)
        except JsonRpcMethodNotFound:
            return JsonRpcMethodNotFound.CODE, f"Method not found: {clip(method)}"
        return None

    def _structure(self, value: dict[str, Any], method: str, has_id: bool) -> Any | None:
        fallback = JsonRPCRequestMessage if has_id else JsonRPCNotification
        kind = self.get_message_type(method) or fallback
        try:
            return self._converter.structure(value, kind)
        except Exception as exc:
            problem = _params_problem(exc)
            if has_id:
                self._refuse(
                    value["id"],
                    JsonRpcInvalidParams.CODE,
                    f"Invalid params for {clip(method)}: {clip(problem, 3 * SHOWN)}",
                )
            else:
                self.warn(
                    "notification %s dropped: invalid params: %s",
                    clip(method),
                    clip(problem, 3 * SHOWN),
                )
            return None

    def _receive_response(self, value: dict[str, Any]) -> None:
        """A client's answer to one of the server's requests (`workspace/configuration`,
        a progress token). pygls' `structure_message` raises on one that does not match its
        type, out of the read loop, and the request waiting for it waits for ever; here
        the waiting request fails. Goes when pygls fails the waiting future itself."""
        msg_id = value.get("id")
        if not _valid_id(msg_id) or not ("result" in value or "error" in value):
            self.warn("message without method, result or error ignored")
            return
        future = self._request_futures.get(msg_id)
        if "error" in value:
            kind: Any = types.ResponseErrorMessage
        else:
            kind = self._result_types.get(msg_id) or None
        try:
            message = self._converter.structure(value, kind) if kind else None
        except Exception as exc:
            self.warn(
                "response %s does not match its type: %s",
                clip(repr(msg_id)),
                clip(_params_problem(exc), 3 * SHOWN),
            )
            self._request_futures.pop(msg_id, None)
            self._result_types.pop(msg_id, None)
            if future is not None and not future.done():
                future.set_exception(
                    JsonRpcInvalidParams(f"malformed response: {_params_problem(exc)}")
                )
            return
        if message is None:
            message = self._converter.structure(value, JsonRPCResponseMessage)
        self._result_types.pop(msg_id, None)
        self.handle_message(message)

    def _refuse(self, msg_id: Any, code: int, message: str) -> None:
        self.warn("request %s refused (%d): %s", clip(repr(msg_id)), code, message)
        self._send_data(_error(msg_id, code, message))

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        """A cancel that comes after its answer is a race every editor runs, not a fault.

        Overrides pygls' (json_rpc.py), which warns 'Cancel notification for unknown
        message id' for each; goes when pygls logs that at debug level."""
        if msg_id not in self._request_futures:
            log.debug("cancel for request %r, which is no longer running", msg_id)
            return
        super()._handle_cancel_notification(msg_id)

    def _handle_notification(self, method_name: str, params: Any) -> None:
        """pygls (2.1) files the future of each notification handled by a generator or a
        coroutine (didOpen, didChange, didClose...) under a fresh id in `_request_futures`
        and never takes it out: one future per keystroke, kept for the server's life (found
        by `starcoder-ls bench soak`). Take each out once it is done.

        Goes when pygls' `_execute_handler` stops filing notifications' futures, or
        `_check_handler_result` (their done callback) takes them out as
        `_send_handler_result` does for requests."""
        before = set(self._request_futures)
        super()._handle_notification(method_name, params)
        for msg_id in set(self._request_futures) - before:
            future = self._request_futures[msg_id]
            if future.done():
                del self._request_futures[msg_id]
            else:
                future.add_done_callback(
                    lambda done, msg_id=msg_id: self._request_futures.pop(msg_id, None)
                )

    # -- life cycle --

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        """pygls' initialize, with a workspace whose documents follow LSP's edit rules.

        pygls builds its own `Workspace` inside `lsp_initialize` and offers no way to
        choose its class (asked in pygls#131, answered with subclassing, as here). Goes
        when pygls lets a server choose its workspace and document classes, or once it
        follows `workspace.py`'s rules itself."""
        steps = super().lsp_initialize(params)
        try:
            request = next(steps)
        except StopIteration as done:
            self._adopt_synced_workspace()
            return done.value
        self._adopt_synced_workspace()
        while True:
            answer = yield request
            try:
                request = steps.send(answer)
            except StopIteration as done:
                return done.value

    def _adopt_synced_workspace(self) -> None:
        old = self._workspace
        if old is None or isinstance(old, SyncedWorkspace):
            return
        self._workspace = SyncedWorkspace(
            old.root_uri,
            self._server._text_document_sync_kind,
            list(old.folders.values()),
            old.position_encoding,
        )

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Ends the read loop; the process leaves once the engine has stopped.

        pygls' `lsp_exit` closes the writer and calls `sys.exit` from the handler, which
        would skip stopping the engine's worker (`transport.leave`). Goes when pygls'
        exit ends its serving loop and leaves the process to the caller."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.exit_code = 0 if self._shutdown else 1
