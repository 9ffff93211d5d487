from __future__ import annotations

import pytest

from starcoder_ls.postprocess.remove_repetitive_blocks import remove_repetitive_blocks
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from

TEST = "def test_a():\n    assert a()\n\n"


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("█\n", TEST * 3, TEST.rstrip()),
        ("█\n", TEST * 2 + "def test_", TEST.rstrip()),
        ("x = 1\n█\n", "y = 2\n\n" + TEST * 2, "y = 2\n\n" + TEST.rstrip()),
        (
            "def f(x):\n    █\n",
            "a = g(x)\n    b = h(a)\n    a = g(x)\n    b = h(a)\n    a = g(x)\n    b = h",
            "a = g(x)\n    b = h(a)",
        ),
    ],
    ids=["three-copies", "last-copy-cut-short", "after-new-code", "first-line-at-cursor"],
)
def test_a_block_repeated_to_the_end_is_kept_once(
    marked: str, completion: str, expected: str
) -> None:
    assert remove_repetitive_blocks(completion, ctx_from(marked), Mode.MULTI_LINE) == expected


@pytest.mark.parametrize(
    "completion",
    [
        TEST + "def test_b():\n    assert b()\n",
        TEST + "def test_a():\n    assert a()\nprint(1)",
        "if x:\n    a()\nelse:\n    a()",
        "x = 1",
    ],
    ids=["similar-blocks", "repeat-then-new-code", "one-line-period", "one-line"],
)
def test_blocks_that_do_not_loop_are_kept(completion: str) -> None:
    assert remove_repetitive_blocks(completion, ctx_from("█\n"), Mode.MULTI_LINE) == completion


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        ("c", "int f(void) {\n  █\n", "x++;\n  }\n  x++;\n  }\n  x++;\n  }", "x++;\n  }"),
        ("go", "func f() {\n\t█\n", "x++\n\ty()\n\tx++\n\ty()", "x++\n\ty()"),
        ("ruby", "def f\n  █\n", "x\n  end\n  x\n  end\n  x", "x\n  end"),
    ],
    ids=["c-braces", "go-tabs", "ruby-end"],
)
def test_a_loop_is_kept_once_whatever_ends_its_blocks(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert remove_repetitive_blocks(completion, ctx, Mode.MULTI_LINE) == expected


@pytest.mark.parametrize(
    ("language_id", "completion"),
    [
        ("javascript", "      });\n    });\n  });\n});"),
        ("rust", "            }\n        }\n    }\n}"),
        ("lua", "      end\n    end\n  end\nend"),
    ],
    ids=["javascript-nested-closers", "rust-nested-braces", "lua-nested-ends"],
)
def test_nested_block_ends_are_no_loop(language_id: str, completion: str) -> None:
    ctx = ctx_from("█\n", language_id=language_id)
    assert remove_repetitive_blocks(completion, ctx, Mode.MULTI_LINE) == completion
