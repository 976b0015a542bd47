"""Files made on request outside a job: comparison plots (PNG + a ~5 MB self-contained
HTML) and prediction overlays. Each owner has a folder under ARTIFACTS_DIR/outputs with
a size quota (TUTOR_OWNER_ARTIFACT_MB, the oldest files go first) and an expiry
(TUTOR_ARTIFACT_TTL_HOURS); `enforce` runs after every write, `sweep` in the scheduler.

Folder names are derived from the owner (safe characters + a hash), never taken from a
request, and a file is looked up only inside the caller's own folder."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class OwnerOutputs:
    def __init__(self, settings) -> None:
        self.root = Path(settings.artifacts_dir).resolve() / "outputs"
        self.ttl_s = settings.artifact_ttl_hours * 3600
        self.quota_bytes = int(settings.owner_artifact_mb * 1_000_000)

    @staticmethod
    def slug(owner: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", owner).strip("._")[:60] or "owner"
        return f"{safe}-{hashlib.sha256(owner.encode()).hexdigest()[:10]}"

    def dir_for(self, owner: str) -> Path:
        d = self.root / self.slug(owner)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def find(self, owner: str, name: str) -> Path | None:
        """The owner's file `name` (a plain file name), or None."""
        if not NAME_RE.fullmatch(name or ""):
            return None
        p = self.root / self.slug(owner) / name
        return p if p.is_file() and not p.is_symlink() else None

    @staticmethod
    def _files(d: Path) -> list[tuple[float, int, Path]]:
        out = []
        for p in d.iterdir() if d.is_dir() else ():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if p.is_file():
                out.append((st.st_mtime, st.st_size, p))
        return sorted(out)

    def _trim(self, d: Path, now: float) -> int:
        files = self._files(d)
        removed = 0
        total = sum(size for _, size, _ in files)
        for mtime, size, p in files:  # oldest first
            if now - mtime > self.ttl_s or total > self.quota_bytes:
                p.unlink(missing_ok=True)
                total -= size
                removed += 1
        return removed

    def enforce(self, owner: str) -> int:
        """Expired files, then the oldest ones above the quota, of one owner. Returns how many went."""
        return self._trim(self.root / self.slug(owner), time.time())

    def sweep(self) -> int:
        """Every owner's folder: expired files and quota; empty folders removed."""
        if not self.root.is_dir():
            return 0
        now, removed = time.time(), 0
        for d in self.root.iterdir():
            if d.is_dir():
                removed += self._trim(d, now)
                try:
                    if now - d.stat().st_mtime > 3600:  # not one a request has just made to write into
                        d.rmdir()  # only when empty
                except OSError:
                    pass
        if removed:
            log.info("outputs sweep: removed %d expired or over-quota files", removed)
        return removed

    def usage(self, owner: str) -> int:
        return sum(size for _, size, _ in self._files(self.root / self.slug(owner)))
