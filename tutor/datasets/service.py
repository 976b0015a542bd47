"""DatasetService: register, list, show, remove and resolve course datasets.

    add(name, zip_path, created_by, kind=None, course=None) -> public record
    list(kind=None, course=None) / get(name) -> public records (never a path)
    remove(name)
    resolve(name, kind) -> (folder, record)      used by the tools, in the job's process
    check_job_config(tool_module, cfg)           the submit-time check of a job's dataset

Registration: the zip is inspected (tutor/datasets/validator.py) before anything is
written, extracted into DATA_DIR/datasets/_incoming/<random>/files, its layout validated
(tutor/datasets/layouts.py),
the manifest written next to the files; then the row is inserted (the unique name decides
between two concurrent uploads) and the folder renamed into DATA_DIR/datasets/<name>/ in
one step. Any failure removes the temporary folder: a rejected upload leaves nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from tutor.datasets import FORMATS, KINDS, NAME_PATTERN
from tutor.datasets.store import DatasetStore, NameTaken
from tutor.datasets.layouts import validate_layout
from tutor.datasets.validator import DatasetRejected, Limits, extract, inspect_zip
from tutor.settings import Settings, get_settings

PUBLIC_FIELDS = ("name", "kind", "format", "classes", "stats", "course", "created_by", "created_at")
STALE_INCOMING_S = 24 * 3600


class DatasetError(Exception):
    status = 422
    code = "invalid_dataset"


class InvalidName(DatasetError):
    code = "invalid_name"


class DatasetExists(DatasetError):
    status = 409
    code = "dataset_exists"


class DatasetNotFound(DatasetError):
    status = 404
    code = "dataset_not_found"


class WrongKind(DatasetError):
    code = "wrong_dataset_kind"


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise InvalidName("a dataset name is 2-63 characters: lower-case letters, digits, '-' and '_', starting with "
                          "a letter or digit (e.g. 'afhq' or 'traffic-signs')")
    return name


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in PUBLIC_FIELDS}


class DatasetService:
    def __init__(self, settings: Settings | None = None) -> None:
        from tutor.db import get_engine

        self.settings = settings or get_settings()
        self.store = DatasetStore(get_engine(self.settings))
        self.root = Path(self.settings.data_dir) / "datasets"
        self.limits = Limits.from_settings(self.settings)

    # ---- registration ---------------------------------------------------------------------
    def add(self, name: str, zip_path: str | Path, created_by: str, kind: str | None = None,
            course: str | None = None) -> dict[str, Any]:
        """Validate and store a zip; raises InvalidName, DatasetExists, DatasetRejected."""
        validate_name(name)
        if kind is not None and kind not in KINDS:
            raise DatasetRejected([f"unknown kind '{kind}'; choose one of {', '.join(KINDS)}"])
        if self.store.get(name) is not None:
            raise DatasetExists(f"a dataset named '{name}' already exists; remove it first or pick another name")
        size = Path(zip_path).stat().st_size
        if size > self.settings.max_dataset_bytes:
            raise DatasetRejected([f"the zip is {size:,} bytes, more than the limit of "
                                   f"{self.settings.max_dataset_bytes:,} (TUTOR_MAX_DATASET_BYTES)"])
        incoming = self.root / "_incoming"
        self._clean_stale(incoming)
        tmp = incoming / uuid.uuid4().hex
        inserted = False
        try:
            members = inspect_zip(zip_path, self.limits)
            extract(zip_path, members, tmp / "files", self.limits)
            v = validate_layout(tmp / "files", [m.name for m in members], self.limits, kind)
            (tmp / "manifest.json").write_text(json.dumps(v.manifest, ensure_ascii=False), encoding="utf-8")
            if v.rows is not None:
                with open(tmp / "texts.jsonl", "w", encoding="utf-8") as f:
                    for r in v.rows:
                        f.write(json.dumps(r, ensure_ascii=False) + "\n")
            try:
                self.store.insert(name, v.kind, v.format, v.classes, v.stats, name, created_by, course)
            except NameTaken:
                raise DatasetExists(f"a dataset named '{name}' already exists") from None
            inserted = True
            final = self.root / name
            if final.exists():  # a folder no row owns (left by a crash): the new row owns the name now
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if inserted:
                self.store.delete(name)
            raise
        return self.get(name)

    @staticmethod
    def _clean_stale(incoming: Path) -> None:
        """Temporary folders of uploads killed mid-way (the process died, not a rejection)."""
        incoming.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for d in incoming.iterdir():
            try:
                if now - d.stat().st_mtime > STALE_INCOMING_S:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass

    # ---- queries ------------------------------------------------------------------------
    def list(self, kind: str | None = None, course: str | None = None,
             visible_to: str | None = None) -> list[dict[str, Any]]:
        """`course`: that course's only; `visible_to`: what a member of that course may use (its own and
        the shared ones, registered without a course)."""
        rows = self.store.list(kind=kind, course=course)
        if visible_to is not None:
            rows = [r for r in rows if r.get("course") in (None, visible_to)]
        return [public(r) for r in rows]

    def get(self, name: str, visible_to: str | None = None) -> dict[str, Any]:
        record = self.store.get(validate_name(name))
        if record is None or (visible_to is not None and record.get("course") not in (None, visible_to)):
            # another course's dataset is indistinguishable from a missing one
            raise DatasetNotFound(f"no registered dataset '{name}' (GET /v1/datasets lists them)")
        return public(record)

    def remove(self, name: str) -> None:
        validate_name(name)
        if not self.store.delete(name):
            raise DatasetNotFound(f"no registered dataset '{name}'")
        folder = self.root / name
        if folder.exists():
            trash = self.root / "_incoming" / f"removed-{uuid.uuid4().hex}"
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.rename(folder, trash)  # first out of sight in one step, then deleted
            shutil.rmtree(trash, ignore_errors=True)

    # ---- use by jobs ------------------------------------------------------------------------
    def require(self, name: str, kind: str | None = None, course: str | None = None) -> dict[str, Any]:
        """The record of a dataset a job (of `course`) may use; DatasetNotFound / WrongKind otherwise."""
        record = self.get(name, visible_to=course)
        if kind is not None and record["kind"] != kind:
            raise WrongKind(f"dataset '{name}' is of kind {record['kind']} ({record['format']}); this experiment "
                            f"needs one of kind {kind}")
        return record

    def resolve(self, name: str, kind: str | None = None) -> tuple[Path, dict[str, Any]]:
        """The stored folder and manifest of a dataset (for the tools, never shown to users)."""
        self.require(name, kind)
        row = self.store.get(name)
        folder = self.root / row["folder"]
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            raise DatasetNotFound(f"dataset '{name}' is registered but its files are missing; ask the course "
                                  "staff to upload it again")
        return folder, json.loads(manifest.read_text(encoding="utf-8"))


def check_job_config(tool_module, cfg, settings: Settings | None = None, course: str | None = None) -> None:
    """Submit-time check: a job naming a registered dataset fails at submission (4xx), not
    in the worker. Raises DatasetError with a message that names only the dataset."""
    if getattr(cfg, "dataset", None) != "registered":
        return
    kind = getattr(tool_module, "REGISTERED_KIND", None)
    DatasetService(settings).require(cfg.dataset_name, kind, course=course)


__all__ = ["DatasetService", "DatasetError", "DatasetExists", "DatasetNotFound", "InvalidName", "WrongKind",
           "DatasetRejected", "check_job_config", "validate_name", "FORMATS", "KINDS"]
