"""Golden cases for the whole post-processing pipeline, written as the editor would show them.

Each case gives the document with its cursor, the raw model text, and the
document after accepting the suggestion (`█` after the inserted text), or None
when nothing must be shown. The mode comes from `trigger.decide`, as in the server.
"""

from __future__ import annotations

import pytest

from starcoder_ls import postprocess
from starcoder_ls.completion.trigger import decide
from starcoder_ls.text import syntax
from starcoder_ls.text.types import CompletionContext, Mode, Suggestion
from tests.support.cursor import CURSOR, ctx_from


def accept(ctx: CompletionContext, suggestion: Suggestion) -> str:
    assert suggestion.character == ctx.character
    replaced = suggestion.end_character - suggestion.character
    assert "\n" not in ctx.suffix[:replaced]
    return ctx.prefix + suggestion.text + CURSOR + ctx.suffix[replaced:]


def complete(
    marked: str, completion: str, language_id: str = "python"
) -> tuple[CompletionContext, Suggestion | None]:
    if language_id != "python" and syntax.grammar(language_id) is None:
        pytest.skip(f"no tree-sitter grammar installed for {language_id}")
    ctx = ctx_from(marked, language_id=language_id)
    return ctx, postprocess.run(completion, ctx, decide(ctx))


GOLDEN = [
    pytest.param(
        "def add(a, b):\n    return █\n",
        "a + b\n\ndef sub(a, b):",
        "def add(a, b):\n    return a + b█\n",
        id="single-line-stops-at-newline",
    ),
    pytest.param("print(█)\n", "x)", "print(x)█\n", id="replaces-auto-closed-paren"),
    pytest.param("print(█)\n", "x) + y", "print(x) + y█\n", id="replaces-paren-and-goes-on"),
    pytest.param("print(█)\n", "foo(x)", "print(foo(x)█)\n", id="own-parens-inserted"),
    pytest.param("print(█)\n", "foo(x))", "print(foo(x))█\n", id="own-parens-then-closer"),
    pytest.param('print("█")\n', 'hello")', 'print("hello")█\n', id="replaces-quote-and-paren"),
    pytest.param('print("█")\n', "hello", 'print("hello█")\n', id="inside-string"),
    pytest.param("x = [f(█)]\n", "a)", "x = [f(a)█]\n", id="replaces-leading-closers-only"),
    pytest.param("x = [f(█)]\n", "a), b]", "x = [f(a), b]█\n", id="replaces-all-closers"),
    pytest.param("x = f(█);\n", "a, b);", "x = f(a, b);█\n", id="replaces-paren-semicolon"),
    pytest.param("if x█:\n", " > 0:", "if x > 0:█\n", id="replaces-colon"),
    pytest.param("print(█)\n", "x )  ", "print(x )█\n", id="trailing-blanks-before-closer"),
    pytest.param("print(█)\n", ")", None, id="only-the-closer"),
    pytest.param(
        "total = sum(█) * 2\n", "a + b) * 2", "total = sum(a + b█) * 2\n", id="overlap-trimmed"
    ),
    pytest.param("foo(█x, y)\n", "x, y)", None, id="repeats-rest-of-line"),
    pytest.param("fo█o = 1\n", "bar", None, id="inside-a-word"),
    pytest.param(
        "def f(x):\n    y = x + 1\n    █\n",
        "\n    return y\n\ndef g():",
        "def f(x):\n    y = x + 1\n    return y█\n",
        id="blank-line-skips-leading-newline-and-indent",
    ),
    pytest.param(
        "def f(x):\n    █\n    return y\n",
        "    y = x * 2\n    return y\n",
        "def f(x):\n    y = x * 2█\n    return y\n",
        id="multi-line-repeat-of-next-line-cut",
    ),
    pytest.param(
        "def f(x):█\n",
        "\n    if x:\n        return 1\n    return 2\n\n",
        "def f(x):\n    if x:\n        return 1\n    return 2█\n",
        id="multi-line-after-block-opener",
    ),
    pytest.param(
        "function f() {\n  █\n}\n",
        "  return 1;\n}\n",
        "function f() {\n  return 1;█\n}\n",
        id="closing-brace-not-duplicated",
    ),
    pytest.param("def f(x):\n    █\n    return x\n", "return x", None, id="repeats-next-line"),
    pytest.param("x = 1█\n", "\ny = 2", None, id="nothing-for-this-line"),
    pytest.param("x = █\n", "   \n\n", None, id="blank"),
    pytest.param("x = █\r\ny = 2\r\n", "42\r\n", "x = 42█\ny = 2\n", id="crlf-document"),
    pytest.param('s = "😀█"\n', '!!")', 's = "😀!!"█\n', id="multi-byte-stray-paren-cut"),
    pytest.param("x = [f(█)]\n", "abc)]]", "x = [f(abc)]█\n", id="one-closer-too-many"),
    pytest.param("x = [f(█)]\n", "abc]", "x = [f(abc█)]\n", id="wrong-closer-cut"),
    pytest.param('print("█")\n', 'a", "b', 'print("a", "b█")\n', id="quote-kept-for-new-string"),
    pytest.param("x = █\n", "1", "x = 1█\n", id="one-character"),
    pytest.param("x = █\n", "  \n\n", None, id="blank"),
]

PYTHON = [
    pytest.param(
        "def f(x):█\n",
        "\n    return x\n\ndef g():\n    pass",
        "def f(x):\n    return x█\n",
        id="scope-ends-at-next-function",
    ),
    pytest.param(
        "class A:\n  def f(self):█\n\n  def g(self):\n    pass\n",
        "\n      if self.x:\n          return 1\n      return 2\n\n  def g(self):",
        "class A:\n  def f(self):\n    if self.x:\n      return 1\n    return 2█\n\n"
        "  def g(self):\n    pass\n",
        id="two-space-document-four-space-model",
    ),
    pytest.param(
        "def f(x):\n\tif x:█\n",
        "\n        return 1\n    return 2",
        "def f(x):\n\tif x:\n\t\treturn 1█\n",
        id="tabs-document-spaces-model",
    ),
    pytest.param(
        "def f(x):\n    █\n",
        "x += 1\n    x += 1\n    x += 1\n    x += 1\n    x +",
        "def f(x):\n    x += 1█\n",
        id="repeated-line-kept-once",
    ),
    pytest.param(
        "def f():\n    █\n",
        '"""Summary.\n\nNotes at column 0.\n"""\n    return 1\n\nx = 2',
        'def f():\n    """Summary.\n\nNotes at column 0.\n"""\n    return 1█\n',
        id="docstring-lines-not-cut",
    ),
    pytest.param("x = d[1:█\n", "-1]\nprint(x)", "x = d[1:-1]█\n", id="slice-is-single-line"),
    pytest.param(
        "def f(x):\n    █\n    return x\n", "return x;", None, id="near-copy-of-next-line"
    ),
    pytest.param("# compute the to█\n", "tal", None, id="comment-mid-word-skipped"),
    pytest.param(
        "def f(x):  # why\n    █\n",
        "y = x * 2\n    return y\n\nf(1)",
        "def f(x):  # why\n    y = x * 2\n    return y█\n",
        id="header-behind-comment-is-multi-line",
    ),
]

JAVASCRIPT = [
    pytest.param(
        "if (x) {█\n}\n",
        "\n  y();\n}\n",
        "if (x) {\n  y();█\n}\n",
        "javascript",
        id="js-auto-closed-brace-not-repeated",
    ),
    pytest.param(
        "if (x) {█\n",
        "\n  y();\n}\nfoo();\n",
        "if (x) {\n  y();\n}█\n",
        "javascript",
        id="js-missing-brace-kept",
    ),
    pytest.param(
        "console.log(█);\n", "a, b);", "console.log(a, b);█\n", "javascript", id="js-call-semicolon"
    ),
    pytest.param(
        "class A {\n  f(): number {█\n  }\n\n  g() {}\n}\n",
        "\n      const y = 1;\n      return y;\n  }\n\n  g() {}",
        "class A {\n  f(): number {\n    const y = 1;\n    return y;█\n  }\n\n  g() {}\n}\n",
        "typescript",
        id="ts-method-body-two-spaces",
    ),
    pytest.param(
        "function f() {\n\tif (x) {█\n\t}\n}\n",
        "\n        return 1;\n    }\n}",
        "function f() {\n\tif (x) {\n\t\treturn 1;█\n\t}\n}\n",
        "typescript",
        id="ts-tabs-document",
    ),
    pytest.param(
        "const s = `line:█\n`;\n",
        " one\ntwo",
        "const s = `line: one█\n`;\n",
        "javascript",
        id="js-template-literal-single-line",
    ),
]

RUST_GO = [
    pytest.param(
        "fn main() {\n    for x in v {█\n    }\n}\n",
        '\n        println!("{}", x);\n    }\n}\n',
        'fn main() {\n    for x in v {\n        println!("{}", x);█\n    }\n}\n',
        "rust",
        id="rust-body-only",
    ),
    pytest.param(
        "fn f() {\n    █\n}\n",
        "let x = 1;\n    let x = 1;\n    let x = 1;\n    let x = 1;\n}",
        "fn f() {\n    let x = 1;█\n}\n",
        "rust",
        id="rust-loop",
    ),
    pytest.param(
        "func f() {\n\tif x {█\n\t}\n}\n",
        "\n        return 1\n    }\n}",
        "func f() {\n\tif x {\n\t\treturn 1█\n\t}\n}\n",
        "go",
        id="go-tabs",
    ),
    pytest.param(
        "func f() {\n\tswitch x {\n\tcase 1:█\n\t}\n}\n",
        "\n\t\treturn 1\n\tcase 2:\n\t\treturn 2",
        "func f() {\n\tswitch x {\n\tcase 1:\n\t\treturn 1█\n\t}\n}\n",
        "go",
        id="go-case-body",
    ),
    pytest.param("// retu█\n", "rn", None, "go", id="go-comment-mid-word-skipped"),
]


@pytest.mark.parametrize(("marked", "completion", "expected"), GOLDEN + PYTHON)
def test_golden(marked: str, completion: str, expected: str | None) -> None:
    check(marked, completion, expected, "python")


@pytest.mark.parametrize(("marked", "completion", "expected", "language_id"), JAVASCRIPT + RUST_GO)
def test_golden_other_languages(
    marked: str, completion: str, expected: str | None, language_id: str
) -> None:
    check(marked, completion, expected, language_id)


def check(marked: str, completion: str, expected: str | None, language_id: str) -> None:
    ctx, suggestion = complete(marked, completion, language_id)
    if expected is None:
        assert suggestion is None
    else:
        assert suggestion is not None
        assert accept(ctx, suggestion) == expected


def test_auto_closed_paren_is_replaced_not_inserted() -> None:
    _, suggestion = complete("print(█)\n", "x)")
    assert suggestion == Suggestion(text="x)", character=6, end_character=7)


def test_plain_insertion_has_an_empty_range() -> None:
    _, suggestion = complete("def add(a, b):\n    return █\n", "a + b\n\ndef sub")
    assert suggestion == Suggestion(text="a + b", character=11, end_character=11)


def test_skip_mode_shows_nothing() -> None:
    assert postprocess.run("x", ctx_from("x = █\n"), Mode.SKIP) is None


def test_every_filter_is_a_named_function() -> None:
    names = [step.__name__ for step in postprocess.FILTERS]
    assert names[0] == "limit_to_single_line"
    assert names[-1] == "drop_too_short"
    assert len(set(names)) == len(names)


def test_engine_stops_belong_to_filters_of_the_pipeline() -> None:
    assert postprocess.ENGINE_STOPS
    assert all(step in postprocess.FILTERS for step in postprocess.ENGINE_STOPS)


def test_engine_stops_only_anticipate_the_cut_of_their_filter() -> None:
    """Stopping the model at an engine stop leaves the suggestion as the whole text gives."""
    ctx = ctx_from("def total(items):\n    result = 0\n    for item in items:\n        █\n")
    mode = decide(ctx)
    stops = postprocess.engine_stops(ctx, mode, sees_suffix=False)
    text = "result += item\n    return result\n\n\ndef other():\n    pass\n"
    first = min(text.find(stop) for stop in stops if stop in text)

    assert mode is Mode.MULTI_LINE and first > 0
    assert postprocess.run(text, ctx, mode) == postprocess.run(text[:first], ctx, mode)
    assert postprocess.engine_stops(ctx, mode, sees_suffix=True) == ()


def test_a_skipped_filter_leaves_its_work_undone() -> None:
    ctx = ctx_from("x = [f(█)]\n")
    assert postprocess.run("abc)]]", ctx, decide(ctx)).text == "abc)]"
    kept = postprocess.run("abc)]]", ctx, decide(ctx), skip=("balance_brackets",))
    assert kept is not None and kept.text == "abc)]]"


def test_one_request_parses_the_cursor_window_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tree_sitter = pytest.importorskip("tree_sitter")
    asked: list[CompletionContext] = []
    parsed: list[bytes] = []
    real_at_cursor, real_parser = syntax._at_cursor, tree_sitter.Parser

    def counting_at_cursor(ctx: CompletionContext) -> syntax.CursorSyntax | None:
        asked.append(ctx)
        return real_at_cursor(ctx)

    class CountingParser:
        def __init__(self, language: object) -> None:
            self._parser = real_parser(language)

        def parse(self, source: bytes) -> object:
            parsed.append(source)
            return self._parser.parse(source)

    monkeypatch.setattr(syntax, "_at_cursor", counting_at_cursor)  # the window and parse
    monkeypatch.setattr(tree_sitter, "Parser", CountingParser)
    # A version no other test uses, so the per-version tree cache cannot answer.
    marked = 'def greet(name):\n    """Say hello."""\n    █\n\n\ndef part():\n    pass\n'
    ctx = ctx_from(marked, uri="file:///work/parsed_once.py", version=987_654)
    mode = decide(ctx)
    choices = ['message = f"Hello, {name}"\n    print(message)\n\ndef other():', "return 1"]
    suggestions = [postprocess.run(text, ctx, mode) for text in choices]

    assert mode is Mode.MULTI_LINE
    assert [s.text if s else None for s in suggestions] == [
        'message = f"Hello, {name}"\n    print(message)',
        "return 1",
    ]
    assert asked == [ctx]
    assert len(parsed) == 1
