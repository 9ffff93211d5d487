"""`config.merge` under hostile input: no client setting may raise, since a raise in the
`initialized` handler leaves the model `loading` forever."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starcoder_ls.config import Settings, checks, merge
from starcoder_ls.text.names import camel

EXAMPLES = int(os.environ.get("STARCODER_FUZZ_EXAMPLES", "150"))
"""Examples per property; `make fuzz` raises it for a long run."""

WIRE_NAMES = [camel(f.name) for f in dataclasses.fields(Settings)]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["auto", "embedded", "", " ", "cuda:0", "\ud800", "*"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize(
    ("options", "wire_name"),
    [
        ({"fimTemplate": []}, "fimTemplate"),
        ({"fimTemplate": {"name": "starcoder"}}, "fimTemplate"),
        ({"temperature": 10**400}, "temperature"),
        ({"topP": -(10**400)}, "topP"),
        ({"prefixShare": 10**309}, "prefixShare"),
        ({"dtype": []}, "dtype"),
        ({"multiline": {}}, "multiline"),
        ({"contextWindow": [1]}, "contextWindow"),
    ],
)
def test_wrong_type_names_the_field_and_the_rest_applies(
    options: dict[str, Any], wire_name: str
) -> None:
    current = Settings()
    result = merge(current, {**options, "maxNewTokens": 7})
    assert result.settings.max_new_tokens == 7
    assert len(result.errors) == 1
    assert f"starcoder.{wire_name} = " in result.errors[0]
    name = checks.BY_WIRE_NAME[wire_name]
    assert getattr(result.settings, name) == getattr(current, name)


def test_the_message_stays_one_short_line() -> None:
    result = merge(Settings(), {"model": 7, "device": "x" * 10_000, "languages": ["\ud800", 1]})
    assert len(result.errors) == 3
    for error in result.errors:
        assert "\n" not in error
        assert len(error) < 400
        error.encode("utf-8")  # no lone surrogate reaches the log or the client


def test_a_check_that_fails_unexpectedly_is_still_reported_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(value: Any) -> Any:
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setitem(checks.CHECKS, "top_p", broken)
    result = merge(Settings(), {"topP": [1], "debounceMs": 5})
    assert result.settings.debounce_ms == 5
    assert result.errors == [
        "invalid setting starcoder.topP = [1]: is not a valid value; keeping 0.95"
    ]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(WIRE_NAMES), json_values, min_size=1),
    st.sampled_from(WIRE_NAMES),
)
def test_merge_never_raises_and_every_error_names_its_field(
    options: dict[str, Any], probe: str
) -> None:
    current = Settings()
    result = merge(current, options)
    assert len(result.errors) <= len(options)
    named = {error.split(" = ", 1)[0].rsplit(".", 1)[-1] for error in result.errors}
    assert named <= set(options)
    for wire_name in named:
        name = checks.BY_WIRE_NAME[wire_name]
        assert getattr(result.settings, name) == getattr(current, name)
    # A field without an error took the value its own check gives.
    if probe in options and probe not in named and options[probe] is not None:
        name = checks.BY_WIRE_NAME[probe]
        assert getattr(result.settings, name) == checks.CHECKS[name](options[probe])


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(sorted(checks.CHECKS)), json_values)
def test_each_check_rejects_with_its_own_message(name: str, value: Any) -> None:
    """The safety net in `merge` is for checks added later; today's foresee every JSON value."""
    try:
        checks.CHECKS[name](value)
    except checks.Invalid as exc:
        assert str(exc)


@settings(max_examples=EXAMPLES, deadline=None)
@given(json_values)
def test_any_shape_of_options_is_answered(options: Any) -> None:
    result = merge(Settings(), options)
    assert isinstance(result.settings, Settings)
