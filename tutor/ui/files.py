"""Files of chat elements (plots, source cards, samples) kept on local disk, so a resumed
thread shows them again. Chainlit's SQL data layer stores element rows and hands the bytes
to a storage client (S3, GCS, Azure in Chainlit itself); this one writes under the data
dir and serves them back at /ui-files/ to their owner (and to staff) only."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chainlit.data.storage_clients.base import BaseStorageClient

URL_PREFIX = "/ui-files"
# what a browser may render inline; anything else is downloaded, never run as a page
INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "application/json", "application/pdf")


class StorageKeyError(ValueError):
    """An object key that would leave the storage root."""


class LocalStorageClient(BaseStorageClient):
    def __init__(self, root: str | Path, url_prefix: str = URL_PREFIX):
        self.root = Path(root).resolve()
        self.url_prefix = url_prefix.rstrip("/")
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, object_key: str) -> Path:
        """The file of a key; keys are «user id/element id/name» written by Chainlit."""
        parts = [p for p in object_key.split("/") if p]
        if not parts or any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
            raise StorageKeyError(f"bad object key: {object_key!r}")
        p = self.root.joinpath(*parts).resolve()
        if not p.is_relative_to(self.root) or p == self.root:
            raise StorageKeyError(f"bad object key: {object_key!r}")
        return p

    @staticmethod
    def _mime_path(path: Path) -> Path:
        return path.with_name(path.name + ".mime")

    def url(self, object_key: str) -> str:
        return f"{self.url_prefix}/{quote(object_key)}"

    def mime(self, object_key: str) -> str:
        try:
            return self._mime_path(self.path(object_key)).read_text(encoding="utf-8").strip() or "application/octet-stream"
        except FileNotFoundError:
            return mimetypes.guess_type(object_key)[0] or "application/octet-stream"

    async def upload_file(self, object_key: str, data: bytes | str, mime: str = "application/octet-stream",
                          overwrite: bool = True, content_disposition: str | None = None) -> dict[str, Any]:
        path = self.path(object_key)
        if path.exists() and not overwrite:
            return {"object_key": object_key, "url": self.url(object_key)}
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(raw)
            tmp.replace(path)  # readers never see half a file
            self._mime_path(path).write_text(mime or "application/octet-stream", encoding="utf-8")

        await asyncio.to_thread(write)
        return {"object_key": object_key, "url": self.url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        try:
            path = self.path(object_key)
        except StorageKeyError:
            return False
        existed = path.exists()
        for p in (path, self._mime_path(path)):
            p.unlink(missing_ok=True)
        return existed

    async def get_read_url(self, object_key: str) -> str:
        return self.url(object_key)

    async def close(self) -> None:
        return None


def add_file_route(app, storage: LocalStorageClient) -> None:
    """GET /ui-files/{key}: the element's bytes for the logged-in owner (the key starts with
    the Chainlit user id) or staff; 401 without a login, 404 for anyone else."""
    from chainlit.auth import get_current_user
    from fastapi import Depends, HTTPException
    from fastapi.responses import FileResponse

    @app.get(URL_PREFIX + "/{object_key:path}", include_in_schema=False)
    async def ui_file(object_key: str, user=Depends(get_current_user)):
        if user is None:
            raise HTTPException(401, "log in to the chat UI to see its files")
        role = (getattr(user, "metadata", None) or {}).get("role")
        owner = object_key.split("/", 1)[0]
        if owner != str(getattr(user, "id", "")) and role not in ("staff", "admin"):
            raise HTTPException(404, "no such file")  # not 403: do not confirm that it exists
        try:
            path = storage.path(object_key)
        except StorageKeyError:
            raise HTTPException(404, "no such file") from None
        if not path.is_file():
            raise HTTPException(404, "no such file")
        mime = storage.mime(object_key)
        inline = mime.split(";")[0].strip() in INLINE
        return FileResponse(path, media_type=mime, content_disposition_type="inline" if inline else "attachment",
                            filename=path.name,
                            headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
                                     "Cache-Control": "private, max-age=3600"})
