"""An invoked request's sampled alternatives are seeded by the prompt."""

from __future__ import annotations

from starcoder_ls.config import Settings
from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.fim import get_template
from starcoder_ls.service import CompletionRequest
from tests.support.cursor import ctx_from
from tests.support.fake_engine import FakeEngine, serving


def greedy_then_samples(prompt: str, params: GenerationParams) -> list[str]:
    return ["sum(xs)"] if params.temperature == 0 else ["len(xs)", "max(xs)"][: params.n]


async def test_asking_again_draws_the_same_alternatives() -> None:
    engine = FakeEngine(greedy_then_samples, get_template("starcoder"))
    async with serving(engine, Settings(debounce_ms=0)) as service:
        first = ctx_from("def f(xs):\n    total = █\n    return total\n")
        other = ctx_from("def g(xs):\n    best = █\n    return best\n")
        shown = []
        for ctx in (first, first, other):
            service.cache.clear()  # generate again rather than reuse the last answer
            shown.append(await service.complete(CompletionRequest(ctx=ctx, invoked=True)))
    assert [s.text for s in shown[0]] == ["sum(xs)", "len(xs)", "max(xs)"]
    calls = [params for _, params in engine.calls]
    sampled = [call for call in calls if call.temperature > 0]
    assert len(sampled) == 3 and all(call.n == 2 for call in sampled)
    assert sampled[0].seed is not None and sampled[0].seed == sampled[1].seed
    assert sampled[2].seed != sampled[0].seed
    assert all(call.seed is None for call in calls if call.temperature == 0)
