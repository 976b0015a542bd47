"""Hostile uploads: decompression bombs (a tiny PNG declaring 20000×20000), images just
under the pixel limit, truncated files, polyglots, other formats dressed as images, lying
content types. Refusals are 413/415 JSON, never a 500, and no upload leaves a file behind
(the server's TMPDIR and data dir are checked). Also tutor.uploads itself."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from tests.security.conftest import assert_json_error
from tutor.uploads import UploadRejected, load_image, probe_image, sniff_format


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int, rows: int = 4) -> bytes:
    """A valid PNG header for width×height grey pixels, with only a few rows of (zero) data:
    a few hundred bytes that would decode to width×height bytes."""
    co = zlib.compressobj(9)
    body = b"".join(co.compress(b"\x00" * (width + 1)) for _ in range(rows)) + co.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))


def image_bytes(fmt: str, size=(64, 48), mode="RGB", **kw) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (120, 30, 200) if mode == "RGB" else 128).save(buf, fmt, **kw)
    return buf.getvalue()


def bmp_declaring(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info + b"\x00" * 64


def _files(root):
    return {p for p in root.rglob("*") if p.is_file() and p.name != "server.log" and not p.name.startswith("tutor.db")}


@pytest.fixture
def no_leftovers(sec_server):
    """The test must leave no file in the server's TMPDIR or its data dir."""
    before_tmp, before_data = _files(sec_server["tmp"]), _files(sec_server["data"])
    yield
    time.sleep(0.3)
    assert _files(sec_server["tmp"]) - before_tmp == set(), "upload left temporary files"
    new = {p for p in _files(sec_server["data"]) - before_data if "outputs" not in p.parts}
    assert new == set(), new


HOSTILE = [
    ("bomb-20000x20000.png", png_declaring(20000, 20000), "image/png", 413),
    ("just-over.png", png_declaring(2001, 2000), "image/png", 413),  # TUTOR_MAX_IMAGE_PIXELS=4e6 on this server
    ("wide.png", png_declaring(4_000_001, 1), "image/png", 413),
    ("bomb.bmp", bmp_declaring(30000, 30000), "image/bmp", 413),
    ("truncated.png", image_bytes("PNG", (300, 300))[:200], "image/png", 415),
    ("truncated.jpg", image_bytes("JPEG", (300, 300))[:300], "image/jpeg", 415),
    ("empty.png", b"", "image/png", 415),
    ("magic-only.png", b"\x89PNG\r\n\x1a\n", "image/png", 415),
    ("page.png", b"<html><script>alert(1)</script></html>", "image/png", 415),
    ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml", 415),
    ("x.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "image/png", 415),
    ("x.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "image/png", 415),
    ("x.tiff", image_bytes("TIFF"), "image/tiff", 415),
    ("x.ico", image_bytes("ICO", (32, 32)), "image/x-icon", 415),
    ("x.zip", b"PK\x03\x04" + b"\x00" * 100, "image/png", 415),
]


@pytest.mark.parametrize("name,data,ctype,status", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_images_are_refused_before_decoding(as_, no_leftovers, name, data, ctype, status):
    t0 = time.perf_counter()
    for tool in ("cnn", "detection", "segmentation"):
        r = as_("bob").post(f"/v1/predict/{tool}", files={"file": (name, data, ctype)})
        assert_json_error(r, status)
    assert time.perf_counter() - t0 < 20  # refused from the header, not after decoding 400 megapixels


ACCEPTED = [
    ("ok.png", image_bytes("PNG"), "image/png"),
    ("ok.jpg", image_bytes("JPEG"), "image/jpeg"),
    ("ok.gif", image_bytes("GIF", mode="L"), "image/gif"),
    ("ok.bmp", image_bytes("BMP"), "image/bmp"),
    ("ok.webp", image_bytes("WEBP"), "image/webp"),
    ("lies.txt", image_bytes("PNG"), "text/plain"),  # the type comes from the bytes, not the client
    ("polyglot.png", image_bytes("PNG") + b"PK\x03\x04<html><script>alert(1)</script>", "image/png"),
    ("under-limit.png", png_declaring(2000, 2000, rows=2000), "image/png"),
    ("rgba.png", image_bytes("PNG", mode="RGBA"), "image/png"),
    ("palette.png", image_bytes("PNG", mode="P"), "image/png"),
]


@pytest.mark.parametrize("name,data,ctype", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_real_images_pass_the_checks(as_, no_leftovers, name, data, ctype):
    """Bob has no checkpoint: a valid image gets as far as 'no checkpoint' (404), after the checks."""
    err = assert_json_error(as_("bob").post("/v1/predict/cnn", files={"file": (name, data, ctype)}), 404)
    assert err["code"] == "no_checkpoint"


def test_upload_over_the_byte_limit(as_, no_leftovers):
    big = image_bytes("PNG", (64, 64)) + b"\x00" * 400_000  # TUTOR_MAX_UPLOAD_BYTES=300000 on this server
    assert_json_error(as_("bob").post("/v1/predict/cnn", files={"file": ("big.png", big, "image/png")}), 413)
    assert_json_error(as_("bob").post("/v1/predict/cnn", data={"text": "x"}), 422)  # no file
    assert_json_error(as_("bob").post("/v1/predict/cnn", files={"other": ("a.png", image_bytes("PNG"), "image/png")}),
                      422)


# ---- tutor.uploads itself --------------------------------------------------------------------

def test_sniff_format_by_magic_bytes():
    assert [sniff_format(image_bytes(f)[:16]) for f in ("PNG", "JPEG", "GIF", "BMP", "WEBP")] == \
        ["PNG", "JPEG", "GIF", "BMP", "WEBP"]
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVE") is None and sniff_format(b"") is None
    assert sniff_format(image_bytes("TIFF")[:16]) is None


def test_probe_reads_only_the_header():
    info = probe_image(png_declaring(20000, 20000), max_pixels=10**9)
    assert (info.format, info.width, info.height, info.mime) == ("PNG", 20000, 20000, "image/png")
    with pytest.raises(UploadRejected) as e:
        probe_image(png_declaring(20000, 20000), max_pixels=4_000_000)
    assert e.value.status == 413 and "20000×20000" in e.value.message


def test_load_image_downscales_and_normalises(tmp_path):
    img = load_image(image_bytes("JPEG", (3000, 1000)), max_side=512)
    assert max(img.size) == 512 and img.mode == "RGB"
    img = load_image(image_bytes("PNG", (40, 30), mode="RGBA"))
    assert img.size == (40, 30) and img.mode == "RGB"
    f = tmp_path / "u.gif"
    f.write_bytes(image_bytes("GIF", mode="L"))
    assert load_image(f).mode in ("L", "RGB")  # a stored upload (chat UI) by path
    with pytest.raises(UploadRejected) as e:
        load_image(f, max_bytes=10)
    assert e.value.status == 413
    noisy = io.BytesIO()
    Image.effect_noise((300, 300), 64).save(noisy, "PNG")
    with pytest.raises(UploadRejected) as e:
        load_image(noisy.getvalue()[: len(noisy.getvalue()) // 2])  # cut in the middle of its pixel data
    assert e.value.status == 415


def test_pillow_limit_is_set():
    from PIL import Image as PILImage

    load_image(image_bytes("PNG"), max_pixels=5_000_000)
    assert PILImage.MAX_IMAGE_PIXELS is not None and PILImage.MAX_IMAGE_PIXELS <= 5_000_000
