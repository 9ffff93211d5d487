"""Open documents for cross-file tests: a units module related to the cursor, notes that are not."""

from __future__ import annotations

from starcoder_ls.text.types import OpenDocument

UNITS = """\
import math


def celsius_to_rankine(c):
    return (c + 273.15) * 9 / 5


def rankine_to_celsius(r):
    return r * 5 / 9 - 273.15
"""
NOTES = """\
def walk(root):
    for entry in sorted(root.iterdir()):
        yield entry


def shout(text):
    return text.upper()
"""
MAIN = "temperature = 21\nprint(celsius_to_█)\n"
APP = "file:///work/app/main.py"


def doc(
    name: str, text: str, *, last_edit: float = 0.0, language_id: str = "python"
) -> OpenDocument:
    return OpenDocument(
        uri=f"file:///work/{name}",
        path=name.rsplit("/", 1)[-1],
        language_id=language_id,
        text=text,
        last_edit=last_edit,
    )
