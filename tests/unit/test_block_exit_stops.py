"""Block-exit stops in every language: where the engine ends a multi-line answer early.

A stop must change no suggestion: the text the engine returns when it stops (cut before
the stop string) must post-process to what the whole answer gives. Each case below is a
model answer as a prefix-only model writes it: the body asked for, the closing line,
then the next function, which only costs tokens.
"""

from __future__ import annotations

import random

import pytest

from starcoder_ls import postprocess
from starcoder_ls.completion.trigger import decide
from starcoder_ls.engine.stopping import cut_at_stop
from starcoder_ls.postprocess.limit_scope_by_indentation import (
    block_exit_stops,
    limit_scope_by_indentation,
)
from starcoder_ls.text.lines import indentation
from starcoder_ls.text.types import Mode, Suggestion
from tests.support.cursor import ctx_from


def with_and_without_stop(
    marked: str, language_id: str, answer: str
) -> tuple[Suggestion | None, Suggestion | None, str]:
    """The suggestion from the whole answer, the one from the answer cut at the first stop,
    and the cut text (what the engine returns when it stops)."""
    ctx = ctx_from(marked, language_id=language_id)
    mode = decide(ctx)
    assert mode is Mode.MULTI_LINE
    cut, _ = cut_at_stop(answer, postprocess.engine_stops(ctx, mode, sees_suffix=False))
    return postprocess.run(answer, ctx, mode), postprocess.run(cut, ctx, mode), cut


CASES = [
    pytest.param(
        "javascript",
        "function total(items) {\n  let sum = 0;\n  for (const item of items) {\n    █\n  }\n"
        "  return sum;\n}\n",
        "sum += item.price * item.quantity;\n  }\n  return sum;\n}\n\n"
        "function average(items) {\n  return total(items) / items.length;\n}\n",
        "sum += item.price * item.quantity;",
        id="javascript-loop-body",
    ),
    pytest.param(
        "javascript",
        "export function parse(text) {█",
        "\n  const lines = text.split(/\\n/);\n  return lines.map((line) => line.trim());\n}\n\n"
        "export function format(lines) {\n  return lines.join(', ');\n}\n",
        "\n  const lines = text.split(/\\n/);\n  return lines.map((line) => line.trim());\n}",
        id="javascript-header-at-end-of-file",
    ),
    pytest.param(
        "javascript",
        'describe("parse", () => {\n  it("splits lines", () => {\n    █\n  });\n});\n',
        'expect(parse("a b")).toEqual(["a", "b"]);\n  });\n\n  it("trims", () => {\n'
        '    expect(parse(" a ")).toEqual(["a"]);\n  });\n});\n',
        'expect(parse("a b")).toEqual(["a", "b"]);',
        id="javascript-callback",
    ),
    pytest.param(
        "javascript",
        "function log(xs) {\n  for (const x of xs) {\n    █",
        "console.log(x);\n  }\n}\n\nmodule.exports = log;\n",
        "console.log(x);\n  }",
        id="javascript-document-lacks-the-braces",
    ),
    pytest.param(
        "typescript",
        "export class Cache<T> {\n  private items = new Map<string, T>();\n\n"
        "  get(key: string): T | undefined {\n    █\n  }\n}\n",
        "return this.items.get(key);\n  }\n\n  set(key: string, value: T): void {\n"
        "    this.items.set(key, value);\n  }\n}\n",
        "return this.items.get(key);",
        id="typescript-method",
    ),
    pytest.param(
        "typescript",
        'function label(n: number): string {\n  if (n > 0) {█\n  return "zero";\n}\n',
        '\n    return "positive";\n  } else if (n < 0) {\n    return "negative";\n  }\n'
        '  return "zero";\n}\n',
        '\n    return "positive";\n  } else if (n < 0) {\n    return "negative";\n  }',
        id="typescript-else-then-the-code-below",
    ),
    pytest.param(
        "java",
        "public class Store {\n    public String read(Path path) {\n        try {█\n    }\n}\n",
        "\n            return Files.readString(path);\n        } catch (IOException e) {\n"
        "            throw new UncheckedIOException(e);\n        }\n    }\n\n"
        "    public void write(Path path, String text) {\n",
        "\n            return Files.readString(path);\n        } catch (IOException e) {\n"
        "            throw new UncheckedIOException(e);\n        }",
        id="java-try-catch",
    ),
    pytest.param(
        "java",
        "class Counter {\n    private int count;\n\n    void add(int[] xs) {\n"
        "        for (int x : xs) {\n            █\n        }\n    }\n}\n",
        "count += x;\n        }\n    }\n\n    int get() {\n        return count;\n    }\n}\n",
        "count += x;",
        id="java-loop-body",
    ),
    pytest.param(
        "c",
        "int sum(const int *xs, size_t n) {\n    int total = 0;\n"
        "    for (size_t i = 0; i < n; i++) {\n        █\n    }\n    return total;\n}\n",
        "total += xs[i];\n    }\n    return total;\n}\n\nint max(const int *xs, size_t n) {\n",
        "total += xs[i];",
        id="c-loop-body",
    ),
    pytest.param(
        "c",
        "static int square(int x) {█",
        "\n    return x * x;\n}\n\n#define CUBE(x) ((x) * (x) * (x))\n\nint main(void) {\n",
        "\n    return x * x;\n}",
        id="c-header-at-end-of-file",
    ),
    pytest.param(
        "cpp",
        "std::vector<int> evens(const std::vector<int>& xs) {\n    std::vector<int> out;\n"
        "    for (int x : xs) {\n        █\n    }\n    return out;\n}\n",
        "if (x % 2 == 0) {\n            out.push_back(x);\n        }\n    }\n    return out;\n}\n",
        "if (x % 2 == 0) {\n            out.push_back(x);\n        }",
        id="cpp-nested-block-kept",
    ),
    pytest.param(
        "go",
        "func Sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\t█\n\t}\n"
        "\treturn total\n}\n",
        "total += x\n\t}\n\treturn total\n}\n\nfunc Max(xs []int) int {\n",
        "total += x",
        id="go-tabs",
    ),
    pytest.param(
        "go",
        "func (s *Server) Close() error {█",
        "\n\ts.mu.Lock()\n\tdefer s.mu.Unlock()\n\treturn s.listener.Close()\n}\n\n"
        "func (s *Server) Addr() string {\n\treturn s.addr\n}\n",
        "\n\ts.mu.Lock()\n\tdefer s.mu.Unlock()\n\treturn s.listener.Close()\n}",
        id="go-header-at-end-of-file",
    ),
    pytest.param(
        "rust",
        "impl Stack {\n    pub fn push(&mut self, value: i32) {\n        █\n    }\n}\n",
        "self.items.push(value);\n    }\n\n    pub fn pop(&mut self) -> Option<i32> {\n"
        "        self.items.pop()\n    }\n}\n",
        "self.items.push(value);",
        id="rust-method",
    ),
    pytest.param(
        "rust",
        "fn parse(input: &str) -> Result<u32, ParseIntError> {█",
        "\n    input.trim().parse()\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n",
        "\n    input.trim().parse()\n}",
        id="rust-header-then-attribute",
    ),
    pytest.param(
        "python",
        "def total_price(items):\n    total = 0\n    for item in items:\n        █\n"
        "    return total\n",
        "total += item.price\n    return total\n\n\ndef tax(items):\n    return 0\n",
        "total += item.price",
        id="python-loop-body",
    ),
    pytest.param(
        "python",
        "def area(r):█",
        "\n    return 3.14159 * r * r\n\n\ndef perimeter(r):\n    return 2 * 3.14159 * r\n",
        "\n    return 3.14159 * r * r",
        id="python-header-at-end-of-file",
    ),
    pytest.param(
        "python",
        "def sign(x):\n    if x > 0:█\n    return 0\n",
        "\n        return 1\n    elif x < 0:\n        return -1\n    return 0\n\n\nprint(sign(1))",
        "\n        return 1\n    elif x < 0:\n        return -1",
        id="python-elif-then-the-code-below",
    ),
    pytest.param(
        "ruby",
        "class Greeter\n  def greet(name)\n    █\n  end\nend\n",
        'puts "Hello, #{name}"\n  end\n\n  def farewell(name)\n    puts "Bye, #{name}"\n'
        "  end\nend\n",
        'puts "Hello, #{name}"',
        id="ruby-method",
    ),
    pytest.param(
        "ruby",
        "items.each do |item|█",
        '\n  puts item\nend\n\nputs "done"\n',
        "\n  puts item\nend",
        id="ruby-end-the-document-lacks",
    ),
    pytest.param(
        "lua",
        "function M.sum(xs)\n  local total = 0\n  for _, x in ipairs(xs) do\n    █\n  end\n"
        "  return total\nend\n",
        "total = total + x\n  end\n  return total\nend\n\nfunction M.max(xs)\n",
        "total = total + x",
        id="lua-loop-body",
    ),
]


@pytest.mark.parametrize(("language_id", "marked", "answer", "shown"), CASES)
def test_the_stop_changes_no_suggestion_and_ends_the_answer_at_the_block(
    language_id: str, marked: str, answer: str, shown: str
) -> None:
    whole, early, cut = with_and_without_stop(marked, language_id, answer)

    assert whole is not None and whole.text == shown
    assert early == whole
    # Generated past what is shown: blank lines and at most the closing line the
    # filter drops because the document already has it.
    wasted = [line for line in cut[len(shown) :].split("\n") if line.strip()]
    assert len(wasted) <= 1, wasted


# -- every stop is a line the filter cuts before ----------------------------------------

PLACES = [
    pytest.param("python", "def f(xs):\n    for x in xs:\n        █", id="python-end-of-file"),
    pytest.param(
        "python", "def f(xs):\n    for x in xs:\n        █\n    return xs\n", id="python-code-below"
    ),
    pytest.param("python", "class A:\n    def f(self):█", id="python-header"),
    pytest.param("python", "def f(x):\n    if x:█\n    return x\n", id="python-header-code-below"),
    pytest.param("javascript", "function f(xs) {\n  for (const x of xs) {\n    █", id="js-open"),
    pytest.param(
        "javascript", "function f(xs) {\n  for (const x of xs) {\n    █\n  }\n}\n", id="js-closed"
    ),
    pytest.param("java", "class A {\n    void f() {█", id="java-header"),
    pytest.param("go", "func f() {\n\tfor {\n\t\t█", id="go-tabs-open"),
    pytest.param("ruby", "class A\n  def f\n    █", id="ruby-open"),
    pytest.param("lua", "function f()\n  if x then█", id="lua-header"),
]
CONTINUATIONS = ["", " x", "x", " = 1", "(x)", ".x", ":"]


@pytest.mark.parametrize(("language_id", "marked"), PLACES)
def test_every_stop_starts_a_line_the_filter_cuts_before(language_id: str, marked: str) -> None:
    """Whatever follows a stop on its line, the filter cuts before that line: a stop is
    never a closing line or an `else` the filter would keep."""
    ctx = ctx_from(marked, language_id=language_id)
    stops = block_exit_stops(ctx, Mode.MULTI_LINE, False)
    header = bool(ctx.line_prefix.strip())
    body = f"\n{indentation(ctx.line_prefix)}{ctx.indent_unit}x = 1" if header else "x = 1"

    assert stops
    for stop in stops:
        for rest in CONTINUATIONS:
            completion = body + stop + rest
            kept = limit_scope_by_indentation(completion, ctx, Mode.MULTI_LINE)
            assert kept == body, (stop, rest)


@pytest.mark.parametrize(
    ("marked", "kept", "stopped"),
    [
        pytest.param(
            "function f() {\n  █",
            ["}", "});", "end", "end x"],
            ["function g() {", "export default f;", "const x = 1;", "// next", "else {"],
            id="missing-brace-is-kept",
        ),
        pytest.param(
            "function f() {\n  █\n}\n",
            [],
            ["}", "});", "end", "function g() {", "export default f;"],
            id="existing-brace-is-cut",
        ),
        pytest.param(
            "function f() {\n  if (x) {█",
            ["}", "} else {", "else {", "catch (e) {", "finally {", "end"],
            ["export default f;", "const x = 1;", "function g() {", "return x;"],
            id="header-keeps-else-and-catch",
        ),
    ],
)
def test_lines_the_filter_may_keep_are_never_stopped(
    marked: str, kept: list[str], stopped: list[str]
) -> None:
    """At the end of a file the filter keeps one closing line, and after a header an
    `else`: no stop may end the answer before them."""
    stops = block_exit_stops(ctx_from(marked, language_id="javascript"), Mode.MULTI_LINE, False)

    def stops_at(line: str) -> bool:
        return any(f"\n{line}".startswith(stop) for stop in stops)

    assert not [line for line in kept if stops_at(line)]
    assert all(stops_at(line) for line in stopped)


# -- where no stop is safe --------------------------------------------------------------


def test_models_that_see_the_suffix_get_no_block_stops() -> None:
    ctx = ctx_from("function f() {\n  █\n}\n", language_id="javascript")
    assert block_exit_stops(ctx, Mode.MULTI_LINE, True) == ()
    assert block_exit_stops(ctx, Mode.MULTI_LINE, False)


def test_no_stops_inside_a_string_the_filter_skips() -> None:
    """`multiline: always` asks for a block inside a template literal: its lines are
    content, which the filter never cuts."""
    marked = "function f() {\n  const html = `\n    █\n  `;\n}\n"
    ctx = ctx_from(marked, language_id="javascript")
    assert block_exit_stops(ctx, Mode.MULTI_LINE, False) == ()


def test_a_model_that_leaves_the_cursor_line_blank_is_stopped_before_its_first_line() -> None:
    """The one known difference: the stop sees the line break at the start, while the
    pipeline moves the first written line up to the blank cursor line. Here that line is
    `def g():` inside `f`, which the stop spares the user."""
    marked = "def f(xs):\n    for x in xs:\n        █"
    whole, early, cut = with_and_without_stop(marked, "python", "\ndef g():\n    pass\n")
    assert cut == "" and early is None
    assert whole is not None and whole.text.startswith("def g():")


def test_a_stopped_answer_is_reindented_from_the_block_alone() -> None:
    """The other known difference, for the better: `normalize_indentation` reads the model's
    step from every line it gets. Whole, this answer's next function (2 columns, as the
    document) hides the 4-column step of the block, which stays; stopped, the block is
    all there is, and it is re-indented as the document."""
    marked = "function f(xs) {\n  for (const x of xs) {\n    █\n  }\n}\n"
    answer = "if (x) {\n        g(x);\n    }\n  }\n}\n\nfunction h(y) {\n  if (y) {\n      z();\n"
    whole, early, _ = with_and_without_stop(marked, "javascript", answer)
    assert whole is not None and whole.text == "if (x) {\n        g(x);\n    }"
    assert early is not None and early.text == "if (x) {\n      g(x);\n    }"


# -- the stops against random answers ---------------------------------------------------

_FUZZ_PLACES = [
    ("python", "def f(xs):\n    for x in xs:\n        █"),
    ("python", "def f(xs):\n    for x in xs:\n        █\n    return xs\n"),
    ("python", "class A:\n    def f(self, x):\n        if x:█\n        return x\n"),
    ("javascript", "class A {\n    f(xs) {\n        for (const x of xs) {\n            █"),
    ("javascript", "class A {\n    f(xs) {\n        for (const x of xs) {\n            █\n"
     "        }\n    }\n}\n"),
    ("java", "class A {\n    void f() {\n        if (x) {█\n        g();\n    }\n}\n"),
    ("go", "func f() {\n\tfor {\n\t\tif x {\n\t\t\t█\n\t\t}\n"),
    ("rust", "impl A {\n    fn f(&self) {\n        match x {█"),
    ("ruby", "class A\n    def f\n        if x\n            █\n        end\n"),
    ("lua", "function f()\n    for i = 1, 3 do\n        █"),
]  # fmt: skip
_FUZZ_BODIES = [
    "x = 1", "foo(x);", "return x", "}", "});", ")", "]", "} else {", "} catch (e) {",
    "else:", "elif x:", "except E:", "finally:", "catch (e) {", "end", "end = 1", "end x",
    "endpoint()", "fi", "file = f()", "done", "done()", "esac", "rescue", "ensure", "elsewhere()",
    "def g():", "function g() {", "fn g() {", "func g() {", "export const a = 1;", "enum E {",
    "double d;", "do {", "#include <x.h>", "// note", "@decorator", "if x {", "for x in xs:",
    "} while (x);", "const y = 2;", "print(x)", "pub fn g() {", "#[test]", "case 1:",
]  # fmt: skip


def _random_answer(rng: random.Random, unit: str, levels: int) -> str:
    lines = [rng.choice(_FUZZ_BODIES)]
    for _ in range(rng.randrange(1, 9)):
        if rng.random() < 0.15:
            lines.append("")
            continue
        lines.append(unit * rng.randrange(0, levels + 3) + rng.choice(_FUZZ_BODIES))
    return "\n".join(lines) + rng.choice(["", "\n"])


@pytest.mark.parametrize(("language_id", "marked"), _FUZZ_PLACES)
def test_random_answers_show_the_same_suggestion_with_and_without_the_stop(
    language_id: str, marked: str
) -> None:
    """Answers built from lines that look like closers, `else`, `end` and their
    look-alikes, at every depth in the document's own unit (so that indentation
    normalization leaves them alone); the first line has content."""
    rng = random.Random(f"{language_id}:{marked}")
    ctx = ctx_from(marked, language_id=language_id)
    mode = decide(ctx)
    stops = postprocess.engine_stops(ctx, mode, sees_suffix=False)
    levels = len(ctx.line_prefix.expandtabs(4)) // len(ctx.indent_unit.expandtabs(4))
    fired = 0
    for _ in range(150):
        answer = _random_answer(rng, ctx.indent_unit, levels)
        cut, stop = cut_at_stop(answer, stops)
        fired += stop is not None
        assert postprocess.run(cut, ctx, mode) == postprocess.run(answer, ctx, mode), answer
    assert mode is Mode.MULTI_LINE and fired > 40
