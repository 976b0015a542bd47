"""Course materials uploaded live: validated, stored, indexed in the background.

    MaterialService.add(course, filename, path, by)      -> record (status queued)
    MaterialService.replace(course, id, filename, path, by) -> record (queued again)
    MaterialService.remove(course, id) / list(course) / get(course, id)
    MaterialIndexer: one background thread per process that rebuilds a course's index

Layout: DATA_DIR/courses/<course>/materials/<material id>/<files> and the course's own index
in DATA_DIR/courses/<course>/index, built incrementally by index.builder (content hashes:
an upload re-embeds only its own chunks). A course's index holds only its files, so a
student of another course can never retrieve them (tutor/courses/search.py).

Checks before anything is kept: the size (TUTOR_MAX_MATERIAL_BYTES), the extension, and the
content matching it (a PDF starts with %PDF-, a notebook is JSON with cells, text is text —
no NUL bytes, UTF-8 or cp1251); a zip goes through the dataset validator's zip checks
(tutor/datasets/validator.py: entry count, unpacked size, ratio, path tricks, symlinks,
encrypted entries, duplicates) with the material extensions allowed, and every extracted
file through the same content check. A rejected upload leaves nothing behind.

A material's status: queued → indexing → ready (its chunk count) or failed (the reason:
no text in the PDF, unreadable file ...); a zip some of whose files were skipped is ready
with the skipped files named in `error`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import shutil
import threading
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any, Callable

from tutor.courses import (MATERIAL_EXTENSIONS, UPLOAD_EXTENSIONS, CourseError, MaterialExists, MaterialNotFound,
                           MaterialRejected)
from tutor.courses.store import new_material_id
from tutor.settings import Settings

log = logging.getLogger(__name__)

PUBLIC_FIELDS = ("id", "course", "name", "kind", "files", "bytes", "sha256", "status", "error", "chunks",
                 "uploaded_by", "created_at", "updated_at", "indexed_at")
MATERIAL_DIR = re.compile(r"(?:^|/)materials/([0-9a-f]{12})/(.+)$")
BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x7fELF", b"MZ", b"\x1f\x8b", b"BZh",
                b"7z\xbc\xaf", b"Rar!")
MAX_NOTEBOOK_BYTES = 50_000_000
KINDS = {".md": "md", ".markdown": "md", ".txt": "txt", ".pdf": "pdf", ".ipynb": "ipynb", ".html": "html",
         ".htm": "html", ".zip": "zip"}


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in PUBLIC_FIELDS}


def safe_filename(name: str) -> str:
    """The uploaded file's own name (no folders), NFC, safe characters only, ≤ 120 characters."""
    base = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._-")[:100]
    ext = re.sub(r"[^A-Za-z0-9]", "", ext)[:10].lower()
    if not stem or not ext:
        raise MaterialRejected(f"the file needs a name with an extension ({' '.join(UPLOAD_EXTENSIONS)})")
    return f"{stem}.{ext}"


def source_name(course_id: str, source: str) -> str:
    """The citation name of a course index's source: 'courses/<course>/<file inside the upload>'
    (the index stores it under the material's folder, a server path students never see)."""
    m = MATERIAL_DIR.search(source)
    return f"courses/{course_id}/{m.group(2)}" if m else source


# ---- content checks --------------------------------------------------------------------------------

def check_content(path: Path, name: str) -> str | None:
    """What is wrong with a single material file, or None: its content must be what its extension says."""
    ext = Path(name).suffix.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
        size = path.stat().st_size
    except OSError:
        return f"{name}: cannot be read"
    if size == 0:
        return f"{name}: empty file"
    if ext == ".pdf":
        return None if b"%PDF-" in head[:1024] else f"{name}: not a PDF (no %PDF- header)"
    if any(head.startswith(m) for m in BINARY_MAGIC) or b"\x00" in head:
        return f"{name}: binary content, not a {ext[1:]} text file"
    if ext == ".ipynb":
        if size > MAX_NOTEBOOK_BYTES:
            return f"{name}: notebook larger than {MAX_NOTEBOOK_BYTES:,} bytes"
        try:
            nb = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            return f"{name}: not a Jupyter notebook (invalid JSON)"
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            return f"{name}: not a Jupyter notebook (no 'cells' list)"
        return None
    for enc in ("utf-8-sig", "cp1251"):
        try:
            head.decode(enc)
            return None
        except UnicodeDecodeError as e:
            if enc == "utf-8-sig" and e.start >= len(head) - 4:  # a character cut by the 64 KB read
                return None
    return f"{name}: not a text file (neither UTF-8 nor cp1251)"


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class MaterialService:
    def __init__(self, settings: Settings, courses, indexer: "MaterialIndexer | None" = None) -> None:
        self.settings = settings
        self.courses = courses  # tutor.courses.service.CourseService
        self.store = courses.store
        self.root = Path(settings.data_dir) / "courses"
        self.indexer = indexer
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    # ---- paths -------------------------------------------------------------------------------------
    def course_dir(self, course_id: str) -> Path:
        return self.root / course_id

    def materials_dir(self, course_id: str) -> Path:
        return self.course_dir(course_id) / "materials"

    def index_dir(self, course_id: str) -> Path:
        return self.course_dir(course_id) / "index"

    def lock(self, course_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(course_id, threading.Lock())

    # ---- uploads -----------------------------------------------------------------------------------
    def add(self, course_id: str, filename: str, path: str | Path, uploaded_by: str) -> dict[str, Any]:
        return self._store(course_id, filename, Path(path), uploaded_by, replace=None)

    def replace(self, course_id: str, material_id: str, filename: str, path: str | Path,
                uploaded_by: str) -> dict[str, Any]:
        return self._store(course_id, filename, Path(path), uploaded_by, replace=self.get_row(course_id, material_id))

    def _store(self, course_id: str, filename: str, path: Path, uploaded_by: str,
               replace: dict[str, Any] | None) -> dict[str, Any]:
        self.courses.get(course_id)
        name = safe_filename(filename)
        ext = Path(name).suffix.lower()
        if ext not in UPLOAD_EXTENSIONS:
            raise MaterialRejected(f"{name}: file type not allowed (allowed: {' '.join(UPLOAD_EXTENSIONS)})")
        size = path.stat().st_size
        if size > self.settings.max_material_bytes:
            raise MaterialRejected(f"{name}: {size:,} bytes, more than the limit of "
                                   f"{self.settings.max_material_bytes:,} (TUTOR_MAX_MATERIAL_BYTES)")
        incoming = self.root / "_incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        tmp = incoming / uuid.uuid4().hex
        try:
            files = self._unpack(path, name, ext, tmp)
            material_id = replace["id"] if replace else new_material_id()
            with self.lock(course_id):
                self._check_clashes(course_id, name, files, replace)
                final = self.materials_dir(course_id) / material_id
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.exists():  # replace: the old files out of sight in one step, then deleted
                    trash = incoming / f"old-{uuid.uuid4().hex}"
                    os.rename(final, trash)
                    shutil.rmtree(trash, ignore_errors=True)
                os.rename(tmp, final)
                values = dict(name=name, kind=KINDS[ext], files=files, bytes=size, sha256=digest(path), status="queued", error=None, chunks=None,
                              uploaded_by=uploaded_by, indexed_at=None)
                if replace:
                    self.store.update_material(material_id, **values)
                else:
                    self.store.insert_material(id=material_id, course=course_id, **values)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._changed(course_id)
        return self.get(course_id, material_id)

    def _unpack(self, path: Path, name: str, ext: str, tmp: Path) -> list[str]:
        """The upload's files under tmp (one file, or a zip's checked members); raises MaterialRejected."""
        tmp.mkdir(parents=True)
        if ext != ".zip":
            problem = check_content(path, name)
            if problem:
                raise MaterialRejected(problem)
            shutil.copyfile(path, tmp / name)
            return [name]
        from tutor.datasets.validator import DatasetRejected, Limits, extract, inspect_zip

        limits = Limits(max_unpacked_bytes=self.settings.max_material_unpacked_bytes,
                        max_files=self.settings.max_material_files)
        try:
            members = inspect_zip(path, limits, allowed=MATERIAL_EXTENSIONS)
            extract(path, members, tmp, limits)
        except DatasetRejected as e:
            raise MaterialRejected(str(e).replace("dataset rejected", f"{name} rejected"), e.problems) from None
        problems = [p for p in (check_content(tmp / m.name, m.name) for m in members) if p]
        if problems:
            raise MaterialRejected(f"{name} rejected: " + "; ".join(problems[:8]), problems)
        return sorted(m.name for m in members)

    def _check_clashes(self, course_id: str, name: str, files: list[str], replace: dict | None) -> None:
        """File names are unique in a course (they are the citation names students see)."""
        mine = {f.casefold() for f in files}
        for row in self.store.materials(course_id):
            if replace and row["id"] == replace["id"]:
                continue
            if row["name"] == name:
                raise MaterialExists(f"the course already has a material '{name}' (id {row['id']}): replace it "
                                     f"(PUT /v1/courses/{course_id}/materials/{row['id']}) or delete it first")
            same = sorted(f for f in row["files"] or [] if f.casefold() in mine)
            if same:
                raise MaterialExists(f"'{same[0]}' is already in the course's material '{row['name']}' (id {row['id']})"
                                     "; replace or delete that one first")

    def remove(self, course_id: str, material_id: str) -> None:
        self.get_row(course_id, material_id)
        with self.lock(course_id):
            folder = self.materials_dir(course_id) / material_id
            if folder.exists():
                trash = self.root / "_incoming" / f"removed-{uuid.uuid4().hex}"
                trash.parent.mkdir(parents=True, exist_ok=True)
                os.rename(folder, trash)
                shutil.rmtree(trash, ignore_errors=True)
            self.store.delete_material(course_id, material_id)
            waiting = self.store.materials(course_id, status=("queued", "indexing"))
        if self.indexer is not None and waiting:
            self._changed(course_id)  # the background build that embeds those drops this one too
        else:
            self.reindex(course_id)  # nothing to embed: the index without its chunks, at once

    # ---- queries -----------------------------------------------------------------------------------
    def get_row(self, course_id: str, material_id: str) -> dict[str, Any]:
        row = self.store.material(course_id, str(material_id or "")[:32])
        if row is None:
            raise MaterialNotFound(f"no material '{str(material_id)[:40]}' in course {course_id}")
        return row

    def get(self, course_id: str, material_id: str) -> dict[str, Any]:
        return public(self.get_row(course_id, material_id))

    def list(self, course_id: str) -> list[dict[str, Any]]:
        self.courses.get(course_id)
        return [public(r) for r in self.store.materials(course_id)]

    # ---- indexing ----------------------------------------------------------------------------------
    def _changed(self, course_id: str) -> None:
        if self.indexer is not None:
            self.indexer.enqueue(course_id)

    def pending_courses(self) -> list[str]:
        """Courses with materials a previous process did not finish indexing."""
        return sorted({r["course"] for r in self.store.materials(status=("queued", "indexing"))})

    def reindex(self, course_id: str, embedder=None) -> dict[str, Any]:
        """Build the course's index from its stored materials and record every material's status.
        Returns a summary (chunks, seconds); never raises for a bad file."""
        from index.builder import BuildError, build_index, read_manifest
        from tutor.redact import redact

        t0 = time.perf_counter()
        st = self.settings
        with self.lock(course_id):
            rows = self.store.materials(course_id)
            index_dir = self.index_dir(course_id)
            if not rows:
                shutil.rmtree(index_dir, ignore_errors=True)
                return {"course": course_id, "materials": 0, "chunks": 0, "seconds": time.perf_counter() - t0}
            for r in rows:
                if r["status"] in ("queued", "indexing"):
                    self.store.update_material(r["id"], status="indexing")
            warnings: list[str] = []
            name, model = self._embedder(embedder)
            failure = None
            try:
                build_index([self.materials_dir(course_id)], index_dir, embedder_spec=name, embedder=model,
                            chunk_size=st.chunk_size, chunk_overlap=st.chunk_overlap, chunk_min=st.chunk_min,
                            ann_threshold=st.ann_threshold, batch_size=st.embed_batch_size,
                            cache_path=st.embed_cache or Path(st.index_dir).parent / "embed_cache.sqlite",
                            progress=False, warn=warnings.append)
            except BuildError:  # nothing indexable at all: no course index (each material says why)
                shutil.rmtree(index_dir, ignore_errors=True)
            except Exception as e:  # an embedder or disk problem: every waiting material says so
                log.exception("indexing course %s failed", course_id)
                failure = redact(f"index build failed: {type(e).__name__}: {e}")[:300]
            manifest = read_manifest(index_dir) or {"files": {}}
            by_material: dict[str, int] = {}
            for source, meta in (manifest.get("files") or {}).items():
                m = MATERIAL_DIR.search(source)
                if m:
                    by_material[m.group(1)] = by_material.get(m.group(1), 0) + int(meta.get("chunks") or 0)
            total = 0
            for r in rows:
                skipped = [self._warning_text(w, r["id"]) for w in warnings if f"/materials/{r['id']}/" in w.replace("\\", "/")]
                chunks = by_material.get(r["id"], 0)
                total += chunks
                if failure and r["status"] in ("queued", "indexing"):
                    self.store.update_material(r["id"], status="failed", error=failure, chunks=0)
                elif chunks:
                    self.store.update_material(r["id"], status="ready", chunks=chunks, indexed_at=time.time(),
                                               error=("skipped: " + "; ".join(skipped))[:2000] if skipped else None)
                else:
                    self.store.update_material(r["id"], status="failed", chunks=0, indexed_at=time.time(),
                                               error=("; ".join(skipped) or "no text could be indexed")[:2000])
        return {"course": course_id, "materials": len(rows), "chunks": total, "seconds": time.perf_counter() - t0}

    @staticmethod
    def _warning_text(warning: str, material_id: str) -> str:
        """'…/materials/<id>/lec.pdf: skipped, no text found' → 'lec.pdf: skipped, no text found' (no server path)."""
        w = warning.replace("\\", "/")
        return w.split(f"/materials/{material_id}/", 1)[-1]

    def _embedder(self, embedder) -> tuple[str, Any]:
        """The shared index's embedder (the course index must be searchable with the same query
        vector), else its name: the builder loads it only if there is something new to embed."""
        if embedder is not None:
            return embedder.name, embedder
        from index.builder import read_manifest

        shared = read_manifest(Path(self.settings.index_dir))
        return (shared or {}).get("embedder") or self.settings.embedder, None


class MaterialIndexer:
    """Builds course indexes in one background thread, a course at a time; an upload while its
    course is being built queues one more build (never two at once, none lost)."""

    def __init__(self, service: MaterialService, embedder: Callable[[], Any] | None = None,
                 on_built: Callable[[str], None] | None = None) -> None:
        self.service = service
        self.embedder = embedder  # () -> the shared index's embedder (None: the service loads one)
        self.on_built = on_built
        self._queue: "queue.Queue[str | None]" = queue.Queue()
        self._pending: set[str] = set()
        self._busy = 0
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        service.indexer = self

    def start(self) -> None:
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tutor-course-indexer", daemon=True)
                self._thread.start()

    def enqueue(self, course_id: str) -> None:
        with self._cv:
            if course_id in self._pending:
                return
            self._pending.add(course_id)
        self._queue.put(course_id)
        self.start()

    def _run(self) -> None:
        while True:
            course_id = self._queue.get()
            if course_id is None:
                return
            with self._cv:
                self._pending.discard(course_id)
                self._busy += 1
            try:
                model = None
                if self.embedder is not None:
                    try:
                        model = self.embedder()
                    except Exception as e:  # no shared index: the service loads the configured embedder
                        log.info("shared embedder unavailable for course %s: %s", course_id, e)
                summary = self.service.reindex(course_id, model)
                log.info("course %s indexed: %s", course_id, summary)
                if self.on_built:
                    self.on_built(course_id)
            except Exception:
                log.exception("course indexer failed for %s", course_id)
            finally:
                with self._cv:
                    self._busy -= 1
                    self._cv.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._pending or self._busy or not self._queue.empty():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.2))
        return True

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)


__all__ = ["MaterialService", "MaterialIndexer", "safe_filename", "source_name", "check_content", "CourseError"]
