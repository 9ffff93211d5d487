from __future__ import annotations

import pytest

from starcoder_ls import syntax
from starcoder_ls.rerank import rerank
from starcoder_ls.types import Suggestion
from tests.unit.cursor import ctx_from


def suggestion(text: str, ctx, covered: int = 0) -> Suggestion:
    return Suggestion(text=text, character=ctx.character, end_character=ctx.character + covered)


@pytest.fixture(autouse=True)
def python_grammar() -> None:
    if syntax.grammar("python") is None:
        pytest.skip("no tree-sitter grammar for python")


def test_a_candidate_that_parses_goes_before_one_that_does_not() -> None:
    ctx = ctx_from("def f(xs):\n    total = █\n    return total\n")
    broken, good = suggestion("sum(x for x in xs", ctx), suggestion("sum(xs)", ctx)
    assert rerank([broken, good], ctx) == [good, broken]


def test_ties_keep_the_model_order() -> None:
    ctx = ctx_from("def f(xs):\n    total = █\n    return total\n")
    first, second = suggestion("sum(xs)", ctx), suggestion("len(xs)", ctx)
    assert rerank([first, second], ctx) == [first, second]


def test_replaced_closers_are_not_counted_twice() -> None:
    ctx = ctx_from("print(█)\n")
    replacing = suggestion("x)", ctx, covered=1)
    doubled = suggestion("x))", ctx)
    assert rerank([doubled, replacing], ctx) == [replacing, doubled]


def test_without_a_grammar_the_order_is_kept() -> None:
    ctx = ctx_from("x = █\n", language_id="haskell")
    first, second = suggestion("(1", ctx), suggestion("1", ctx)
    assert rerank([first, second], ctx) == [first, second]


def test_errors_with_counts_what_the_insertion_breaks() -> None:
    ctx = ctx_from("items = [█]\n")
    assert syntax.errors_with(ctx, "1, 2") == 0
    assert syntax.errors_with(ctx, "1, (2") > 0


class ThreeChoices:
    """Greedy gives a completion that leaves a bracket open; the samples close theirs."""

    def __init__(self) -> None:
        from starcoder_ls.engine.base import EngineInfo
        from starcoder_ls.fim import get_template

        self.info = EngineInfo(
            model="fake", template=get_template("starcoder"), context_window=2048
        )

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, params, cancel, **kwargs):
        from starcoder_ls.engine.base import Generation, GenerationResult

        texts = ["sum(x for x in xs"] if params.temperature == 0 else ["sum(xs)", "len(xs)"]
        choices = tuple(Generation(text=t, tokens=3, stop_reason="stop") for t in texts)
        return GenerationResult(choices=choices[: params.n], prompt_tokens=3, generate_ms=1.0)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("invoked", "enabled", "first"),
    [
        (True, True, "sum(xs)"),
        (True, False, "sum(x for x in xs"),
        (False, True, "sum(x for x in xs"),
    ],
    ids=["invoked", "rerank-off", "automatic"],
)
async def test_the_service_reranks_invoked_requests_only(
    invoked: bool, enabled: bool, first: str
) -> None:
    from starcoder_ls.config import Settings
    from starcoder_ls.service import CompletionRequest, CompletionService

    engine = ThreeChoices()
    service = CompletionService(
        Settings(debounce_ms=0, rerank=enabled),
        engine_factory=lambda *args, **kwargs: engine,
        current_version=lambda uri: 1,
    )
    try:
        assert (await service.load()).state == "ready"
        ctx = ctx_from("def f(xs):\n    total = █\n    return total\n")
        suggestions = await service.complete(CompletionRequest(ctx=ctx, invoked=invoked))
    finally:
        service.shutdown()
    assert suggestions[0].text == first
    assert len(suggestions) == (3 if invoked else 1)
