"""Names as they travel: Python's snake_case fields, the wire's camelCase."""

from __future__ import annotations


def camel(name: str) -> str:
    """`max_new_tokens` -> `maxNewTokens`: a field's name in JSON (LSP settings, stats)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
