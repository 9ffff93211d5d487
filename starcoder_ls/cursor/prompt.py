"""Fit the text around the cursor, and optionally other files, into the model's window.

Each side of the cursor is cut at a line boundary far from it (`cuts.py`, which counts
as few tokens as it can); other files fill what the current file leaves free.

The far ends move in steps, not line by line: an engine that keeps the previous
prompt's KV cache reuses it only up to the first token that differs, and a head
that shifted by one line on every keystroke would differ at the very start.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from starcoder_ls.cursor.cuts import CHARS_PER_TOKEN_GUESS, CountTokens, Kept, keep_head, keep_tail
from starcoder_ls.engine.fim import FimTemplate

Encode = Callable[[str], Sequence[int]]

_MAX_SNIPPET_CHARS_PER_TOKEN = 64
"""A snippet longer than this many characters per remaining token cannot fit in any
tokenizer we know, so it is skipped without the cost of counting it."""
_CUT_STEPS_PER_BUDGET = 16
"""Far-end cuts snap to a grid of about 1/16 of the budget: at most that much of the
budget goes unused, and typing moves the prompt's head about once per 1/16 of it."""


@dataclass(frozen=True, kw_only=True)
class PromptSpec:
    """What `build_prompt` fits (the text around the cursor, other files), into what
    (the model's template, tokenizer and window), and how."""

    prefix: str
    """The document before the cursor."""
    suffix: str
    """The document after the cursor; unused when the prompt is prefix-only."""
    template: FimTemplate
    count_tokens: CountTokens
    context_window: int
    max_new_tokens: int
    """Tokens kept free in the window for the answer."""
    prefix_share: float = 0.75
    """The prefix's share of what the current file gets, when both sides need cutting."""
    filename: str | None = None
    """Shown to templates that support a file name."""
    snippets: Sequence[tuple[str, str]] = ()
    """Other files as (path, text), most relevant first."""
    use_fim: bool = True
    """False gives a prefix-only prompt even with a fill-in-the-middle template."""
    snippet_reserve: int = 0
    """Tokens `snippets` may take from the current file before it is fitted."""
    cut_step: int | None = None
    """Characters between the far-end cuts allowed; None for a sixteenth of the budget."""
    encode: Encode | None = None
    """The engine's tokenizer, to return the final prompt's ids with it."""


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """What the model was shown, so that logs and post-processing can tell what was cut."""

    text: str
    """What goes to the model."""
    prefix: str
    """The (possibly cut) prefix used."""
    suffix: str
    """The (possibly cut) suffix used; empty when the prompt is prefix-only."""
    context: str
    """Cross-file context used; empty if none."""
    tokens: int
    """Token count of `text`: the number of `ids` when the spec had `encode`, else what its
    `count_tokens` says."""
    ids: tuple[int, ...] | None = None
    """`text`'s token ids when the `PromptSpec` had `encode`, so the engine need not
    tokenize it again."""


def build_prompt(spec: PromptSpec) -> Prompt:
    """The richest prompt whose token count leaves `max_new_tokens` free in the window.

    The lines nearest the cursor matter most, so the far ends are cut first: the
    start of the prefix and the end of the suffix, at line boundaries. Other files
    (`snippets`, taken in the order given) fill what the current file leaves free, and may
    take up to `snippet_reserve` tokens from it first: in a long file nothing is left
    free, and a definition from another file can matter more than the file's far end.

    A far end is cut only at the first line boundary after a multiple of `cut_step`
    characters, counted from the document's start (prefix) or end (suffix), so that
    typing at the cursor or moving it down a line leaves the cuts where they were. By
    default the step is a sixteenth of the budget; 0 cuts at any line that fits.

    With `encode` (the engine's tokenizer), whole prompts are encoded rather than
    counted, and the final one's ids are returned on the `Prompt`.
    """
    budget = _budget(spec)
    render = _Render.of(spec)
    overhead = spec.count_tokens(render("", "", ""))
    available = budget - overhead
    if available < 0:
        raise ValueError(
            f"the {spec.template.name} template alone takes {overhead} tokens, more than the "
            f"{budget} left for the prompt (context_window {spec.context_window} - "
            f"max_new_tokens {spec.max_new_tokens})"
        )
    reserved: dict[int, str] = {}
    if spec.snippets and spec.snippet_reserve > 0:
        room = min(spec.snippet_reserve, available)
        reserved = _fit_snippets(spec.template, spec.snippets, room, spec.count_tokens)
    # Counted in place: some families add a file separator once other files come first.
    taken = (
        spec.count_tokens(render("", "", "".join(reserved.values()))) - overhead if reserved else 0
    )
    step = (
        budget * CHARS_PER_TOKEN_GUESS // _CUT_STEPS_PER_BUDGET
        if spec.cut_step is None
        else spec.cut_step
    )
    suffix = spec.suffix if render.fim else ""
    kept_prefix, kept_suffix = _split_budget(
        spec.prefix, suffix, available - taken, spec.prefix_share, spec.count_tokens, step
    )
    draft = _Draft(kept_prefix, kept_suffix, tuple(reserved.values()))
    measured = _measure(spec, render, draft)
    # Room a stepped cut leaves is kept free: snippets moving in and out of it as the
    # user types would change the prompt's head, the part a KV cache reuses.
    stepped_cut = step > 1 and not (kept_prefix.whole and kept_suffix.whole)
    if len(reserved) < len(spec.snippets) and measured.tokens < budget and not stepped_cut:
        room = budget - measured.tokens
        more = _fit_snippets(spec.template, spec.snippets, room, spec.count_tokens, skip=reserved)
        if more:
            chosen = tuple(formatted for _, formatted in sorted({**reserved, **more}.items()))
            draft = _Draft(kept_prefix, kept_suffix, chosen)
            measured = _measure(spec, render, draft)
    return _within_budget(spec, render, draft, measured, budget, overhead)


def _budget(spec: PromptSpec) -> int:
    """The tokens the prompt may take, once the spec is known to make sense."""
    budget = spec.context_window - spec.max_new_tokens
    if budget <= 0:
        raise ValueError(
            f"no room for a prompt: context_window ({spec.context_window}) must be larger than "
            f"max_new_tokens ({spec.max_new_tokens})"
        )
    if not 0.0 <= spec.prefix_share <= 1.0:
        raise ValueError(f"prefix_share must be between 0 and 1, got {spec.prefix_share}")
    return budget


@dataclass(frozen=True)
class _Render:
    """The template filled in the one form this prompt takes: FIM or prefix-only."""

    template: FimTemplate
    fim: bool
    filename: str | None

    @classmethod
    def of(cls, spec: PromptSpec) -> _Render:
        name = spec.filename if spec.template.supports_filename else None
        return cls(spec.template, spec.template.fim and spec.use_fim, name)

    def __call__(self, prefix: str, suffix: str, context: str) -> str:
        if self.fim:
            return self.template.render(prefix, suffix, filename=self.filename, context=context)
        return self.template.render_prefix_only(prefix, filename=self.filename, context=context)


@dataclass(frozen=True)
class _Draft:
    """The parts of a prompt: what is kept of each side, and the other files chosen."""

    prefix: Kept
    suffix: Kept
    chosen: tuple[str, ...]


@dataclass(frozen=True)
class _Measured:
    text: str
    tokens: int
    ids: tuple[int, ...] | None


def _measure(spec: PromptSpec, render: _Render, draft: _Draft) -> _Measured:
    """The draft's whole text and its tokens, encoded when the spec has `encode`."""
    text = render(draft.prefix.text, draft.suffix.text, "".join(draft.chosen))
    if spec.encode is None:
        return _Measured(text, spec.count_tokens(text), None)
    ids = tuple(spec.encode(text))
    return _Measured(text, len(ids), ids)


def _within_budget(
    spec: PromptSpec,
    render: _Render,
    draft: _Draft,
    measured: _Measured,
    budget: int,
    overhead: int,
) -> Prompt:
    """The draft, cut further until the whole counts within `budget`.

    The parts were counted one by one; merges across their seams can differ. Other files
    go first (the last chosen first), then the longer side loses what is over.
    """
    prefix, suffix, chosen = draft.prefix, draft.suffix, list(draft.chosen)
    while measured.tokens > budget:
        over = measured.tokens - budget
        if chosen:
            chosen.pop()
        elif prefix.text and (prefix.tokens >= suffix.tokens or not suffix.text):
            prefix = keep_tail(prefix.text, prefix.tokens - over, spec.count_tokens)
        elif suffix.text:
            suffix = keep_head(suffix.text, suffix.tokens - over, spec.count_tokens)
        else:
            raise ValueError(
                f"count_tokens is inconsistent: {overhead} then {measured.tokens} tokens"
            )
        measured = _measure(spec, render, _Draft(prefix, suffix, tuple(chosen)))
    return Prompt(
        text=measured.text,
        prefix=prefix.text,
        suffix=suffix.text,
        context="".join(chosen),
        tokens=measured.tokens,
        ids=measured.ids,
    )


def _split_budget(
    prefix: str, suffix: str, available: int, share: float, count: CountTokens, step: int
) -> tuple[Kept, Kept]:
    """Give each side its share, and what one side leaves unused to the other."""
    prefix_cap = int(available * share)
    suffix_cap = available - prefix_cap
    kept_prefix = keep_tail(prefix, prefix_cap, count, step)
    if kept_prefix.whole:
        return kept_prefix, keep_head(suffix, available - kept_prefix.tokens, count, step)
    kept_suffix = keep_head(suffix, suffix_cap, count, step)
    if kept_suffix.whole and kept_suffix.tokens < suffix_cap:
        kept_prefix = keep_tail(prefix, available - kept_suffix.tokens, count, step)
    return kept_prefix, kept_suffix


def _fit_snippets(
    template: FimTemplate,
    snippets: Sequence[tuple[str, str]],
    room: int,
    count: CountTokens,
    skip: Collection[int] = (),
) -> dict[int, str]:
    """Whole snippets by index, in the order given; one that does not fit is skipped, not cut."""
    chosen: dict[int, str] = {}
    for index, (path, body) in enumerate(snippets):
        if room <= 0:
            break
        if index in skip:
            continue
        formatted = template.format_snippet(path, body)
        if len(formatted) > room * _MAX_SNIPPET_CHARS_PER_TOKEN:
            continue
        cost = count(formatted)
        if cost <= room:
            chosen[index] = formatted
            room -= cost
    return chosen
