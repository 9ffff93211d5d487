from __future__ import annotations

import pytest

from starcoder_ls.postprocess.normalize_indentation import normalize_indentation
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


def normalize(marked: str, completion: str, language_id: str = "python") -> str | None:
    ctx = ctx_from(marked, language_id=language_id)
    return normalize_indentation(completion, ctx, Mode.MULTI_LINE)


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        (
            "func f() {\n\tif x {█\n\t}\n}\n",
            "\n        return 1\n    }",
            "\n\t\treturn 1\n\t}",
        ),
        (
            "func f() {\n\tif x {█\n\t}\n}\n",
            "\n\t    return 1",
            "\n\t\treturn 1",
        ),
        (
            "fn f() {\n\tlet x = 1;\n\t█\n}\n",
            "if x > 0 {\n\t\tprintln!(x);\n\t}",
            "if x > 0 {\n\t\tprintln!(x);\n\t}",
        ),
        (
            "func f() {\n\tg(a,█\n}\n",
            "\n\t  b)",
            "\n\t  b)",
        ),
    ],
    ids=["spaces-to-tabs", "mixed-to-tabs", "tabs-already", "alignment-kept"],
)
def test_a_tab_indented_document_gets_tabs(marked: str, completion: str, expected: str) -> None:
    assert normalize(marked, completion, "go") == expected


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        (
            "class A:\n  def f(self):█\n",
            "\n      if x:\n          return 1\n      return 2",
            "\n    if x:\n      return 1\n    return 2",
        ),
        (
            "def f(x):\n    if x:█\n",
            "\n\t\treturn 1\n\treturn 2",
            "\n        return 1\n    return 2",
        ),
        (
            "def f(x):\n    if x:█\n",
            "\n      return 1",
            "\n        return 1",
        ),
        (
            "def f(x):\n    if x:█\n",
            "\n        return 1\n    return 2",
            "\n        return 1\n    return 2",
        ),
        (
            "class A:\n  def f(self):█\n",
            "\n      x = (1 +\n           2)",
            "\n    x = (1 +\n         2)",
        ),
    ],
    ids=[
        "four-spaces-to-two",
        "tabs-to-spaces",
        "two-spaces-to-four",
        "already-right",
        "alignment-is-not-a-level",
    ],
)
def test_a_space_indented_document_gets_its_width(
    marked: str, completion: str, expected: str
) -> None:
    assert normalize(marked, completion) == expected


def test_a_document_without_indented_lines_says_nothing_and_nothing_changes() -> None:
    completion = "\n  y();\n}"
    assert normalize("if (x) {█\n}\n", completion, "javascript") == completion


def test_lines_inside_a_string_literal_keep_their_indentation() -> None:
    completion = '\n\t"""Doc.\n\n\t  keep this\n\t"""\n\treturn 1'
    assert normalize("class A:\n    def f(self):█\n", completion) == (
        '\n    """Doc.\n\n\t  keep this\n\t"""\n    return 1'
    )


def test_the_first_line_is_left_to_fix_leading_whitespace() -> None:
    assert normalize("def f():\n\t█\n", "  x = 1", "go") == "  x = 1"


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        (
            "go",
            "func f() {\n\tif x {\n\t\ty()\n\t}\n\t█\n}\n",
            "for i := range xs {\n        use(i)\n    }",
            "for i := range xs {\n\t\tuse(i)\n\t}",
        ),
        (
            "c",
            "int f(void) {\n\tif (x) {\n\t\ty();\n\t}\n\t█\n}\n",
            "for (;;) {\n        use(i);\n    }",
            "for (;;) {\n\t\tuse(i);\n\t}",
        ),
        (
            "rust",
            "fn f() {\n    if x {\n        y();\n    }\n    █\n}\n",
            "for i in xs {\n\t\tuse(i);\n\t}",
            "for i in xs {\n        use(i);\n    }",
        ),
        (
            "javascript",
            "function f() {\n  if (x) {\n    y();\n  }\n  █\n}\n",
            "for (const i of xs) {\n      use(i);\n  }",
            "for (const i of xs) {\n    use(i);\n  }",
        ),
        (
            "typescript",
            "class A {\n  f(): void {\n    y();\n  }\n  █\n}\n",
            "g(): void {\n      z();\n  }",
            "g(): void {\n    z();\n  }",
        ),
        (
            "java",
            "class A {\n    void f() {\n        y();\n    }\n    █\n}\n",
            "void g() {\n\t\tz();\n\t}",
            "void g() {\n        z();\n    }",
        ),
    ],
    ids=["go-tabs", "c-tabs", "rust-spaces", "javascript-two", "typescript-two", "java-four"],
)
def test_brace_blocks_get_the_documents_unit(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    assert normalize(marked, completion, language_id) == expected


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        (
            "go",
            "func f() {\n\tif x {\n\t\ty()\n\t}\n\tq := █\n}\n",
            "`a\n    b`\n    if q {\n        use(q)\n    }",
            "`a\n    b`\n\tif q {\n\t\tuse(q)\n\t}",
        ),
        (
            "javascript",
            "function f() {\n  if (x) {\n    y();\n  }\n  const s = █\n}\n",
            "`a\n    b`;\n  if (s) {\n      use(s);\n  }",
            "`a\n    b`;\n  if (s) {\n    use(s);\n  }",
        ),
        (
            "rust",
            "fn f() {\n    if x {\n        y();\n    }\n    let s = █\n}\n",
            '"a\n\tb";\n\tuse(s);',
            '"a\n\tb";\n    use(s);',
        ),
    ],
    ids=["go-raw-string", "javascript-template-literal", "rust-string"],
)
def test_lines_inside_each_languages_multi_line_strings_are_kept(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    assert normalize(marked, completion, language_id) == expected


MIXED_C = """\
static int get(PVector *self, int i) {
  if (i < 0) {
    return -1;
  }
  return self->items[i];
}

static int count(PVector *self) {
  if (self == NULL) {
    return 0;
  }
  return self->count;
}

static PyObject* extend(PVector *self, PyObject *it) {
    if (it == NULL) {
        return NULL;
    }
    return append(self, it);
}

static PyObject* copy(█
"""


def test_a_document_that_mixes_widths_keeps_a_body_in_its_other_width() -> None:
    """pvectorcmodule.c: two-space functions by majority, four-space ones further down."""
    body = "PVector *self) {\n    if (self == NULL) {\n        return NULL;\n    }"
    assert normalize(MIXED_C, body, "c") == body


def test_google_style_continuations_are_no_evidence_for_four_space_blocks() -> None:
    """Blocks step by two; continuation lines (after `(`, an operator) by four."""
    marked = (
        "class A {\n  int f(int a,\n      int b) {\n    if (a > b) {\n      return g(\n"
        "          a, b);\n    }\n    return 0;\n  }\n\n"
        "  int h(int x) {\n    if (x > 0) {\n      return call(\n          x);\n    }\n"
        "    for (int i = 0; i < x; i++) {\n      x--;\n    }\n"
        "    return 0;\n  }\n\n  int k() {█\n  }\n}\n"
    )
    assert ctx_from(marked, language_id="java").indent_unit == "  "
    completion = "\n      return 1;\n  }"  # four deeper than the header's two
    assert normalize(marked, completion, "java") == "\n    return 1;\n  }"
