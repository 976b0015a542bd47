"""tools/pretrained.py on real photos, offline: skimage's portrait, cat and espresso (files
written once per session by the `photos` fixture), rendered text, and the awkward inputs
(grayscale, RGBA, tiny, EXIF-rotated, large, not an image). Online models get a refused
proxy, so their offline error is checked the same way with or without a network."""

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.photos import FACE_BOX
from tools import pretrained as P

ROOT = Path(__file__).resolve().parents[2]
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No weights cached (empty TORCH_HOME) and every HTTP(S) request refused (a proxy on a closed port)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for var in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)


def test_imagenet_names_the_cat_and_the_espresso(photos, tmp_path):
    cat = P.predict("imagenet", photos["chelsea"], out_dir=tmp_path)
    assert len(cat.classes) == 5 and CAT_CLASSES & {c.label for c in cat.classes}
    assert cat.summary["group"] == "cat" and cat.summary["group_ru"] == "кошка" and cat.summary["group_score"] > 0.9
    assert cat.classes[0].label_ru  # a Russian name for the common cat classes
    assert [c.score for c in cat.classes] == sorted((c.score for c in cat.classes), reverse=True)
    cup = P.predict("imagenet", photos["coffee"], P.Options(top_k=3), out_dir=tmp_path)
    assert len(cup.classes) == 3 and {"espresso", "cup", "coffee mug"} & {c.label for c in cup.classes}
    drawn = Image.open(cup.image_path)
    assert drawn.format == "JPEG" and drawn.width > 600  # the photo plus the side panel of bars
    assert Path(cup.image_path).parent == tmp_path


def test_faces_box_is_on_the_portraits_face(photos, tmp_path):
    pred = P.predict("faces", photos["astronaut"], out_dir=tmp_path)
    assert len(pred.faces) == 1, pred.faces
    face = pred.faces[0]
    assert face.score > 0.95 and iou(face.box, FACE_BOX) > 0.6, face.box
    lm = face.landmarks
    assert set(lm) == {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}
    x1, y1, x2, y2 = face.box
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in lm.values())
    assert lm["left_eye"][0] < lm["right_eye"][0] and max(lm["left_eye"][1], lm["right_eye"][1]) < lm["nose"][1]
    assert lm["nose"][1] < min(lm["mouth_left"][1], lm["mouth_right"][1])
    assert pred.summary == {"faces": 1, "best_score": round(face.score, 4)}


def test_no_faces_on_a_cat_or_a_cup(photos, tmp_path):
    for name in ("chelsea", "coffee"):
        pred = P.predict("faces", photos[name], out_dir=tmp_path)
        assert pred.faces == [] and pred.summary["faces"] == 0
        assert "не найдено" in P.describe(pred, "ru") and "No faces" in P.describe(pred, "en")


def test_grayscale_rgba_and_rotated_photos(photos, tmp_path):
    gray = P.predict("faces", photos["gray"], out_dir=tmp_path)
    assert len(gray.faces) == 1 and iou(gray.faces[0].box, FACE_BOX) > 0.6
    rgba = P.predict("imagenet", photos["rgba"], out_dir=tmp_path)
    assert CAT_CLASSES & {c.label for c in rgba.classes}
    # stored turned by 90° with EXIF Orientation 6: read upright, coordinates of the upright photo
    turned = P.predict("imagenet", photos["rotated"], out_dir=tmp_path)
    assert turned.image_size == [451, 300] and CAT_CLASSES & {c.label for c in turned.classes}
    face = P.predict("faces", photos["rotated_face"], out_dir=tmp_path)
    assert len(face.faces) == 1 and iou(face.faces[0].box, FACE_BOX) > 0.6


def test_a_large_photo_is_downscaled_and_answers_in_its_own_pixels(photos, tmp_path):
    pred = P.predict("faces", photos["big"], P.Options(max_side=512), out_dir=tmp_path)
    assert pred.image_size == [2048, 2048] and pred.input_size == [512, 512]
    assert len(pred.faces) == 1
    assert iou(pred.faces[0].box, [4 * v for v in FACE_BOX]) > 0.6  # 4x the portrait: 4x the box
    assert Image.open(pred.image_path).size == (512, 512)  # drawn on what the model saw


def test_jpeg_decodes_at_reduced_scale(photos):
    img, size = P.open_image(photos["big"], max_side=256)
    assert size == (2048, 2048) and img.size == (256, 256) and img.mode == "RGB"
    # the draft decode itself: PIL reports the DCT-scaled size it decoded (1/8 of 2048 = 256)
    raw = Image.open(photos["big"])
    raw.draft("RGB", (256, 256))
    assert raw.size == (256, 256)


def test_tiny_image_answers_with_a_warning(photos, tmp_path):
    for model in ("imagenet", "faces", "ocr"):
        pred = P.predict(model, photos["tiny"], out_dir=tmp_path)
        assert pred.image_size == [8, 8] and any("8x8" in w for w in pred.warnings), model
        assert Path(pred.image_path).is_file()
    assert P.predict("faces", photos["tiny"], out_dir=tmp_path).faces == []


def test_ocr_reads_rendered_text(photos, tmp_path):
    pred = P.predict("ocr", photos["text"], out_dir=tmp_path)
    texts = [re.sub(r"\s+", " ", line.text).strip().lower() for line in pred.lines]
    assert "deep learning 2024" in texts and "batch size = 64" in texts, texts
    assert len(pred.lines) == 3  # the Russian line is found too (read with Latin look-alikes: no Cyrillic model)
    first = pred.lines[0]
    assert first.box[0] < 40 and first.box[1] < 40 and first.box[2] > 300 and first.score > 0.8
    assert pred.summary["lines"] == 3 and "Deep Learning 2024" in pred.summary["text"]
    assert "кириллиц" in P.describe(pred, "ru")
    blank = P.predict("ocr", Image.new("RGB", (300, 100), "white"), out_dir=tmp_path)
    assert blank.lines == [] and "не найдено" in P.describe(blank, "ru")


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height: no pixel data (nothing is ever decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def test_bad_inputs_are_clear_errors(photos, tmp_path):
    with pytest.raises(P.ImageError) as e:
        P.predict("imagenet", photos["not_an_image"], out_dir=tmp_path)
    assert e.value.code == "not_an_image"
    with pytest.raises(P.ImageError) as e:
        P.predict("faces", _png_header(20000, 20000), out_dir=tmp_path)
    assert e.value.code == "too_many_pixels" and "limit" in str(e.value)
    truncated = photos["coffee"].read_bytes()[:3000]
    with pytest.raises(P.ImageError) as e:
        P.predict("imagenet", truncated, out_dir=tmp_path)
    assert e.value.code == "not_an_image"
    with pytest.raises(KeyError, match="unknown vision model"):
        P.predict("yolo9000", photos["chelsea"])
    with pytest.raises(Exception, match="top_k"):
        P.Options(top_k=0)
    assert list(tmp_path.iterdir()) == []  # nothing drawn for a failed input


def test_arrays_and_bytes_work_like_files(photos, tmp_path):
    import numpy as np
    from skimage import data

    from_array = P.predict("imagenet", data.chelsea(), out_dir=tmp_path)
    from_float = P.predict("imagenet", data.chelsea() / 255.0, out_dir=tmp_path)  # skimage-style floats
    from_bytes = P.predict("imagenet", photos["chelsea"].read_bytes(), out_dir=tmp_path)
    assert from_array.classes[0].label == from_float.classes[0].label
    assert CAT_CLASSES & {from_bytes.classes[0].label}
    assert P.predict("imagenet", np.zeros((40, 40), bool), out_dir=tmp_path).image_size == [40, 40]


def test_models_load_once_per_process(photos, tmp_path):
    P.predict("faces", photos["coffee"], out_dir=tmp_path)
    again = P.predict("faces", photos["coffee"], out_dir=tmp_path)
    assert again.load_ms == 0.0 and again.latency_ms > 0
    assert sum(1 for key in P._CACHE if key[0] == "faces") == 1


@pytest.mark.parametrize("model,options", [("coco_detection", {"detector": d}) for d in P.DETECTORS]
                         + [("segmentation", {"segmenter": s}) for s in P.SEGMENTERS])
def test_online_models_offline_error_is_clear(offline, photos, model, options, tmp_path):
    spec = P.MODELS[model]
    assert not spec.offline and not spec.available(P.Options(**options))
    with pytest.raises(P.ModelUnavailable) as e:
        P.predict(model, photos["chelsea"], P.Options(**options))
    msg = str(e.value)
    assert "offline" in msg and "download.pytorch.org" in msg and ".pth" in msg
    assert "imagenet, faces, ocr" in msg and "Traceback" not in msg
    assert str(tmp_path) not in msg and str(Path.home()) not in msg  # no server paths
    assert isinstance(e.value, P.MissingDataError) and e.value.alternatives == ["imagenet", "faces", "ocr"]


def test_online_pipelines_run_with_untrained_weights(photos, tmp_path):
    """The download is the only online part: with the same torchvision architectures, untrained
    (no quality claim), detection and segmentation run end to end, boxes in image bounds, drawn."""
    import torch
    import torchvision

    P._CACHE[("coco_detection", "ssdlite_mobilenet_v3", "cpu")] = P._Loaded(
        torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                   num_classes=91).eval(), P.threading.Lock())
    P._CACHE[("segmentation", "lraspp_mobilenet_v3", "cpu")] = P._Loaded(
        torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                  num_classes=21).eval(), P.threading.Lock())
    try:
        torch.manual_seed(0)
        det = P.predict("coco_detection", photos["chelsea"],
                        P.Options(detector="ssdlite_mobilenet_v3", score_threshold=0.0, device="cpu"), out_dir=tmp_path)
        assert det.boxes and det.summary["objects"] == len(det.boxes)
        assert all(0 <= b.box[0] <= b.box[2] <= 451 and 0 <= b.box[1] <= b.box[3] <= 300 for b in det.boxes)
        assert all(b.label != "N/A" for b in det.boxes) and Path(det.image_path).is_file()
        seg = P.predict("segmentation", photos["chelsea"], P.Options(segmenter="lraspp_mobilenet_v3", device="cpu"),
                        out_dir=tmp_path)
        assert abs(sum(s.fraction for s in seg.segments) - 1.0) < 1e-6
        assert Image.open(seg.image_path).size == (451, 300)
        assert P.describe(seg, "ru") and P.describe(det, "en")
    finally:
        P._CACHE.pop(("coco_detection", "ssdlite_mobilenet_v3", "cpu"), None)
        P._CACHE.pop(("segmentation", "lraspp_mobilenet_v3", "cpu"), None)


@pytest.mark.parametrize("message,model", [
    ("что на этой фотографии?", "imagenet"), ("что это", "imagenet"), ("what is this?", "imagenet"), ("", "imagenet"),
    ("найди лица", "faces"), ("найди лицо на фотке", "faces"), ("где тут лецо", "faces"), ("detect faces", "faces"),
    ("сколько лиц на селфи", "faces"), ("покажи ключевые точки лица", "faces"),
    ("прочитай надпись", "ocr"), ("что тут написано?", "ocr"), ("распознай текст", "ocr"), ("ocr плз", "ocr"),
    ("read the text", "ocr"), ("оцр", "ocr"),
    ("сегментируй кота", "segmentation"), ("сегметация", "segmentation"), ("сделай маску", "segmentation"),
    ("segment the cat", "segmentation"), ("сегментируй лицо", "segmentation"),
    ("найди объекты", "coco_detection"), ("найди обьекты", "coco_detection"), ("детекция", "coco_detection"),
    ("обведи рамками", "coco_detection"), ("detect objects", "coco_detection"), ("задетекть всё", "coco_detection"),
    ("сколько людей на фото", "coco_detection"), ("yolo", "coco_detection"),
])
def test_choose_model_from_the_students_words(message, model):
    assert P.choose_model(message) == model


def test_own_checkpoint_wording():
    for msg in ("проверь моей моделью", "классифицируй моей сетью", "use my model", "моя cnn"):
        assert P.wants_own_checkpoint(msg), msg
    for msg in ("что на фото?", "найди лица", "модель imagenet"):
        assert not P.wants_own_checkpoint(msg), msg


def test_lectures_exist_and_titles_are_their_headings():
    for spec in P.MODELS.values():
        assert spec.lectures and spec.query
        for f in spec.lectures:
            assert (ROOT / P.LECTURE_DIR / f).is_file(), f
    for f, (ru, en) in P.LECTURE_TITLES.items():
        for folder, title in (("lectures", ru), ("lectures_en", en)):
            heading = (ROOT / "corpus" / folder / f).read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
            assert title.strip("«»“”").lower() == heading.lower(), (f, title, heading)


def test_answer_upload_phrases_the_result_with_its_lecture(photos, tmp_path):
    ans = P.answer_upload(photos["astronaut"], "найди лица", "ru", out_dir=tmp_path)
    assert ans.requested == ans.model == "faces" and len(ans.prediction.faces) == 1
    assert "Найдено лиц: **1**" in ans.text and "Метрическое обучение и распознавание лиц" in ans.text
    assert ans.lectures[0] == "corpus/lectures/10_metric_learning.md"
    cat = P.answer_upload(photos["chelsea"], "what is in this photo?", "en", out_dir=tmp_path)
    assert cat.model == "imagenet" and "cat" in cat.text and "Transfer learning" in cat.text


def test_answer_upload_offline_says_so_and_still_classifies(offline, photos, tmp_path):
    ans = P.answer_upload(photos["chelsea"], "сегментируй кота", "ru", out_dir=tmp_path)
    assert ans.requested == "segmentation" and ans.model == "imagenet" and ans.unavailable
    assert "недоступна" in ans.text and "офлайн" in ans.text and "imagenet, faces, ocr" in ans.text
    assert "кошка" in ans.text and ans.lectures == ["corpus/lectures/09_segmentation.md"]
    en = P.answer_upload(photos["coffee"], "detect objects", "en", out_dir=tmp_path)
    assert en.requested == "coco_detection" and "offline" in en.text and "espresso" in en.text


def test_prediction_json_has_no_server_path(photos, tmp_path):
    pred = P.predict("faces", photos["astronaut"], out_dir=tmp_path)
    assert pred.image_path and str(tmp_path) not in pred.model_dump_json()
    assert "image_path" not in pred.model_dump()
    assert io.BytesIO(Path(pred.image_path).read_bytes()).read(3) == b"\xff\xd8\xff"


@pytest.mark.gpu
def test_cuda_answers_like_the_cpu(photos, tmp_path):
    """fp16 / channels_last on the GPU must not change the answer."""
    cpu = P.predict("imagenet", photos["chelsea"], P.Options(device="cpu"), out_dir=tmp_path)
    gpu = P.predict("imagenet", photos["chelsea"], P.Options(device="cuda"), out_dir=tmp_path)
    assert gpu.device == "cuda" and gpu.classes[0].label == cpu.classes[0].label
    assert abs(gpu.classes[0].score - cpu.classes[0].score) < 0.02
    cpu_face = P.predict("faces", photos["astronaut"], P.Options(device="cpu"), out_dir=tmp_path).faces
    gpu_face = P.predict("faces", photos["astronaut"], P.Options(device="cuda"), out_dir=tmp_path).faces
    assert len(gpu_face) == 1 and iou(gpu_face[0].box, cpu_face[0].box) > 0.9


def test_digit_questions_go_to_the_students_mnist_model():
    # ImageNet has no digit classes: these are questions for the student's own CNN
    for msg in ("Что это за цифра?", "какая цифра на картинке", "what digit is this?", "распознай mnist",
                "какое число тут"):
        assert P.asks_for_digit(msg), msg
    for msg in ("что на фото?", "найди лица", "прочитай надпись", "это кот?"):
        assert not P.asks_for_digit(msg), msg
