from __future__ import annotations

import pytest

from starcoder_ls.postprocess.limit_scope_by_indentation import limit_scope_by_indentation
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


def limit(marked: str, completion: str, language_id: str = "python") -> str | None:
    ctx = ctx_from(marked, language_id=language_id)
    return limit_scope_by_indentation(completion, ctx, Mode.MULTI_LINE)


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        (
            "def f(x):█\n",
            "\n    return x\n\ndef g():\n    pass",
            "\n    return x",
        ),
        (
            "def f(x):█\n",
            "\n    if x:\n        return 1\n\n    return 2\nprint(f(1))",
            "\n    if x:\n        return 1\n\n    return 2",
        ),
        (
            "class A:\n    def f(self):█\n",
            "\n        return 1\n\n    def g(self):\n        pass",
            "\n        return 1",
        ),
        (
            "def f(x):\n    █\n",
            "y = x + 1\n    return y\n\n\nclass B:",
            "y = x + 1\n    return y",
        ),
        (
            "def f(x):\n█\n",
            "    y = x + 1\n    return y\nz = 3",
            "    y = x + 1\n    return y",
        ),
        (
            "for i in range(3):\n    if i:\n        █\n",
            "print(i)\n    else:\n        pass",
            "print(i)",
        ),
    ],
    ids=[
        "next-function",
        "nested-blocks-kept",
        "next-method",
        "blank-line-in-body",
        "editor-did-not-indent",
        "dedent-below-cursor",
    ],
)
def test_python_stops_at_the_first_line_outside_the_block(
    marked: str, completion: str, expected: str
) -> None:
    assert limit(marked, completion) == expected


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("if (x) {█\n}\n", "\n  y();\n}\nfoo();", "\n  y();"),
        ("if (x) {█\n", "\n  y();\n}\nfoo();", "\n  y();\n}"),
        ("if (x) {█\n  z();\n}\n", "\n  y();\n}", "\n  y();"),
        ("function f() {\n  █\n}\n", "return 1;\n}\n\nfunction g() {", "return 1;"),
        ("function f() {\n  █", "return 1;\n}\n\nfunction g() {", "return 1;\n}"),
        ("if (x) {█\n}\n", "\n  a();\n} else {\n  b();\n}", "\n  a();"),
        ("if (x) {█", "\n  a();\n} else {\n  b();\n}\nc();", "\n  a();\n} else {\n  b();\n}"),
    ],
    ids=[
        "auto-closed-brace-not-repeated",
        "missing-brace-kept",
        "more-body-below",
        "blank-line-body",
        "blank-line-missing-brace",
        "else-before-existing-brace",
        "else-when-nothing-closes",
    ],
)
def test_brace_languages_keep_one_closing_line_only_when_the_document_lacks_it(
    marked: str, completion: str, expected: str
) -> None:
    assert limit(marked, completion, "javascript") == expected


def test_ruby_end_is_a_closing_line() -> None:
    completion = "\n  puts x\nend\n\ndef g"
    assert limit("def f(x)█", completion, "ruby") == "\n  puts x\nend"


def test_tabs_are_measured_like_the_document() -> None:
    marked = "func f() {\n\tif x {█\n\t}\n}\n"
    completion = "\n\t\treturn 1\n\t}\n}"
    assert limit(marked, completion, "go") == "\n\t\treturn 1"


def test_lines_inside_a_string_literal_are_never_cut() -> None:
    completion = '"""Summary.\n\nNotes at column 0.\n"""\n    return 1\n\nx = 2'
    assert limit("def f():\n    █\n", completion) == (
        '"""Summary.\n\nNotes at column 0.\n"""\n    return 1'
    )


def test_a_template_literal_open_at_the_cursor_is_cut_only_after_it_ends() -> None:
    marked = "function f() {\n  const s = `█\n}\n"
    completion = "\nno indent here\n`;\n  return s;\n}"
    assert limit(marked, completion, "javascript") == "\nno indent here\n`;"


def test_single_line_mode_is_left_alone() -> None:
    ctx = ctx_from("def f(x):\n    return █\n")
    assert limit_scope_by_indentation("x", ctx, Mode.SINGLE_LINE) == "x"


def test_a_completion_within_the_block_is_unchanged() -> None:
    completion = "\n    a = 1\n\n    return a"
    assert limit("def f():█\n", completion) == completion


def test_above_an_existing_body_only_the_header_is_kept() -> None:
    # HumanEval/61: the hole is the `if` line; its body is already in the document.
    ctx = ctx_from("def f(brackets):\n    for b in brackets:\n        █\n            depth += 1\n")
    completion = 'if b == "(":\n            depth += 1\n        elif b == ")":'
    assert limit_scope_by_indentation(completion, ctx, Mode.MULTI_LINE) == 'if b == "(":'


# -- each language's way of ending a block ------------------------------------------------


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        pytest.param(
            "typescript",
            "class A {\n  get(): number {\n    █\n  }\n}\n",
            "return 1;\n  }\n\n  set(x: number): void {}\n}",
            "return 1;",
            id="typescript-existing-brace",
        ),
        pytest.param(
            "typescript",
            "class A {\n  get(): number {\n    █",
            "return 1;\n  }\n\n  set(x: number): void {}\n}",
            "return 1;\n  }",
            id="typescript-missing-brace",
        ),
        pytest.param(
            "javascript",
            "it('works', () => {\n  █",
            "expect(f()).toBe(1);\n});\n\nit('fails', () => {",
            "expect(f()).toBe(1);\n});",
            id="javascript-callback-closer",
        ),
        pytest.param(
            "java",
            "class A {\n    void f() {\n        try {█\n    }\n}\n",
            "\n            g();\n        } catch (Exception e) {\n            h();\n"
            "        } finally {\n            i();\n        }\n    }",
            "\n            g();\n        } catch (Exception e) {\n            h();\n"
            "        } finally {\n            i();\n        }",
            id="java-catch-finally",
        ),
        pytest.param(
            "c",
            "void f(void) {\n    do {█\n}\n",
            "\n        step();\n    } while (more());\n}",
            "\n        step();\n    } while (more());",
            id="c-do-while",
        ),
        pytest.param(
            "cpp",
            "namespace app {\nint f() {\n    █\n}\n}  // namespace app\n",
            "return 1;\n}\n\nint g() {\n    return 2;\n}",
            "return 1;",
            id="cpp-namespace-at-column-0",
        ),
        pytest.param(
            "go",
            "func f(x int) int {\n\tif x > 0 {█\n\treturn 0\n}\n",
            "\n\t\treturn 1\n\t} else if x < 0 {\n\t\treturn -1\n\t}\n\treturn 0\n}",
            "\n\t\treturn 1\n\t} else if x < 0 {\n\t\treturn -1\n\t}",
            id="go-else-if",
        ),
        pytest.param(
            "go",
            "func f(x int) {\n\tswitch x {\n\tcase 1:█\n\t}\n}\n",
            "\n\t\tone()\n\tcase 2:\n\t\ttwo()\n\t}",
            "\n\t\tone()",
            id="go-next-case",
        ),
        pytest.param(
            "rust",
            "fn f(x: i32) -> i32 {\n    match x {\n        0 => {█\n    }\n}\n",
            "\n            zero()\n        }\n        _ => other(),\n    }",
            "\n            zero()\n        }",
            id="rust-match-arm",
        ),
        pytest.param(
            "python",
            "def f():\n    try:█\n",
            "\n        g()\n    except ValueError:\n        h()\n    finally:\n        i()\n"
            "\n\ndef g():",
            "\n        g()\n    except ValueError:\n        h()\n    finally:\n        i()",
            id="python-except-finally",
        ),
        pytest.param(
            "python",
            "class A:\n    def f(self):\n        █\n\n    @property\n    def g(self):\n",
            "return 1\n\n    @property\n    def g(self):",
            "return 1",
            id="python-decorator-outside",
        ),
        pytest.param(
            "ruby",
            "def f(x)\n  if x█\nend\n",
            "\n    a\n  elsif x > 1\n    b\n  else\n    c\n  end\nend",
            "\n    a\n  elsif x > 1\n    b\n  else\n    c\n  end",
            id="ruby-elsif-else-end",
        ),
        pytest.param(
            "ruby",
            "def f\n  █\nend\n",
            "g\nrescue StandardError\n  h\nend",
            "g",
            id="ruby-rescue-on-a-blank-line-is-outside",
        ),
        pytest.param(
            "lua",
            "function f(x)\n  if x then█\nend\n",
            "\n    a()\n  elseif y then\n    b()\n  end\nend",
            "\n    a()\n  elseif y then\n    b()\n  end",
            id="lua-elseif",
        ),
        pytest.param(
            "lua",
            "function f(xs)\n  for _, x in ipairs(xs) do\n    █\n  end\nend\n",
            "print(x)\n  end\nend",
            "print(x)",
            id="lua-existing-end",
        ),
    ],
)
def test_each_language_ends_its_block_its_own_way(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    assert limit(marked, completion, language_id) == expected
