"""Command-line value types that more than one subcommand reads (`eval`, `bench replay`).

Kept apart from the harnesses, as their option modules are, so that building the CLI's
parser imports neither pygls nor a harness.
"""

from __future__ import annotations

import argparse
import json


def settings_json(value: str) -> dict[str, object]:
    """Server settings given as JSON on the command line, as `initializationOptions`
    would carry them; anything but a JSON object is a usage error, not a crash later."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. {"debounceMs": 0}')
    return parsed
