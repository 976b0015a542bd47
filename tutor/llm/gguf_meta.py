"""Read a GGUF file's metadata (name, trained context, chat template) from its header.

`gguf.GGUFReader` maps every tensor and the 150k-entry vocabulary into numpy arrays
(~15 s for the 1.1 GB Qwen file here); the tutor only needs a few scalar keys, so this
walks the key/value section and skips arrays without reading them (~0.1 s).
Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import struct
from pathlib import Path

MAGIC = b"GGUF"
_STRING, _ARRAY = 8, 9
# value type -> struct format (little endian)
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
MAX_STRING = 16 << 20  # a chat template is a few kB; anything this large is a broken file


class NotGGUF(ValueError):
    """The file is not a (readable) GGUF model."""


def read_metadata(path: str | Path) -> dict:
    """Every scalar and string key of the header; arrays (vocabulary, merges) are skipped."""
    out: dict = {}
    try:
        with open(path, "rb") as f:
            if f.read(4) != MAGIC:
                raise NotGGUF(f"{Path(path).name} is not a GGUF file")
            (version,) = struct.unpack("<I", f.read(4))
            if version < 2:
                raise NotGGUF(f"{Path(path).name}: GGUF version {version} is too old")
            _n_tensors, n_kv = struct.unpack("<QQ", f.read(16))

            def read_string() -> str:
                (n,) = struct.unpack("<Q", f.read(8))
                if n > MAX_STRING:
                    raise NotGGUF(f"{Path(path).name}: corrupt GGUF header")
                return f.read(n).decode("utf-8", "replace")

            def skip_array() -> None:
                elem, n = struct.unpack("<IQ", f.read(12))
                if elem == _STRING:
                    for _ in range(n):
                        (m,) = struct.unpack("<Q", f.read(8))
                        f.seek(m, 1)
                elif elem in _SCALARS:
                    f.seek(struct.calcsize(_SCALARS[elem]) * n, 1)
                else:  # arrays of arrays do not occur in model files
                    raise NotGGUF(f"{Path(path).name}: unsupported GGUF array type {elem}")

            for _ in range(n_kv):
                key = read_string()
                (vtype,) = struct.unpack("<I", f.read(4))
                if vtype == _STRING:
                    out[key] = read_string()
                elif vtype == _ARRAY:
                    skip_array()
                elif vtype in _SCALARS:
                    fmt = "<" + _SCALARS[vtype]
                    (out[key],) = struct.unpack(fmt, f.read(struct.calcsize(fmt)))
                else:
                    raise NotGGUF(f"{Path(path).name}: unknown GGUF value type {vtype}")
    except struct.error as e:  # truncated file
        raise NotGGUF(f"{Path(path).name}: truncated GGUF header") from e
    return out


def trained_context(meta: dict) -> int | None:
    """`<architecture>.context_length`: the context the model was trained for."""
    arch = meta.get("general.architecture")
    value = meta.get(f"{arch}.context_length") if arch else None
    return int(value) if isinstance(value, int) and value > 0 else None
