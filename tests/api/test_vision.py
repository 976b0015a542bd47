"""/v1/vision against the real server (tests/api/conftest.py): pretrained models on real photos
offline, the drawn image served to its owner only, upload validation, the offline 503."""

import socket
import struct
import uuid
import zlib

import pytest

from tests.photos import FACE_BOX


def upload(c, model: str, path, **form):
    return c.post(f"/v1/vision/{model}", files={"file": (path.name, path.read_bytes(), "image/jpeg")}, data=form)


def other_student(server) -> str:
    from tutor.api.keys import KeyStore
    from tutor.db import make_engine

    engine = make_engine(f"sqlite:///{server['data'] / 'tutor.db'}")
    try:
        return KeyStore(engine).create(f"bob-{uuid.uuid4().hex[:6]}", "student")
    finally:
        engine.dispose()


def test_models_list(client):
    r = client().get("/v1/vision/models")
    assert r.status_code == 200, r.text
    models = {m["name"]: m for m in r.json()["models"]}
    assert set(models) == {"imagenet", "faces", "ocr", "coco_detection", "segmentation"}
    for name in ("imagenet", "faces", "ocr"):
        assert models[name]["offline"] and models[name]["available"], name
    for name in ("coco_detection", "segmentation"):
        assert not models[name]["offline"] and "download" in models[name]["needs"]
    assert models["faces"]["lectures"] == ["corpus/lectures/10_metric_learning.md", "corpus/lectures/08_detection.md"]
    assert client(None).get("/v1/vision/models").status_code == 401


def test_faces_on_a_portrait_and_the_drawn_image_for_its_owner_only(client, server, photos):
    c = client()
    r = upload(c, "faces", photos["astronaut"])
    assert r.status_code == 200, r.text
    body = r.json()
    faces = body["prediction"]["faces"]
    assert len(faces) == 1 and faces[0]["score"] > 0.95
    x1, y1, x2, y2 = faces[0]["box"]
    fx1, fy1, fx2, fy2 = FACE_BOX
    assert fx1 - 15 < x1 < fx1 + 20 and fy1 - 15 < y1 < fy1 + 20 and fx2 - 20 < x2 < fx2 + 15 and fy2 - 20 < y2 < fy2 + 15
    assert "Найдено лиц: **1**" in body["text"] and body["lectures"][0].endswith("10_metric_learning.md")
    # no server path anywhere: only the id and the URL
    assert str(server["data"]) not in r.text and "image_path" not in r.text
    assert body["image_url"] == f"/v1/vision/results/{body['id']}/image"
    img = c.get(body["image_url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg" and img.content[:3] == b"\xff\xd8\xff"
    assert c.get(f"/v1/vision/results/{body['id']}").json()["prediction"] == body["prediction"]
    bob = client(None)
    bob.headers["Authorization"] = f"Bearer {other_student(server)}"
    assert bob.get(body["image_url"]).status_code == 404
    assert bob.get(f"/v1/vision/results/{body['id']}").json()["error"]["code"] == "not_found"
    assert client("bot").get(body["image_url"]).status_code == 404
    assert client("admin").get(body["image_url"]).status_code == 200
    for bad in ("../../tutor.db", "0" * 32, "nope"):
        assert c.get(f"/v1/vision/results/{bad}/image").status_code == 404


def test_imagenet_cat_espresso_and_english(client, photos):
    c = client()
    cat = upload(c, "imagenet", photos["chelsea"]).json()
    assert {"tabby", "tiger cat", "Egyptian cat"} & {x["label"] for x in cat["prediction"]["classes"]}
    assert cat["prediction"]["summary"]["group"] == "cat" and "кошка" in cat["text"]
    cup = upload(c, "imagenet", photos["coffee"], lang="en", top_k="3").json()
    assert len(cup["prediction"]["classes"]) == 3
    assert {"espresso", "cup"} & {x["label"] for x in cup["prediction"]["classes"]}
    assert cup["text"].startswith("Most likely") and "Transfer learning" in cup["text"]


def test_ocr_reads_text_and_bots_act_for_their_users(client, photos):
    r = upload(client("bot"), "ocr", photos["text"], user="tg-42")
    assert r.status_code == 200, r.text
    texts = [line["text"].lower() for line in r.json()["prediction"]["lines"]]
    assert "deep learning 2024" in texts
    assert client("bot").get(r.json()["image_url"]).status_code == 200  # the bot's user's result
    assert client().get(r.json()["image_url"]).status_code == 404  # not alice's


def _png_header(width: int, height: int) -> bytes:
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
            + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def test_bad_uploads_are_json_4xx(client, photos):
    c = client()
    cases = [
        ("imagenet", ("x.png", photos["not_an_image"].read_bytes(), "image/png"), {}, 415, "unsupported_media_type"),
        ("imagenet", ("x.txt", b"hello", "text/plain"), {}, 415, "unsupported_media_type"),
        ("faces", ("x.png", b"", "image/png"), {}, 422, "validation_error"),
        ("faces", ("x.png", _png_header(30000, 30000), "image/png"), {}, 413, "payload_too_large"),
        ("ocr", ("x.jpg", photos["coffee"].read_bytes()[:2000], "image/jpeg"), {}, 415, "unsupported_media_type"),
        ("yolo", ("x.jpg", photos["coffee"].read_bytes(), "image/jpeg"), {}, 404, "unknown_model"),
        ("imagenet", ("x.jpg", photos["coffee"].read_bytes(), "image/jpeg"), {"top_k": "0"}, 422, "validation_error"),
        ("coco_detection", ("x.jpg", photos["coffee"].read_bytes(), "image/jpeg"), {"detector": "yolo"}, 422,
         "validation_error"),
        ("imagenet", ("x.jpg", photos["coffee"].read_bytes(), "image/jpeg"), {"lang": "de"}, 422, "validation_error"),
    ]
    for model, file, form, status, code in cases:
        r = c.post(f"/v1/vision/{model}", files={"file": file}, data=form)
        assert r.status_code == status and r.json()["error"]["code"] == code, (model, form, r.text)
    r = c.post("/v1/vision/imagenet", data={"lang": "ru"})
    assert r.status_code == 422
    # one byte over the upload limit (10 MB by default) is refused before it is read whole
    r = c.post("/v1/vision/imagenet", files={"file": ("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * 10_000_000, "image/png")})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # tiny, grayscale and transparent images are answered, not refused
    for name in ("tiny", "gray", "rgba"):
        r = upload(c, "imagenet", photos[name])
        assert r.status_code == 200, (name, r.text)
    assert any("8x8" in w for w in upload(c, "faces", photos["tiny"]).json()["prediction"]["warnings"])


def _online() -> bool:
    try:
        socket.getaddrinfo("download.pytorch.org", 443)
        return True
    except OSError:
        return False


@pytest.mark.skipif(_online(), reason="checks the offline answer; this machine reaches download.pytorch.org")
def test_online_models_answer_503_offline(client, photos):
    for model in ("coco_detection", "segmentation"):
        r = upload(client(), model, photos["chelsea"])
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["code"] == "model_unavailable" and "offline" in err["message"]
        assert "imagenet, faces, ocr" in err["message"] and "Traceback" not in r.text
