"""Orders the candidates of an invoked request by how well they lead into the code after them.

An explicit request (Alt+\\ in VS Code) gets the greedy completion and sampled
alternatives (`service.py`). The editor shows the first one, so the order decides what
the user sees: a candidate that leaves the file parsing goes before one that breaks it,
and the model's own order settles ties. This needs no model time, which matters on a CPU:
scoring with the model (the suffix's likelihood after each candidate) would cost one more
forward pass per candidate.
"""

from __future__ import annotations

import logging

from starcoder_ls import syntax
from starcoder_ls.types import CompletionContext, Suggestion

_log = logging.getLogger(__name__)


def rerank(suggestions: list[Suggestion], ctx: CompletionContext) -> list[Suggestion]:
    """`suggestions` with those that add fewer syntax errors around the cursor first.

    Stable: equal scores keep the model's order (the greedy choice first). Without a
    grammar for the language the order is left alone.
    """
    if len(suggestions) < 2:
        return suggestions
    scores = []
    for suggestion in suggestions:
        errors = syntax.errors_with(
            ctx, suggestion.text, suggestion.end_character - suggestion.character
        )
        if errors is None:
            return suggestions
        scores.append(errors)
    order = sorted(range(len(suggestions)), key=scores.__getitem__)
    if order[0] != 0:
        _log.debug("rerank: syntax errors %s, order %s", scores, order)
    return [suggestions[i] for i in order]
