"""What the server knows about each language, in one table: names, comments, strings, grammar.

The prompt's file header needs the comment syntax (found by file extension), the
string scan of `text/literals.py` needs quotes and comments (found by LSP language
id), and `syntax.py` needs the tree-sitter grammar. Kept apart, these drifted: a
language could get a parser but no string rules. One record per language keeps
them together, and `tests/unit/test_languages.py` checks that they agree.

Only what some module reads is recorded; a language missing here gets the
defaults of each reader (`#` headers, C-like strings, no grammar).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Strings:
    """How string literals are written, for a scan that must not cut inside one."""

    multi_line: tuple[str, ...] = ()
    """Delimiters whose strings may span lines; others end at the line break."""
    raw: tuple[str, ...] = ()
    """Delimiters inside which a backslash escapes nothing."""
    line: tuple[str, ...] = ('"', "'")
    """Delimiters of strings that end at the line break."""


@dataclass(frozen=True, kw_only=True)
class Grammar:
    """A tree-sitter grammar wheel: `module.function()` returns the language pointer."""

    module: str
    function: str = "language"


@dataclass(frozen=True, kw_only=True)
class Language:
    id: str
    """The LSP language id (`textDocument.languageId`)."""
    extensions: tuple[str, ...] = ()
    """File name extensions, lower case, without the dot."""
    line_comment: str | None = None
    """The line comment marker; None where a block comment is the usual form (CSS, HTML)."""
    block_comment: tuple[str, str] | None = None
    strings: Strings | None = None
    """None: the string scan treats the language as C-like."""
    grammar: Grammar | None = None


_C_BLOCK = ("/*", "*/")
_MARKUP = ("<!--", "-->")
_ONE_LINE = Strings()
_BACKTICK = Strings(multi_line=("`",))
_TRIPLE_QUOTE = Strings(multi_line=('"""',))


def _c_like(
    language_id: str,
    *extensions: str,
    strings: Strings | None = None,
    grammar: Grammar | None = None,
) -> Language:
    return Language(
        id=language_id,
        extensions=extensions,
        line_comment="//",
        block_comment=_C_BLOCK,
        strings=strings,
        grammar=grammar,
    )


def _line(
    marker: str, language_id: str, *extensions: str, strings: Strings | None = None
) -> Language:
    return Language(id=language_id, extensions=extensions, line_comment=marker, strings=strings)


def _block(marks: tuple[str, str], language_id: str, *extensions: str) -> Language:
    return Language(id=language_id, extensions=extensions, block_comment=marks)


LANGUAGES: tuple[Language, ...] = (
    Language(
        id="python",
        extensions=("py", "pyi"),
        line_comment="#",
        strings=Strings(multi_line=('"""', "'''")),
        grammar=Grammar(module="tree_sitter_python"),
    ),
    _c_like("c", "c", "h", strings=_ONE_LINE, grammar=Grammar(module="tree_sitter_c")),
    _c_like(
        "cpp", "cc", "cpp", "cxx", "hpp", "hh",
        strings=_ONE_LINE, grammar=Grammar(module="tree_sitter_cpp"),
    ),
    _c_like(
        "javascript", "js", "mjs", "cjs",
        strings=_BACKTICK, grammar=Grammar(module="tree_sitter_javascript"),
    ),
    _c_like(
        "javascriptreact", "jsx",
        strings=_BACKTICK, grammar=Grammar(module="tree_sitter_javascript"),
    ),
    _c_like(
        "typescript", "ts",
        strings=_BACKTICK,
        grammar=Grammar(module="tree_sitter_typescript", function="language_typescript"),
    ),
    _c_like(
        "typescriptreact", "tsx",
        strings=_BACKTICK,
        grammar=Grammar(module="tree_sitter_typescript", function="language_tsx"),
    ),
    _c_like(
        "go", "go",
        strings=Strings(multi_line=("`",), raw=("`",)), grammar=Grammar(module="tree_sitter_go"),
    ),
    _c_like(
        "rust", "rs",
        # A `'` is a lifetime as often as a character: only `"` strings are scanned.
        strings=Strings(multi_line=('"',), line=()), grammar=Grammar(module="tree_sitter_rust"),
    ),
    _c_like("java", "java", strings=_TRIPLE_QUOTE, grammar=Grammar(module="tree_sitter_java")),
    _c_like("kotlin", "kt", "kts", strings=_TRIPLE_QUOTE),
    _c_like("scala", "scala", strings=_TRIPLE_QUOTE),
    _c_like("swift", "swift", strings=_TRIPLE_QUOTE),
    _c_like("csharp", "cs"),
    _c_like("dart", "dart"),
    _c_like("php", "php"),
    _c_like("zig", "zig"),
    _c_like("proto", "proto"),
    _c_like("groovy", "groovy", "gradle"),
    _c_like("v", "v"),
    _c_like("solidity", "sol"),
    _c_like("objective-c", "m"),
    _c_like("objective-cpp", "mm"),
    _c_like("fsharp", "fs", "fsx"),
    _line("#", "shellscript", "sh", "bash", "zsh", strings=_ONE_LINE),
    _line("#", "ruby", "rb", strings=_ONE_LINE),
    _line("#", "yaml", "yaml", "yml", strings=_ONE_LINE),
    _line("#", "r", "r", strings=_ONE_LINE),
    _line("#", "perl", "pl", "pm", strings=_ONE_LINE),
    _line("--", "lua", "lua", strings=_ONE_LINE),
    Language(
        id="sql", extensions=("sql",), line_comment="--", block_comment=_C_BLOCK,
        strings=_ONE_LINE,
    ),
    _line("--", "haskell", "hs", strings=_ONE_LINE),
    _line("--", "elm", "elm"),
    _line("--", "ada", "ada", "adb", "ads"),
    _line("--", "purescript", "purs"),
    _line(";", "lisp", "lisp"),
    _line(";", "clojure", "clj", "cljs"),
    _line(";", "emacs-lisp", "el"),
    _line(";", "scheme", "scm"),
    _line(";", "racket", "rkt"),
    _line(";", "asm", "asm"),
    _line(";", "ini", "ini"),
    _line("%", "latex", "tex"),
    _line("%", "erlang", "erl", "hrl"),
    _line("%", "prolog", "pro"),
    _block(_MARKUP, "html", "html"),
    _block(_MARKUP, "xml", "xml"),
    _block(_MARKUP, "vue", "vue"),
    _block(_MARKUP, "svelte", "svelte"),
    _block(_MARKUP, "markdown", "md"),
    _block(_C_BLOCK, "css", "css"),
    _block(_C_BLOCK, "scss", "scss"),
    _block(_C_BLOCK, "less", "less"),
    _block(("(*", "*)"), "ocaml", "ml"),
)  # fmt: skip

_BY_ID = {language.id: language for language in LANGUAGES}
_BY_EXTENSION = {ext: language for language in LANGUAGES for ext in language.extensions}


def by_id(language_id: str) -> Language | None:
    """The record for an LSP language id, or None for a language the table does not know."""
    return _BY_ID.get(language_id)


def by_extension(extension: str) -> Language | None:
    """The record for a file extension (with or without its dot, any case)."""
    return _BY_EXTENSION.get(extension.lstrip(".").lower())
