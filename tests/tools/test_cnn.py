import numpy as np
import pytest
from pydantic import ValidationError

from tools.cnn import Config, infer, layer_params, run, small_cnn
from tools.common import MissingDataError
from tools.datasets import load_image_dataset


def test_mnist5k_split_is_stratified_and_deterministic():
    a, b = load_image_dataset("mnist5k"), load_image_dataset("mnist5k")
    assert a.x_train.shape == (4000, 1, 28, 28) and a.x_test.shape == (1000, 1, 28, 28)
    assert np.bincount(a.y_test.numpy()).tolist() == [100] * 10
    assert (a.y_train == b.y_train).all()


def test_fashion_mnist_loads_or_names_the_package():
    try:
        d = load_image_dataset("fashion_mnist")
        assert d.x_train.shape[1:] == (1, 28, 28)
    except MissingDataError as e:
        assert "dataset-fashion-mnist" in str(e)


def test_layer_parameter_counts():
    rows = layer_params(small_cnn(1, 10, 8, 0.1))
    first_conv = rows[0]
    assert first_conv["type"] == "Conv2d" and first_conv["params"] == 1 * 8 * 3 * 3  # bias-free before BatchNorm


def test_bad_config():
    with pytest.raises(ValidationError):
        Config(dropout=1.5)
    with pytest.raises(ValidationError):
        Config(dataset="imagenet21k")


def test_infer_on_saved_checkpoint(tmp_path):
    result = run(Config(epochs=1, channels=4, device="cpu"), out_dir=tmp_path)
    digit = load_image_dataset("mnist5k").x_test[0, 0].numpy()
    out = infer(result.artifact("model.pt").path, digit)
    assert out["label"] in [str(i) for i in range(10)] and abs(sum(out["probs"].values()) - 1) < 0.05 or len(out["probs"]) == 5


@pytest.mark.slow
def test_quick_preset_reaches_accuracy_floor(tmp_path):
    assert run(Config(device="cpu"), out_dir=tmp_path).metrics["test_accuracy"] >= 0.97
