"""The one place an engine failure is decided (`completion/failures.py`), without a model:
what a request is shown, what a prefetch keeps, and the back-off."""

from __future__ import annotations

import pytest

from starcoder_ls.completion.failures import Failures, Unanswered, told_once
from starcoder_ls.engine.base import EngineError

DOWN = "vLLM at http://gpu:8000 returned 503: Loading model"


def error(message: str, *, retry: bool = True, retry_after_s: float | None = None) -> EngineError:
    return EngineError(message, retry=retry, retry_after_s=retry_after_s)


@pytest.fixture
def now() -> list[float]:
    return [0.0]


@pytest.fixture
def failures(now: list[float]) -> Failures:
    return Failures(clock=lambda: now[0])


def test_an_error_of_the_call_alone_is_shown_every_time(failures: Failures) -> None:
    oom = EngineError("out of memory generating 128 tokens")
    assert not told_once(oom)
    for _ in range(3):
        assert failures.failed(Unanswered(oom), watched=True) is oom
        failures.asking()  # no back-off


def test_a_refusal_is_shown_once_and_a_new_one_again(failures: Failures) -> None:
    refused = error("returned 401: Invalid API key", retry=False)
    assert failures.failed(Unanswered(refused), watched=True) is refused
    assert failures.failed(Unanswered(error(str(refused), retry=False)), watched=True) is None
    missing = error("returned 404: The model `nope` does not exist", retry=False)
    assert failures.failed(Unanswered(missing), watched=True) is missing
    failures.answered()
    assert failures.failed(Unanswered(refused), watched=True) is refused, "a new episode"


def test_no_call_within_the_back_off(failures: Failures, now: list[float]) -> None:
    first = error(DOWN, retry_after_s=10.0)
    assert failures.failed(Unanswered(first), watched=True) is first
    with pytest.raises(Unanswered) as skipped:
        failures.asking()
    assert skipped.value.error is None
    assert failures.failed(skipped.value, watched=True) is None, "told already: quiet"
    now[0] = 10.0
    failures.asking()


def test_a_prefetch_error_waits_for_the_next_request_to_show_it(
    failures: Failures, now: list[float]
) -> None:
    kept = error(DOWN, retry_after_s=5.0)
    assert failures.failed(Unanswered(kept), watched=False) is None
    with pytest.raises(Unanswered) as skipped:
        failures.asking()
    assert failures.failed(skipped.value, watched=False) is None, "another prefetch: no one"
    assert failures.failed(skipped.value, watched=True) is kept
    assert failures.failed(skipped.value, watched=True) is None, "shown once"


def test_an_answer_drops_a_kept_error(failures: Failures) -> None:
    failures.failed(Unanswered(error(DOWN, retry=False)), watched=False)
    failures.answered()
    assert failures.failed(Unanswered(None), watched=True) is None
