"""Prompt formats of the model families we can drive, and how to tell them apart.

Each family was trained on one exact arrangement of sentinel tokens; a prompt that
differs by a space or a newline completes noticeably worse, so the formats live
here as data, checked against the families' own documentation in the unit tests.
Special tokens are written as text: the tokenizer maps them back to their ids.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from starcoder_ls.text import languages

_DS_BEGIN = "<\uff5cfim\u2581begin\uff5c>"
_DS_HOLE = "<\uff5cfim\u2581hole\uff5c>"
_DS_END = "<\uff5cfim\u2581end\uff5c>"
_DS_EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"

_SPIECE_SPACE = "\u2581"
"""SentencePiece vocabularies (CodeLlama) store `<PRE>` as `▁<PRE>`."""


@dataclass(frozen=True, kw_only=True)
class FimTemplate:
    """How one model family wants a completion prompt laid out.

    `body` orders `{prefix}` and `{suffix}` between the family's sentinels (PSM,
    SPM, or prefix-only). The optional parts exist because families disagree on
    where the current file's path and the other files go: StarCoder2 trained the
    path inside `<fim_prefix>`, Qwen2.5-Coder before it, and families without a
    file separator saw other files only as earlier text of the same document.
    """

    name: str
    fim: bool
    """False: the family has no infilling; the suffix is never sent."""
    stop_tokens: tuple[str, ...]
    """End tokens after which nothing the model writes belongs to the completion."""
    required_tokens: tuple[str, ...] = ()
    """Sentinels every prompt of this family contains; detection keys on them."""
    metadata_tokens: tuple[str, ...] = ()
    """Tokens used only for file names and other files; they break ties in detection."""
    body: str = "{prefix}"
    filename_header: str = ""
    """Format of the current file's path (`{filename}`); empty when the family has none."""
    filename_in_prefix: bool = False
    """StarCoder2 applied FIM to whole files, path line included."""
    file_separator: str = ""
    """Opens the current file when a path or other files precede it."""
    context_in_prefix: bool = False
    """Other files go inside the prefix: the family has no token to start a new file."""
    snippet_header: str = ""
    """Format of another file's header (`{path}`); empty means a comment line."""
    snippet_ends_with_newline: bool = True
    """False where the family's format puts the next separator straight after the code."""
    name_hints: tuple[str, ...] = ()
    """Substrings of a model id that point at this family when tokens alone cannot."""

    @property
    def supports_filename(self) -> bool:
        return bool(self.filename_header)

    def render(
        self, prefix: str, suffix: str, *, filename: str | None = None, context: str = ""
    ) -> str:
        """The exact prompt text; `suffix` is dropped for families without infilling."""
        return self._assemble(self.body, prefix, suffix, filename, context)

    def render_prefix_only(
        self, prefix: str, *, filename: str | None = None, context: str = ""
    ) -> str:
        """A left-to-right prompt in the family's file conventions, for when FIM is off.

        Keeping the path header matters: `<filename>a.py\\n` or `<|file_sep|>a.py\\n`
        followed by code is exactly how these models saw files in training.
        """
        return self._assemble("{prefix}", prefix, "", filename, context)

    def format_snippet(self, path: str, text: str) -> str:
        """One other file's excerpt, headed the way this family saw other files."""
        header = (
            self.snippet_header.format(path=path) if self.snippet_header else comment_header(path)
        )
        if self.snippet_ends_with_newline and not text.endswith("\n"):
            text += "\n"
        return header + text

    def missing_tokens(self, available: Iterable[str]) -> tuple[str, ...]:
        """Tokens this template writes that the tokenizer lacks (they would be split into text)."""
        have = {_normalize(token) for token in available}
        wanted = self.required_tokens + self.metadata_tokens
        return tuple(token for token in wanted if _normalize(token) not in have)

    def _assemble(
        self, body: str, prefix: str, suffix: str, filename: str | None, context: str
    ) -> str:
        header = ""
        if filename and self.filename_header:
            header = self.filename_header.format(filename=filename)
        opener = self.file_separator if (context or header) and not self.context_in_prefix else ""
        if self.filename_in_prefix:
            prefix, header = header + prefix, ""
        if self.context_in_prefix:
            prefix, context = context + prefix, ""
        # Substitute both parts in one pass so that braces or a literal "{suffix}"
        # in the user's code are never re-interpreted.
        filled = body.format(prefix=prefix, suffix=suffix if self.fim else "")
        return context + opener + header + filled


def comment_header(path: str) -> str:
    """`# path` in the file's own comment syntax, so the header reads as part of the code.

    Unknown extensions get `#`, the most common line comment among scripting languages.
    """
    language = languages.by_extension(posixpath.splitext(path.replace("\\", "/"))[1])
    if language is not None and language.line_comment:
        return f"{language.line_comment} {path}\n"
    if language is not None and language.block_comment:
        opening, closing = language.block_comment
        return f"{opening} {path} {closing}\n"
    return f"# {path}\n"


def _normalize(token: str) -> str:
    return token.strip().lstrip(_SPIECE_SPACE)


_SC_FIM = ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")
_PSM = "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"
_QWEN_FIM = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
_QWEN_PSM = "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"

_STARCODER = FimTemplate(
    name="starcoder",
    fim=True,
    stop_tokens=("<|endoftext|>", "<fim_pad>", *_SC_FIM, "<filename>"),
    required_tokens=_SC_FIM,
    metadata_tokens=("<filename>",),
    body=_PSM,
    filename_header="<filename>{filename}\n",
    snippet_header="<filename>{path}\n",
    name_hints=("starcoder", "tiny_starcoder", "starchat", "octocoder"),
)

TEMPLATES: dict[str, FimTemplate] = {
    t.name: t
    for t in (
        _STARCODER,
        FimTemplate(
            name="starcoder-spm",
            fim=True,
            stop_tokens=_STARCODER.stop_tokens,
            required_tokens=_SC_FIM,
            metadata_tokens=("<filename>",),
            body="<fim_prefix><fim_suffix>{suffix}<fim_middle>{prefix}",
            filename_header="<filename>{filename}\n",
            snippet_header="<filename>{path}\n",
        ),
        FimTemplate(
            name="santacoder",
            fim=True,
            stop_tokens=(
                "<|endoftext|>",
                "<fim-pad>",
                "<fim-prefix>",
                "<fim-suffix>",
                "<fim-middle>",
            ),
            required_tokens=("<fim-prefix>", "<fim-suffix>", "<fim-middle>"),
            body="<fim-prefix>{prefix}<fim-suffix>{suffix}<fim-middle>",
            name_hints=("santacoder",),
        ),
        FimTemplate(
            name="starcoder2",
            fim=True,
            stop_tokens=(
                "<|endoftext|>",
                "<file_sep>",
                "<fim_pad>",
                *_SC_FIM,
                "<repo_name>",
            ),
            required_tokens=_SC_FIM,
            metadata_tokens=("<file_sep>",),
            body=_PSM,
            filename_header="{filename}\n",
            filename_in_prefix=True,
            file_separator="<file_sep>",
            snippet_header="<file_sep>{path}\n",
            snippet_ends_with_newline=False,
            name_hints=("starcoder2",),
        ),
        FimTemplate(
            name="codellama",
            fim=True,
            stop_tokens=("<EOT>", "</s>"),
            required_tokens=("<PRE>", "<SUF>", "<MID>"),
            body="<PRE> {prefix} <SUF>{suffix} <MID>",
            context_in_prefix=True,
            name_hints=("codellama", "code-llama", "code_llama"),
        ),
        FimTemplate(
            name="deepseek-coder",
            fim=True,
            stop_tokens=(_DS_EOS, "<|EOT|>", _DS_BEGIN, _DS_HOLE, _DS_END),
            required_tokens=(_DS_BEGIN, _DS_HOLE, _DS_END),
            body=_DS_BEGIN + "{prefix}" + _DS_HOLE + "{suffix}" + _DS_END,
            context_in_prefix=True,
            name_hints=("deepseek",),
        ),
        FimTemplate(
            name="qwen2.5-coder",
            fim=True,
            stop_tokens=(
                "<|endoftext|>",
                "<|fim_pad|>",
                "<|file_sep|>",
                "<|im_end|>",
                *_QWEN_FIM,
                "<|repo_name|>",
            ),
            required_tokens=_QWEN_FIM,
            metadata_tokens=("<|file_sep|>",),
            body=_QWEN_PSM,
            filename_header="{filename}\n",
            file_separator="<|file_sep|>",
            snippet_header="<|file_sep|>{path}\n",
            name_hints=("qwen",),
        ),
        FimTemplate(
            name="codegemma",
            fim=True,
            stop_tokens=("<|file_separator|>", "<eos>", "<end_of_turn>", *_QWEN_FIM),
            required_tokens=_QWEN_FIM,
            metadata_tokens=("<|file_separator|>",),
            body=_QWEN_PSM,
            filename_header="{filename}\n",
            file_separator="<|file_separator|>",
            snippet_header="<|file_separator|>{path}\n",
            name_hints=("codegemma", "gemma"),
        ),
        FimTemplate(
            name="codestral",
            fim=True,
            stop_tokens=("</s>", "[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
            required_tokens=("[PREFIX]", "[SUFFIX]"),
            body="[SUFFIX]{suffix}[PREFIX]{prefix}",
            context_in_prefix=True,
            name_hints=("codestral", "mistral"),
        ),
        FimTemplate(
            name="prefix-only",
            fim=False,
            stop_tokens=("<|endoftext|>", "<|im_end|>", "</s>"),
            body="{prefix}",
        ),
    )
}

PREFIX_ONLY = TEMPLATES["prefix-only"]
_NOT_DETECTED = frozenset({"starcoder-spm", "prefix-only"})
"""SPM is a choice the user makes; prefix-only is what detection falls back to."""


def get_template(name: str) -> FimTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        valid = ", ".join(sorted(TEMPLATES))
        raise ValueError(f"unknown FIM template {name!r}; valid names: {valid}") from None


def detect_template(special_tokens: Iterable[str], model_name: str = "") -> FimTemplate:
    """The family whose sentinels the tokenizer has; prefix-only when none matches.

    Several families share sentinels (`<fim_prefix>`: StarCoder and StarCoder2;
    `<|fim_prefix|>`: Qwen2.5-Coder and CodeGemma), so among the candidates the one
    with the most of its file tokens present wins, then the one the model id names.
    The model id never selects a family whose sentinels are missing: a prompt with
    sentinels the tokenizer splits into text is worse than no infilling at all.
    """
    have = {_normalize(token) for token in special_tokens}
    lowered = model_name.lower()
    best: FimTemplate = PREFIX_ONLY
    best_score: tuple[int, int] = (-1, -1)
    for template in TEMPLATES.values():
        if template.name in _NOT_DETECTED:
            continue
        if any(_normalize(token) not in have for token in template.required_tokens):
            continue
        metadata = sum(_normalize(token) in have for token in template.metadata_tokens)
        named = max((len(hint) for hint in template.name_hints if hint in lowered), default=0)
        score = (metadata, named)
        if score > best_score:
            best, best_score = template, score
    return best
