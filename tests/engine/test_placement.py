"""Device, dtype and sharding decisions, with CUDA's answers faked (no GPU needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from starcoder_ls.engine import placement
from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings

GB = 10**9


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch):
    """Two 24 GB GPUs, the first with `state.free` bytes free."""
    state = SimpleNamespace(free=20 * GB, bf16=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: state.bf16)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index=0: (state.free, 24 * GB))
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda index=0: SimpleNamespace(total_memory=24 * GB)
    )
    return state


@pytest.mark.parametrize(("bf16", "dtype"), [(False, torch.float32), (True, torch.bfloat16)])
def test_auto_without_a_gpu_is_the_cpu_in_bfloat16_where_it_computes_in_it(
    monkeypatch: pytest.MonkeyPatch, bf16: bool, dtype: torch.dtype
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(placement, "cpu_computes_bf16", lambda: bf16)
    assert placement.resolve_placement("auto", "auto") == placement.Placement("cpu", dtype)
    assert placement.resolve_placement("cpu", "float32") == placement.Placement(
        "cpu", torch.float32
    )


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [
        ("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n", True),
        ("flags\t\t: fpu sse2 avx2 amx_tile amx_bf16\n", True),
        ("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n", False),
        ("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n", True),
        ("processor\t: 0\nFeatures\t: fp asimd\n", False),
        ("", False),
    ],
)
def test_which_cpus_compute_in_bfloat16(tmp_path, cpuinfo: str, expected: bool) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo)
    assert placement.cpu_computes_bf16(str(info)) is expected
    assert placement.cpu_computes_bf16(str(tmp_path / "missing")) is False


def test_auto_prefers_the_gpu_in_bfloat16(fake_cuda: SimpleNamespace) -> None:
    assert placement.resolve_placement("auto", "auto") == placement.Placement(
        "cuda", torch.bfloat16
    )


def test_float16_where_the_gpu_lacks_bfloat16(fake_cuda: SimpleNamespace) -> None:
    fake_cuda.bf16 = False
    assert placement.resolve_placement("cuda:1", "auto") == placement.Placement(
        "cuda:1", torch.float16
    )


@pytest.mark.parametrize(
    ("device", "dtype", "expected"),
    [
        ("cpu", "bf16", placement.Placement("cpu", torch.bfloat16)),
        ("CUDA", "float32", placement.Placement("cuda", torch.float32)),
        ("gpu", "fp16", placement.Placement("cuda", torch.float16)),
    ],
)
def test_explicit_choices_are_honoured(
    fake_cuda: SimpleNamespace, device: str, dtype: str, expected: placement.Placement
) -> None:
    assert placement.resolve_placement(device, dtype) == expected


def test_a_gpu_index_beyond_the_machine_is_refused(fake_cuda: SimpleNamespace) -> None:
    with pytest.raises(EngineError, match="'cuda:2'.*cuda:0..1"):
        placement.resolve_placement("cuda:2", "auto")


def test_one_gpu_when_the_weights_fit_it(fake_cuda: SimpleNamespace) -> None:
    assert placement.cuda_device_map("cuda", 10 * GB) == {"": 0}
    assert placement.cuda_device_map("cuda:1", 100 * GB) == {"": 1}


def test_accelerate_shards_what_does_not_fit_one_gpu(fake_cuda: SimpleNamespace) -> None:
    assert placement.cuda_device_map("cuda", 31 * GB) == "auto"
    fake_cuda.free = 11 * GB
    assert placement.cuda_device_map("cuda", 10 * GB) == "auto"


def test_cuda_oom_message_says_what_is_needed_and_what_the_gpu_has(
    fake_cuda: SimpleNamespace,
) -> None:
    message = placement.oom_message(
        "bigcode/starcoder", placement.Placement("cuda", torch.bfloat16), None
    )
    assert message.startswith(
        "CUDA out of memory loading bigcode/starcoder in bfloat16: needs ~32 GB, the GPU has 24 GB"
    )


def test_measured_size_wins_over_the_table(fake_cuda: SimpleNamespace) -> None:
    where = placement.Placement("cuda:1", torch.float32)
    message = placement.oom_message("bigcode/starcoder", where, 62 * GB)
    assert "in float32: needs ~62 GB" in message


def test_weight_size_is_counted_without_loading(tiny_starcoder_dir) -> None:
    from starcoder_ls.engine.weights import ModelSource

    source = ModelSource("tiny", str(tiny_starcoder_dir))
    params = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir))).model.num_parameters()
    assert placement.weights_bytes(source, torch.bfloat16) == 2 * params
