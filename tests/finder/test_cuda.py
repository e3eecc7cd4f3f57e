"""CUDA paths of the range test: device placement, AMP, restore on the GPU.

These need a GPU; CI machines have none, so there they are skipped with that reason.
They were run on a lent H100 (see the closing note of issue #2).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lrtune import StopReason, find_lr

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _data(n: int = 512) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 20, generator=generator)
    y = (x[:, :5].sum(dim=1) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(20, 64), torch.nn.BatchNorm1d(64), torch.nn.ReLU(), torch.nn.Linear(64, 2)
    )


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _assert_same(before: dict[str, torch.Tensor], model: torch.nn.Module) -> None:
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key].cpu()), key


def test_cpu_model_sweeps_on_cuda_and_returns_to_cpu() -> None:
    model = _model()
    devices: list[torch.device] = []
    model.register_forward_pre_hook(lambda _m, args: devices.append(args[0].device))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = _snapshot(model)
    result = find_lr(model, optimizer, _data(), torch.nn.CrossEntropyLoss(), device="auto")
    assert {d.type for d in devices} == {"cuda"}
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(b.device.type == "cpu" for b in model.buffers())
    _assert_same(before, model)
    assert result.options["device"].startswith("cuda")
    assert result.suggested_lr is not None


def test_cuda_model_state_and_cuda_rng_are_restored() -> None:
    model = _model().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = _data()
    for x, y in list(loader)[:3]:  # give Adam real state first
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x.cuda()), y.cuda()).backward()
        optimizer.step()
    before = _snapshot(model)
    state_before = {k: v.clone() for k, v in optimizer.state[model[0].weight].items()}
    torch.cuda.manual_seed(123)
    rng = torch.cuda.get_rng_state()
    find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss())
    _assert_same(before, model)
    for key, value in state_before.items():
        assert torch.equal(value, optimizer.state[model[0].weight][key])
    assert torch.equal(rng, torch.cuda.get_rng_state())
    assert optimizer.param_groups[0]["lr"] == 1e-3


def test_fp16_uses_and_restores_the_users_grad_scaler() -> None:
    model = _model().cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**10)
    x, y = next(iter(_data()))
    with torch.autocast("cuda", dtype=torch.float16):
        loss = torch.nn.functional.cross_entropy(model(x.cuda()), y.cuda())
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    scale_before, tracker_before = scaler.get_scale(), scaler._growth_tracker.clone()
    before = _snapshot(model)
    result = find_lr(
        model, optimizer, _data(), torch.nn.CrossEntropyLoss(), amp="fp16", scaler=scaler
    )
    assert result.options["amp"] == "fp16"
    assert len(result.history) > 20
    assert scaler.get_scale() == scale_before
    assert torch.equal(scaler._growth_tracker, tracker_before)
    _assert_same(before, model)


def test_bf16_autocast_runs_the_forward_in_bfloat16() -> None:
    model = _model().cuda()
    dtypes: list[torch.dtype] = []
    model[0].register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    result = find_lr(model, optimizer, _data(), torch.nn.CrossEntropyLoss(), amp="bf16")
    assert set(dtypes) == {torch.bfloat16}
    assert result.history["loss"].notna().all()


def test_lagged_loss_reads_still_stop_at_the_first_nan() -> None:
    # On CUDA losses are read 16 steps at a time; the curve must still end at step 37.
    calls = {"n": 0}

    def criterion(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = torch.nn.functional.cross_entropy(out, target)
        return loss * float("nan") if calls["n"] == 38 else loss

    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    result = find_lr(
        model, optimizer, _data(), criterion, device="cuda", end_lr=1e-3, diverge_threshold=1e9
    )
    assert result.stop_reason is StopReason.NON_FINITE
    assert len(result.history) == 37


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader) -> None:
    for x, y in loader:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x.cuda()), y.cuda()).backward()
        optimizer.step()


def test_training_after_a_cuda_sweep_is_bit_identical() -> None:
    runs = []
    for sweep_first in (False, True):
        model = _model().cuda()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loader = _data()
        torch.manual_seed(7)
        if sweep_first:
            find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss())
        _train(model, optimizer, loader)
        runs.append(_snapshot(model))
    for key, value in runs[0].items():
        assert torch.equal(value, runs[1][key]), key
