"""Cross-file context with the embedded SmolLM2: a real model writes a name it can only
know from another open file (loads the model: slow)."""

from __future__ import annotations

import pytest

from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings
from tests.support.crossfile_documents import APP, MAIN, NOTES, UNITS, doc
from tests.support.fake_engine import request_from


class Borrowed:
    """The session's engine, lent to a service that must not close it on shutdown."""

    def __init__(self, engine: object) -> None:
        self._engine = engine
        self.info = engine.info  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)

    def close(self) -> None:
        pass


@pytest.mark.slow
async def test_a_helper_from_another_open_file_is_completed_by_name(embedded_engine) -> None:
    """SmolLM2 alone completes `celsius_to_` as `fahrenheit`, the name it knows best; with
    the open file that defines `celsius_to_rankine` it writes the helper's real name."""
    others = (doc("notes.py", NOTES), doc("lib/units.py", UNITS, last_edit=1.0))
    request = request_from(MAIN, uri=APP, other_documents=others)
    answers = {}
    for enabled in (True, False):
        service = CompletionService(
            Settings(debounce_ms=0, max_new_tokens=12, cross_file_context=enabled),
            engine_factory=lambda settings, progress: Borrowed(embedded_engine),
            current_version=lambda uri: 1,
        )
        try:
            assert (await service.load()).state == "ready"
            (answers[enabled],) = (await service.complete(request)).suggestions
        finally:
            service.shutdown()

    assert answers[True].text.startswith("rankine(")
    assert not answers[False].text.startswith("rankine")
