"""`python -m tutor vision MODEL FILE` as a subprocess, on real photos offline."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.photos import FACE_BOX

ROOT = Path(__file__).resolve().parents[2]


def vision(*args, tmp_path, **env):
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run([sys.executable, "-m", "tutor", "vision", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_faces_json_and_text(photos, tmp_path):
    r = vision("faces", photos["astronaut"], "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    (face,) = out["prediction"]["faces"]
    cx, cy = (face["box"][0] + face["box"][2]) / 2, (face["box"][1] + face["box"][3]) / 2
    assert FACE_BOX[0] < cx < FACE_BOX[2] and FACE_BOX[1] < cy < FACE_BOX[3]
    image = Path(out["image"])
    assert image.is_file() and image.parent == tmp_path / "data" / "artifacts" / "vision"
    assert "Найдено лиц" in out["text"]
    r = vision("imagenet", photos["coffee"], "--lang", "en", "--top-k", "3", "--out", tmp_path / "drawn",
               tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "espresso" in r.stdout and f"image: {tmp_path / 'drawn'}" in r.stdout


def test_bad_input_is_a_message_and_a_nonzero_exit(photos, tmp_path):
    for args, text in [(("imagenet", photos["not_an_image"]), "not a readable image"),
                       (("detr", photos["coffee"]), "unknown vision model"),
                       (("faces", tmp_path / "missing.jpg"), "no such file"),
                       (("imagenet", photos["coffee"], "--top-k", "0"), "top_k"),
                       (("faces",), "usage")]:
        r = vision(*args, tmp_path=tmp_path)
        assert r.returncode == 2 and text in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_online_model_offline_exits_3_with_the_reason(photos, tmp_path):
    refused = "http://127.0.0.1:9"  # every download refused, as offline, whatever this machine can reach
    r = vision("segmentation", photos["chelsea"], tmp_path=tmp_path, TORCH_HOME=str(tmp_path / "torch"),
               https_proxy=refused, HTTPS_PROXY=refused, no_proxy="", NO_PROXY="")
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert "offline" in r.stderr and "deeplabv3_mobilenet_v3_large" in r.stderr and "imagenet, faces, ocr" in r.stderr
    listed = vision("--list", tmp_path=tmp_path, TORCH_HOME=str(tmp_path / "torch"))
    assert listed.returncode == 0
    rows = {line.split()[0]: line.split()[1:3] for line in listed.stdout.splitlines()}
    assert rows["imagenet"] == ["offline", "available"] and rows["segmentation"] == ["online", "not"]
