"""Context beyond the current file: which chunks of other open documents reach the prompt,
and the room they may take from a file too long to leave them any."""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable

import pytest

from starcoder_ls.config import Settings, merge
from starcoder_ls.cursor import crossfile
from starcoder_ls.cursor.crossfile import select_snippets, split_chunks
from starcoder_ls.cursor.exclusions import DenyList
from starcoder_ls.cursor.prompt import PromptSpec, build_prompt
from starcoder_ls.engine.fim import PREFIX_ONLY, TEMPLATES, get_template
from starcoder_ls.text.types import CompletionContext, OpenDocument
from tests.support.crossfile_documents import APP, MAIN, NOTES, UNITS, doc
from tests.support.cursor import ctx_from
from tests.support.fake_engine import FakeEngine, request_from, serving


def ctx_with(marked: str, *documents: OpenDocument, **kwargs: str) -> CompletionContext:
    ctx = ctx_from(marked, uri=APP, **kwargs)
    return dataclasses.replace(ctx, other_documents=documents)


# -- ranking -----------------------------------------------------------------------------


def test_the_helper_being_typed_comes_from_the_file_that_defines_it() -> None:
    ctx = ctx_with(MAIN, doc("notes.py", NOTES), doc("lib/units.py", UNITS))

    snippets = select_snippets(ctx)

    assert snippets[0] == (
        "lib/units.py",
        "def celsius_to_rankine(c):\n    return (c + 273.15) * 9 / 5\n",
    )
    assert all("walk" not in text and "shout" not in text for _, text in snippets)


def test_a_name_used_near_the_cursor_brings_its_definition() -> None:
    marked = "reading = sensor.read()\nrankine = rankine_to_celsius(reading)\n█"
    ctx = ctx_with(marked, doc("units.py", UNITS))

    assert [text for _, text in select_snippets(ctx)] == [
        "def rankine_to_celsius(r):\n    return r * 5 / 9 - 273.15\n"
    ]


def test_nothing_unrelated_is_sent() -> None:
    assert select_snippets(ctx_with(MAIN, doc("notes.py", NOTES))) == []
    assert select_snippets(ctx_with(MAIN)) == []
    # Keywords and builtins are shared by every file: they relate nothing.
    keywords = "for x in range(10):\n    print(len(str(x)))\n"
    assert (
        select_snippets(ctx_with("for i in range(3):\n    print(█)\n", doc("k.py", keywords))) == []
    )


def test_the_prose_of_comments_relates_nothing() -> None:
    other = doc("other.py", 'def helper():\n    """Which of these is the one that was meant?"""\n')
    marked = "# this is where the work of the day is done, which it was\n█"

    assert select_snippets(ctx_with(marked, other)) == []


def test_one_common_name_is_not_enough_but_two_are() -> None:
    other = doc("other.py", "def helper(result):\n    return result\n\n\ntotal = result + offset\n")
    one = ctx_with("result = compute()\n█", other)
    two = ctx_with("result = compute(offset)\n█", other)

    assert [text for _, text in select_snippets(two)] == ["total = result + offset\n"]
    assert select_snippets(one) == []


def test_the_most_recently_edited_of_equally_related_documents_is_picked_first() -> None:
    old = doc("old.py", "def celsius_to_kelvin(c):\n    return c + 273.15\n", last_edit=10.0)
    new = doc("new.py", "def celsius_to_kelvin2(c):\n    return c + 273.15\n", last_edit=20.0)
    never = doc("never.py", "def celsius_to_kelvin3(c):\n    return c + 273.15\n")
    ctx = ctx_with(MAIN, never, old, new)

    picked = [[path for path, _ in select_snippets(ctx, limit=n)] for n in (1, 2, 3)]

    assert picked == [["new.py"], ["new.py", "old.py"], ["never.py", "new.py", "old.py"]]


def test_documents_in_the_same_language_are_preferred() -> None:
    python = doc("a.py", "def celsius_to_k(c):\n    return c + 273.15\n")
    script = doc("b.js", "function celsius_to_k(c) {\n  return c + 273.15;\n}\n", language_id="js")

    ctx = ctx_with(MAIN, script, python)

    assert [path for path, _ in select_snippets(ctx, limit=1)] == ["a.py"]
    assert [path for path, _ in select_snippets(ctx)] == ["a.py", "b.js"]


TABLES = """\
def load_table(path, columns):
    return read_rows(path, columns)


def save_table(path, rows):
    return write_rows(path, rows)
"""


def test_snippets_keep_document_order_when_their_ranks_trade_places() -> None:
    """They head the prompt: reordered, it would differ from the first token on."""
    loading = ctx_with("table = load_table(source, columns)\nsave_table(█", doc("io.py", TABLES))
    saving = ctx_with("saved = save_table(target, rows)\nload_table(█", doc("io.py", TABLES))
    load, save = split_chunks(TABLES)

    assert [text for _, text in select_snippets(loading, limit=1)] == [load]
    assert [text for _, text in select_snippets(saving, limit=1)] == [save]
    assert select_snippets(loading) == select_snippets(saving) == [("io.py", load), ("io.py", save)]


def test_snippets_come_by_document_then_position_not_by_score() -> None:
    first = doc("a.py", "def save_table(path, rows, mode):\n    return write_rows(path, rows)\n")
    ctx = ctx_with("table = load_table(source, columns)\nsave_table(█", doc("b.py", TABLES), first)

    assert [text for _, text in select_snippets(ctx, limit=1)] == [split_chunks(TABLES)[0]]
    assert [path for path, _ in select_snippets(ctx)] == ["a.py", "b.py", "b.py"]


def test_a_second_copy_of_the_current_file_adds_nothing() -> None:
    marked = "def celsius_to_rankine(c):\n    return (c + 273.15) * 9 / 5\n\n\nx = celsius_to_█\n"
    copy = doc("main.py", marked.replace("█", ""))

    assert select_snippets(ctx_with(marked, copy)) == []


def test_snippet_paths_start_at_the_folder_both_files_share() -> None:
    ctx = ctx_with(MAIN, doc("lib/units.py", UNITS))
    assert select_snippets(ctx)[0][0] == "lib/units.py"
    foreign = dataclasses.replace(
        doc("units.py", UNITS), uri="untitled:Untitled-1", path="Untitled-1"
    )
    assert select_snippets(ctx_with(MAIN, foreign))[0][0] == "Untitled-1"


def test_snippets_are_capped() -> None:
    many = "\n\n".join(f"def celsius_to_{i}(c):\n    return c + {i}\n" for i in range(50))
    assert len(select_snippets(ctx_with(MAIN, doc("many.py", many)))) == crossfile.MAX_SNIPPETS


# -- chunks ------------------------------------------------------------------------------


def test_top_level_definitions_become_chunks_of_their_own() -> None:
    assert split_chunks(UNITS) == [
        "import math\n",
        "def celsius_to_rankine(c):\n    return (c + 273.15) * 9 / 5\n",
        "def rankine_to_celsius(r):\n    return r * 5 / 9 - 273.15\n",
    ]


def test_methods_of_a_long_class_come_in_groups_under_the_size_limit() -> None:
    methods = "\n".join(f"    def m{i}(self):\n        return {i}\n" for i in range(40))
    chunks = split_chunks("class Big:\n" + methods)

    assert len(chunks) > 1
    assert all(chunk.count("\n") <= crossfile.CHUNK_LINES for chunk in chunks)
    assert "".join(chunks).count("def m") == 40


def test_a_paragraph_longer_than_a_chunk_is_cut_and_minified_lines_are_dropped() -> None:
    lines = "".join(f"x{i} = {i}\n" for i in range(100))
    chunks = split_chunks(lines + "\n" + "y = [" + "1, " * 2000 + "]\n")

    assert [chunk.count("\n") for chunk in chunks] == [30, 30, 30, 10]
    assert all(len(chunk) <= crossfile.MAX_CHUNK_CHARS for chunk in chunks)


def test_cost_is_bounded_for_huge_and_many_documents() -> None:
    body = "".join(f"def f{i}(value):\n    return value + {i}\n\n" for i in range(60_000))
    assert len(body) > 2_000_000
    documents = [doc(f"big{i}.py", body + f"# {i}\n", last_edit=float(i)) for i in range(20)]
    ctx = ctx_with("value = 1\nprint(f1(value), f2█)\n", *documents)

    started = time.perf_counter()
    snippets = select_snippets(ctx)
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert select_snippets(ctx) == snippets
    again = time.perf_counter() - started

    assert len(split_chunks(body)) == crossfile.MAX_CHUNKS_PER_DOCUMENT
    # Only the most recently edited documents are read, each only at its head.
    assert {path for path, _ in snippets} <= {f"big{i}.py" for i in range(4, 20)}
    assert first < 5.0  # chunking 16 heads of 256 kB, on a slow shared CPU
    assert again < first / 3  # chunks are cached per document text


def test_two_thousand_open_documents_cost_no_more_than_sixty_four() -> None:
    """Each document judged costs the deny list's checks and a `stat` per folder."""

    class Counting(DenyList):
        judged = 0

        def match(self, uri: str) -> str | None:
            Counting.judged += 1
            return super().match(uri)

    documents = [
        doc(f"m{i}.py", f"def helper_{i}(value):\n    return value\n", last_edit=float(i))
        for i in range(2_000)
    ]
    ctx = ctx_with("value = helper_1999(1)\nhelper_█\n", *documents)
    snippets = select_snippets(ctx, excluded=Counting())
    assert snippets, "the most recent documents still give their snippets"
    assert "m1999.py" in {path for path, _ in snippets}
    assert Counting.judged <= crossfile.MAX_CANDIDATES


def test_denied_documents_are_passed_over_until_enough_are_allowed() -> None:
    secrets = [doc(f"s{i}/.env", "def helper_a(): pass\n", last_edit=100.0 + i) for i in range(10)]
    ordinary = [doc(f"o{i}.py", "def helper_b(): pass\n", last_edit=float(i)) for i in range(20)]
    ctx = ctx_with("helper_█\n", *secrets, *ordinary)
    snippets = select_snippets(ctx, limit=100)
    paths = {path for path, _ in snippets}
    assert paths and not any(path.endswith(".env") for path in paths)


def test_a_long_word_of_data_before_the_cursor_is_no_partial_name() -> None:
    """`re.search(r"[^\\W\\d]\\w*$")` on this line took minutes (quadratic), on the worker."""
    blob = "ab12" * 25_000
    ctx = ctx_with(f'data = "{blob}", █\n', doc("lib.py", "def helper(data):\n    return data\n"))
    done = threading.Event()
    found: list[list[tuple[str, str]]] = []

    def run() -> None:
        found.append(select_snippets(ctx))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(60), "cross-file ranking hangs on a long line"
    assert crossfile._query(ctx_with(f"x = {blob}█\n")).partial == ""
    assert crossfile._query(ctx_with(f"x = {blob} + celsius_to█\n")).partial == "celsius_to"
    assert crossfile._query(ctx_with("x = 12celsius█\n")).partial == "celsius"


# -- the budget --------------------------------------------------------------------------


def per4(text: str) -> int:
    return math.ceil(len(text) / 4)


def per_word(text: str) -> int:
    return len(text.split())


def numbered(kind: str, count: int) -> str:
    return "".join(f"{kind} line {i:04d}\n" for i in range(count))


def build(**kwargs: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "template": get_template("starcoder"),
        "count_tokens": per4,
        "context_window": 300,
        "max_new_tokens": 60,
    }
    args.update(kwargs)
    return build_prompt(PromptSpec(**args))  # type: ignore[arg-type]


SNIPPET = ("lib/units.py", "def celsius_to_rankine(c):\n    return (c + 273.15) * 9 / 5\n")


def test_a_long_file_gives_relevant_snippets_their_reserve() -> None:
    prefix = numbered("before", 500)
    plain = build(prefix=prefix, suffix="")
    reserved = build(prefix=prefix, suffix="", snippets=[SNIPPET], snippet_reserve=60)

    assert reserved.context == "<filename>lib/units.py\n" + SNIPPET[1]
    assert reserved.text.startswith(reserved.context)
    assert prefix.endswith(reserved.prefix) and len(reserved.prefix) < len(plain.prefix)
    assert plain.tokens - 20 <= reserved.tokens <= 240


def test_the_reserve_is_taken_only_by_snippets_that_exist_and_fit_it() -> None:
    prefix = numbered("before", 500)
    plain = build(prefix=prefix, suffix="")

    assert build(prefix=prefix, suffix="", snippet_reserve=60).prefix == plain.prefix
    too_big = ("big.py", "BIG = 0\n" * 100)
    result = build(prefix=prefix, suffix="", snippets=[too_big], snippet_reserve=60)
    assert result.context == "" and result.prefix == plain.prefix
    result = build(prefix=prefix, suffix="", snippets=[too_big, SNIPPET], snippet_reserve=60)
    assert result.context == "<filename>lib/units.py\n" + SNIPPET[1]


def test_what_a_short_file_leaves_still_goes_to_more_snippets() -> None:
    snippets = [SNIPPET, ("b.py", "B = 2\n"), ("c.py", "C = 3\n")]
    result = build(prefix="x = ", suffix="\n", snippets=snippets, snippet_reserve=20)

    assert result.context == (
        "<filename>lib/units.py\n" + SNIPPET[1] + "<filename>b.py\nB = 2\n<filename>c.py\nC = 3\n"
    )


def test_each_family_gets_snippets_in_the_form_it_knows() -> None:
    prefix = numbered("before", 500)

    def context(name: str) -> str:
        template = get_template(name)
        return build(
            prefix=prefix, suffix="", template=template, snippets=[SNIPPET], snippet_reserve=60
        ).text

    assert context("starcoder").startswith("<filename>lib/units.py\ndef celsius_to_rankine")
    assert context("starcoder2").startswith("<file_sep>lib/units.py\ndef celsius_to_rankine")
    # Prefix-only models (the embedded default) read the other file as commented-headed code.
    only = context("prefix-only")
    assert only.startswith("# lib/units.py\ndef celsius_to_rankine(c):\n")
    assert only.endswith(
        build(
            prefix=prefix, suffix="", template=PREFIX_ONLY, snippets=[SNIPPET], snippet_reserve=60
        ).prefix
    )


@pytest.mark.parametrize("counter", [per4, per_word], ids=["per4", "per_word"])
def test_the_reserve_never_takes_the_prompt_past_the_budget(counter: Callable[[str], int]) -> None:
    rng = random.Random(4321)
    names = sorted(TEMPLATES)
    for _ in range(200):
        prefix = numbered("p", rng.randint(0, 400))
        suffix = numbered("s", rng.randint(0, 100))
        snippets = [
            (f"m{i}.py", numbered(f"m{i}", rng.randint(1, 40))) for i in range(rng.randint(0, 5))
        ]
        window = rng.randint(150, 1500)
        max_new = rng.randint(1, 50)
        result = build_prompt(
            PromptSpec(
                prefix=prefix,
                suffix=suffix,
                template=get_template(rng.choice(names)),
                count_tokens=counter,
                context_window=window,
                max_new_tokens=max_new,
                filename=rng.choice([None, "pkg/mod.py"]),
                snippets=snippets,
                snippet_reserve=rng.choice([0, rng.randint(1, window)]),
            )
        )
        assert counter(result.text) == result.tokens <= window - max_new
        assert prefix.endswith(result.prefix)
        assert suffix.startswith(result.suffix)


def test_the_reserve_is_a_share_of_the_window_with_a_cap() -> None:
    assert crossfile.reserve(2048) == 512
    assert crossfile.reserve(8192) == crossfile.RESERVE_MAX_TOKENS


# -- the setting, through the completion service ------------------------------------------


def test_cross_file_context_is_a_setting_on_by_default() -> None:
    assert Settings().cross_file_context is True
    assert merge(Settings(), {"crossFileContext": False}).settings.cross_file_context is False
    assert "starcoder.crossFileContext" in merge(Settings(), {"crossFileContext": 1}).errors[0]


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_setting_turns_other_files_on_and_off(enabled: bool) -> None:
    engine = FakeEngine(lambda prompt, params: ["rankine(temperature)"])
    async with serving(engine, Settings(debounce_ms=0, cross_file_context=enabled)) as service:
        others = (doc("notes.py", NOTES), doc("lib/units.py", UNITS))
        await service.complete(request_from(MAIN, uri=APP, other_documents=others))

    ((prompt, _),) = engine.calls
    header = "# lib/units.py\ndef celsius_to_rankine(c):\n"
    assert prompt.startswith(header) is enabled
    assert prompt.endswith("temperature = 21\nprint(celsius_to_")
    assert "walk" not in prompt
