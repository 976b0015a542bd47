"""The zip and layout checks: every format from generated zips, and broken or malicious ones
(each rejected with a message saying what is wrong, before anything is extracted where the
zip itself is the problem)."""

from __future__ import annotations

import json
import stat
import zipfile

import numpy as np
import pytest

from tests.datasets.conftest import add_raw, imagefolder_entries, png, rgb, write_zip
from tutor.datasets import FORMATS
from tutor.datasets.images import ImageProblem, read_header
from tutor.datasets.samples import sample_zip
from tutor.datasets.layouts import validate_layout
from tutor.datasets.validator import DatasetRejected, Limits, extract, inspect_zip

LIMITS = Limits()


def check(path, tmp_path, kind=None, limits=LIMITS):
    members = inspect_zip(path, limits)
    dest = tmp_path / "out"
    extract(path, members, dest, limits)
    return validate_layout(dest, [m.name for m in members], limits, kind)


def rejected(path, tmp_path, kind=None, limits=LIMITS) -> str:
    with pytest.raises(DatasetRejected) as e:
        check(path, tmp_path, kind, limits)
    return str(e.value)


# ---- every format --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", list(FORMATS))
def test_sample_zip_of_every_format_validates(fmt, tmp_path):
    kwargs = {"per_class": 8, "val_per_class": 2} if fmt == "imagefolder" else {} if fmt in ("csv", "jsonl") else {"n": 20}
    v = check(sample_zip(fmt, tmp_path / f"{fmt}.zip", **kwargs), tmp_path)
    assert v.format == fmt and v.kind == FORMATS[fmt]
    assert v.manifest["classes"] == v.classes and v.stats["files"] > 0
    if v.kind == "text_classification":
        assert set(v.classes) == {"basics", "cv", "generative", "nlp", "rl"}
        assert {r["split"] for r in v.rows} == {"train", "val", "test"}
        assert all(0 <= r["label"] < len(v.classes) for r in v.rows)
    else:
        assert v.stats["image_size"]["min"] == v.stats["image_size"]["max"]  # every sample image has one size


def test_imagefolder_classes_splits_and_stats(tmp_path):
    entries = {f"afhq/train/{c}/{i}.png": rgb(40, 30, i) for c in ("cat", "dog", "wild") for i in range(5)}
    entries |= {f"afhq/val/{c}/{i}.png": rgb(64, 48, i) for c in ("cat", "dog") for i in range(2)}
    entries["afhq/README.md"] = "AFHQ subset"
    v = check(write_zip(tmp_path / "a.zip", entries), tmp_path)
    assert v.classes == ["cat", "dog", "wild"]
    assert v.stats["splits"]["train"]["per_class"] == {"cat": 5, "dog": 5, "wild": 5}
    assert v.stats["splits"]["val"]["images"] == 4
    assert v.stats["image_size"] == {"min": [30, 40], "max": [48, 64]}  # [width, height]
    assert v.manifest["splits"]["val"][0] == ["val/cat/0.png", 0]  # the wrapping 'afhq/' folder is stripped


def test_yolo_boxes_become_pixels(tmp_path):
    entries = {"classes.txt": "car\nsign\n", "images/a.png": rgb(40, 80), "labels/a.txt": "1 0.5 0.5 0.25 0.5\n"}
    entries |= {f"images/b{i}.png": rgb(40, 80, i) for i in range(5)}
    entries |= {f"labels/b{i}.txt": "0 0.1 0.1 0.2 0.2\n" for i in range(5)}
    v = check(write_zip(tmp_path / "y.zip", entries), tmp_path)
    a = next(r for r in v.manifest["splits"]["train"] if r["file"] == "images/a.png")
    assert a["boxes"] == [[30.0, 10.0, 50.0, 30.0]] and a["labels"] == [1]  # 80x40 image
    assert v.stats["boxes_per_class"] == {"car": 5, "sign": 1}


def test_yolo_data_yaml_names(tmp_path):
    entries = {"data.yaml": "names:\n  0: person\n  1: bike\n"}
    entries |= {f"images/train/{i}.jpg.png": rgb(32, 32, i) for i in range(5)}
    entries |= {f"labels/train/{i}.jpg.txt": "1 0.5 0.5 0.2 0.2" for i in range(5)}
    v = check(write_zip(tmp_path / "y.zip", entries), tmp_path)
    assert v.classes == ["person", "bike"] and v.stats["boxes_per_class"] == {"bike": 5}


def test_coco_boxes_categories_and_iscrowd(tmp_path):
    doc = {"images": [{"id": i, "file_name": f"{i}.png", "width": 32, "height": 32} for i in range(1, 7)],
           "categories": [{"id": 7, "name": "pet"}, {"id": 3, "name": "bowl"}],
           "annotations": [{"id": i, "image_id": i, "category_id": 7, "bbox": [2, 3, 10, 12]} for i in range(1, 7)]
           + [{"id": 99, "image_id": 1, "category_id": 3, "bbox": [0, 0, 5, 5], "iscrowd": 1}]}
    entries = {"annotations/instances.json": json.dumps(doc)} | {f"images/{i}.png": rgb(32, 32, i) for i in range(1, 7)}
    v = check(write_zip(tmp_path / "c.zip", entries), tmp_path)
    assert v.classes == ["bowl", "pet"]  # categories ordered by id: 3, 7
    rows = v.manifest["splits"]["train"]
    assert rows[0]["boxes"] == [[2.0, 3.0, 12.0, 15.0]] and rows[0]["labels"] == [1]  # crowd region dropped
    assert v.stats["boxes_per_class"] == {"pet": 6}


def test_masks_with_ignore_value_and_classes(tmp_path):
    entries = {"classes.txt": "background\nroad\ncar\n"}
    for i in range(10):
        m = np.zeros((16, 24), np.uint8)
        m[:4] = 1
        m[8:, :8] = 2
        m[0, 0] = 255  # VOC-style "ignore"
        entries[f"images/{i}.jpg"] = _jpeg(16, 24, i)
        entries[f"masks/{i}.png"] = png(m)
    v = check(write_zip(tmp_path / "m.zip", entries), tmp_path)
    assert v.classes == ["background", "road", "car"] and v.manifest["ignore_index"] == 255
    assert set(v.stats["pixel_share"]) == {"background", "road", "car", "ignore"}


def test_csv_with_split_column_and_jsonl_files_per_split(tmp_path):
    rows = "text,label,split\n" + "".join(f"\"good, film {i}\",pos,train\n\"bad film {i}\",neg,train\n" for i in range(6))
    rows += "ok film,pos,test\nawful,neg,test\n"
    v = check(write_zip(tmp_path / "t.zip", {"reviews.csv": rows}), tmp_path)
    assert v.classes == ["neg", "pos"] and v.stats["splits"]["test"]["rows"] == 2
    assert v.rows[0] == {"split": "train", "text": "good, film 0", "label": 1}
    train = "".join(json.dumps({"text": f"текст {i}", "label": i % 2}, ensure_ascii=False) + "\n" for i in range(12))
    test = json.dumps({"text": "ещё текст", "label": 1}, ensure_ascii=False) + "\n"
    v = check(write_zip(tmp_path / "j.zip", {"train.jsonl": train, "test.jsonl": test}), tmp_path / "j")
    assert v.format == "jsonl" and v.classes == ["0", "1"] and v.stats["splits"]["test"]["rows"] == 1


def _jpeg(h, w, seed) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


# ---- malicious zips: refused before extraction ---------------------------------------------------

def test_zip_bomb_by_ratio_is_refused_before_extraction(tmp_path):
    path = write_zip(tmp_path / "bomb.zip", {"a/1.png": rgb(), "a/2.png": rgb(), "b/blank.csv": b"0" * 50_000_000})
    assert path.stat().st_size < 1_000_000
    with pytest.raises(DatasetRejected, match="zip bomb"):
        inspect_zip(path, LIMITS)


def test_total_uncompressed_size_limit(tmp_path):
    path = write_zip(tmp_path / "big.zip", imagefolder_entries(n=6), compression=zipfile.ZIP_STORED)
    with pytest.raises(DatasetRejected, match="unpacks to"):
        inspect_zip(path, Limits(max_unpacked_bytes=10_000))


def test_too_many_entries(tmp_path):
    path = write_zip(tmp_path / "many.zip", {f"c{i % 2}/{i}.txt": "x" for i in range(60)})
    with pytest.raises(DatasetRejected, match="60 entries, more than the limit of 50"):
        inspect_zip(path, Limits(max_files=50))


@pytest.mark.parametrize("name, problem", [
    ("../evil.png", "'..' in the path"),
    ("cat/../../evil.png", "'..' in the path"),
    ("/etc/evil.png", "absolute path"),
    ("\\\\server\\evil.png", "absolute path"),
    ("C:/Windows/evil.png", "drive letter"),
    ("cat\\..\\..\\evil.png", "'..' in the path"),
])
def test_path_tricks_are_refused(name, problem, tmp_path):
    path = write_zip(tmp_path / "z.zip", imagefolder_entries())
    add_raw(path, name, rgb())
    with pytest.raises(DatasetRejected, match=problem.replace("(", r"\(").replace(")", r"\)")):
        inspect_zip(path, LIMITS)
    assert not (tmp_path / "evil.png").exists()


def test_symlink_and_device_entries_are_refused(tmp_path):
    path = write_zip(tmp_path / "z.zip", imagefolder_entries())
    add_raw(path, "cat/link.png", b"/etc/passwd", mode=stat.S_IFLNK | 0o777)
    add_raw(path, "dog/dev.png", b"", mode=stat.S_IFCHR | 0o666)
    with pytest.raises(DatasetRejected) as e:
        inspect_zip(path, LIMITS)
    assert "'cat/link.png': symbolic link" in str(e.value) and "'dog/dev.png': device" in str(e.value)


def test_duplicate_names_after_normalisation(tmp_path):
    path = write_zip(tmp_path / "z.zip", imagefolder_entries())
    add_raw(path, "cat/./0.PNG", rgb())  # same file as cat/0.png on a case-insensitive disk
    add_raw(path, "dog/cafe\u0301.png", rgb())  # NFD spelling ...
    add_raw(path, "dog/caf\u00e9.png", rgb())  # ... and NFC of the same name
    msg = str(pytest.raises(DatasetRejected, inspect_zip, path, LIMITS).value)
    assert msg.count("duplicate of") == 2


def test_disallowed_extensions_and_the_problem_list(tmp_path):
    entries = imagefolder_entries() | {f"cat/run{i}.sh": "rm -rf /" for i in range(12)} | {"dog/x.exe": b"MZ"}
    e = pytest.raises(DatasetRejected, inspect_zip, write_zip(tmp_path / "z.zip", entries), LIMITS).value
    assert len(e.problems) == 13 and "file type not allowed" in str(e)
    assert "(and 5 more problems)" in str(e)  # the message shows the first few


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(DatasetRejected, match="not a zip archive"):
        inspect_zip(p, LIMITS)


def test_junk_files_are_skipped(tmp_path):
    entries = imagefolder_entries() | {"__MACOSX/cat/._0.png": b"junk", "cat/.DS_Store": b"junk", "Thumbs.db": b"x"}
    names = [m.name for m in inspect_zip(write_zip(tmp_path / "z.zip", entries), LIMITS)]
    assert sorted(names) == sorted(imagefolder_entries())


# ---- broken layouts: collected problems ------------------------------------------------------------------

def test_imagefolder_with_one_class(tmp_path):
    msg = rejected(write_zip(tmp_path / "z.zip", imagefolder_entries(classes=("cat",))), tmp_path)
    assert "at least 2 class folders, found 1 (cat)" in msg


def test_imagefolder_with_too_few_images(tmp_path):
    msg = rejected(write_zip(tmp_path / "z.zip", imagefolder_entries(n=2)), tmp_path)
    assert "fewer than 5 training images: cat (2), dog (2)" in msg


def test_non_image_named_png_and_truncated_image(tmp_path):
    entries = imagefolder_entries() | {"cat/fake.png": b"<html>not an image</html>",
                                        "dog/cut.png": rgb(64, 64)[:100]}
    msg = rejected(write_zip(tmp_path / "z.zip", entries), tmp_path)
    assert "cat/fake.png: not a PNG, JPEG, BMP, GIF or WebP image" in msg
    assert "dog/cut.png: cannot be decoded" in msg


def test_oversized_image_is_refused_by_header_before_decoding(tmp_path):
    import struct
    import zlib

    # a valid PNG header claiming 30000 x 30000 pixels followed by almost no data: decoding it
    # would allocate 2.7 GB; the header check refuses it first
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    fake = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    msg = rejected(write_zip(tmp_path / "z.zip", imagefolder_entries() | {"cat/huge.png": fake}), tmp_path)
    assert "cat/huge.png: image is 30000x30000, larger than the limit" in msg


def test_image_headers():
    assert read_header(rgb(20, 30)).__dict__ == {"format": "png", "width": 30, "height": 20}
    assert (read_header(_jpeg(17, 23, 0)).width, read_header(_jpeg(17, 23, 0)).height) == (23, 17)
    with pytest.raises(ImageProblem):
        read_header(b"GIF8")


def test_masks_mismatched_sizes_names_and_modes(tmp_path):
    entries = {}
    for i in range(10):
        entries[f"images/{i}.png"] = rgb(16, 16, i)
        entries[f"masks/{i}.png"] = png(np.zeros((16, 16)))
    entries["masks/3.png"] = png(np.zeros((8, 16)))  # wrong size
    entries["masks/4.png"] = png(np.zeros((16, 16, 3)))  # colour mask
    entries["masks/extra.png"] = png(np.zeros((16, 16)))  # no image
    del entries["masks/5.png"]  # no mask
    entries["masks/6.jpg"] = entries.pop("masks/6.png")  # lossy mask: ids would be blurred
    msg = str(pytest.raises(DatasetRejected, check, write_zip(tmp_path / "z.zip", entries), tmp_path).value)
    for part in ("masks/3.png: 16x8, but its image is 16x16", "masks/4.png: a mask holds one class id per pixel",
                 "masks without an image of the same name: masks/extra.png", "images without a mask",
                 "masks must be lossless"):
        assert part in msg, part


def test_masks_with_ids_beyond_the_classes_file(tmp_path):
    entries = {"classes.txt": "background\nroad\n"}
    for i in range(10):
        entries[f"images/{i}.png"] = rgb(16, 16, i)
        entries[f"masks/{i}.png"] = png(np.full((16, 16), 3))
    assert "masks use class id 3, but classes.txt names only 2 classes" in rejected(
        write_zip(tmp_path / "z.zip", entries), tmp_path)


def test_yolo_coordinates_out_of_range_and_other_label_errors(tmp_path):
    entries = {"classes.txt": "a\nb\n"} | {f"images/{i}.png": rgb(32, 32, i) for i in range(6)}
    entries |= {"labels/0.txt": "0 1.5 0.5 0.2 0.2", "labels/1.txt": "5 0.5 0.5 0.2 0.2",
                "labels/2.txt": "0 0.95 0.5 0.2 0.2", "labels/3.txt": "0 0.5 0.5 0.2",
                "labels/4.txt": "0 0.1 0.1 0.1 0.1 0.2 0.2 0.3 0.3", "labels/5.txt": "zero 0.5 0.5 0.1 0.1",
                "labels/ghost.txt": "0 0.5 0.5 0.1 0.1"}
    msg = str(pytest.raises(DatasetRejected, check, write_zip(tmp_path / "z.zip", entries), tmp_path).value)
    for part in ("labels/0.txt line 1: cx cy w h must be in [0, 1]", "labels/1.txt line 1: class 5 is not in 0..1",
                 "labels/2.txt line 1: the box reaches outside", "labels/3.txt line 1: expected 'class cx cy w h', got 4",
                 "polygon labels", "labels/5.txt line 1: class must be an integer",
                 "label files without an image: labels/ghost.txt"):
        assert part in msg, part


def test_yolo_without_class_names(tmp_path):
    entries = {f"images/{i}.png": rgb(32, 32, i) for i in range(6)} | {f"labels/{i}.txt": "0 .5 .5 .1 .1" for i in range(6)}
    assert "no class names: add classes.txt" in rejected(write_zip(tmp_path / "z.zip", entries), tmp_path)


def test_coco_with_dangling_ids_missing_files_and_bad_boxes(tmp_path):
    doc = {"images": [{"id": i, "file_name": f"{i}.png", "width": 32, "height": 32} for i in range(6)]
           + [{"id": 50, "file_name": "../../etc/passwd", "width": 32, "height": 32},
              {"id": 51, "file_name": "missing.png", "width": 32, "height": 32},
              {"id": 3, "file_name": "3.png", "width": 32, "height": 32}],
           "categories": [{"id": 1, "name": "x"}],
           "annotations": [{"id": 1, "image_id": 77, "category_id": 1, "bbox": [0, 0, 4, 4]},
                           {"id": 2, "image_id": 0, "category_id": 9, "bbox": [0, 0, 4, 4]},
                           {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, -4, 4]},
                           {"id": 4, "image_id": 2, "category_id": 1, "bbox": [20, 20, 30, 30]},
                           {"id": 5, "image_id": 4, "category_id": 1, "bbox": "0 0 4 4"}]}
    entries = {"ann.json": json.dumps(doc)} | {f"images/{i}.png": rgb(32, 32, i) for i in range(6)}
    msg = str(pytest.raises(DatasetRejected, check, write_zip(tmp_path / "z.zip", entries), tmp_path).value)
    e = pytest.raises(DatasetRejected, check, write_zip(tmp_path / "z2.zip", entries), tmp_path / "b").value
    text = " | ".join(e.problems)
    for part in ("annotation 1 refers to image 77", "annotation 2 refers to category 9", "duplicate image id 3",
                 "file '../../etc/passwd' is not in the zip", "file 'missing.png' is not in the zip",
                 "annotation 3 has a box of zero or negative size", "images/2.png: a box reaches outside",
                 "annotation 5 needs bbox"):
        assert part in text, part
    assert msg.startswith("dataset rejected: ")


def test_coco_that_is_not_coco(tmp_path):
    entries = {"labels.json": json.dumps({"cat": [1, 2]})} | {f"images/{i}.png": rgb() for i in range(6)}
    assert "needs 'images', 'annotations' and 'categories' lists" in rejected(write_zip(tmp_path / "z.zip", entries),
                                                                               tmp_path)


def test_csv_without_label_column(tmp_path):
    msg = rejected(write_zip(tmp_path / "z.zip", {"data.csv": "text,stars\ngood,5\n"}), tmp_path)
    assert "needs columns 'text' and 'label' (missing label; found text, stars)" in msg


def test_non_utf8_text(tmp_path):
    data = "text,label\n" + "".join(f"отличный фильм {i},pos\nплохой фильм {i},neg\n" for i in range(6))
    msg = rejected(write_zip(tmp_path / "z.zip", {"data.csv": data.encode("cp1251")}), tmp_path)
    assert "data.csv: not UTF-8 text" in msg


def test_text_with_one_label_empty_rows_and_bad_json(tmp_path):
    msg = rejected(write_zip(tmp_path / "z.zip", {"d.csv": "text,label\n" + "a,x\n" * 10}), tmp_path)
    assert "at least 2 labels, found 1 (x)" in msg
    lines = ['{"text": "a", "label": 1}', '{"text": "", "label": 0}', "not json", '{"text": "b"}', '[1, 2]']
    e = pytest.raises(DatasetRejected, check, write_zip(tmp_path / "j.zip", {"d.jsonl": "\n".join(lines)}),
                      tmp_path / "j").value
    text = " | ".join(e.problems)
    for part in ("d.jsonl row 2: empty text", "d.jsonl line 3: invalid JSON", "d.jsonl line 4: needs 'text' and 'label'",
                 "d.jsonl line 5: expected an object"):
        assert part in text, part


def test_text_row_limit(tmp_path):
    data = "text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(40))
    assert "more than 30 rows" in rejected(write_zip(tmp_path / "z.zip", {"d.csv": data}), tmp_path,
                                           limits=Limits(max_text_rows=30))


def test_kind_must_match_the_layout(tmp_path):
    path = write_zip(tmp_path / "z.zip", imagefolder_entries())
    assert "kind=detection needs a yolo or coco layout, but the zip looks like 'imagefolder'" in rejected(
        path, tmp_path, kind="detection")
    assert check(path, tmp_path / "ok", kind="image_classification").format == "imagefolder"


def test_unknown_layout(tmp_path):
    assert "cannot tell the dataset's layout" in rejected(write_zip(tmp_path / "z.zip", {"notes.md": "hi"}), tmp_path)
