"""The language table agrees with itself and with the modules that read it."""

from __future__ import annotations

import importlib.util
from collections import Counter

import pytest

from starcoder_ls.engine.fim import comment_header
from starcoder_ls.text import languages, syntax
from starcoder_ls.text.languages import LANGUAGES


def test_ids_and_extensions_name_one_language_each() -> None:
    ids = Counter(language.id for language in LANGUAGES)
    extensions = Counter(ext for language in LANGUAGES for ext in language.extensions)
    assert [name for name, count in ids.items() if count > 1] == []
    assert [ext for ext, count in extensions.items() if count > 1] == []
    assert all(ext == ext.lower() and not ext.startswith(".") and ext for ext in extensions)


def test_every_language_has_a_comment_syntax_and_a_file_extension() -> None:
    """The prompt's file header is written in it; without one it would fall back to `#`."""
    assert [lang.id for lang in LANGUAGES if not (lang.line_comment or lang.block_comment)] == []
    assert [lang.id for lang in LANGUAGES if not lang.extensions] == []


def test_every_language_with_a_grammar_has_string_rules() -> None:
    """The trigger parses it; the filters must then also know where its strings are."""
    missing = [lang.id for lang in LANGUAGES if lang.grammar and lang.strings is None]
    assert missing == []


def test_string_rules_are_well_formed() -> None:
    for language in LANGUAGES:
        if language.strings is None:
            continue
        quotes = {*language.strings.multi_line, *language.strings.line}
        assert quotes, language.id
        assert set(language.strings.raw) <= quotes, language.id
        assert all(quote for quote in quotes), language.id


@pytest.mark.parametrize(
    "language", [lang for lang in LANGUAGES if lang.grammar], ids=lambda lang: lang.id
)
def test_each_installed_grammar_module_provides_its_function(
    language: languages.Language,
) -> None:
    assert language.grammar is not None
    if importlib.util.find_spec(language.grammar.module) is None:
        pytest.skip(f"{language.grammar.module} is not installed")
    module = importlib.import_module(language.grammar.module)
    assert callable(getattr(module, language.grammar.function, None))
    assert syntax.grammar(language.id) is not None


@pytest.mark.parametrize(
    ("extension", "language_id"),
    [("py", "python"), (".TSX", "typescriptreact"), ("h", "c"), ("yml", "yaml"), ("txt", None)],
)
def test_lookup_by_extension(extension: str, language_id: str | None) -> None:
    found = languages.by_extension(extension)
    assert (found.id if found else None) == language_id


def test_every_extension_gets_its_languages_comment_in_the_header() -> None:
    for language in LANGUAGES:
        for ext in language.extensions:
            header = comment_header(f"src/main.{ext}")
            if language.line_comment:
                assert header == f"{language.line_comment} src/main.{ext}\n"
            else:
                assert language.block_comment is not None
                assert header.startswith(language.block_comment[0] + " ")
                assert header.endswith(" " + language.block_comment[1] + "\n")
