"""Real photos for the pretrained-model tests, written as files once per session (the
`photos` fixture in tests/conftest.py): skimage's sample images ship inside the package, so
nothing is downloaded. Known content: astronaut = a portrait (one face, at FACE_BOX),
chelsea = a cat, coffee = a cup of espresso; text.png is rendered with DejaVu Sans."""

from __future__ import annotations

from pathlib import Path

# Eileen Collins' face in skimage.data.astronaut() (512 x 512), measured by eye on the image:
# forehead to chin, ear to ear
FACE_BOX = (175.0, 55.0, 272.0, 180.0)
TEXT_LINES = ("Deep Learning 2024", "Привет, нейросеть!", "batch size = 64")


def font_path() -> Path:
    """DejaVu Sans from matplotlib's own files (always installed with it)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def write_photos(folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def save(name: str, img: Image.Image, **kw) -> None:
        out[name.split(".")[0]] = folder / name
        img.save(folder / name, **kw)

    astronaut, chelsea, coffee = (Image.fromarray(f()) for f in (data.astronaut, data.chelsea, data.coffee))
    save("astronaut.jpg", astronaut, quality=92)
    save("chelsea.jpg", chelsea, quality=92)
    save("coffee.jpg", coffee, quality=92)
    save("gray.png", astronaut.convert("L"))  # grayscale portrait: the face must still be found
    rgba = chelsea.convert("RGBA")
    alpha = np.full(chelsea.size[::-1], 255, np.uint8)
    alpha[:, :60] = 0  # a transparent strip: composited on white, not on black
    rgba.putalpha(Image.fromarray(alpha))
    save("rgba.png", rgba)
    save("tiny.png", astronaut.resize((8, 8)))
    big = astronaut.resize((2048, 2048), Image.Resampling.BICUBIC)  # 4 MP: downscaled before inference
    save("big.jpg", big, quality=90)
    # a phone photo: pixels stored turned 90°, the EXIF Orientation tag (6) says how to show it upright
    exif = Image.Exif()
    exif[0x0112] = 6
    save("rotated.jpg", chelsea.transpose(Image.Transpose.ROTATE_90), quality=92, exif=exif.tobytes())
    save("rotated_face.jpg", astronaut.transpose(Image.Transpose.ROTATE_90), quality=92, exif=exif.tobytes())
    text = Image.new("RGB", (700, 220), "white")
    draw = ImageDraw.Draw(text)
    font = ImageFont.truetype(str(font_path()), 40)
    for i, line in enumerate(TEXT_LINES):
        draw.text((20, 20 + 60 * i), line, fill="black", font=font)
    save("text.png", text)
    (folder / "not_an_image.png").write_bytes(b"this is a text file, not a PNG\n" * 10)
    out["not_an_image"] = folder / "not_an_image.png"
    return out
