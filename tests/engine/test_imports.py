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
