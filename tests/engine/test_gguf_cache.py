"""The converted copy of a GGUF model: named by content so that installs share it, and
never deleted while another process may be loading it."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from starcoder_ls.engine import gguf_cache, weights

CONVERTER = "transformers-5.24.0"
DAY = 24 * 3600.0


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(gguf_cache.CACHE_ENV, str(root))
    return root


def install(where: Path, content: bytes, *, mtime: float) -> Path:
    """A GGUF file as one install of the wheel has it."""
    where.mkdir(parents=True)
    gguf = where / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(content)
    os.utime(gguf, (mtime, mtime))
    return gguf


def make_copy(path: Path, *, last_use: float) -> Path:
    """A converted copy last loaded at `last_use`."""
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    lock = path / gguf_cache.LOCK_NAME
    lock.touch()
    os.utime(lock, (last_use, last_use))
    return path


def test_two_installs_of_the_same_file_share_one_copy(cache: Path, tmp_path: Path) -> None:
    """Two checkouts, two venvs or a reinstall: same content, other path and mtime."""
    content = b"GGUF" + bytes(range(256)) * 64
    first = install(tmp_path / "venv-a", content, mtime=1_700_000_000)
    second = install(tmp_path / "venv-b", content, mtime=1_800_000_000)
    assert gguf_cache.copy_dir(first, CONVERTER) == gguf_cache.copy_dir(second, CONVERTER)


def test_other_content_of_the_same_size_gets_another_copy(cache: Path, tmp_path: Path) -> None:
    first = install(tmp_path / "a", b"GGUF-one", mtime=1_700_000_000)
    other = install(tmp_path / "b", b"GGUF-two", mtime=1_700_000_000)
    one, two = gguf_cache.copy_dir(first, CONVERTER), gguf_cache.copy_dir(other, CONVERTER)
    assert one is not None and two is not None and one != two
    assert one.parent == cache
    assert one.name.startswith("SmolLM2-135M-Instruct.Q4_1--8-")
    assert one.name.endswith(f"-{CONVERTER}")
    assert gguf_cache.copy_dir(first, "transformers-6.0") != one


def test_a_file_is_hashed_once_until_it_changes(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    real = gguf_cache._sha256

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(gguf_cache, "_sha256", counting)
    gguf = install(tmp_path / "a", b"GGUF-one", mtime=1_700_000_000)
    first = gguf_cache.copy_dir(gguf, CONVERTER)
    assert gguf_cache.copy_dir(gguf, CONVERTER) == first
    assert len(hashed) == 1
    memo = json.loads((cache / gguf_cache.DIGESTS_NAME).read_text())
    assert list(memo) == [str(gguf.resolve())]

    gguf.write_bytes(b"GGUF-new")
    os.utime(gguf, (1_700_000_100, 1_700_000_100))
    assert gguf_cache.copy_dir(gguf, CONVERTER) != first
    assert len(hashed) == 2


def test_a_broken_digest_memo_is_rebuilt(cache: Path, tmp_path: Path) -> None:
    gguf = install(tmp_path / "a", b"GGUF-one", mtime=1_700_000_000)
    expected = gguf_cache.copy_dir(gguf, CONVERTER)
    (cache / gguf_cache.DIGESTS_NAME).write_text("{not json")
    assert gguf_cache.copy_dir(gguf, CONVERTER) == expected


def test_caching_off_or_an_unreadable_file_has_no_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(gguf_cache.CACHE_ENV, str(tmp_path))
    assert gguf_cache.copy_dir(tmp_path / "missing.gguf", CONVERTER) is None
    monkeypatch.setenv(gguf_cache.CACHE_ENV, "off")
    gguf = install(tmp_path / "a", b"GGUF", mtime=1_700_000_000)
    assert gguf_cache.copy_dir(gguf, CONVERTER) is None


def test_the_engine_finds_the_copy_by_the_embedded_files_content(cache: Path) -> None:
    embedded = weights.resolve_source(None)
    copy = weights.converted_dir(embedded, CONVERTER)
    directory, name = weights.resolve_embedded()
    assert copy == gguf_cache.copy_dir(directory / name, CONVERTER)
    assert copy is not None and copy.parent == cache


# -- deleting only what nobody uses ------------------------------------------------------


def old_copies(cache: Path, now: float) -> dict[str, Path]:
    stem = "model.Q4"
    return {
        "current": make_copy(cache / f"{stem}--9-aaaa-t5", last_use=now),
        "old": make_copy(cache / f"{stem}--9-bbbb-t5", last_use=now - 30 * DAY),
        "recent": make_copy(cache / f"{stem}--9-cccc-t5", last_use=now - DAY),
        "other model": make_copy(cache / "other.Q4--9-dddd-t5", last_use=now - 30 * DAY),
    }


def test_only_copies_unused_for_a_week_are_deleted(cache: Path) -> None:
    now = time.time()
    copies = old_copies(cache, now)
    dropped = gguf_cache.drop_stale(copies["current"], now=now)
    assert dropped == [copies["old"]]
    assert not copies["old"].exists()
    assert all(copies[name].is_dir() for name in ("current", "recent", "other model"))
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


def test_a_copy_being_loaded_is_never_deleted(cache: Path) -> None:
    """Another process holds the copy's lock while loading it, however old its last use."""
    now = time.time()
    copies = old_copies(cache, now)
    loading = os.open(copies["old"] / gguf_cache.LOCK_NAME, os.O_RDONLY)
    try:
        fcntl.flock(loading, fcntl.LOCK_SH)
        assert gguf_cache.drop_stale(copies["current"], now=now) == []
        assert (copies["old"] / "config.json").is_file()
    finally:
        os.close(loading)
    assert gguf_cache.drop_stale(copies["current"], now=now) == [copies["old"]]


def test_reading_a_copy_holds_it_and_marks_its_use(cache: Path) -> None:
    now = time.time()
    copies = old_copies(cache, now)
    with gguf_cache.reading(copies["old"]) as usable:
        assert usable
        assert gguf_cache.drop_stale(copies["current"], now=now + 30 * DAY) == [copies["recent"]]
        assert copies["old"].is_dir()
    # Its use just now keeps it for another week.
    assert gguf_cache.drop_stale(copies["current"], now=now + 3 * DAY) == []


def test_a_copy_being_deleted_or_missing_is_not_read(cache: Path) -> None:
    now = time.time()
    copies = old_copies(cache, now)
    deleting = os.open(copies["old"] / gguf_cache.LOCK_NAME, os.O_RDONLY)
    try:
        fcntl.flock(deleting, fcntl.LOCK_EX)
        with gguf_cache.reading(copies["old"]) as usable:
            assert not usable
    finally:
        os.close(deleting)
    with gguf_cache.reading(cache / "never-made") as usable:
        assert not usable
    (copies["recent"] / "config.json").unlink()  # half a copy, as from an old version
    with gguf_cache.reading(copies["recent"]) as usable:
        assert not usable


def test_scratch_folders_of_dead_conversions_are_deleted(cache: Path) -> None:
    now = time.time()
    current = make_copy(cache / "model.Q4--9-aaaa-t5", last_use=now)
    dead = cache / ".model.Q4--9-aaaa-t5.4242.tmp"
    dead.mkdir()
    os.utime(dead, (now - 2 * DAY, now - 2 * DAY))
    running = cache / ".model.Q4--9-aaaa-t5.4343.tmp"
    running.mkdir()
    assert gguf_cache.drop_stale(current, now=now) == [dead]
    assert running.is_dir()


# -- saving ------------------------------------------------------------------------------


class Saved:
    """A model or tokenizer whose `save_pretrained` writes what transformers would."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.hf_quantizer = "gguf"
        self.quantizer_at_save: list[object] = []

    def save_pretrained(self, where: Path) -> None:
        self.quantizer_at_save.append(self.hf_quantizer)
        where.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (where / name).write_text(text)


def test_a_saved_copy_is_complete_lockable_and_without_the_gguf_marker(cache: Path) -> None:
    config = {"model_type": "llama", "quantization_config": {"quant_method": "gguf"}}
    model = Saved({"config.json": json.dumps(config), "model.safetensors": "weights"})
    tokenizer = Saved({"tokenizer.json": "{}"})
    target = cache / "model.Q4--9-aaaa-t5"
    gguf_cache.save(model, tokenizer, target)
    assert json.loads((target / "config.json").read_text()) == {"model_type": "llama"}
    assert (target / gguf_cache.LOCK_NAME).is_file()
    assert model.quantizer_at_save == [None] and model.hf_quantizer == "gguf"
    assert sorted(p.name for p in cache.iterdir()) == [target.name]


def test_a_copy_another_process_saved_first_is_kept(cache: Path) -> None:
    target = make_copy(cache / "model.Q4--9-aaaa-t5", last_use=time.time())
    (target / "config.json").write_text('{"first": true}')
    model = Saved({"config.json": "{}"})
    gguf_cache.save(model, Saved({}), target)
    assert json.loads((target / "config.json").read_text()) == {"first": True}
    assert sorted(p.name for p in cache.iterdir()) == [target.name]
