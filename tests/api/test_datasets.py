"""Datasets over HTTP against the real server: staff upload (admin key here: the staff role
arrives with the courses work), students and bots get 403 JSON, listings never show a
server path, broken zips are a 422 with the problems and leave nothing, and a student's job
names a registered dataset (checked at submission, resolved in the worker)."""

from __future__ import annotations

import json
import os
import time
import uuid
import zipfile

import pytest

from tests.datasets.conftest import imagefolder_entries, rgb, write_zip
from tutor.datasets.samples import sample_zip


def upload(c, name, path, **form):
    with open(path, "rb") as f:
        return c.post("/v1/datasets", data={"name": name, **form}, files={"file": (path.name, f, "application/zip")})


def stored(server) -> list[str]:
    root = server["data"] / "datasets"
    return sorted(p.name for p in root.iterdir() if p.name not in ("_incoming", "_downloads")) if root.exists() else []


def test_staff_uploads_everyone_lists_without_paths_and_staff_deletes(client, server, tmp_path):
    admin, alice, bot = client("admin"), client("alice"), client("bot")
    name = f"digits-{uuid.uuid4().hex[:6]}"
    z = sample_zip("imagefolder", tmp_path / "digits.zip", per_class=6, val_per_class=2)
    r = upload(alice, name, z)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden" and name not in stored(server)
    assert upload(bot, name, z).status_code == 403
    r = upload(admin, name, z, kind="image_classification")
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["name"] == name and rec["kind"] == "image_classification" and rec["format"] == "imagefolder"
    assert rec["classes"] == ["digit_0", "digit_1", "digit_2"] and rec["created_by"] == "admin"
    listed = alice.get("/v1/datasets")
    assert listed.status_code == 200 and name in [d["name"] for d in listed.json()["items"]]
    for body in (listed.text, alice.get(f"/v1/datasets/{name}").text):
        assert str(server["data"]) not in body and "folder" not in json.loads(body) and "/files" not in body
    assert all(d["kind"] == "detection" for d in alice.get("/v1/datasets", params={"kind": "detection"}).json()["items"])
    assert upload(admin, name, z).status_code == 409
    assert alice.delete(f"/v1/datasets/{name}").status_code == 403
    assert bot.delete(f"/v1/datasets/{name}").status_code == 403
    r = admin.delete(f"/v1/datasets/{name}")
    assert r.status_code == 200 and r.json() == {"deleted": name}
    r = alice.get(f"/v1/datasets/{name}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "dataset_not_found"
    assert name not in stored(server)
    assert client(None).get("/v1/datasets").status_code == 401


def test_bad_uploads_are_clear_4xx_and_leave_nothing(client, server, tmp_path):
    admin = client("admin")
    before = stored(server)
    evil = write_zip(tmp_path / "evil.zip", imagefolder_entries())
    with zipfile.ZipFile(evil, "a") as zf:
        zf.writestr("../../evil.png", rgb())
    r = upload(admin, "evil", evil)
    assert r.status_code == 422 and r.json()["error"]["code"] == "dataset_rejected"
    assert "'../../evil.png': '..' in the path" in r.json()["error"]["details"]
    broken = write_zip(tmp_path / "broken.zip", imagefolder_entries(classes=("cat",)) | {"cat/x.png": b"text"})
    r = upload(admin, "broken", broken)
    err = r.json()["error"]
    assert r.status_code == 422 and "cat/x.png: not a PNG" in err["message"] and "at least 2 class folders" in err["message"]
    r = upload(admin, "../etc", sample_zip("csv", tmp_path / "t.zip"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = upload(admin, "empty", write_zip(tmp_path / "a.zip", {}))
    assert r.status_code == 422 and "no data files" in r.json()["error"]["message"]
    (tmp_path / "plain.zip").write_bytes(b"just text")
    r = upload(admin, "plain", tmp_path / "plain.zip")
    assert r.status_code == 422 and "not a zip archive" in r.json()["error"]["message"]
    r = admin.post("/v1/datasets", data={"name": "nofile"})
    assert r.status_code == 422
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a/x.csv", os.urandom(3_200_000))
    r = upload(admin, "big", big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert stored(server) == before
    incoming = server["data"] / "datasets" / "_incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []
    assert not (server["data"] / "evil.png").exists() and not (server["data"].parent / "evil.png").exists()


def test_a_student_job_on_a_registered_dataset(client, server, tmp_path):
    admin, alice = client("admin"), client("alice")
    name = f"topics-{uuid.uuid4().hex[:6]}"
    assert upload(admin, name, sample_zip("csv", tmp_path / "t.zip")).status_code == 201
    r = alice.post("/v1/jobs", json={"tool": "rnn", "preset": "smoke", "config": {"dataset_name": "no-such-set"}})
    assert r.status_code == 422 and "no registered dataset 'no-such-set'" in r.json()["error"]["message"]
    r = alice.post("/v1/jobs", json={"tool": "cnn", "preset": "smoke", "config": {"dataset_name": name}})
    assert r.status_code == 422 and "needs one of kind image_classification" in r.json()["error"]["message"]
    r = alice.post("/v1/jobs", json={"tool": "rnn", "preset": "smoke", "config": {"dataset_name": name}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["config"]["dataset"] == "registered" and job["config"]["dataset_name"] == name
    deadline = time.time() + 240
    while time.time() < deadline and (done := alice.get(f"/v1/jobs/{job['id']}").json())["status"] not in (
            "succeeded", "failed", "cancelled"):
        time.sleep(1)
    assert done["status"] == "succeeded", done.get("error")
    assert 0.0 <= done["metrics"]["test_accuracy"] <= 1.0
    assert admin.delete(f"/v1/datasets/{name}").status_code == 200


@pytest.mark.parametrize("preset", ["transfer", "finetune"])
def test_real_data_presets_are_accepted_by_the_api(client, preset):
    tool = "cnn" if preset == "transfer" else "detection"
    r = client("alice").post("/v1/jobs", json={"tool": tool, "preset": preset, "config": {"dataset_name": "ghost"}})
    assert r.status_code == 422 and "no registered dataset 'ghost'" in r.json()["error"]["message"]
