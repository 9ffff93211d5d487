"""Running the model: the Engine contract, the worker thread and the local engine.

`LocalEngine` is imported on first use (PEP 562) so that `import starcoder_ls.engine`
never pulls in torch or transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
