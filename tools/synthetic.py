"""Generated canvases for detection and segmentation (generic helper).

No detection/segmentation dataset ships offline, so the tools draw their own: grayscale
canvases with textured noise and up to `max_objects` non-overlapping shapes (circle,
square, triangle) of random size and brightness. Because we draw them, the ground truth
is exact: the class mask comes from the drawn pixels and each box is the tight box
around its object's pixels. Seeded, vectorised numpy; deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ["circle", "square", "triangle"]


@dataclass
class Canvases:
    images: np.ndarray  # float32 (N, 1, H, W) in [0, 1]
    masks: np.ndarray  # int64 (N, H, W), 0 = background, k = CLASSES[k-1]
    instances: np.ndarray  # int64 (N, H, W), 0 = background, i = i-th object of the canvas
    boxes: list[np.ndarray]  # per canvas (K, 4) float32 x1, y1, x2, y2 (pixel edges, x2/y2 exclusive)
    labels: list[np.ndarray]  # per canvas (K,) int64 in 0..len(CLASSES)-1


def shape_mask(kind: str, size: int) -> np.ndarray:
    """Boolean (size, size) mask of a shape filling its square."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    c = size / 2
    if kind == "circle":
        return (xx - c) ** 2 + (yy - c) ** 2 <= (size / 2) ** 2
    if kind == "square":
        return np.ones((size, size), bool)
    # isosceles triangle, apex at the top centre
    return (yy >= 0) & (np.abs(xx - c) <= (yy / size) * c)


def make_canvases(n: int, size: int = 48, max_objects: int = 3, min_obj: int = 8, max_obj: int = 16,
                  seed: int = 0) -> Canvases:
    rng = np.random.default_rng(seed)
    # background: low-frequency texture + pixel noise, so "bright pixel = object" is not enough
    coarse = rng.uniform(0.0, 0.35, size=(n, 1, size // 8 + 1, size // 8 + 1))
    bg = np.kron(coarse, np.ones((1, 1, 8, 8)))[:, :, :size, :size]
    images = (bg + rng.normal(0, 0.05, size=(n, 1, size, size))).astype(np.float32)
    masks = np.zeros((n, size, size), np.int64)
    instances = np.zeros((n, size, size), np.int64)
    boxes, labels = [], []
    for i in range(n):
        k = rng.integers(1, max_objects + 1)
        occupied = np.zeros((size, size), bool)
        bx, lb = [], []
        for _ in range(k):
            for _attempt in range(30):
                s = int(rng.integers(min_obj, max_obj + 1))
                x0, y0 = int(rng.integers(0, size - s + 1)), int(rng.integers(0, size - s + 1))
                cls = int(rng.integers(0, len(CLASSES)))
                m = shape_mask(CLASSES[cls], s)
                region = occupied[y0:y0 + s, x0:x0 + s]
                # keep a 1 px gap so objects never touch (boxes then stay unambiguous)
                y1g, x1g = max(0, y0 - 1), max(0, x0 - 1)
                if occupied[y1g:y0 + s + 1, x1g:x0 + s + 1].any():
                    continue
                region |= m
                brightness = rng.uniform(0.55, 1.0)
                sub = images[i, 0, y0:y0 + s, x0:x0 + s]
                sub[m] = brightness + rng.normal(0, 0.03, size=int(m.sum()))
                masks[i, y0:y0 + s, x0:x0 + s][m] = cls + 1
                instances[i, y0:y0 + s, x0:x0 + s][m] = len(bx) + 1
                ys, xs = np.nonzero(m)
                bx.append([x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1])
                lb.append(cls)
                break
        boxes.append(np.asarray(bx, np.float32).reshape(-1, 4))
        labels.append(np.asarray(lb, np.int64))
    return Canvases(np.clip(images, 0, 1), masks, instances, boxes, labels)
