"""The package's wings import one way, and no import runs in a circle.

Read from the source (every `import`, those inside functions too), so an import hidden
in a function to dodge a circle is caught as well. The order, top to bottom:

    cli -> tools -> lsp -> completion -> config -> cursor -> postprocess -> engine -> text

A module may import its own wing and any wing below it, never one above. Third-party
libraries with a cost or a role stay in their wing: torch and transformers in `engine/`
(and the tools that measure it), pygls and lsprotocol in `lsp/` (and the tools that
drive a server).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "starcoder_ls"

WINGS = ("cli", "tools", "lsp", "completion", "config", "cursor", "postprocess", "engine", "text")
"""Top to bottom. `__main__` sits above everything, the package face and `samples` below."""

HEAVY = {"torch", "transformers", "accelerate", "gguf"}
PROTOCOL = {"pygls", "lsprotocol"}
THIRD_PARTY_HOMES = {"torch": {"engine", "tools"}, "pygls": {"lsp", "tools"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> tuple[set[str], set[str]]:
    """(modules of this package, top-level third-party packages) that `name` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ours: set[str] = set()
    theirs: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import mod` imports the module; `from mod import name` the module.
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "starcoder_ls":
                while target not in MODULES:
                    target = target.rpartition(".")[0]
                ours.add(target)
            else:
                theirs.add(target.split(".")[0])
    ours.discard(name)
    return ours, theirs


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _rank(module: str) -> int:
    wing = _wing(module)
    if wing == "__main__":
        return -1
    if wing in WINGS:
        return WINGS.index(wing)
    return len(WINGS)  # the package face (`__version__`) and `samples`: below everything


def test_every_module_belongs_to_a_wing() -> None:
    strays = [m for m in MODULES if _wing(m) not in (*WINGS, "", "__main__", "samples")]
    assert not strays, f"modules outside the wings {WINGS}: {strays}"


def test_no_import_runs_up_a_layer() -> None:
    assert len(GRAPH) > 80
    upward = [
        f"{module} ({_wing(module)}) imports {target} ({_wing(target)})"
        for module, (ours, _) in sorted(GRAPH.items())
        for target in sorted(ours)
        if _wing(target) != _wing(module) and _rank(target) < _rank(module)
    ]
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node][0]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    assert not _circles(), f"import circles: {_circles()}"


def test_the_check_sees_a_circle_and_an_upward_import() -> None:
    """The checks above are not vacuous: the graph holds the known downward arrows."""
    ours, theirs = GRAPH["starcoder_ls.lsp.server"]
    assert "starcoder_ls.completion.service" in ours
    assert "pygls" in theirs
    assert _rank("starcoder_ls.cli") < _rank("starcoder_ls.lsp.server")
    assert _rank("starcoder_ls.lsp.server") < _rank("starcoder_ls.text.types")


@pytest.mark.parametrize("library", sorted(THIRD_PARTY_HOMES))
def test_third_party_libraries_stay_in_their_wing(library: str) -> None:
    family = HEAVY if library == "torch" else PROTOCOL
    homes = THIRD_PARTY_HOMES[library]
    outside = [
        f"{module} imports {sorted(theirs & family)}"
        for module, (_, theirs) in sorted(GRAPH.items())
        if theirs & family and _wing(module) not in homes
    ]
    assert not outside, f"{sorted(family)} outside {sorted(homes)}:\n" + "\n".join(outside)


def test_serve_loads_no_tool() -> None:
    """`starcoder-ls serve` builds its parser and server without a tool or pygls's client."""
    code = (
        "import sys\n"
        "from starcoder_ls import cli\n"
        "args = cli.build_parser().parse_args(['serve'])\n"
        "import starcoder_ls.lsp.server, starcoder_ls.lsp.tcp\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('starcoder_ls.tools')\n"
        "                or m == 'pygls.lsp.client')\n"
        "assert not loaded, loaded\n"
        "assert args.command == 'serve'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
