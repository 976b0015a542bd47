import numpy as np
import pytest
from pydantic import ValidationError

from tools.segmentation import Config, confusion, infer, iou_dice, run
from tools.synthetic import make_canvases


def test_iou_and_dice_hand_case():
    true = np.zeros((10, 10), int)
    true[:8, :10] = 1  # 80 px
    pred = np.zeros((10, 10), int)
    pred[2:10, :10] = 1  # 80 px, overlap 60
    iou, dice = iou_dice(confusion(pred, true, 2))
    assert iou[1] == pytest.approx(60 / 100) and dice[1] == pytest.approx(120 / 160)


def test_bad_config():
    with pytest.raises(ValidationError):
        Config(depth=9)


def test_infer_overlay(tmp_path):
    result = run(Config(epochs=1, n_train=64, n_test=16, base_channels=4, device="cpu"), out_dir=tmp_path)
    img = (make_canvases(1, 48, seed=5).images[0, 0] * 255).astype(np.uint8)
    out = infer(result.artifact("model.pt").path, img, tmp_path / "pred")
    assert abs(sum(out["pixel_fractions"].values()) - 1.0) < 1e-6 and out["image"].endswith(".png")


@pytest.mark.slow
def test_quick_preset_reaches_miou_floor(tmp_path):
    assert run(Config(device="cpu"), out_dir=tmp_path).metrics["miou"] >= 0.75
