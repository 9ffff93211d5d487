"""The completion service on a scripted engine: what reaches the model, what comes back,
what is refused before any work, and what it counts."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import threading
from asyncio import Task
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from starcoder_ls.completion import request as request_module
from starcoder_ls.completion.request import MAX_DOCUMENT_CHARS
from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings, merge
from starcoder_ls.engine.base import EngineError, GenerationParams
from starcoder_ls.engine.fim import PREFIX_ONLY, get_template
from starcoder_ls.text.types import OpenDocument
from tests.support.fake_engine import FakeEngine, Gate, request_from, serving

ADD = "def add(a, b):\n    return █\n"
OTHER_URI = "file:///work/other.py"
BODY = """\
def total_price(items):
    total = 0
    for item in items:
        █
    return total
"""


def answer_with(*texts: str) -> FakeEngine:
    return FakeEngine(lambda prompt, params: list(texts)[: params.n])


# -- what reaches the engine ------------------------------------------------------------


def greedy_then_samples(prompt: str, params: GenerationParams) -> list[str]:
    return ["sum(xs)"] if params.temperature == 0 else ["len(xs)", "max(xs)"][: params.n]


async def test_asking_again_draws_the_same_alternatives() -> None:
    engine = FakeEngine(greedy_then_samples, get_template("starcoder"))
    async with serving(engine, Settings(debounce_ms=0)) as service:
        first = request_from("def f(xs):\n    total = █\n    return total\n", invoked=True)
        other = request_from("def g(xs):\n    best = █\n    return best\n", invoked=True)
        shown = []
        for request in (first, first, other):
            service.cache.clear()  # generate again rather than reuse the last answer
            shown.append((await service.complete(request)).suggestions)
    assert [s.text for s in shown[0]] == ["sum(xs)", "len(xs)", "max(xs)"]
    calls = [params for _, params in engine.calls]
    sampled = [call for call in calls if call.temperature > 0]
    assert len(sampled) == 3 and all(call.n == 2 for call in sampled)
    assert sampled[0].seed is not None and sampled[0].seed == sampled[1].seed
    assert sampled[2].seed != sampled[0].seed
    assert all(call.seed is None for call in calls if call.temperature == 0)


@pytest.mark.parametrize(
    ("template", "marked", "expected", "disabled"),
    [
        pytest.param(PREFIX_ONLY.name, BODY, "block", (), id="prefix-only-multi-line"),
        pytest.param(PREFIX_ONLY.name, "x = max(█)\n", "newline", (), id="single-line"),
        pytest.param("starcoder", BODY, "none", (), id="fim-sees-the-suffix"),
        pytest.param(
            PREFIX_ONLY.name, BODY, "none", ("limit_scope_by_indentation",), id="scope-disabled"
        ),
    ],
)
async def test_the_service_passes_the_stops_to_the_engine(
    template: str, marked: str, expected: str, disabled: tuple[str, ...]
) -> None:
    engine = FakeEngine(lambda prompt, params: ["total += item.price"], get_template(template))
    async with serving(engine, Settings(debounce_ms=0, disabled_filters=disabled)) as service:
        await service.complete(request_from(marked))

    ((_, params),) = engine.calls
    stops = params.stop
    if expected == "block":
        assert "\nd" in stops and "\n    r" in stops
    elif expected == "newline":
        assert stops == ("\n",)
    else:
        assert stops == ()


# -- the postprocess setting (the eval's raw baseline) ----------------------------------

MODEL_TEXT = "a + b  \n\ndef sub(a, b):"


def first_line_when_single_line(prompt: str, params: GenerationParams) -> list[str]:
    return [MODEL_TEXT.split("\n")[0] if "\n" in params.stop else MODEL_TEXT] * params.n


def test_postprocess_is_a_boolean_setting_on_by_default() -> None:
    assert Settings().postprocess is True
    assert merge(Settings(), {"postprocess": False}).settings.postprocess is False
    result = merge(Settings(), {"postprocess": "no"})
    assert result.settings.postprocess is True
    assert "starcoder.postprocess" in result.errors[0]


async def test_raw_answer_is_the_same_generation_unfiltered_and_costs_no_model_call() -> None:
    """Off returns the model's text untouched, and switching it keeps the cache so the
    baseline costs no second generation."""
    engine = FakeEngine(first_line_when_single_line)
    async with serving(engine, Settings(debounce_ms=0)) as service:
        request = request_from(ADD)

        filtered = (await service.complete(request)).suggestions
        assert [s.text for s in filtered] == ["a + b"]  # trailing blanks trimmed

        service.update_settings(Settings(debounce_ms=0, postprocess=False))
        raw = (await service.complete(request)).suggestions
        assert [s.text for s in raw] == ["a + b  "]
        assert raw[0].character == raw[0].end_character == len("    return ")
        assert len(engine.calls) == 1

        service.update_settings(Settings(debounce_ms=0, postprocess=False, max_new_tokens=64))
        await service.complete(request)
        assert len(engine.calls) == 2  # a setting that shapes generation still clears the cache


# -- one settings snapshot per request --------------------------------------------------


async def test_a_request_keeps_the_settings_it_started_with() -> None:
    """Settings changed while the model generates apply to the next request only: the
    running one still post-processes as it was asked to."""
    gate = Gate(lambda prompt, params: [MODEL_TEXT])
    async with serving(FakeEngine(gate.reply), Settings(debounce_ms=0)) as service:
        running = asyncio.ensure_future(service.complete(request_from(ADD)))
        await gate.entered()
        service.update_settings(Settings(debounce_ms=0, postprocess=False))
        gate.release.set()
        answer = await running

    assert [s.text for s in answer.suggestions] == ["a + b"]


# -- refusals before any work -----------------------------------------------------------


class DocumentsAsked:
    """A request's `other_documents` that counts how often the service asks for them."""

    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> tuple[OpenDocument, ...]:
        self.times += 1
        return ()


@pytest.fixture
def others() -> DocumentsAsked:
    return DocumentsAsked()


@pytest.fixture
def contexts_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The uri of every context the service builds."""
    built: list[str] = []
    real = request_module.build_context

    def counting(**kwargs: object) -> object:
        built.append(str(kwargs["uri"]))
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(request_module, "build_context", counting)
    return built


@pytest.mark.parametrize(
    ("settings", "marked", "language_id", "reason"),
    [
        pytest.param(Settings(enabled=False), ADD, "python", "disabled", id="disabled"),
        pytest.param(
            Settings(languages=("*", "!python")), ADD, "python", "not enabled", id="language"
        ),
        pytest.param(Settings(), "\x00\x01\x02█", "python", "looks binary", id="binary"),
        pytest.param(
            Settings(), "x = █" + "y" * MAX_DOCUMENT_CHARS, "python", "is over", id="huge"
        ),
    ],
)
async def test_a_refused_request_builds_no_context_and_asks_for_no_documents(
    contexts_built: list[str],
    others: DocumentsAsked,
    caplog: pytest.LogCaptureFixture,
    settings: Settings,
    marked: str,
    language_id: str,
    reason: str,
) -> None:
    engine = answer_with("a + b")
    caplog.set_level(logging.INFO, logger="starcoder_ls")
    async with serving(engine, Settings(debounce_ms=0)) as service:
        service.update_settings(settings)
        request = request_from(marked, language_id=language_id, other_documents=others)
        answer = await service.complete(request)

    assert answer.ctx is None and answer.suggestions == []
    assert contexts_built == [] and others.times == 0 and engine.calls == []
    assert reason in caplog.text


async def test_other_documents_are_collected_only_for_a_generation_that_uses_them(
    contexts_built: list[str], others: DocumentsAsked
) -> None:
    engine = answer_with("a + b")
    async with serving(engine, Settings(debounce_ms=0)) as service:
        await service.complete(request_from("fo█o = 1\n", other_documents=others))  # skipped
        assert (contexts_built, others.times) == ([request_from(ADD).uri], 0)
        assert (await service.complete(request_from(ADD, other_documents=others))).suggestions
        assert others.times == 1
        # typed ahead: no generation, so no documents
        assert (await service.complete(request_from(ADD, other_documents=others))).suggestions
        assert others.times == 1

        service.update_settings(Settings(debounce_ms=0, cross_file_context=False))
        service.cache.clear()
        assert (await service.complete(request_from(ADD, other_documents=others))).suggestions
    assert others.times == 1 and len(engine.calls) == 2


# -- one id per request -----------------------------------------------------------------


async def test_every_log_line_of_a_request_names_the_same_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request superseded by the next one: the scheduler and the service name both
    requests by the same two ids."""
    caplog.set_level(logging.DEBUG, logger="starcoder_ls")
    engine = answer_with("a + b")
    async with serving(engine, Settings(debounce_ms=60_000)) as service:
        waiting = asyncio.ensure_future(service.complete(request_from(ADD)))
        await asyncio.sleep(0)
        invoked = await service.complete(request_from(ADD, invoked=True))
        superseded = await waiting

    assert superseded.suggestions == [] and [s.text for s in invoked.suggestions] == ["a + b"]
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("starcoder_ls.")]
    assert "request 1 superseded by 2" in lines
    assert "request 1: no completion: superseded while debouncing" in lines
    assert any(line.startswith("request 2: generated") for line in lines)
    ids = {int(n) for line in lines for n in re.findall(r"request (\d+)", line)}
    assert ids == {1, 2}


# -- while the model loads --------------------------------------------------------------


class BlockingFactory:
    """An engine factory that loads (or fails) only when the test releases it."""

    def __init__(self, engine: FakeEngine, *, error: str = "") -> None:
        self.engine = engine
        self.error = error
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, settings: Settings, progress: object) -> FakeEngine:
        self.started.set()
        self.release.wait(30)
        if self.error:
            raise EngineError(self.error)
        return self.engine


@asynccontextmanager
async def loading(factory: BlockingFactory) -> AsyncIterator[tuple[CompletionService, Task]]:
    """A service whose model is loading until `factory.release` is set."""
    service = CompletionService(
        Settings(debounce_ms=0), engine_factory=factory, current_version=lambda uri: 1
    )
    load = asyncio.ensure_future(service.load())
    try:
        assert await asyncio.to_thread(factory.started.wait, 30)
        yield service, load
    finally:
        factory.release.set()
        await load
        service.shutdown()


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_request_during_the_load_waits_for_the_model() -> None:
    factory = BlockingFactory(answer_with("a + b"))
    async with loading(factory) as (service, load):
        waiting = asyncio.ensure_future(service.complete(request_from(ADD)))
        await settle()
        assert not waiting.done() and service.status.state == "loading"
        factory.release.set()
        answer = await waiting
        assert (await load).state == "ready"

    assert [s.text for s in answer.suggestions] == ["a + b"]


async def test_a_failed_load_answers_the_waiting_request_with_the_reason() -> None:
    factory = BlockingFactory(answer_with("a + b"), error="no such model: /m")
    async with loading(factory) as (service, load):
        waiting = asyncio.ensure_future(service.complete(request_from(ADD)))
        await settle()
        assert not waiting.done()
        factory.release.set()
        answer = await waiting
        status = service.status

    assert answer.suggestions == [] and factory.engine.calls == []
    assert (status.state, status.message) == ("error", "no such model: /m")
    assert (service.stats.requests, service.stats.suggested) == (1, 0)


async def test_a_waiting_request_is_superseded_or_cancelled_as_usual() -> None:
    factory = BlockingFactory(answer_with("a + b"))
    async with loading(factory) as (service, load):
        first = asyncio.ensure_future(service.complete(request_from(ADD)))
        await settle()
        second = asyncio.ensure_future(service.complete(request_from(ADD)))
        await settle()
        assert first.done() and first.result().suggestions == []  # before the model is there
        other = asyncio.ensure_future(service.complete(request_from(ADD, uri=OTHER_URI)))
        await settle()
        other.cancel()
        await settle()
        assert other.cancelled()
        factory.release.set()
        answer = await second

    assert [s.text for s in answer.suggestions] == ["a + b"]
    assert len(factory.engine.calls) == 1  # for the second request only
    stats = service.stats
    assert (stats.requests, stats.suggested, stats.model_calls) == (3, 1, 1)


async def test_after_a_failed_load_requests_are_refused_at_once_even_across_disabling() -> None:
    """Turning completions off and on shows the model's own state again, "error": a
    request then is refused instead of waiting for a load that is not coming."""
    factory = BlockingFactory(answer_with("a + b"), error="out of memory")
    factory.release.set()
    service = CompletionService(
        Settings(debounce_ms=0), engine_factory=factory, current_version=lambda uri: 1
    )
    try:
        assert (await service.load()).state == "error"
        service.update_settings(Settings(debounce_ms=0, enabled=False))
        assert service.status.state == "disabled"
        service.update_settings(Settings(debounce_ms=0))
        assert (service.status.state, service.status.message) == ("error", "out of memory")
        answer = await asyncio.wait_for(service.complete(request_from(ADD)), 30)
    finally:
        service.shutdown()
    assert answer.suggestions == [] and answer.ctx is not None


# -- statistics -------------------------------------------------------------------------


async def test_statistics_count_requests_model_work_and_reuse() -> None:
    engine = FakeEngine(lambda prompt, params: ["a + b"], prefilled=1)
    async with serving(engine, Settings(debounce_ms=0)) as service:
        request = request_from(ADD)
        assert (await service.complete(request)).suggestions  # the model
        assert (await service.complete(request)).suggestions  # typed ahead
        service.document_closed(request.uri)  # forgets what was shown, not the exact cache
        assert (await service.complete(request)).suggestions  # exact cache
        await service.complete(request_from("\x00█"))  # refused
        stats = service.stats.to_json()

    assert stats == {
        "requests": 4,
        "suggested": 3,
        "modelCalls": 1,
        "promptTokens": 3,
        "prefilledTokens": 1,
        "generatedTokens": 5,
        "engineMs": 1.0,
        "cacheHits": 1,
        "typedAheadHits": 1,
        "prefetches": 0,
        "prefetchHits": 0,
        "warmups": 0,
        "warmupsCompleted": 0,
        "accepted": 0,
        "adoptedGenerations": 0,
        "abandonedGenerations": 0,
    }


async def test_prefilled_tokens_default_to_the_prompt_tokens() -> None:
    engine = answer_with("a + b")
    async with serving(engine, Settings(debounce_ms=0)) as service:
        await service.complete(request_from(ADD))
        stats = service.stats.to_json()
    assert stats["prefilledTokens"] == stats["promptTokens"] == 3


async def test_a_generation_the_client_cancelled_still_counts_as_model_work() -> None:
    """The wasted work of a cancelled request is what a typing benchmark must see."""
    gate = Gate(lambda prompt, params: ["a + b"])
    async with serving(FakeEngine(gate.reply), Settings(debounce_ms=0)) as service:
        task = asyncio.ensure_future(service.complete(request_from(ADD)))
        await gate.entered()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.release.set()
        await service.model.call(lambda: None)  # the worker has finished the generation
        stats = service.stats.to_json()
    assert stats["modelCalls"] == 1 and stats["generatedTokens"] == 5


def test_the_service_and_the_server_import_without_torch() -> None:
    """torch loads with the first model (`lifecycle.load_engine`), not with the server."""
    code = (
        "import sys, starcoder_ls.completion.service, starcoder_ls.completion.lifecycle\n"
        "import starcoder_ls.lsp.server\n"
        "heavy = sorted({'torch', 'transformers', 'accelerate'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
