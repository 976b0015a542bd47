import numpy as np
import pytest
import torch
import torchvision
from pydantic import ValidationError

from tools.detection import Config, average_precision, box_iou, infer, nms, run
from tools.synthetic import make_canvases


def test_canvas_boxes_are_tight_around_masks():
    c = make_canvases(20, 48, seed=3)
    for i in range(20):
        for k, (box, lab) in enumerate(zip(c.boxes[i], c.labels[i])):
            ys, xs = np.nonzero(c.instances[i] == k + 1)
            assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == box.tolist()
            assert (c.masks[i][c.instances[i] == k + 1] == lab + 1).all()
    again = make_canvases(20, 48, seed=3)
    assert np.array_equal(c.images, again.images) and np.array_equal(c.masks, again.masks)


def test_nms_matches_torchvision():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (200, 2))
    wh = rng.uniform(5, 20, (200, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    for thr in (0.3, 0.5, 0.7):
        ours = nms(boxes, scores, thr)
        ref = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).numpy()
        assert ours.tolist() == ref.tolist()


def test_iou_and_average_precision_hand_cases():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert np.allclose(box_iou(a, b), [[50 / 150, 0.0]])
    gt_b = [np.array([[0, 0, 10, 10]], np.float32), np.array([[0, 0, 10, 10]], np.float32)]
    gt_l = [np.array([0]), np.array([0])]
    perfect = [{"boxes": g, "scores": np.array([0.9]), "labels": np.array([0])} for g in gt_b]
    assert average_precision(perfect, gt_b, gt_l, 0)[0] == pytest.approx(1.0)
    # a false positive ranked first: precision 0, 1/2, 2/3 at recalls 0, .5, 1 -> AP = .5*.667+.5*.667
    fp_first = [{"boxes": np.array([[50, 50, 60, 60], [0, 0, 10, 10]], np.float32), "scores": np.array([0.99, 0.8]),
                 "labels": np.array([0, 0])}, perfect[1]]
    assert average_precision(fp_first, gt_b, gt_l, 0)[0] == pytest.approx(2 / 3)
    wrong_class = [{"boxes": g, "scores": np.array([0.9]), "labels": np.array([1])} for g in gt_b]
    assert average_precision(wrong_class, gt_b, gt_l, 0)[0] == 0.0


def test_bad_config():
    with pytest.raises(ValidationError):
        Config(nms_iou=1.5)
    with pytest.raises(ValidationError):
        Config(epochs=0)


def test_infer_on_saved_checkpoint(tmp_path):
    result = run(Config(epochs=1, n_train=64, n_test=16, channels=8, device="cpu"), out_dir=tmp_path)
    img = (make_canvases(1, 48, seed=9).images[0, 0] * 255).astype(np.uint8)
    out = infer(result.artifact("model.pt").path, img, tmp_path / "pred")
    assert isinstance(out["boxes"], list) and out["image"].endswith(".png")


@pytest.mark.slow
def test_quick_preset_reaches_map50_floor(tmp_path):
    result = run(Config(device="cpu"), out_dir=tmp_path)
    assert result.metrics["map50"] >= 0.7, result.metrics
