"""The engine's own settings: the fields of `Settings` that decide a load, copied as they
are, so that the engine never sees the server's settings."""

from __future__ import annotations

import dataclasses

from starcoder_ls.config import Settings, engine_settings
from starcoder_ls.engine.settings import EngineSettings


def test_every_engine_setting_is_a_setting_with_the_same_default() -> None:
    defaults = Settings()
    for field in dataclasses.fields(EngineSettings):
        assert getattr(EngineSettings(), field.name) == getattr(defaults, field.name), field.name


def test_the_fields_that_reload_the_model_are_the_engines() -> None:
    """What `model_key` compares is what the engine is given, for either kind of backend."""
    names = {f.name for f in dataclasses.fields(EngineSettings)}
    local = Settings(model="bigcode/tiny", device="cpu", draft_model="d", compile=True)
    remote = Settings(backend="tgi", endpoint="http://u:p@gpu:8080", read_timeout_ms=500)
    for settings in (local, remote):
        copied = engine_settings(settings)
        assert all(getattr(copied, name) == getattr(settings, name) for name in names)
        assert set(settings.model_key) <= set(dataclasses.astuple(copied))


def test_the_endpoint_is_not_in_the_repr() -> None:
    """It may hold a password."""
    assert "p@ss" not in repr(EngineSettings(endpoint="http://u:p@ss@gpu:8080"))
