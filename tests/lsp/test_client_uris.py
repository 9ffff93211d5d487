"""Documents under the URIs real clients send: escapes, Windows drives, other schemes.

Before `uris.canonical`, a document opened as `file:///home/me/My%20Project/app.py` was
filed by pygls under its unescaped URI and every completion in it was answered
`-32602 unknown document`: every folder with a space, every non-ASCII path, and every
file VS Code opens on Windows (`file:///c%3A/...`).
"""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

REAL_URIS = [
    "file:///home/me/My%20Project/app.py",  # VS Code, Neovim, Emacs: a space in a folder
    "file:///tmp/caf%C3%A9/app.py",  # a non-ASCII letter
    "file:///c%3A/Users/me/proj/app.py",  # VS Code on Windows: every file
    "file:///C:/Users/me/proj/app.py",  # Neovim and Emacs on Windows
    "file:///home/me/proj/a%2Bb%20%28copy%29.py",  # `a+b (copy).py` as VS Code escapes it
    "untitled:Untitled-1",
    "vscode-notebook-cell:/home/me/nb.ipynb#W0sZmlsZQ%3D%3D",
    "git:/home/me/proj/app.py?%7B%22path%22%3A%22%2Fhome%2Fme%2Fproj%2Fapp.py%22%2C%22ref%22%3A%22~%22%7D",
]


def texts(result: types.InlineCompletionList) -> list[str]:
    return [item.insert_text for item in result.items]


async def _open_complete_edit_close(session: Session, uri: str, answer: str) -> None:
    session.script({"contains": "def area(", "choices": [answer]})
    session.open(uri, "def area(w, h):\n    return \n")
    first = await session.inline(uri, 1, 11)
    assert texts(first) == [answer], uri
    session.replace(uri, 2, (1, 11), (1, 11), "w")
    session.script({"contains": "return w", "choices": [" * h"]})
    second = await session.inline(uri, 1, 12)
    assert texts(second) == [" * h"], uri
    session.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    with pytest.raises(JsonRpcException, match="unknown document"):
        await session.inline(uri, 1, 12)


@pytest.mark.parametrize("uri", REAL_URIS)
async def test_a_real_clients_uri_opens_completes_changes_and_closes(
    scripted: Session, uri: str
) -> None:
    await _open_complete_edit_close(scripted, uri, "w * h")


async def test_an_edit_under_another_spelling_reaches_the_same_document(
    scripted: Session,
) -> None:
    """VS Code writes `c%3A`, a plugin may echo `C:`: one document, not two."""
    scripted.script({"contains": "return w", "choices": [" * h"]})
    scripted.open("file:///c%3A/Users/me/proj/geo.py", "def area(w, h):\n    return \n")
    scripted.replace("file:///C:/Users/me/proj/geo.py", 2, (1, 11), (1, 11), "w")
    result = await scripted.inline("file:///c:/Users/me/proj/geo.py", 1, 12)
    assert texts(result) == [" * h"]


async def test_cross_file_context_does_not_take_the_current_file_for_another(
    scripted: Session,
) -> None:
    """The current document is left out of "other documents" under its own identity."""
    here = "file:///home/me/My%20Project/main.py"
    there = "file:///home/me/My%20Project/units.py"
    scripted.script({"choices": ["_kelvin(c)"]})
    scripted.open(there, "def celsius_to_kelvin(c):\n    return c + 273.15\n")
    scripted.open(here, "temperature = celsius_to_kelvin(20)\nvalue = celsius_to\n")
    since = len(scripted.calls())
    result = await scripted.inline(here, 1, 18)
    assert texts(result) == ["_kelvin(c)"]
    prompt = scripted.calls(since)[0]["prompt"]
    assert "def celsius_to_kelvin" in prompt, "the other file's snippet"
    assert prompt.count("temperature = celsius_to_kelvin(20)") == 1


# -- property: any URI a real client could send ------------------------------------------

_NAME = st.text(alphabet="abcXYZ09 -_.+@()!,;=~&'é中😀%#?", min_size=1, max_size=10).filter(
    lambda name: name not in (".", "..")
)


@st.composite
def client_uris(draw: st.DrawFn) -> str:
    """A URI as VS Code, Neovim or Emacs writes one: each escapes a name its own way."""
    scheme = draw(st.sampled_from(["file", "file", "untitled", "git", "vscode-notebook-cell"]))
    names = draw(st.lists(_NAME, min_size=1, max_size=4))
    safe = draw(st.sampled_from(["", "()!,;=~&'@+", "()!,;=~&'@+:"]))
    path = "/".join(quote(name, safe=safe) for name in names)
    if scheme == "untitled":
        return f"untitled:{path}"
    drive = draw(st.sampled_from(["", "/c%3A", "/C:", "/d:"]))
    head = "file://" if scheme == "file" else f"{scheme}:"
    tail = {"git": "?%7B%22ref%22%3A%22~%22%7D", "vscode-notebook-cell": "#W0sZmlsZQ%3D%3D"}
    return f"{head}{drive}/{path}.py{tail.get(scheme, '')}"


@settings(
    max_examples=int(os.environ.get("STARCODER_LSP_URI_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(uri=client_uris())
async def test_any_uri_a_client_could_send_opens_completes_and_closes(
    scripted: Session, uri: str
) -> None:
    await _open_complete_edit_close(scripted, uri, "w * h")
