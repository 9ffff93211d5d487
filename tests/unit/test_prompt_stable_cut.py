"""The prompt's far ends stay put while the user types, so an engine can reuse its KV cache.

An engine that keeps the previous prompt's cache prefills only the tokens after the
first one that differs. If the top of the prompt moved by a line on every keystroke,
nothing would be reused; cut on a coarse grid, it moves about once per sixteenth of
the budget typed.
"""

from __future__ import annotations

import math
import random

import pytest

from starcoder_ls.cursor.prompt import Prompt, PromptSpec, build_prompt
from starcoder_ls.engine.fim import get_template

STARCODER = get_template("starcoder")
WINDOW, MAX_NEW = 2048, 128
BUDGET = WINDOW - MAX_NEW
TYPED = "    total = total + price * quantity\n    if total > limit:\n        break\n" * 4
"""About 75 tokens: less than one step of the grid (a sixteenth of 1920 tokens)."""


def per4(text: str) -> int:
    return math.ceil(len(text) / 4)


def document(rng: random.Random, lines: int, kind: str) -> str:
    words = ["value", "items", "self.total", "range(10)", "print(x)", "return", "x = {"]
    return "".join(
        f"{'    ' * rng.randint(0, 2)}{kind} {' '.join(rng.sample(words, rng.randint(1, 5)))}\n"
        for _ in range(lines)
    )


def prompt(prefix: str, suffix: str, **kwargs: object) -> Prompt:
    result = build_prompt(
        PromptSpec(
            prefix=prefix,
            suffix=suffix,
            template=STARCODER,
            count_tokens=per4,
            context_window=WINDOW,
            max_new_tokens=MAX_NEW,
            **kwargs,  # type: ignore[arg-type]
        )
    )
    assert per4(result.text) == result.tokens <= BUDGET
    assert prefix.endswith(result.prefix) and suffix.startswith(result.suffix)
    return result


def head(prefix: str, result: Prompt) -> int:
    """Where the prompt's first line starts in the document."""
    return len(prefix) - len(result.prefix)


def tail(prefix: str, suffix: str, result: Prompt) -> int:
    """Where the prompt's last line ends in the document."""
    return len(prefix) + len(result.suffix)


@pytest.fixture(scope="module")
def long_file() -> tuple[str, str]:
    rng = random.Random(11)
    return document(rng, 3000, "above"), document(rng, 3000, "below")


def test_typing_a_character_at_a_time_keeps_the_first_line(long_file: tuple[str, str]) -> None:
    above, below = long_file
    typed = [above + TYPED[:n] for n in range(len(TYPED) + 1)]
    stepped = [head(prefix, prompt(prefix, below)) for prefix in typed]
    line_by_line = [head(prefix, prompt(prefix, below, cut_step=0)) for prefix in typed]

    assert len(set(stepped)) <= 2
    assert len(set(line_by_line)) >= 5  # what the grid is for
    # The head is cut at a line start, and the budget is still well used.
    assert all(above[cut - 1] == "\n" for cut in stepped)
    assert all(prompt(prefix, below).tokens > BUDGET * (1 - 2 / 16) for prefix in typed[::25])


def test_moving_down_a_line_keeps_both_far_ends(long_file: tuple[str, str]) -> None:
    above, below = long_file
    whole = above + below
    cursors = [len(above)]
    for _ in range(12):
        cursors.append(whole.index("\n", cursors[-1]) + 1)
    results = [(whole[:at], whole[at:], prompt(whole[:at], whole[at:])) for at in cursors]

    assert len({head(prefix, result) for prefix, _, result in results}) <= 2
    assert len({tail(prefix, suffix, result) for prefix, suffix, result in results}) <= 2
    assert all(whole[tail(p, s, r) - 1] == "\n" for p, s, r in results)


def test_a_short_file_is_sent_whole_whatever_the_step() -> None:
    result = prompt("def f(x):\n    ", "\n\nprint(f(1))\n")
    assert result.prefix == "def f(x):\n    " and result.suffix == "\n\nprint(f(1))\n"


def test_room_a_stepped_cut_leaves_is_not_given_to_snippets(long_file: tuple[str, str]) -> None:
    above, below = long_file
    snippets = [("lib/a.py", "A = 1\n")]
    results = [prompt(above + TYPED[:n], below, snippets=snippets) for n in range(0, 40, 4)]
    assert all(result.context == "" for result in results)
