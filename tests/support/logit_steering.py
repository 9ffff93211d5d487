"""Steering a random model's logits so generation tests can assert exact outcomes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

Steer = Callable[[int, torch.Tensor], None]
"""(decode step starting at 0, last-position logits of shape (rows, vocab)) -> None, in place."""


@contextmanager
def steered(model: Any, steer: Steer) -> Iterator[list[torch.Tensor]]:
    """Let `steer` edit the logits of every forward pass; yields the input ids seen.

    The hook sits on the output embeddings, so it changes what generate samples from
    without touching the engine under test.
    """
    step = 0
    inputs: list[torch.Tensor] = []

    def record(module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            inputs.append(ids.detach().cpu().clone())

    def hook(module: Any, args: tuple, output: torch.Tensor) -> torch.Tensor:
        nonlocal step
        steer(step, output[:, -1, :])
        step += 1
        return output

    handles = [
        model.register_forward_pre_hook(record, with_kwargs=True),
        model.get_output_embeddings().register_forward_hook(hook),
    ]
    try:
        yield inputs
    finally:
        for handle in handles:
            handle.remove()


def force(script: Sequence[int], *, banned: Sequence[int] = ()) -> Steer:
    """Emit `script` token by token, then anything but `banned` (e.g. the EOS ids)."""

    def steer(step: int, logits: torch.Tensor) -> None:
        if step < len(script):
            logits[:] = float("-inf")
            logits[:, script[step]] = 0.0
        else:
            logits[:, list(banned)] = float("-inf")

    return steer


def ban(tokens: Sequence[int]) -> Steer:
    return force((), banned=tokens)
