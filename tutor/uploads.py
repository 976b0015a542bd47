"""Checking uploaded images before anything decodes them — one module for the API, the
chat UI, the bots and the tools that take a student's picture.

    data = await read_upload(upload_file, max_bytes)      # 413 past the limit, never reads more
    img = load_image(data, max_pixels=..., max_side=512)  # PIL image, decoded safely, downscaled
    info = probe_image(data)                              # (format, width, height), header only

Checks, in order: size (bytes, while reading), type by magic bytes (the client's content
type and file name are ignored), pixel count from the header (before decoding: a 48 KB
PNG can declare 20000×20000), then a decode restricted to the sniffed format (Pillow never
tries its other parsers, e.g. EPS through Ghostscript), with Pillow's own bomb guard set
to the same limit. JPEGs are decoded at a reduced scale when they are larger than needed
(`draft`), everything is downscaled to `max_side`. Every refusal is an `UploadRejected`
with an HTTP status (413, 415, 422) and a message a student understands; nothing here
writes a file, so there is no temporary file to forget.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

# magic bytes → Pillow format name; what the course's vision tools accept
MAGIC: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"WEBP", 8, "WEBP"),  # RIFF....WEBP
]
FORMATS = tuple(dict.fromkeys(f for _, _, f in MAGIC))
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp", "WEBP": "image/webp"}

DEFAULT_MAX_PIXELS = 20_000_000
DEFAULT_MAX_SIDE = 1024


class UploadRejected(ValueError):
    """An upload refused before (or while) decoding: `status` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: PNG, JPEG, GIF, BMP, WEBP
    width: int
    height: int

    @property
    def mime(self) -> str:
        return MIME[self.format]

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff_format(head: bytes) -> str | None:
    """The image format of these first bytes (16 are enough), by magic number, or None."""
    for magic, offset, fmt in MAGIC:
        if head[offset:offset + len(magic)] == magic and (fmt != "WEBP" or head[:4] == b"RIFF"):
            return fmt
    return None


async def read_upload(upload, max_bytes: int, chunk: int = 1 << 16) -> bytes:
    """The bytes of a FastAPI/Starlette UploadFile, reading at most max_bytes + 1: a larger
    file is refused (413) without being read to its end."""
    parts, total = [], 0
    while True:
        block = await upload.read(min(chunk, max_bytes + 1 - total))
        if not block:
            break
        parts.append(block)
        total += len(block)
        if total > max_bytes:
            raise UploadRejected(413, "payload_too_large", f"the upload is larger than {max_bytes} bytes")
    return b"".join(parts)


def read_file(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a file on disk (an upload a chat UI stored), refused (413) above max_bytes."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError:
        raise UploadRejected(422, "unreadable_upload", "the uploaded file cannot be read") from None
    if len(data) > max_bytes:
        raise UploadRejected(413, "payload_too_large", f"the upload is larger than {max_bytes} bytes")
    return data


def probe_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, formats: tuple[str, ...] = FORMATS) -> ImageInfo:
    """Format and size from the header only (nothing is decoded). Raises UploadRejected:
    415 for a file that is not one of `formats` by its magic bytes or whose header is
    broken, 413 for more than `max_pixels` pixels."""
    from PIL import Image, UnidentifiedImageError

    fmt = sniff_format(data[:16])
    if fmt is None or fmt not in formats:
        raise UploadRejected(415, "unsupported_media_type",
                             f"not an image this tutor reads: upload {', '.join(f.lower() for f in formats)}")
    try:
        Image.init()
        factory, _accept = Image.OPEN[fmt]
        # the format's parser on its own reads just the header: the declared size, whatever
        # Pillow's global bomb limit is, and nothing decoded
        width, height = factory(io.BytesIO(data), "").size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, KeyError, struct.error):
        raise UploadRejected(415, "unsupported_media_type", f"the file is not a readable {fmt.lower()} image") from None
    if width <= 0 or height <= 0:
        raise UploadRejected(415, "unsupported_media_type", "the image has no pixels")
    if width * height > max_pixels:
        raise UploadRejected(413, "image_too_large", f"the image is {width}×{height} = {width * height} pixels; "
                                                     f"at most {max_pixels} are accepted: send a smaller one")
    return ImageInfo(fmt, width, height)


def load_image(source: bytes | str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int = DEFAULT_MAX_SIDE,
               max_bytes: int = 10_000_000, formats: tuple[str, ...] = FORMATS):
    """A checked, decoded PIL image (first frame), at most `max_side` pixels on its longer
    side, in mode RGB or L. `source` is the upload's bytes or the path of a stored upload.
    Raises UploadRejected (413 too big, 415 not an image / truncated / corrupt)."""
    from PIL import Image

    data = source if isinstance(source, (bytes, bytearray)) else read_file(source, max_bytes)
    if len(data) > max_bytes:
        raise UploadRejected(413, "payload_too_large", f"the upload is larger than {max_bytes} bytes")
    info = probe_image(bytes(data), max_pixels, formats)
    set_pillow_limit(max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[info.format])
            if info.format == "JPEG" and max(info.width, info.height) > max_side:
                img.draft("RGB", (max_side, max_side))  # DCT scaling: never holds the full-size picture
            img.seek(0)
            img.load()
            if img.mode not in ("RGB", "L"):
                img = img.convert("RGBA").convert("RGB") if "A" in img.getbands() or img.mode == "P" \
                    else img.convert("RGB")
            if max(img.size) > max_side:
                img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected(413, "image_too_large", f"the image has too many pixels (at most {max_pixels})") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise UploadRejected(415, "unsupported_media_type",
                             f"the {info.format.lower()} image is truncated or corrupt") from None
    return img


def set_pillow_limit(max_pixels: int) -> None:
    """Pillow's own guard (Image.MAX_IMAGE_PIXELS) at our limit, for any code path that
    opens an image without `load_image`: above it Pillow warns, above twice it raises."""
    from PIL import Image

    if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def load_upload(path: str | Path, settings) -> "object":
    """`load_image` of a stored upload (a chat-UI attachment) with the server's limits
    (TUTOR_MAX_UPLOAD_BYTES, TUTOR_MAX_IMAGE_PIXELS)."""
    return load_image(path, max_pixels=settings.max_image_pixels, max_bytes=settings.max_upload_bytes)
