"""The warm-up's pure parts: the focus notification's params, when not to warm, and the
one-token call that runs the request's prompt."""

from __future__ import annotations

from types import SimpleNamespace

from starcoder_ls.completion.plan import plan_calls
from starcoder_ls.completion.request import CompletionRequest
from starcoder_ls.completion.warm import Focus, focus_from, warm_params, why_not
from starcoder_ls.config import Settings
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from

PROMPT = Prompt(text="x = ", prefix="x = ", suffix="", context="", tokens=2)


def request(uri: str = "file:///w/a.py", text: str = "x = 1\n") -> CompletionRequest:
    return CompletionRequest(
        uri=uri, version=1, language_id="python", text=text, line=0, character=4
    )


def test_the_focus_params_as_a_dict_or_as_pygls_objects() -> None:
    wire = {"textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 2, "character": 5}}
    assert focus_from(wire) == Focus(uri="file:///w/a.py", line=2, character=5)
    made = SimpleNamespace(
        textDocument=SimpleNamespace(uri="file:///w/a.py"),
        position=SimpleNamespace(line=2, character=5),
    )
    assert focus_from(made) == focus_from(wire)


def test_params_that_do_not_say_where_are_no_focus() -> None:
    assert focus_from(None) is None
    assert focus_from({"textDocument": {"uri": "file:///a.py"}}) is None
    assert focus_from({"textDocument": {}, "position": {"line": 0, "character": 0}}) is None
    bad = {"textDocument": {"uri": "file:///a.py"}, "position": {"line": -1, "character": True}}
    assert focus_from(bad) is None


def test_why_not_warm() -> None:
    local = SimpleNamespace()
    assert why_not(request(), Settings(), local) is None
    assert why_not(request(), Settings(), None) is None  # still loading: waited for
    assert why_not(request(), Settings(warm_on_focus=False), local) == "warmOnFocus is off"
    assert "kvReuse" in str(why_not(request(), Settings(kv_reuse=False), local))
    served = SimpleNamespace(runs_on_loop=True)
    assert "serving engine" in str(why_not(request(), Settings(), served))
    assert "serving engine" in str(why_not(request(), Settings(backend="openai"), None))
    assert "deny list" in str(why_not(request("file:///w/.env"), Settings(), local))
    assert "binary" in str(why_not(request(text="\x00\x01"), Settings(), local))
    assert "not enabled" in str(why_not(request(), Settings(languages=("!python",)), local))


def test_the_warm_call_is_the_automatic_greedy_call_for_one_token() -> None:
    settings = Settings(temperature=0.4, max_new_tokens=64, token_healing=True)
    ctx = ctx_from("def f():\n    return █\n")
    call = warm_params(ctx, PROMPT, settings)
    (automatic,) = plan_calls(ctx, PROMPT, Mode.SINGLE_LINE, settings, invoked=False)
    assert (call.max_new_tokens, call.temperature, call.n, call.seed) == (1, 0.0, 1, None)
    assert call.token_healing and call.kv_reuse == automatic.kv_reuse
    assert call.heal_indentation == automatic.heal_indentation
