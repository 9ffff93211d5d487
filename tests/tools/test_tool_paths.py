"""Tools find the checkout and the package from `tools/shared.py`, not by counting folders
up from their own file (the move into `tools/` broke three such counts silently: the replay
found no sources, the eval no HumanEval data, the soak only the tools' own modules)."""

from __future__ import annotations

import subprocess

import pytest

from starcoder_ls.tools.eval.options import DEFAULT_DATA
from starcoder_ls.tools.replay.options import DEFAULT_SOURCE_COMMIT
from starcoder_ls.tools.replay.runner import project_sources
from starcoder_ls.tools.shared import PACKAGE, REPOSITORY
from starcoder_ls.tools.soak import default_sources


def test_the_package_and_the_checkout() -> None:
    assert (PACKAGE / "__init__.py").is_file() and PACKAGE.name == "starcoder_ls"
    assert (REPOSITORY / "pyproject.toml").is_file()


def test_the_eval_looks_for_humaneval_in_the_shared_folder_beside_the_checkout() -> None:
    assert REPOSITORY.parent / "shared" / "data" / "humaneval-infilling" == DEFAULT_DATA


def test_the_soak_types_into_modules_of_every_wing() -> None:
    wings = {path.relative_to(PACKAGE).parts[0] for path in default_sources()}
    assert {"completion", "cursor", "engine", "lsp", "text", "tools"} <= wings


def test_the_replay_reads_the_projects_sources_at_its_commit() -> None:
    known = subprocess.run(
        ["git", "-C", str(REPOSITORY), "cat-file", "-e", f"{DEFAULT_SOURCE_COMMIT}^{{commit}}"],
        capture_output=True,
    )
    if known.returncode != 0:
        pytest.skip(f"this clone lacks {DEFAULT_SOURCE_COMMIT[:7]} (a shallow clone)")
    sources = project_sources()
    assert sum(bool(source.text) for source in sources) > 20
    assert all(source.path.startswith("starcoder_ls/") for source in sources)


def test_the_model_numbers_name_the_decoding_weights() -> None:
    from starcoder_ls.tools.shared import numbers

    assert numbers({"dtype": "float32", "weights": "float16"}) == "float32, float16 products"
    assert numbers({"dtype": "bfloat16", "weights": ""}) == "bfloat16"
