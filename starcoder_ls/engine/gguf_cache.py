"""The converted copy of a GGUF model, kept after its first load.

Reading the embedded GGUF takes ~35 s on a 2-core CPU (mostly parsing its 49k-token
vocabulary, three times); the converted copy loads in under a second. Several installs
share one cache (two checkouts, two venvs, a reinstall of the same wheel), so:

- a copy is named by the GGUF's content (size and sha256), not by its path or mtime,
  so every install of the same file finds the same copy;
- it is written to a scratch folder and renamed, so nobody reads half a copy;
- a process loading a copy holds a shared `flock` on its `.in-use` file, and touches
  it; another copy of the same model is deleted only when nobody holds that lock and
  nobody has used it for `STALE_AFTER_S`, so two installs of different versions keep
  both copies instead of deleting each other's on every alternating start.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_ENV = "STARCODER_LS_CACHE"
"""Directory for the converted embedded model; "off" disables the conversion cache."""
LOCK_NAME = ".in-use"
"""In each copy: shared-locked while a process loads it; its mtime is the copy's last use."""
DIGESTS_NAME = ".digests.json"
"""In the cache directory: GGUF path -> [size, mtime_ns, digest], so a file is hashed once."""
STALE_AFTER_S = 7 * 24 * 3600.0
"""A copy of another version unused this long is deleted when a new one is saved (~0.5 GB
each would pile up over upgrades)."""
SCRATCH_STALE_S = 24 * 3600.0
"""A scratch folder this old belongs to a conversion that died."""
_CHUNK = 1 << 20


def cache_root() -> Path | None:
    """The cache directory, or None when the conversion cache is off."""
    setting = os.environ.get(CACHE_ENV, "")
    if setting.lower() in ("off", "0", "false", "no"):
        return None
    if setting:
        return Path(setting)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "starcoder-ls"


def copy_dir(gguf: Path, converter: str) -> Path | None:
    """Where `gguf` converted by `converter` (e.g. "transformers-5.24.0") is kept; None when
    caching is off or the file cannot be read. The name changes when the file's content or
    the converting library does, and only then."""
    root = cache_root()
    if root is None:
        return None
    digest = content_digest(gguf, root)
    if digest is None:
        return None
    return root / f"{gguf.stem}--{digest}-{converter}"


def content_digest(path: Path, root: Path) -> str | None:
    """`{size}-{first 16 hex digits of sha256}` of `path`, remembered in `root` by path,
    size and mtime: hashing the embedded model's 98 MB costs a fraction of a second, once
    per install."""
    try:
        stat = path.stat()
        key = str(path.resolve())
    except OSError:
        return None
    memo = _read_digests(root)
    known = memo.get(key)
    if known is not None and known[:2] == [stat.st_size, stat.st_mtime_ns]:
        return str(known[2])
    try:
        digest = f"{stat.st_size}-{_sha256(path)[:16]}"
    except OSError:
        return None
    memo = {p: entry for p, entry in memo.items() if Path(p).exists()}
    memo[key] = [stat.st_size, stat.st_mtime_ns, digest]
    _write_digests(root, memo)
    return digest


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _read_digests(root: Path) -> dict[str, list[Any]]:
    try:
        memo = json.loads((root / DIGESTS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(memo, dict):
        return {}
    return {k: v for k, v in memo.items() if isinstance(v, list) and len(v) == 3}


def _write_digests(root: Path, memo: dict[str, list[Any]]) -> None:
    """Atomically (two servers starting at once may both write); losing one is harmless."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(dir=root, prefix=DIGESTS_NAME, suffix=".tmp")
    except OSError as exc:
        log.debug("could not remember the GGUF digest in %s: %s", root, exc)
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(memo, out)
        os.replace(scratch, root / DIGESTS_NAME)
    except OSError as exc:
        log.debug("could not remember the GGUF digest in %s: %s", root, exc)
        with contextlib.suppress(OSError):
            os.unlink(scratch)


@contextlib.contextmanager
def reading(copy: Path) -> Iterator[bool]:
    """True when `copy` is complete and held against deletion until the block ends.

    False when it is missing or being deleted right now (the caller converts again).
    """
    fd = _open_lock(copy)
    try:
        if fd is None:
            # A read-only cache: nobody can delete from it either.
            usable = (copy / "config.json").is_file()
        else:
            usable = _lock(fd, fcntl.LOCK_SH) and (copy / "config.json").is_file()
            if usable:
                with contextlib.suppress(OSError):
                    os.utime(fd)  # last use, for the next clean-up
        yield usable
    finally:
        if fd is not None:
            os.close(fd)


def _open_lock(copy: Path) -> int | None:
    try:
        return os.open(copy / LOCK_NAME, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        return None


def _lock(fd: int, kind: int) -> bool:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def save(model: Any, tokenizer: Any, target: Path) -> None:
    """Keep the dequantized weights so later loads skip the GGUF; best effort only.

    transformers refuses to save a model that "is quantized with gguf" although its
    weights are plain tensors by now, so the marker is lifted for the save and the
    quantization entry dropped from the saved config. Written to a scratch folder and
    renamed; when another process got there first, its copy is kept.
    """
    scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    quantizer = getattr(model, "hf_quantizer", None)
    try:
        model.hf_quantizer = None
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        config_file = scratch / "config.json"
        config = json.loads(config_file.read_text())
        config.pop("quantization_config", None)
        config_file.write_text(json.dumps(config, indent=2))
        (scratch / LOCK_NAME).touch()
        if target.exists():
            log.info("another process saved the converted model to %s first", target)
        else:
            scratch.rename(target)
            log.info("saved the converted model to %s", target)
        drop_stale(target)
    except Exception as exc:
        log.warning("could not keep a converted copy in %s: %s", target, exc)
    finally:
        model.hf_quantizer = quantizer
        shutil.rmtree(scratch, ignore_errors=True)


def drop_stale(current: Path, *, now: float | None = None) -> list[Path]:
    """Delete the other copies of the same model that nobody has used for `STALE_AFTER_S`
    and nobody is loading, and scratch folders of dead conversions; returns what went."""
    now = time.time() if now is None else now
    stem = current.name.partition("--")[0]
    dropped = []
    for sibling in current.parent.glob(f"*{stem}--*"):
        if sibling == current or not sibling.is_dir():
            continue
        if sibling.name.startswith(f".{stem}--") and sibling.name.endswith(".tmp"):
            if now - _mtime(sibling) > SCRATCH_STALE_S:
                shutil.rmtree(sibling, ignore_errors=True)
                dropped.append(sibling)
        elif sibling.name.startswith(f"{stem}--") and _remove_if_unused(sibling, now):
            dropped.append(sibling)
    return dropped


def _remove_if_unused(copy: Path, now: float) -> bool:
    lock = copy / LOCK_NAME
    last_use = _mtime(lock) if lock.exists() else _mtime(copy)
    if now - last_use < STALE_AFTER_S:
        return False
    fd = _open_lock(copy)
    if fd is None:
        return False
    try:
        if not _lock(fd, fcntl.LOCK_EX):
            log.info("keeping %s: another process is loading it", copy)
            return False
        # Renamed first, so that no loader finds it half deleted under its own name.
        doomed = copy.with_name(f".{copy.name}.{os.getpid()}.tmp")
        try:
            copy.rename(doomed)
        except OSError:
            return False
        shutil.rmtree(doomed, ignore_errors=True)
        log.info("deleted %s, unused for %.0f days", copy, (now - last_use) / 86400)
        return True
    finally:
        os.close(fd)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
