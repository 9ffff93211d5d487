"""Importing the engine package must not pull in torch or transformers (seconds of startup)."""

from __future__ import annotations

import subprocess
import sys


def test_engine_package_imports_without_torch() -> None:
    code = (
        "import sys, starcoder_ls.engine, starcoder_ls.engine.models, "
        "starcoder_ls.engine.weights, starcoder_ls.engine.tokens, starcoder_ls.engine.placement, "
        "starcoder_ls.engine.stopping, starcoder_ls.engine.worker, starcoder_ls.config\n"
        "heavy = sorted({'torch', 'transformers', 'accelerate'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
        "assert starcoder_ls.engine.LocalEngine.__name__ == 'LocalEngine'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_engine_package_makes_idle_openmp_threads_sleep_unless_told_otherwise() -> None:
    """Spinning OpenMP threads made CPU passes 10-60x slower on a busy machine."""
    import os

    code = "import os, starcoder_ls.engine\nprint(os.environ['OMP_WAIT_POLICY'])\n"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    unset = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert unset.stdout.strip() == "PASSIVE"
    chosen = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert chosen.stdout.strip() == "ACTIVE"
