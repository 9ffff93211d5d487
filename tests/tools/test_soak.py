"""A short soak (`starcoder-ls bench soak`): a few hundred requests while two files are
typed key by key into the real server. Its thread count must not grow and every cache
and table must stay within its bound; RSS is left to the long run (too noisy here)."""

from __future__ import annotations

from starcoder_ls.tools import soak, soak_server

FIRST = "def total(items):\n    result = 0\n    for item in items:\n        result += item\n"
SECOND = "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n"
EXACT_CACHE = 16


async def test_a_short_soak_keeps_threads_and_caches_flat() -> None:
    plan = soak.SoakPlan(
        requests=300,
        server_args=("--log-level", "warning"),
        sample_every=50,
        warmup=50,
        exact_cache=EXACT_CACHE,
    )
    result = await soak.soak(plan, [FIRST, SECOND])
    assert result.requests == 300
    assert result.documents >= 3  # both files typed, the first again: documents come and go
    assert result.errors == 0
    assert result.answered > 100
    assert result.last_answer.startswith(soak_server.ANSWER_PREFIX)  # the engine's text

    baseline = result.baseline
    assert baseline.requests == 50
    after_warmup = [s.threads for s in result.samples if s.requests >= baseline.requests]
    assert len(after_warmup) >= 5 and max(after_warmup) <= baseline.threads
    assert result.over_bounds() == []
    last = result.samples[-1].sizes
    assert last["cache.exact"] == EXACT_CACHE  # the bound was reached, and held
    assert last["documents"] == 1 and last["lastEdit"] <= 1
    assert result.problems(tolerance=1.0) == []


def test_the_soak_engine_answers_by_prompt() -> None:
    from starcoder_ls.engine.base import GenerationParams

    engine = soak_server.SoakEngine()
    one = engine.generate("def f(", GenerationParams(), None).choices
    again = engine.generate("def f(", GenerationParams(), None).choices
    other = engine.generate("def g(", GenerationParams(), None).choices
    sampled = engine.generate("def f(", GenerationParams(temperature=0.7, n=3), None).choices
    assert one == again and one != other
    assert all(c.text.startswith(soak_server.ANSWER_PREFIX) for c in one + sampled)
    assert len({c.text for c in sampled}) == 3


def test_a_growing_table_or_thread_count_is_reported() -> None:
    sizes = {"cache.exact": 3, "cache.exactMax": 4, "cache.shownMax": 8, "documents": 1}
    result = soak.SoakResult(
        samples=[
            soak.Sample(0, 40.0, 3, sizes),
            soak.Sample(100, 50.0, 3, sizes),
            soak.Sample(200, 60.0, 5, {**sizes, "cache.exact": 5, "documents": 4}),
        ],
        warmup=100,
        errors=1,
    )
    problems = result.problems(tolerance=0.05)
    assert "cache.exact: 5 > 4" in problems
    assert "documents: 4 > 1" in problems
    assert any(p.startswith("rss_mb grew 20.0%") for p in problems)
    assert any(p.startswith("threads grew 66.7%") for p in problems)
    assert "1 requests answered with an error" in problems
    assert "**not flat**" in result.markdown(0.05)


def test_a_model_soak_gives_its_server_the_model_flags_as_settings(monkeypatch) -> None:
    """`bench soak --engine model` starts its server with the model, device and dtype given
    to it; the server reads them as settings, as an editor would send them."""
    import argparse

    from starcoder_ls.config import Settings, merge

    given: dict[str, object] = {}

    async def fake_soak(plan: soak.SoakPlan, texts: object) -> soak.SoakResult:
        given["server_args"] = list(plan.server_args)
        return soak.SoakResult(samples=[soak.Sample(1, 1.0, 1, {})])

    monkeypatch.setattr(soak, "soak", fake_soak)
    args = argparse.Namespace(
        source=None,
        document_chars=10,
        log_level="info",
        log_file=None,
        engine="model",
        model="/models/sc",
        device="cpu",
        dtype="float32",
        requests=1,
        sample_every=1,
        warmup=0,
        debounce_ms=0,
        exact_cache=None,
        tolerance=1.0,
    )
    soak.run_soak(args)
    parsed = soak_server._parser().parse_args(given["server_args"])
    settings = merge(Settings(), parsed.settings).settings
    assert (settings.model, settings.device, settings.dtype) == ("/models/sc", "cpu", "float32")
    assert parsed.log_level == "info"
