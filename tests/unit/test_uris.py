"""One identity per document, whatever spelling of its URI the client sends, and the path
the deny list judges: `uris.py`."""

from __future__ import annotations

import os
import re
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from starcoder_ls.cursor import uris
from starcoder_ls.lsp.workspace import SyncedWorkspace

EXAMPLES = int(os.environ.get("STARCODER_FUZZ_EXAMPLES", "200"))

# (as one client sends it, as another sends the same document)
SAME_DOCUMENT = [
    ("file:///home/me/My%20Project/app.py", "file:///home/me/My Project/app.py"),
    ("file:///tmp/caf%C3%A9/app.py", "file:///tmp/café/app.py"),
    ("file:///tmp/caf%c3%a9/app.py", "file:///tmp/caf%C3%A9/app.py"),
    # VS Code on Windows (every file) and Neovim / Emacs on Windows
    ("file:///c%3A/Users/me/proj/app.py", "file:///C:/Users/me/proj/app.py"),
    ("file:///c%3a/Users/me/proj/app.py", "file:///c:/Users/me/proj/app.py"),
    ("FILE:///home/me/app.py", "file:///home/me/app.py"),
    ("file:///home/me/a%2Bb.py", "file:///home/me/a+b.py"),
]
DIFFERENT_DOCUMENTS = [
    ("file:///home/me/a%2Fb.py", "file:///home/me/a/b.py"),  # an escaped slash is a name
    ("file:///home/me/App.py", "file:///home/me/app.py"),
    ("file:///home/me/a%2520b.py", "file:///home/me/a%20b.py"),
    ("file:///c%3A/Users/App.py", "file:///c%3A/Users/app.py"),
    (
        "git:/home/me/app.py?%7B%22ref%22%3A%22~%22%7D",
        "git:/home/me/app.py?%7B%22ref%22%3A%22%22%7D",
    ),
    (
        "vscode-notebook-cell:/home/me/nb.ipynb#W0sZmlsZQ%3D%3D",
        "vscode-notebook-cell:/home/me/nb.ipynb#W1sZmlsZQ%3D%3D",
    ),
]


@pytest.mark.parametrize(("one", "other"), SAME_DOCUMENT)
def test_spellings_of_one_uri_are_one_document(one: str, other: str) -> None:
    assert uris.canonical(one) == uris.canonical(other)


@pytest.mark.parametrize(("one", "other"), DIFFERENT_DOCUMENTS)
def test_different_documents_stay_different(one: str, other: str) -> None:
    assert uris.canonical(one) != uris.canonical(other)


@pytest.mark.parametrize(
    ("uri", "path", "local"),
    [
        ("file:///home/me/My%20Project/app.py", "/home/me/My Project/app.py", True),
        ("file:///c%3A/Users/me/.ssh/id_rsa", "/c:/Users/me/.ssh/id_rsa", True),
        ("file:///proj/nonexistent/../anchored.py", "/proj/anchored.py", True),
        ("git:/home/me/proj/.env?%7B%22path%22%3A%22%2Fhome%22%7D", "/home/me/proj/.env", True),
        ("vscode-notebook-cell:/home/me/nb.ipynb#W0sZmlsZQ%3D%3D", "/home/me/nb.ipynb", True),
        ("untitled:Untitled-1", "Untitled-1", False),
        ("vscode-remote://ssh-remote%2Bbox/home/me/.env", "/home/me/.env", False),
        ("file://server/share/app.py", "//server/share/app.py", False),
    ],
)
def test_the_path_judged_is_decoded_and_normalised(uri: str, path: str, local: bool) -> None:
    assert uris.path(uri) == path
    assert uris.local_path(uri) == (path if local else None)


# -- properties: every spelling a client may send -----------------------------------------

_NAME_CHARS = string.ascii_letters + string.digits + " -_.+@()!,;=~&'é中😀%#?"
names = st.text(alphabet=_NAME_CHARS, min_size=1, max_size=12).filter(
    lambda name: name not in (".", "..")
)
paths = st.lists(names, min_size=1, max_size=5)
drives = st.one_of(st.none(), st.sampled_from("cCdDzZ"))
schemes = st.sampled_from(["file", "git", "vscode-notebook-cell", "untitled"])


def _spell(segments: list[str], escape: st.DataObject) -> str:
    """One client's spelling: each segment escaped the way some client escapes it."""
    out = []
    for segment in segments:
        style = escape.draw(st.sampled_from(["vscode", "vim", "upper", "lower"]))
        # `%`, `#`, `?` and `/` inside a name are always escaped: unescaped they change its meaning
        safe = {"vscode": "", "vim": "()!,;=~&'@+:"}.get(style, "()!,;=~&'@+")
        text = quote(segment, safe=safe)
        if style == "lower":
            text = re.sub("%[0-9A-F]{2}", lambda escape: escape.group().lower(), text)
        out.append(text)
    return "/".join(out)


def _uri(scheme: str, drive: str | None, path: str, colon: str = ":") -> str:
    """`colon`: `%3A` as VS Code writes a drive's colon, `:` as Neovim and Emacs do."""
    if scheme == "untitled":
        return f"untitled:{path}"
    root = f"/{drive}{colon}" if drive else ""
    prefix = "file://" if scheme == "file" else f"{scheme}:"
    return f"{prefix}{root}/{path}"


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes, drive=drives, segments=paths, data=st.data())
def test_every_spelling_of_a_uri_is_one_identity(
    scheme: str, drive: str | None, segments: list[str], data: st.DataObject
) -> None:
    one = _uri(scheme, drive, _spell(segments, data), colon="%3A")
    if scheme == "file" and drive:
        drive = drive.swapcase()
    other = _uri(scheme, drive, _spell(segments, data))
    key = uris.canonical(one)
    assert uris.canonical(other) == key
    assert uris.canonical(key) == key  # idempotent
    assert uris.path(one) == uris.path(other)


@settings(max_examples=EXAMPLES)
@given(one=paths, other=paths)
def test_different_paths_are_different_identities(one: list[str], other: list[str]) -> None:
    if one != other:
        first = "file:///" + "/".join(quote(s, safe="") for s in one)
        second = "file:///" + "/".join(quote(s, safe="") for s in other)
        assert uris.canonical(first) != uris.canonical(second)


@settings(max_examples=EXAMPLES)
@given(st.text(max_size=40))
def test_any_string_gets_an_identity_without_raising(text: str) -> None:
    key = uris.canonical(text)
    assert uris.canonical(key) == key
    uris.path(text)
    uris.local_path(text)


# -- the workspace files documents under that identity ------------------------------------


def _workspace() -> SyncedWorkspace:
    return SyncedWorkspace(None, sync_kind=types.TextDocumentSyncKind.Incremental)


@settings(max_examples=EXAMPLES // 3)
@given(scheme=schemes, drive=drives, segments=paths, data=st.data())
def test_a_document_opened_under_one_spelling_is_found_changed_and_closed_under_another(
    scheme: str, drive: str | None, segments: list[str], data: st.DataObject
) -> None:
    opened = _uri(scheme, drive, _spell(segments, data))
    later = _uri(scheme, drive, _spell(segments, data))
    workspace = _workspace()
    workspace.put_text_document(
        types.TextDocumentItem(uri=opened, language_id="python", version=1, text="x = 1\n")
    )
    key = uris.canonical(later)
    assert list(workspace.text_documents) == [key]
    workspace.update_text_document(
        types.VersionedTextDocumentIdentifier(uri=later, version=2),
        types.TextDocumentContentChangePartial(
            range=types.Range(
                start=types.Position(line=0, character=4), end=types.Position(line=0, character=5)
            ),
            text="2",
        ),
    )
    doc = workspace.get_text_document(later)
    assert (doc.source, doc.version, doc.uri) == ("x = 2\n", 2, key)
    workspace.remove_text_document(later)
    assert not workspace.text_documents
