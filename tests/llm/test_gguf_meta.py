"""The GGUF header reader on the real packaged files and on files that are not models."""

from __future__ import annotations

import time

import pytest

from tests.llm.conftest import qwen_gguf
from tutor.llm.gguf_meta import NotGGUF, read_metadata, trained_context


def test_smollm2_header(smollm2_path):
    meta = read_metadata(smollm2_path)
    assert meta["general.architecture"] == "llama" and meta["general.size_label"] == "135M"
    assert trained_context(meta) == 8192
    assert "<|im_start|>" in meta["tokenizer.chat_template"]
    assert "tokenizer.ggml.tokens" not in meta  # arrays are skipped, not read


@pytest.mark.skipif(qwen_gguf() is None, reason="the assembled Qwen GGUF is not present (run `make setup`)")
def test_qwen_header_is_read_without_loading_the_vocabulary():
    t0 = time.perf_counter()
    meta = read_metadata(qwen_gguf())
    assert time.perf_counter() - t0 < 5  # gguf.GGUFReader takes ~15 s here
    assert meta["general.name"] == "Qwen2.5 Coder 1.5B Instruct GGUF" and trained_context(meta) == 32768
    assert "<tool_call>" in meta["tokenizer.chat_template"]


@pytest.mark.parametrize("content, match", [
    (b"", "not a GGUF"),
    (b"PK\x03\x04 a zip file", "not a GGUF"),
    (b"GGUF\x03\x00\x00\x00", "truncated"),
    (b"GGUF\x01\x00\x00\x00" + b"\x00" * 16, "too old"),
    (b"GGUF\x03\x00\x00\x00" + (0).to_bytes(8, "little") + (1).to_bytes(8, "little")
     + (2 ** 40).to_bytes(8, "little"), "corrupt"),
])
def test_files_that_are_not_models_are_refused(tmp_path, content, match):
    f = tmp_path / "x.gguf"
    f.write_bytes(content)
    with pytest.raises(NotGGUF, match=match):
        read_metadata(f)
