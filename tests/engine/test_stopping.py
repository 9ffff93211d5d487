"""Stop conditions, exercised with fake tokenizers and hand-made id tensors."""

from __future__ import annotations

import threading

import torch

from starcoder_ls.engine.stopping import (
    MIN_LOOP_CHARS,
    CancelCriteria,
    RepetitionCriteria,
    StopStringCriteria,
    blank_start,
    cut_at_stop,
    decode_tokens,
    ends_in_loop,
    first_line,
    stops_from,
)


class ByteTokenizer:
    """Each id is a byte string; decoding joins them like a byte-level BPE would."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.calls: list[list[int]] = []

    def decode(self, token_ids: list[int], **kwargs: object) -> str:
        assert kwargs.get("skip_special_tokens") is True
        self.calls.append(list(token_ids))
        return b"".join(self.pieces[i] for i in token_ids).decode("utf-8", errors="replace")

    def ids(self, *pieces: bytes) -> list[int]:
        return [self.pieces.index(p) for p in pieces]


PIECES = [
    b"<prompt>",
    b"def",
    b" f",
    b"():",
    b"\n",
    b"    ",
    b"return",
    b" 1",
    b"\xc3",
    b"\xa9",
    b"x",
]


def run_steps(criteria, prompt: list[int], rows: list[list[int]]) -> list[list[bool]]:
    """Feed the rows one token per step, as generate does; collect each step's flags."""
    flags = []
    for step in range(1, len(rows[0]) + 1):
        ids = torch.tensor([prompt + row[:step] for row in rows])
        result = criteria(ids, None)
        assert result.dtype == torch.bool and result.shape == (len(rows),)
        flags.append(result.tolist())
    return flags


def test_cut_at_stop_picks_the_earliest_stop() -> None:
    assert cut_at_stop("a\n\nb<|end|>", ("<|end|>", "\n\n")) == ("a", "\n\n")
    assert cut_at_stop("no stop here", ("\n\n",)) == ("no stop here", None)
    assert cut_at_stop("x = 1", ("",)) == ("x = 1", None)
    assert cut_at_stop("ab", ("a", "ab")) == ("", "ab")


def test_decode_tokens_skips_special_tokens_without_cleanup() -> None:
    seen: dict[str, object] = {}

    class Spy:
        def decode(self, token_ids: list[int], **kwargs: object) -> str:
            seen.update(kwargs)
            return "x"

    decode_tokens(Spy(), (1, 2))
    assert seen == {"skip_special_tokens": True, "clean_up_tokenization_spaces": False}


def test_cancel_stops_all_rows_once_set() -> None:
    cancel = threading.Event()
    criteria = CancelCriteria(cancel, prompt_length=2)
    assert criteria(torch.zeros((3, 4), dtype=torch.long)).tolist() == [False] * 3
    cancel.set()
    assert criteria(torch.zeros((3, 5), dtype=torch.long)).tolist() == [True] * 3
    assert criteria.cancelled_at == 3


def test_on_token_sees_counts_and_can_cancel_in_the_same_step() -> None:
    cancel = threading.Event()
    counts: list[int] = []

    def on_token(generated: int) -> None:
        counts.append(generated)
        if generated == 2:
            cancel.set()

    criteria = CancelCriteria(cancel, prompt_length=3, on_token=on_token)
    flags = [criteria(torch.zeros((1, 3 + n), dtype=torch.long)).item() for n in (1, 2)]
    assert counts == [1, 2]
    assert flags == [False, True]
    assert criteria.cancelled_at == 2


def test_stop_string_stops_its_row_while_others_continue() -> None:
    tok = ByteTokenizer(PIECES)
    prompt = tok.ids(b"<prompt>")
    first = tok.ids(b" f", b"():", b"\n", b"\n", b"x", b"x")
    second = tok.ids(b" f", b"():", b"\n", b"    ", b"return", b" 1")
    criteria = StopStringCriteria(tok, ("\n\n",), prompt_length=1)
    flags = run_steps(criteria, prompt, [first, second])
    assert [row[0] for row in flags] == [False, False, False, True, True, True]
    assert not any(row[1] for row in flags)
    assert criteria.stopped_at == {0: 4}


def test_stop_string_spanning_tokens_and_split_characters() -> None:
    tok = ByteTokenizer(PIECES)
    rows = [tok.ids(b"x", b"\xc3", b"\xa9", b"x", b"x")]
    criteria = StopStringCriteria(tok, ("\u00e9x",), prompt_length=1)
    flags = run_steps(criteria, tok.ids(b"<prompt>"), rows)
    assert [row[0] for row in flags] == [False, False, False, True, True]
    assert "\ufffd" not in criteria.text(0)
    assert criteria.text(0) == "x\u00e9x"


def test_prompt_text_never_triggers_a_stop() -> None:
    tok = ByteTokenizer(PIECES)
    prompt = tok.ids(b"return", b"\n", b"\n")
    criteria = StopStringCriteria(tok, ("\n\n", "return"), prompt_length=len(prompt))
    flags = run_steps(criteria, prompt, [tok.ids(b" 1", b"x")])
    assert flags == [[False], [False]]
    assert all(0 not in call and 6 not in call for call in tok.calls)


def test_decoding_stays_incremental_over_long_generations() -> None:
    tok = ByteTokenizer(PIECES)
    long_row = tok.ids(b"x", b" 1") * 150
    criteria = StopStringCriteria(tok, ("never",), prompt_length=1)
    run_steps(criteria, tok.ids(b"<prompt>"), [long_row])
    assert max(len(call) for call in tok.calls) <= 3
    assert criteria.text(0) == "x 1" * 150


def test_no_stop_strings_means_no_decoding() -> None:
    tok = ByteTokenizer(PIECES)
    criteria = StopStringCriteria(tok, (), prompt_length=1)
    assert run_steps(criteria, [0], [[1, 2]]) == [[False], [False]]
    assert tok.calls == []


# -- one-line completions that start with blank lines --------------------------------------


def test_blank_start_is_where_content_begins() -> None:
    assert blank_start("\n\n    x = 1\n") == 6
    assert blank_start("   ") == 3
    assert blank_start("ab  c", 2) == 4


def test_stops_can_wait_for_content_after_leading_blank_lines() -> None:
    tokenizer = ByteTokenizer([b"<p>", b"\n", b"    ", b"x", b" = 1"])
    row = tokenizer.ids(b"\n", b"\n", b"    ", b"x", b" = 1", b"\n")
    plain = StopStringCriteria(tokenizer, ("\n",), prompt_length=1)
    waiting = StopStringCriteria(tokenizer, ("\n",), prompt_length=1, after_blank_start=True)

    assert [flags[0] for flags in run_steps(plain, [0], [row])][0] is True
    flags = [flags[0] for flags in run_steps(waiting, [0], [row])]
    assert flags == [False, False, False, False, False, True]


def test_a_line_ahead_stops_at_the_end_of_the_next_line() -> None:
    tokenizer = ByteTokenizer([b"<p>", b"\n", b"    ", b"x", b" = 1", b"y"])
    row = tokenizer.ids(b"x", b" = 1", b"\n", b"\n", b"    ", b"y", b"\n", b"x")
    ahead = StopStringCriteria(tokenizer, ("\n",), prompt_length=1, line_ahead=True)
    flags = [flags[0] for flags in run_steps(ahead, [0], [row])]
    # Not at the first line end, nor at the blank line after it: at the next line's end.
    assert flags == [False, False, False, False, False, False, True, True]


def test_where_stops_count_in_a_line_ahead() -> None:
    assert stops_from("x = 1\n    y") == 0
    assert stops_from("\n  x", after_blank_start=True) == 3
    assert stops_from("x = 1", line_ahead=True) is None
    assert stops_from("x = 1\n\n    y", line_ahead=True) == 11
    assert stops_from("\n  x\n  y", after_blank_start=True, line_ahead=True) == 7
    assert stops_from("ab\ncd", 3, line_ahead=True) is None  # the healed part is not the line


def test_the_first_line_of_a_line_ahead_is_the_one_line_answer() -> None:
    assert first_line("a + b\n    c", ("\n",)) == "a + b"
    assert first_line("a + b", ("\n",)) is None
    assert first_line("\n    x\n    y", ("\n",)) == ""
    assert first_line("\n    x\n    y", ("\n",), after_blank_start=True) == "\n    x"


# -- loops --------------------------------------------------------------------------------

LOOP_PIECES = [b"<p>", b"x = f(a);", b" 1.", b"\n", b"File::create(", b"PathBuf::from(doc), "]


def loop_tokenizer() -> ByteTokenizer:
    return ByteTokenizer(list(LOOP_PIECES))


def test_a_line_looping_long_enough_stops_its_row_only() -> None:
    tokenizer = loop_tokenizer()
    looping = tokenizer.ids(b"x = f(a);", *[b" 1."] * 30)
    varied = tokenizer.ids(*[b"x = f(a);", b"\n"] * 15, b" 1.")
    check = RepetitionCriteria(tokenizer, prompt_length=1)

    flags = run_steps(check, [0], [looping, varied])

    assert any(step[0] for step in flags)
    assert not any(step[1] for step in flags)
    stopped = check.stopped_at[0]
    text = decode_tokens(tokenizer, looping[:stopped])
    assert text.count(" 1.") * 3 >= MIN_LOOP_CHARS  # not before the loop spans that much
    assert not ends_in_loop(decode_tokens(tokenizer, looping[: stopped - 1]))
    assert all(step[0] for step in flags[stopped - 1 :])  # a stopped row stays stopped


def test_a_loop_of_calls_stops_like_a_loop_of_numbers() -> None:
    tokenizer = loop_tokenizer()
    row = tokenizer.ids(*[b"File::create(", b"PathBuf::from(doc), "] * 10)
    check = RepetitionCriteria(tokenizer, prompt_length=1)

    run_steps(check, [0], [row])

    assert 0 in check.stopped_at and check.stopped_at[0] < len(row)


def test_short_repeats_and_repeated_lines_do_not_stop() -> None:
    assert not ends_in_loop("[0, 0, 0, 0, 0, 0]")  # five copies, but short: code
    assert not ends_in_loop("x += 1\nx += 1\nx += 1\nx += 1\nx += 1\nx += 1\nx += 1\n")
    assert not ends_in_loop("# " + "-" * 60)
    assert ends_in_loop("y = " + "1. " * 20)
    assert not ends_in_loop("1. " * 20 + "\nx = 1")  # the loop is over: a new line began


GO_LOOP = (
    "flag *Flag, value string) error) error {\n"
    "\tf.parsed = true\n"
    "\tf.args = make([]string, 0, len(fn.Args[1:]) + 1)\n"
    + "\tf.args = make([]string, 0, len(fn.Args[1:]))\n"
    * 3
)


def test_a_block_of_lines_written_three_times_is_a_loop() -> None:
    """eval nextline go/flag.go:1203: the model wrote that line to its 128-token limit."""
    assert ends_in_loop(GO_LOOP)
    assert ends_in_loop(GO_LOOP + "\tf.args = ma")  # the fourth copy begun
    assert not ends_in_loop(GO_LOOP.rsplit("\t", 1)[0])  # two copies: not yet
    pair = "if (i == -1) {\n  return NULL;\n}\n"
    assert ends_in_loop("x = get(i);\n" + pair * 3)
    assert not ends_in_loop("x = get(i);\n" + pair * 2 + "return x;\n")


def test_tables_of_short_equal_lines_are_no_loop() -> None:
    assert not ends_in_loop("    0,\n    0,\n    0,\n    0,\n")
    assert not ends_in_loop("}\n}\n}\n")
    assert not ends_in_loop("\n\n\n\n")


def test_the_filters_cut_a_stopped_block_loop_to_its_first_copy() -> None:
    """Stopping at the third copy shows what running to the token limit would."""
    from starcoder_ls.postprocess import run
    from starcoder_ls.text.types import Mode
    from tests.support.cursor import ctx_from

    ctx = ctx_from("func (f *FlagSet) Func(name string, fn func(█\n", language_id="go")
    stopped = run(GO_LOOP, ctx, Mode.MULTI_LINE)
    longer = run(
        GO_LOOP + "\tf.args = make([]string, 0, len(fn.Args[1:]))\n" * 5, ctx, Mode.MULTI_LINE
    )
    assert stopped is not None and longer is not None
    assert stopped.text == longer.text
    assert stopped.text.count("f.args = make([]string, 0, len(fn.Args[1:]))\n") <= 1


def test_a_digit_written_to_the_token_limit_is_a_loop_and_a_separator_is_not() -> None:
    """eval nextline rust/identifier.rs:311: `1000…0` for all 128 tokens."""
    assert ends_in_loop("let max = 1" + "0" * 80)
    assert not ends_in_loop("let max = 1" + "0" * 40)
    assert not ends_in_loop("// " + "-" * 60)
    assert not ends_in_loop("#" * 60)
