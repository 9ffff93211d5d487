"""Running the model: the Engine contract, the worker thread and the local engine.

`LocalEngine` is imported on first use (PEP 562) so that `import starcoder_ls.engine`
never pulls in torch or transformers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Before torch is imported (libgomp reads it once, when it loads): idle OpenMP threads sleep
# instead of spinning. Spinning, a CPU forward pass waits at every barrier for a thread the
# OS has descheduled whenever anything else runs (the editor, another server, our own event
# loop): on 2 busy cores a 4-token pass took 3.6 s instead of 58 ms, a 160-token prefill
# 8 s instead of 0.43 s. Whoever sets the variable keeps their value.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from starcoder_ls.engine.base import (
    Engine,
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    GenerationResult,
    ProgressCallback,
)
from starcoder_ls.engine.worker import ModelWorker

if TYPE_CHECKING:
    from starcoder_ls.engine.local import LocalEngine
__all__ = [
    "Engine",
    "EngineError",
    "EngineInfo",
    "Generation",
    "GenerationParams",
    "GenerationResult",
    "LocalEngine",
    "ModelWorker",
    "ProgressCallback",
]


def __getattr__(name: str) -> Any:
    if name == "LocalEngine":
        from starcoder_ls.engine.local import LocalEngine

        return LocalEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
