"""DatasetService and its table: registration leaves either a complete dataset or nothing,
names are slugs, records never carry paths, and a job naming a dataset is checked when it
is submitted."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.datasets.conftest import add_raw, imagefolder_entries, rgb, write_zip
from tutor.datasets.samples import sample_zip
from tutor.datasets.service import (DatasetExists, DatasetNotFound, DatasetService, InvalidName, WrongKind,
                                    check_job_config)
from tutor.datasets.validator import DatasetRejected


def leftovers(service) -> list[str]:
    """Everything under DATA_DIR/datasets except the empty scratch folder."""
    root = service.root
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p != root / "_incoming")


def test_add_list_get_remove(service, tmp_path):
    rec = service.add("digits-3", sample_zip("imagefolder", tmp_path / "d.zip", per_class=6, val_per_class=2), "staff1",
                      course="dl-2026")
    assert rec["name"] == "digits-3" and rec["kind"] == "image_classification" and rec["format"] == "imagefolder"
    assert rec["classes"] == ["digit_0", "digit_1", "digit_2"] and rec["created_by"] == "staff1"
    assert rec["course"] == "dl-2026" and rec["stats"]["splits"]["train"]["images"] == 18
    assert "folder" not in rec and str(service.root) not in json.dumps(rec)
    folder = service.root / "digits-3"
    assert (folder / "manifest.json").is_file() and (folder / "files" / "train" / "digit_0").is_dir()
    assert [r["name"] for r in service.list()] == ["digits-3"]
    assert service.list(kind="detection") == []
    assert service.get("digits-3") == rec
    path, manifest = service.resolve("digits-3", "image_classification")
    assert path == folder and manifest["classes"] == rec["classes"]
    service.remove("digits-3")
    assert service.list() == [] and not folder.exists() and leftovers(service) == []
    with pytest.raises(DatasetNotFound):
        service.get("digits-3")
    with pytest.raises(DatasetNotFound):
        service.remove("digits-3")


def test_text_datasets_store_normalised_rows(service, tmp_path):
    service.add("topics", sample_zip("jsonl", tmp_path / "t.zip"), "staff")
    folder, manifest = service.resolve("topics", "text_classification")
    rows = [json.loads(line) for line in (folder / "texts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert manifest["rows_file"] == "texts.jsonl" and {r["split"] for r in rows} == {"train", "val", "test"}
    assert all(set(r) == {"split", "text", "label"} for r in rows)


@pytest.mark.parametrize("bad", ["A", "x", "Afhq", "../etc", "/etc", "a/b", "~root", ".hidden", "_incoming",
                                 "_downloads", "a b", "x" * 64, "имя", ""])
def test_names_are_slugs(service, tmp_path, bad):
    with pytest.raises(InvalidName):
        service.add(bad, write_zip(tmp_path / "z.zip", imagefolder_entries()), "staff")
    assert leftovers(service) == []


def test_rejected_uploads_leave_nothing_behind(service, tmp_path):
    # malicious (refused before extraction) and broken (refused after extraction into the temp folder)
    bad = write_zip(tmp_path / "evil.zip", imagefolder_entries())
    add_raw(bad, "../evil.png", rgb())
    broken = write_zip(tmp_path / "broken.zip", imagefolder_entries() | {"cat/fake.png": b"not an image"})
    for path in (bad, broken):
        with pytest.raises(DatasetRejected):
            service.add("cats", path, "staff")
        assert leftovers(service) == [] and service.list() == []
    assert not (tmp_path / "evil.png").exists() and not (service.root.parent / "evil.png").exists()


def test_duplicate_names_and_concurrent_uploads(service, tmp_path):
    z = write_zip(tmp_path / "z.zip", imagefolder_entries())
    service.add("cats", z, "a")
    with pytest.raises(DatasetExists):
        service.add("cats", z, "b")
    results = []

    def upload():
        try:
            service.add("race", z, "c")
            results.append("ok")
        except DatasetExists:
            results.append("exists")

    threads = [threading.Thread(target=upload) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["exists", "exists", "ok"]
    assert sorted(p.name for p in service.root.iterdir()) == ["_incoming", "cats", "race"]
    assert list((service.root / "_incoming").iterdir()) == []


def test_upload_size_limit(settings, tmp_path):
    svc = DatasetService(settings.model_copy(update={"max_dataset_bytes": 2000}))
    with pytest.raises(DatasetRejected, match="TUTOR_MAX_DATASET_BYTES"):
        svc.add("cats", write_zip(tmp_path / "z.zip", imagefolder_entries()), "staff")


def test_kind_checks_for_jobs(service, tmp_path, settings):
    import tools.cnn
    import tools.detection

    service.add("shapes", sample_zip("yolo", tmp_path / "y.zip", n=20), "staff")
    assert service.require("shapes", "detection")["format"] == "yolo"
    with pytest.raises(WrongKind, match="kind detection"):
        service.require("shapes", "image_classification")
    check_job_config(tools.detection, tools.detection.Config(dataset_name="shapes"), settings)
    with pytest.raises(WrongKind):
        check_job_config(tools.cnn, tools.cnn.Config(dataset_name="shapes"), settings)
    with pytest.raises(DatasetNotFound, match="no registered dataset 'ghost'"):
        check_job_config(tools.cnn, tools.cnn.Config(dataset_name="ghost"), settings)
    check_job_config(tools.cnn, tools.cnn.Config(), settings)  # built-in data: nothing to check


def test_missing_files_of_a_registered_dataset(service, tmp_path):
    service.add("cats", write_zip(tmp_path / "z.zip", imagefolder_entries()), "staff")
    (service.root / "cats" / "manifest.json").unlink()
    with pytest.raises(DatasetNotFound, match="files are missing"):
        service.resolve("cats")


def test_job_service_rejects_a_missing_dataset_at_submission(settings, tmp_path):
    from tutor.jobs.service import InvalidJob, JobService

    jobs = JobService(settings)
    with pytest.raises(InvalidJob, match="no registered dataset 'afhq'"):
        jobs.submit("cnn", {"dataset_name": "afhq"}, "alice", preset="transfer")
    DatasetService(settings).add("afhq", write_zip(tmp_path / "z.zip", imagefolder_entries()), "staff")
    job_id = jobs.submit("cnn", {"dataset_name": "afhq"}, "alice", preset="transfer")
    assert jobs.get(job_id)["config"]["dataset"] == "registered"
    with pytest.raises(InvalidJob, match="kind image_classification"):
        jobs.submit("detection", {"dataset_name": "afhq"}, "alice", preset="finetune")
    assert jobs._worker_env()["TUTOR_DATABASE_URL"] == settings.database_url  # workers resolve names in the same DB


def test_example_cli_and_bad_input(tmp_path):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data")}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "tutor", "datasets", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)

    r = cli("example", "masks", str(tmp_path / "m.zip"))
    assert r.returncode == 0 and (tmp_path / "m.zip").is_file()
    r = cli("add", "road-masks", str(tmp_path / "m.zip"), "--kind", "segmentation", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["classes"] == ["background", "circle", "square", "triangle"]
    r = cli("list")
    assert r.returncode == 0 and "road-masks" in r.stdout and "segmentation" in r.stdout
    r = cli("show", "road-masks", "--json")
    assert json.loads(r.stdout)["stats"]["splits"]["train"]["pairs"] == 48
    r = cli("add", "Bad Name", str(tmp_path / "m.zip"))
    assert r.returncode == 2 and "dataset name" in r.stderr
    r = cli("add", "other", str(tmp_path / "m.zip"), "--kind", "text_classification")
    assert r.returncode == 2 and "kind=text_classification needs a csv or jsonl layout" in r.stderr
    r = cli("add", "other", str(tmp_path / "nope.zip"))
    assert r.returncode == 2 and "no such file" in r.stderr
    r = cli("remove", "road-masks")
    assert r.returncode == 0
    r = cli("show", "road-masks")
    assert r.returncode == 1 and "no registered dataset" in r.stderr
