"""Fitting prefix, suffix and other files into the token budget."""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Callable

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from starcoder_ls.cursor.prompt import Prompt, PromptSpec, build_prompt
from starcoder_ls.engine.fim import TEMPLATES, get_template

STARCODER = get_template("starcoder")
SPECIALS = sorted({t for tpl in TEMPLATES.values() for t in tpl.stop_tokens + tpl.required_tokens})


def per4(text: str) -> int:
    """About four characters a token, like code under a real BPE, and nearly additive."""
    return math.ceil(len(text) / 4)


def per_word(text: str) -> int:
    """Far from additive: joining two parts can merge two words into one."""
    return len(text.split())


def seams(text: str) -> int:
    """Charges for a word running into a sentinel, which no part counted alone shows."""
    return per4(text) + 3 * len(re.findall(r"\w(?=[<\[])", text))


@pytest.fixture(scope="module")
def bpe() -> Callable[[str], int]:
    """A byte-level BPE trained in-process on code-like text, with the FIM sentinels."""
    rng = random.Random(7)
    words = ["def", "return", "self", "value", "for", "in", "range", "if", "else", "print"]
    corpus = [
        f"{'    ' * rng.randint(0, 3)}{rng.choice(words)}_{i % 50}({rng.choice(words)}) = {i}\n"
        for i in range(3000)
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    return lambda text: len(tok.encode(text).ids)


def numbered(kind: str, count: int) -> str:
    return "".join(f"{kind} line {i:04d}\n" for i in range(count))


def build(**kwargs: object) -> Prompt:
    args: dict[str, object] = {
        "template": STARCODER,
        "count_tokens": per4,
        "context_window": 300,
        "max_new_tokens": 60,
        "cut_step": 0,  # cut at any line: these tests measure how tightly the budget is packed
    }
    args.update(kwargs)
    return build_prompt(PromptSpec(**args))  # type: ignore[arg-type]


def overhead(template_name: str = "starcoder", filename: str | None = None) -> int:
    return per4(get_template(template_name).render("", "", filename=filename))


def starts_at_line_start(whole: str, kept: str) -> bool:
    cut = len(whole) - len(kept)
    return whole.endswith(kept) and (cut == 0 or whole[cut - 1] == "\n")


def ends_at_line_end(whole: str, kept: str) -> bool:
    return whole.startswith(kept) and (kept == whole or kept.endswith("\n"))


def test_far_ends_are_cut_at_line_boundaries_and_nearest_lines_kept() -> None:
    prefix = numbered("before", 500) + "    value = "
    suffix = "\n" + numbered("after", 500)
    result = build(prefix=prefix, suffix=suffix)

    assert result.prefix.endswith("before line 0499\n    value = ")
    assert starts_at_line_start(prefix, result.prefix)
    assert result.prefix != prefix
    assert result.suffix.startswith("\nafter line 0000\n")
    assert ends_at_line_end(suffix, result.suffix)
    assert result.suffix != suffix
    assert result.text == STARCODER.render(result.prefix, result.suffix)
    assert result.tokens == per4(result.text) <= 240


def test_prefix_share_splits_the_budget_when_both_sides_are_long() -> None:
    prefix, suffix = numbered("before", 500), numbered("after", 500)
    result = build(prefix=prefix, suffix=suffix, context_window=1060, max_new_tokens=60)
    available = 1000 - overhead()
    line = per4("before line 0000\n")

    assert available * 0.75 - line <= per4(result.prefix) <= available * 0.75
    assert available * 0.25 - line <= per4(result.suffix) <= available * 0.25 + 1


def test_a_short_suffix_leaves_its_share_to_the_prefix() -> None:
    prefix, suffix = numbered("before", 500), "\n)\n"
    result = build(prefix=prefix, suffix=suffix, context_window=1060, max_new_tokens=60)
    available = 1000 - overhead()

    assert result.suffix == suffix
    assert per4(result.prefix) > available * 0.75
    assert per4(result.prefix) + per4(suffix) > available - per4("before line 0000\n")


def test_a_short_prefix_leaves_its_share_to_the_suffix() -> None:
    prefix, suffix = "import os\n", numbered("after", 500)
    result = build(prefix=prefix, suffix=suffix, context_window=1060, max_new_tokens=60)
    available = 1000 - overhead()

    assert result.prefix == prefix
    assert per4(result.suffix) > available * 0.25
    assert per4(prefix) + per4(result.suffix) > available - per4("after line 0000\n")


def test_everything_is_kept_when_it_fits() -> None:
    result = build(prefix="def f():\n    ", suffix="\n\nf()\n", context_window=2048)
    assert result.prefix == "def f():\n    "
    assert result.suffix == "\n\nf()\n"


def test_a_minified_cursor_line_is_cut_by_characters_not_dropped() -> None:
    prefix = "var a=1;" * 5000
    suffix = ";b()" * 5000
    result = build(prefix=prefix, suffix=suffix, context_window=560, max_new_tokens=60)
    available = 500 - overhead()

    assert prefix.endswith(result.prefix)
    assert suffix.startswith(result.suffix)
    assert per4(result.prefix) >= available * 0.75 - 1
    assert per4(result.suffix) >= available * 0.25 - 1
    assert result.tokens <= 500


def test_long_last_line_after_short_lines_keeps_the_part_next_to_the_cursor() -> None:
    prefix = "import x\n" * 3 + "y = " + "1 + " * 3000
    result = build(prefix=prefix, suffix="", context_window=400, max_new_tokens=100)

    assert prefix.endswith(result.prefix)
    assert "import" not in result.prefix
    assert len(result.prefix) > 1000


def test_prefix_only_template_leaves_the_suffix_out() -> None:
    result = build(
        prefix=numbered("before", 500),
        suffix="SUFFIX_MARKER\n" * 10,
        template=get_template("prefix-only"),
    )
    available = 240 - overhead("prefix-only")

    assert result.suffix == ""
    assert "SUFFIX_MARKER" not in result.text
    assert result.text == result.prefix
    assert per4(result.prefix) > available - per4("before line 0000\n")


def test_use_fim_false_sends_a_left_to_right_prompt_with_the_whole_budget() -> None:
    result = build(
        prefix=numbered("before", 500),
        suffix="SUFFIX_MARKER\n" * 10,
        use_fim=False,
        filename="pkg/mod.py",
    )

    assert result.suffix == ""
    assert "SUFFIX_MARKER" not in result.text
    assert "<fim_prefix>" not in result.text
    assert result.text == "<filename>pkg/mod.py\n" + result.prefix
    assert per4(result.prefix) > 240 - per4("<filename>pkg/mod.py\n") - per4("before line 0000\n")


def test_filename_is_placed_where_the_family_expects_it() -> None:
    sc = build(prefix="x = ", suffix="\n", filename="src/app.py", context_window=2048)
    assert sc.text == "<filename>src/app.py\n<fim_prefix>x = <fim_suffix>\n<fim_middle>"

    sc2 = build(
        prefix="x = ",
        suffix="\n",
        filename="src/app.py",
        context_window=2048,
        template=get_template("starcoder2"),
    )
    assert sc2.text == "<file_sep><fim_prefix>src/app.py\nx = <fim_suffix>\n<fim_middle>"

    llama = build(
        prefix="x = ",
        suffix="\n",
        filename="src/app.py",
        context_window=2048,
        template=get_template("codellama"),
    )
    assert "src/app.py" not in llama.text


def test_snippets_fill_the_room_the_file_leaves_most_related_first() -> None:
    snippets = [("a.py", "A = 1\n"), ("b.py", "B = 2\n"), ("c.py", "C = 3\n")]
    result = build(prefix="x = ", suffix="\n", snippets=snippets, context_window=2048)

    expected_context = "<filename>a.py\nA = 1\n<filename>b.py\nB = 2\n<filename>c.py\nC = 3\n"
    assert result.context == expected_context
    assert result.text == expected_context + "<fim_prefix>x = <fim_suffix>\n<fim_middle>"


def test_a_snippet_that_does_not_fit_is_skipped_and_smaller_ones_still_come() -> None:
    big = ("big.py", "BIG = 0\n" * 400)
    small = ("small.py", "SMALL = 1\n")
    result = build(prefix="x = ", suffix="\n", snippets=[big, small], context_window=200)

    assert "BIG" not in result.text
    assert result.context == "<filename>small.py\nSMALL = 1\n"
    assert result.tokens <= 140


def test_snippets_never_take_room_from_the_file() -> None:
    prefix = numbered("before", 500)
    plain = build(prefix=prefix, suffix="")
    with_snippets = build(prefix=prefix, suffix="", snippets=[("a.py", "A = 1\n")])

    assert with_snippets.prefix == plain.prefix
    assert with_snippets.context == ""


def test_huge_inputs_are_never_counted_whole() -> None:
    prefix = numbered("before", 200_000)
    suffix = numbered("after", 200_000)
    longest = 0

    def counting(text: str) -> int:
        nonlocal longest
        longest = max(longest, len(text))
        return per4(text)

    result = build(prefix=prefix, suffix=suffix, count_tokens=counting, context_window=8192)

    assert result.tokens <= 8132
    assert longest < 200_000
    assert longest < len(prefix) / 10


def test_parts_that_grow_when_joined_are_trimmed_to_the_budget() -> None:
    prefix = numbered("before", 300) + "value"
    suffix = "word\n" + numbered("after", 300)
    result = build(prefix=prefix, suffix=suffix, count_tokens=seams)

    assert seams(result.text) == result.tokens <= 240
    assert result.prefix.endswith("value")
    assert result.suffix.startswith("word\n")


def test_no_room_for_a_prompt_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"context_window \(128\).*max_new_tokens \(128\)"):
        build(prefix="x", suffix="", context_window=128, max_new_tokens=128)


def test_a_template_larger_than_the_budget_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="starcoder template"):
        build(prefix="x", suffix="", context_window=65, max_new_tokens=60, filename="a.py")


@pytest.mark.parametrize("counter", [per4, per_word, seams], ids=["per4", "per_word", "seams"])
def test_budget_is_never_exceeded(counter: Callable[[str], int]) -> None:
    rng = random.Random(1234)
    names = sorted(TEMPLATES)
    for _ in range(300):
        template = get_template(rng.choice(names))
        prefix = _random_code(rng, rng.randint(0, 200))
        suffix = _random_code(rng, rng.randint(0, 200))
        snippets = [
            (f"m{i}.py", _random_code(rng, rng.randint(0, 30))) for i in range(rng.randint(0, 4))
        ]
        window = rng.randint(120, 1500)
        max_new = rng.randint(1, 50)
        result = build_prompt(
            PromptSpec(
                prefix=prefix,
                suffix=suffix,
                template=template,
                count_tokens=counter,
                context_window=window,
                max_new_tokens=max_new,
                prefix_share=rng.random(),
                filename=rng.choice([None, "pkg/mod.py"]),
                snippets=snippets,
                use_fim=rng.random() < 0.8,
            )
        )
        assert counter(result.text) == result.tokens <= window - max_new
        assert prefix.endswith(result.prefix)
        assert suffix.startswith(result.suffix)


def test_budget_is_never_exceeded_with_a_trained_bpe(bpe: Callable[[str], int]) -> None:
    rng = random.Random(99)
    for _ in range(150):
        template = get_template(rng.choice(["starcoder", "starcoder2", "qwen2.5-coder"]))
        prefix = _random_code(rng, rng.randint(0, 300))
        suffix = _random_code(rng, rng.randint(0, 300))
        window = rng.randint(80, 2000)
        result = build_prompt(
            PromptSpec(
                prefix=prefix,
                suffix=suffix,
                template=template,
                count_tokens=bpe,
                context_window=window,
                max_new_tokens=32,
                filename="src/main.py",
                snippets=[("lib.py", _random_code(rng, 20))],
            )
        )
        assert bpe(result.text) == result.tokens <= window - 32
        # A cut inside a line happens only on the cursor line itself.
        assert starts_at_line_start(prefix, result.prefix) or "\n" not in result.prefix
        assert ends_at_line_end(suffix, result.suffix) or "\n" not in result.suffix


def test_trained_bpe_uses_most_of_the_budget(bpe: Callable[[str], int]) -> None:
    prefix = _random_code(random.Random(5), 2000)
    result = build_prompt(
        PromptSpec(
            prefix=prefix,
            suffix="",
            template=STARCODER,
            count_tokens=bpe,
            context_window=1024,
            max_new_tokens=24,
        )
    )
    longest_line = max(bpe(line + "\n") for line in prefix.splitlines())

    assert 1000 - longest_line - 2 <= result.tokens <= 1000
    assert starts_at_line_start(prefix, result.prefix)


def _random_code(rng: random.Random, lines: int) -> str:
    words = ["def", "return", "self.value", "for i in range(10):", "x = {", "}", "print(x)"]
    out = []
    for _ in range(lines):
        width = rng.choice([0, 1, 2, 3, 40]) if rng.random() < 0.97 else 400
        out.append("    " * rng.randint(0, 3) + " ".join(rng.choice(words) for _ in range(width)))
    return "\n".join(out) + rng.choice(["", "\n", "    "])


def every_fourth(text: str) -> list[int]:
    """Ids that `per4` counts: one per started run of four characters."""
    return [ord(c) for c in text[::4]]


def test_the_final_prompt_s_ids_come_back_when_an_encoder_is_given() -> None:
    prefix, suffix = numbered("prefix", 200), numbered("suffix", 200)
    counted = build(prefix=prefix, suffix=suffix, count_tokens=seams)
    encoded = build(
        prefix=prefix,
        suffix=suffix,
        count_tokens=seams,
        encode=lambda text: [0] * seams(text),
    )

    assert counted.ids is None
    assert dataclasses.replace(encoded, ids=None) == counted
    assert encoded.ids is not None and len(encoded.ids) == encoded.tokens


def test_the_ids_are_those_of_the_text_sent() -> None:
    prompt = build(prefix=numbered("prefix", 200), suffix="x = 1\n", encode=every_fourth)

    assert prompt.ids == tuple(every_fourth(prompt.text))
    assert prompt.tokens == per4(prompt.text) <= 300 - 60
