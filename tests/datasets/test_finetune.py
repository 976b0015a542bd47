"""A fine-tune smoke for each registered format through the real tools (tiny data, 1 epoch):
the tool resolves the name through the registry of the process's settings, trains, writes
its artifacts and a checkpoint that `infer` uses with the dataset's own classes."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from tutor.datasets.samples import sample_zip


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """One dataset of every format in the session's data dir (where the tools look)."""
    from tutor.datasets.service import DatasetService

    svc = DatasetService()
    tmp = tmp_path_factory.mktemp("zips")
    suffix = uuid.uuid4().hex[:6]
    names = {}
    sizes = {"imagefolder": {"per_class": 10, "val_per_class": 4}, "yolo": {"n": 40}, "coco": {"n": 40},
             "masks": {"n": 40}, "csv": {}, "jsonl": {}}
    for fmt, kw in sizes.items():
        names[fmt] = f"ft-{fmt}-{suffix}"
        svc.add(names[fmt], sample_zip(fmt, tmp / f"{fmt}.zip", **kw), "staff")
    yield names
    for n in names.values():
        svc.remove(n)


def test_cnn_transfer_on_imagefolder(registered, tmp_path):
    from tools.cnn import Config, infer, run

    cfg = Config(dataset_name=registered["imagefolder"], transfer="mobilenet_v2", freeze_backbone=True, image_size=32,
                 epochs=1, batch_size=8, augment=False, device="cpu")
    r = run(cfg, out_dir=tmp_path)
    assert cfg.dataset == "registered" and 0.0 <= r.metrics["test_accuracy"] <= 1.0
    layers = {a.name for a in r.artifacts}
    assert {"model.pt", "confusion_matrix.png", "learning_curves.png"} <= layers
    digit = np.full((28, 28, 3), 255, np.uint8)
    out = infer(r.artifact("model.pt").path, digit)
    assert out["label"] in ("digit_0", "digit_1", "digit_2")


@pytest.mark.parametrize("fmt, model", [("yolo", "fasterrcnn"), ("coco", "centernet")])
def test_detection_on_yolo_and_coco(registered, tmp_path, fmt, model):
    from tools.detection import Config, infer, run

    cfg = Config(dataset_name=registered[fmt], model=model, image_size=64, epochs=1, batch_size=8, channels=8,
                 score_threshold=0.05, device="cpu")
    r = run(cfg, out_dir=tmp_path)
    assert 0.0 <= r.metrics["map50"] <= 1.0
    assert {"ap50_circle", "ap50_square", "ap50_triangle"} <= set(r.metrics)
    img = np.zeros((64, 64, 3), np.uint8)
    img[10:30, 10:30] = 230
    out = infer(r.artifact("model.pt").path, img, tmp_path / "pred")
    assert isinstance(out["boxes"], list) and all(b["label"] in ("circle", "square", "triangle") for b in out["boxes"])


def test_segmentation_on_masks(registered, tmp_path):
    from tools.segmentation import Config, infer, run

    r = run(Config(dataset_name=registered["masks"], image_size=32, epochs=1, batch_size=8, base_channels=4,
                   device="cpu"), out_dir=tmp_path)
    assert 0.0 <= r.metrics["miou"] <= 1.0 and "iou_triangle" in r.metrics
    out = infer(r.artifact("model.pt").path, np.zeros((40, 40, 3), np.uint8), tmp_path / "pred")
    assert set(out["pixel_fractions"]) == {"background", "circle", "square", "triangle"}


def test_rnn_on_csv(registered, tmp_path):
    from tools.rnn import Config, infer, run

    r = run(Config(dataset_name=registered["csv"], epochs=1, hidden=8, embed_dim=8, device="cpu"), out_dir=tmp_path)
    assert 0.0 <= r.metrics["test_accuracy"] <= 1.0
    out = infer(r.artifact("model.pt").path, "the generator and the discriminator of a GAN")
    assert set(out["probs"]) == {"basics", "cv", "generative", "nlp", "rl"}


def test_transformer_on_jsonl(registered, tmp_path):
    from tools.transformer import Config, infer, run

    r = run(Config(dataset_name=registered["jsonl"], epochs=1, max_length=32, freeze_layers=5, max_rows=60,
                   batch_size=16, device="cpu"), out_dir=tmp_path)
    assert 0.0 <= r.metrics["test_accuracy"] <= 1.0
    out = infer(r.artifact("model.pt").path, "Q-learning with a replay buffer and a target network")
    assert out["label"] in ("basics", "cv", "generative", "nlp", "rl")


def test_a_dataset_of_another_kind_is_refused_by_the_tool(registered, tmp_path):
    from tools.common import MissingDataError
    from tools.segmentation import Config, run

    with pytest.raises(MissingDataError, match="needs one of kind segmentation"):
        run(Config(dataset_name=registered["csv"], epochs=1, device="cpu"), out_dir=tmp_path)
