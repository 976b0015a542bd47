"""`python -m tutor vision MODEL FILE [--json]`: a pretrained model on a photo, offline
(imagenet, faces, ocr) or with torchvision's weights download (coco_detection, segmentation);
`python -m tutor vision --list` shows them. Exit codes: 0 done, 2 bad input, 3 model unavailable."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("vision", help="run a pretrained vision model on a photo (ImageNet classes, faces, text...)")
    v.add_argument("model", nargs="?", help="imagenet | faces | ocr | coco_detection | segmentation")
    v.add_argument("file", nargs="?", type=Path, help="the image (PNG, JPEG, GIF, BMP, WEBP, TIFF)")
    v.add_argument("--json", action="store_true", help="print the prediction, the answer text and the image path as JSON")
    v.add_argument("--list", action="store_true", help="list the models and whether they work here")
    v.add_argument("--lang", choices=["ru", "en"], default="ru", help="language of the answer text")
    v.add_argument("--out", type=Path, default=None, help="folder for the drawn image (default DATA_DIR/artifacts/vision)")
    v.add_argument("--top-k", type=int, default=None)
    v.add_argument("--threshold", type=float, default=None, help="minimum score of a face / box / text line")
    v.add_argument("--max-side", type=int, default=None, help="downscale the longer side to this before inference")
    v.add_argument("--detector", default=None, help="coco_detection: fasterrcnn_mobilenet_v3 | retinanet_resnet50 | "
                                                    "ssdlite_mobilenet_v3")
    v.add_argument("--segmenter", default=None, help="segmentation: deeplabv3_mobilenet_v3 | deeplabv3_resnet50 | "
                                                     "fcn_resnet50 | lraspp_mobilenet_v3")
    v.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    v.set_defaults(handler=cmd_vision)


def cmd_vision(a) -> int:
    from pydantic import ValidationError

    from tools.pretrained import MODELS, ImageError, ModelUnavailable, Options, describe, predict

    if a.list:
        for m in MODELS.values():
            where = "offline" if m.offline else "online"
            print(f"{m.name:15s} {where:7s} {'available' if m.available() else 'not available':14s} {m.description}")
        return 0
    if not a.model or a.file is None:
        print("error: usage: python -m tutor vision MODEL FILE [--json]  (models: " + ", ".join(MODELS) + ")",
              file=sys.stderr)
        return 2
    if a.model not in MODELS:
        print(f"error: unknown vision model '{a.model}'; available: {', '.join(MODELS)}", file=sys.stderr)
        return 2
    if not a.file.is_file():
        print(f"error: no such file: {a.file}", file=sys.stderr)
        return 2
    given = {"top_k": a.top_k, "score_threshold": a.threshold, "max_side": a.max_side, "detector": a.detector,
             "segmenter": a.segmenter, "device": a.device}
    try:
        options = Options(**{k: v for k, v in given.items() if v is not None})
        pred = predict(a.model, a.file, options, out_dir=a.out)
    except ValidationError as e:
        print("error: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()), file=sys.stderr)
        return 2
    except (ImageError, RuntimeError) as e:  # RuntimeError: --device cuda without a GPU
        if isinstance(e, ModelUnavailable):
            print(f"error: {e}", file=sys.stderr)
            return 3
        print(f"error: {a.file}: {e}", file=sys.stderr)
        return 2
    text = describe(pred, a.lang)
    if a.json:
        print(json.dumps({"prediction": pred.model_dump(mode="json"), "text": text, "image": pred.image_path},
                         ensure_ascii=False))
    else:
        print(text)
        print(f"image: {pred.image_path}")
    return 0
