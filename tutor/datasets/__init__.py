"""Datasets registered by course staff: a zip in a standard layout, validated before and after
extraction, stored under DATA_DIR/datasets/<name>/ and referred to by name only.

    validator.py  the zip itself, before extraction (bombs, path tricks, file types)
    layouts.py    the layout of each format on the extracted copy, and the manifest the tools read
    images.py     image checks by header before decoding
    store.py      the `datasets` table (SQLAlchemy Core on the tutor engine)
    service.py    DatasetService: add / list / get / remove / resolve, used by the API, the CLI,
                  the job service (submit-time check) and the tools (tools/registered.py)
    samples.py    example zips of every format built from offline data (tests, bench, docs)

This module holds only the names every part agrees on, so importing it is cheap (tool
configs import NAME_PATTERN).
"""

# A dataset name: lower-case slug, 2-63 characters, starting with a letter or digit. It is
# the only thing a student ever sends; it can never name a path ('/', '.', '~' are not in it).
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,62}$"
NAME_MAX = 63

KINDS = ("image_classification", "detection", "segmentation", "text_classification")
FORMATS = {  # format -> kind
    "imagefolder": "image_classification",
    "yolo": "detection",
    "coco": "detection",
    "masks": "segmentation",
    "csv": "text_classification",
    "jsonl": "text_classification",
}
