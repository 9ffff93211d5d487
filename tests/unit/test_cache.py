"""CompletionCache on a fake timer: exact hits, LRU and TTL bounds, typed-ahead reuse."""

from __future__ import annotations

import pytest

from starcoder_ls.completion.cache import CompletionCache, make_key

URI = "file:///project/a.py"
PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"


class FakeTimer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def cache(timer: FakeTimer) -> CompletionCache:
    return CompletionCache(maxsize=4, ttl_s=60, timer=timer)


def test_make_key_depends_on_prompt_and_params() -> None:
    key = make_key("abc", max_new_tokens=64, stop=("\n",))
    assert key == make_key("abc", stop=("\n",), max_new_tokens=64)
    assert key != make_key("abd", max_new_tokens=64, stop=("\n",))
    assert key != make_key("abc", max_new_tokens=32, stop=("\n",))
    assert key != make_key("abc")


def test_make_key_does_not_hold_the_prompt() -> None:
    assert len(repr(make_key("x" * 1_000_000, n=1))) < 200


def test_make_key_accepts_lone_surrogates() -> None:
    assert make_key("a\ud800b") != make_key("ab")


def test_make_key_rejects_unhashable_params() -> None:
    with pytest.raises(TypeError):
        make_key("abc", stop=["\n"])  # type: ignore[arg-type]


def test_hit_and_miss(cache: CompletionCache) -> None:
    key = make_key("p", n=1)
    assert cache.get(key) is None
    cache.put(key, ("a", "b"))
    assert cache.get(key) == ("a", "b")
    assert cache.get(make_key("q", n=1)) is None


def test_least_recently_used_is_evicted_first(timer: FakeTimer) -> None:
    cache = CompletionCache(maxsize=2, ttl_s=60, timer=timer)
    cache.put("a", ("A",))
    cache.put("b", ("B",))
    assert cache.get("a") == ("A",)
    cache.put("c", ("C",))
    assert cache.get("b") is None
    assert cache.get("a") == ("A",)
    assert cache.get("c") == ("C",)


def test_entries_expire_after_ttl(cache: CompletionCache, timer: FakeTimer) -> None:
    cache.put("k", ("v",))
    timer.now = 59.9
    assert cache.get("k") == ("v",)
    timer.now = 60.0
    assert cache.get("k") is None


def test_zero_maxsize_disables_the_exact_cache(timer: FakeTimer) -> None:
    cache = CompletionCache(maxsize=0, timer=timer)
    cache.put("k", ("v",))
    assert cache.get("k") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maxsize": -1}, "maxsize"),
        ({"ttl_s": 0}, "ttl_s"),
        ({"max_documents": -1}, "max_documents"),
    ],
)
def test_invalid_bounds_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CompletionCache(**kwargs)  # type: ignore[arg-type]


def test_typing_the_start_returns_the_rest(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    assert cache.typed_ahead(URI, PREFIX + "a", SUFFIX) == (" + b",)
    assert cache.typed_ahead(URI, PREFIX + "a +", SUFFIX) == (" b",)


def test_same_position_returns_everything(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    assert cache.typed_ahead(URI, PREFIX, SUFFIX) == ("a + b",)


def test_typing_something_else_returns_none(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    assert cache.typed_ahead(URI, PREFIX + "b", SUFFIX) is None


def test_typing_the_whole_completion_returns_none(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    assert cache.typed_ahead(URI, PREFIX + "a + b", SUFFIX) is None
    assert cache.typed_ahead(URI, PREFIX + "a + bc", SUFFIX) is None


def test_deleting_returns_none(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    assert cache.typed_ahead(URI, PREFIX[:-1], SUFFIX) is None


def test_edit_before_the_cursor_returns_none(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    edited = PREFIX.replace("add", "sum")
    assert cache.typed_ahead(URI, edited + "a", SUFFIX) is None


def test_changed_suffix_returns_none(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    assert cache.typed_ahead(URI, PREFIX + "a", SUFFIX + "x = 1\n") is None
    assert cache.typed_ahead(URI, PREFIX + "a", SUFFIX.replace("1", "3")) is None


def test_only_matching_choices_are_returned_in_order(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b", "b + a", "a * b", "a"))
    assert cache.typed_ahead(URI, PREFIX + "a", SUFFIX) == (" + b", " * b")
    assert cache.typed_ahead(URI, PREFIX + "b", SUFFIX) == (" + a",)


def test_typed_over_closing_characters_are_accepted(cache: CompletionCache) -> None:
    prefix, suffix = "print(", ")\nrest()\n"
    cache.remember(URI, prefix, suffix, ('"hi") + x',))
    assert cache.typed_ahead(URI, prefix + '"h', suffix) == ('i") + x',)
    assert cache.typed_ahead(URI, prefix + '"hi"', suffix) == (") + x",)
    assert cache.typed_ahead(URI, prefix + '"hi")', "\nrest()\n") == (" + x",)


def test_closing_characters_gone_without_typing_them_return_none(
    cache: CompletionCache,
) -> None:
    prefix, suffix = "print(", ")\nrest()\n"
    cache.remember(URI, prefix, suffix, ('"hi") + x',))
    assert cache.typed_ahead(URI, prefix + '"h', "\nrest()\n") is None


def test_only_the_latest_shown_completion_counts(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    cache.remember(URI, PREFIX + "a", SUFFIX, (" - b",))
    assert cache.typed_ahead(URI, PREFIX + "a ", SUFFIX) == ("- b",)
    assert cache.typed_ahead(URI, PREFIX + "a +", SUFFIX) is None


def test_empty_choices_forget_the_document(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    cache.remember(URI, PREFIX, SUFFIX, ("",))
    assert cache.typed_ahead(URI, PREFIX, SUFFIX) is None


def test_documents_are_separate_and_bounded(timer: FakeTimer) -> None:
    cache = CompletionCache(max_documents=2, timer=timer)
    for name in ("a", "b", "c"):
        cache.remember(f"file:///{name}.py", PREFIX, SUFFIX, (name + "1",))
    assert cache.typed_ahead("file:///a.py", PREFIX, SUFFIX) is None
    assert cache.typed_ahead("file:///b.py", PREFIX + "b", SUFFIX) == ("1",)
    assert cache.typed_ahead("file:///c.py", PREFIX + "c", SUFFIX) == ("1",)


def test_shown_completions_expire(cache: CompletionCache, timer: FakeTimer) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    timer.now = 61
    assert cache.typed_ahead(URI, PREFIX + "a", SUFFIX) is None


def test_forget_and_clear(cache: CompletionCache) -> None:
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    cache.forget(URI)
    assert cache.typed_ahead(URI, PREFIX + "a", SUFFIX) is None
    cache.forget(URI)

    cache.put("k", ("v",))
    cache.remember(URI, PREFIX, SUFFIX, ("a + b",))
    cache.clear()
    assert cache.get("k") is None
    assert cache.typed_ahead(URI, PREFIX + "a", SUFFIX) is None
