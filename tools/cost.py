"""Cost of a training config, measured on torch's `meta` device.

A tool's `estimate(cfg)` builds its model with the config's sizes on the meta device
(no memory, no compute), counts parameters, the FLOPs of one forward+backward step of a
batch (torch.utils.flop_counter) and the bytes of the activations the forward keeps for
backward, and turns them into seconds with a per-tool throughput calibrated against
bench/experiments.py (2 CPU cores) — so `epochs=500 channels=512` costs what it costs,
whatever preset it started from. GPU seconds use a per-step floor: small models on a GPU
are bound by kernel launches, not FLOPs.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from tools.spec import Cost

# optimiser state per parameter for Adam/AdamW: weights + gradients + two moments, fp32
ADAM_BYTES_PER_PARAM = 16
# reference GPU: sustained throughput of small fp32/bf16 training steps, and the floor per step
GPU_FLOPS = 40e12
GPU_STEP_S = 0.004


@dataclass(frozen=True)
class Measured:
    parameters: int
    trainable: int
    step_flops: float  # forward + backward of one batch
    activation_bytes: int  # kept by the forward for the backward, one batch


def measure(build: Callable[[], Any], batch: Callable[[], tuple], loss: Callable[[Any], Any] | None = None,
            backward: bool = True) -> Measured:
    """Build the model and its input batch on the meta device and count one training step."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    class _Outputs(TorchDispatchMode):
        """Sums the bytes of every op output while the forward runs: what autograd keeps."""

        def __init__(self):
            super().__init__()
            self.bytes = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if getattr(func, "is_view", False):  # a view shares its input's memory
                return out
            for t in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(t, torch.Tensor):
                    self.bytes += t.numel() * t.element_size()
            return out

    with torch.device("meta"):
        model = build()
        inputs = batch()
        params = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        acts = _Outputs()
        try:
            with FlopCounterMode(display=False) as flops:
                with acts:
                    out = model(*inputs)
                value = loss(out) if loss is not None else _first(out).float().sum()
                if backward and trainable:
                    value.backward()
        except (RuntimeError, NotImplementedError):
            # a model whose forward reads values (`.item()`, data-dependent shapes) cannot be traced on the
            # meta device: the transformer rule of thumb, 6 FLOPs per parameter per token (forward + backward)
            first = inputs[0]
            tokens = first.numel() if not first.dtype.is_floating_point else first.shape[0]
            return Measured(params, trainable, 6.0 * params * tokens, int(4 * params + tokens * 4096 * 4))
    return Measured(params, trainable, float(flops.get_total_flops()), acts.bytes)


def _first(out):
    if isinstance(out, (tuple, list)):
        return out[0]
    if hasattr(out, "logits"):
        return out.logits
    return out


def training_cost(m: Measured, steps: int, cpu_flops: float, data_bytes: int = 0, fixed_cpu_s: float = 0.0,
                  per_step_cpu_s: float = 0.0, fixed_gpu_s: float = 2.0, eval_share: float = 0.1) -> Cost:
    """Seconds and peak memory of `steps` optimisation steps of the measured batch.
    eval_share: evaluation passes (forward only, about a third of a step) as a share of training."""
    compute = steps * m.step_flops * (1.0 + eval_share)
    cpu_s = fixed_cpu_s + steps * per_step_cpu_s + compute / cpu_flops
    gpu_s = fixed_gpu_s + steps * max(GPU_STEP_S, m.step_flops / GPU_FLOPS) * (1.0 + eval_share)
    memory = (m.parameters * 4 + m.trainable * (ADAM_BYTES_PER_PARAM - 4) + m.activation_bytes + data_bytes)
    return Cost(cpu_s=round(cpu_s, 1), gpu_s=round(gpu_s, 1), parameters=m.parameters, memory_bytes=int(memory),
                steps=int(steps))


def steps_for(n_samples: int, batch_size: int, epochs: int) -> int:
    return max(1, math.ceil(n_samples / batch_size)) * epochs


def cached(fn: Callable[[Any], Cost]) -> Callable[[Any], Cost]:
    """Estimates are pure functions of the config: remember them (the agent plans the same
    config several times in a turn, and meta-device tracing takes ~0.1-1 s)."""

    @functools.lru_cache(maxsize=256)
    def by_json(config_json: str, cls) -> Cost:
        return fn(cls.model_validate_json(config_json))

    @functools.wraps(fn)
    def wrapper(cfg) -> Cost:
        return by_json(json.dumps(cfg.model_dump(mode="json"), sort_keys=True), type(cfg))

    return wrapper


def memory_limit_bytes(on_gpu: bool, share: float = 0.5) -> int:
    """What one job may use: a share of the GPU's memory, or of this machine's RAM (the API,
    the LLM and other jobs live beside it)."""
    import torch

    if on_gpu and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(0).total_memory * share)
    import psutil

    return int(psutil.virtual_memory().total * share)


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
