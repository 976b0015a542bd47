"""Image checks by header before decoding: format from the magic bytes, width and height from
the header, so an oversized or fake image is refused before PIL allocates its pixels.

TODO: switch to tutor/uploads.py (the security work's image checks by magic bytes + pixel
count) once it lands; this module then keeps only `decode_check`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class ImageProblem(ValueError):
    """The file is not an image we accept (the message says why, without a server path)."""


@dataclass(frozen=True)
class ImageHeader:
    format: str  # png | jpeg | bmp | gif | webp
    width: int
    height: int


def read_header(head: bytes) -> ImageHeader:
    """Format, width and height from the first bytes of a file (64 KiB is plenty: a JPEG's
    SOF marker follows its EXIF/ICC segments, which may be long)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise ImageProblem("truncated PNG header")
        w, h = struct.unpack(">II", head[16:24])
        return ImageHeader("png", w, h)
    if head.startswith(b"\xff\xd8"):
        return ImageHeader("jpeg", *_jpeg_size(head))
    if head.startswith(b"BM") and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return ImageHeader("bmp", abs(w), abs(h))  # negative height: a top-down bitmap
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        w, h = struct.unpack("<HH", head[6:10])
        return ImageHeader("gif", w, h)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", head[26:30])
            return ImageHeader("webp", w & 0x3FFF, h & 0x3FFF)
        if chunk == b"VP8L":
            b = head[21:25]
            w = 1 + (((b[1] & 0x3F) << 8) | b[0])
            h = 1 + (((b[3] & 0x0F) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
            return ImageHeader("webp", w, h)
        if chunk == b"VP8X":
            w = 1 + int.from_bytes(head[24:27], "little")
            h = 1 + int.from_bytes(head[27:30], "little")
            return ImageHeader("webp", w, h)
    raise ImageProblem("not a PNG, JPEG, BMP, GIF or WebP image")


def _jpeg_size(head: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            raise ImageProblem("corrupt JPEG header")
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        seg_len = struct.unpack(">H", head[i + 2:i + 4])[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(head):
                break
            h, w = struct.unpack(">HH", head[i + 5:i + 9])
            return w, h
        i += 2 + seg_len
    raise ImageProblem("JPEG without a frame header in its first 64 KiB")


def check_header(path: Path, max_side: int, max_pixels: int, min_side: int = 8) -> ImageHeader:
    with open(path, "rb") as f:
        header = read_header(f.read(65536))
    if header.width < min_side or header.height < min_side:
        raise ImageProblem(f"image is {header.width}x{header.height}, smaller than {min_side} px")
    if header.width > max_side or header.height > max_side or header.width * header.height > max_pixels:
        raise ImageProblem(f"image is {header.width}x{header.height}, larger than the limit "
                           f"({max_side} px a side, {max_pixels:,} pixels)")
    return header


def decode_check(path: Path, header: ImageHeader):
    """Decode the image fully (a valid header over broken data fails here) and return it.
    JPEGs decode at reduced scale (draft): corruption still shows, at a fraction of the cost."""
    from PIL import Image

    with Image.open(path) as img:
        if (img.width, img.height) != (header.width, header.height):
            raise ImageProblem("image header and data disagree about its size")
        if header.format == "jpeg":
            img.draft("RGB", (max(1, img.width // 4), max(1, img.height // 4)))
        img.load()
        return img.mode
