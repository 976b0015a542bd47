"""The install variants, checked statically: the CPU install (requirements.lock +
requirements-nodeps.txt) pulls no CUDA-only package beyond what torch itself depends on, and
the GPU variant (the lock with faiss-cpu replaced by requirements-gpu.txt, as the Makefile and
the Dockerfile build it) differs from it only there. On a machine with a GPU install, the
dense index really moves to the GPU."""

import importlib.metadata as md
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# names of packages that exist only for a GPU (beyond the nvidia/cuda wheels torch depends on)
CUDA_ONLY = re.compile(r"^(nvidia-|cuda-|cupy|triton|faiss-gpu|onnxruntime-gpu|tensorrt|jax-cuda|pynvml|nvidia)|-cu\d+$")


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = version.strip()
    return out


def gpu_variant() -> dict[str, str]:
    """What `make setup GPU=1` installs: `grep -v '^faiss-cpu==' requirements.lock | cat - requirements-gpu.txt`."""
    lock = {k: v for k, v in pins(ROOT / "requirements.lock").items() if k != "faiss-cpu"}
    return lock | pins(ROOT / "requirements-gpu.txt")


def torch_closure() -> set[str]:
    """Every distribution torch (as installed from the lock) depends on, following the extras it asks for."""
    visited: set[tuple[str, frozenset]] = set()
    todo = [("torch", frozenset())]
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in visited:
            continue
        visited.add((canonicalize_name(name), extras))
        try:
            requirements = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for raw in requirements:
            req = Requirement(raw)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append((req.name, frozenset(req.extras)))
    return {name for name, _ in visited}


def test_cpu_install_has_no_cuda_only_extras_beyond_torchs():
    lock = pins(ROOT / "requirements.lock")
    assert md.version("torch").split("+")[0] == lock["torch"].split("+")[0]  # the closure is of the locked torch
    allowed = torch_closure()
    cpu = lock | pins(ROOT / "requirements-nodeps.txt")
    extra = sorted(n for n in cpu if CUDA_ONLY.search(n) and n not in allowed)
    assert extra == [], f"CUDA-only packages in the CPU install that torch does not need: {extra}"
    assert "faiss-cpu" in cpu and "faiss-gpu" not in cpu
    assert not any(re.search(r"faiss-gpu|-cu12", line) for line in (ROOT / "requirements.txt").read_text().splitlines())


def test_gpu_variant_differs_only_in_faiss_and_its_cuda12_libraries():
    cpu, gpu = pins(ROOT / "requirements.lock"), gpu_variant()
    assert set(cpu) - set(gpu) == {"faiss-cpu"}
    added = set(gpu) - set(cpu)
    assert "faiss-gpu" in added and gpu["faiss-gpu"] == "1.15.1"
    assert all(n == "faiss-gpu" or (n.startswith("nvidia-") and n.endswith("-cu12")) for n in added), added
    assert all(gpu[n] == cpu[n] for n in set(cpu) & set(gpu))  # nothing else re-pinned
    # faiss-gpu's own dependencies are all pinned (numpy and packaging come from the lock)
    need = {"nvidia-cuda-runtime-cu12", "nvidia-cublas-cu12", "nvidia-curand-cu12"}
    assert need <= added and {"numpy", "packaging"} <= set(cpu)


def test_makefile_and_dockerfile_build_the_same_gpu_variant():
    rule = "grep -v '^faiss-cpu==' requirements.lock | cat - requirements-gpu.txt"
    make, docker = (ROOT / "Makefile").read_text(), (ROOT / "Dockerfile").read_text()
    assert rule in make and rule in docker
    assert "GPU ?= $(shell nvidia-smi -L" in make and "pip uninstall -q -y faiss-cpu" in make
    assert "ARG GPU=0" in docker
    readme = (ROOT / "README.md").read_text()
    assert "make setup GPU=1" in readme and "requirements-gpu.txt" in readme


@pytest.mark.gpu
def test_dense_index_moves_to_the_gpu_with_faiss_gpu():
    import numpy as np

    from index.dense import DenseIndex, gpu_available

    if not gpu_available():
        pytest.skip("faiss is the CPU build here (the GPU install has faiss-gpu)")
    vectors = np.random.default_rng(0).standard_normal((500, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cpu = DenseIndex.build(vectors)
    gpu = DenseIndex.build(vectors).to_gpu()
    assert gpu.on_gpu
    s1, i1 = cpu.search(vectors[:10], 5)
    s2, i2 = gpu.search(vectors[:10], 5)
    assert (i1 == i2).all() and np.allclose(s1, s2, atol=1e-4)
