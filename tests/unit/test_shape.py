"""Sizes a newcomer can read: no module over 400 lines, no function over 60, no
signature over 6 parameters (a record type groups more). Read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "starcoder_ls"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 6


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE.parent)): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


SOURCES = _sources()


def _functions(source: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    return [name for name in names if name not in ("self", "cls")]


def test_the_package_is_read() -> None:
    assert len(SOURCES) > 80
    assert sum(len(_functions(source)) for source in SOURCES.values()) > 500


def test_no_module_is_over_400_lines() -> None:
    long = {
        path: source.count("\n")
        for path, source in SOURCES.items()
        if source.count("\n") > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_over_60_lines() -> None:
    long = [
        f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, source in SOURCES.items()
        for node in _functions(source)
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "functions over 60 lines:\n" + "\n".join(long)


def test_no_signature_takes_more_than_six_parameters() -> None:
    wide = [
        f"{path}:{node.lineno} {node.name} ({len(_parameters(node))} parameters)"
        for path, source in SOURCES.items()
        for node in _functions(source)
        if len(_parameters(node)) > MAX_PARAMETERS
    ]
    assert not wide, "signatures over 6 parameters:\n" + "\n".join(wide)
