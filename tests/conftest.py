"""Fixtures and markers shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU; skipped where there is none")
    config.addinivalue_line("markers", "slow: loads a real model (tens of seconds on a CPU)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("gpu") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("no CUDA GPU on this machine")


@pytest.fixture(scope="session")
def embedded_engine() -> Iterator[Any]:
    """The embedded SmolLM2-135M, loaded once (~10 s from its converted copy) for slow tests;
    in float32 whatever the CPU, products included (`cpuWeights` "float"), as they compare
    outputs token for token."""
    from starcoder_ls.engine.local import LocalEngine
    from starcoder_ls.engine.settings import EngineSettings

    engine = LocalEngine.load(EngineSettings(model=None, dtype="float32", cpu_weights="float"))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def tiny_starcoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random StarCoder (tokenizer + GPTBigCode weights), built once per session."""
    from tests.support.tiny_models import make_tiny_starcoder

    return make_tiny_starcoder(tmp_path_factory.mktemp("tiny-gpt-bigcode"))
