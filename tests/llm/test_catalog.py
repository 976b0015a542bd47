"""The per-model table: models are recognised by checksum or declared name, never by file name."""

from __future__ import annotations

import shutil
import struct

import pytest

from tests.llm.conftest import qwen_gguf
from tutor.llm import catalog
from tutor.llm.base import ToolCalling
from tutor.llm.gguf_meta import read_metadata
from tutor.settings import Settings


def _gguf(path, kv: dict) -> None:
    """A minimal GGUF header (no tensors) with string/uint32 keys."""
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for k, v in kv.items():
        key = k.encode()
        out += struct.pack("<Q", len(key)) + key
        if isinstance(v, str):
            b = v.encode()
            out += struct.pack("<IQ", 8, len(b)) + b
        else:
            out += struct.pack("<II", 4, v)
    path.write_bytes(out)


@pytest.mark.parametrize("name, key", [
    ("qwen", "qwen2.5-coder-1.5b-instruct"), ("Qwen2.5-Coder-1.5B-Instruct", "qwen2.5-coder-1.5b-instruct"),
    ("Qwen/Qwen2.5-Coder-1.5B-Instruct", "qwen2.5-coder-1.5b-instruct"),
    ("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-1.5b-instruct"),
    ("smollm2", "smollm2-135m-instruct"), ("SmolLM2-135M", "smollm2-135m-instruct"),
])
def test_known_models_by_key_alias_or_served_name(name, key):
    assert catalog.lookup(name).key == key


@pytest.mark.parametrize("name", ["Qwen/Qwen2.5-7B-Instruct", "gpt-4o", "", None, "/etc/passwd"])
def test_other_names_are_not_in_the_table(name):
    assert catalog.lookup(name) is None


def test_the_table_says_what_each_model_can_do():
    rows = {r["key"]: r for r in catalog.table()}
    qwen, smol = rows["qwen2.5-coder-1.5b-instruct"], rows["smollm2-135m-instruct"]
    assert qwen["tool_calling"] == "json" and qwen["generative_answers"] and qwen["languages"] == ["ru", "en"]
    assert smol["tool_calling"] == "none" and not smol["generative_answers"] and smol["languages"] == ["en"]
    assert rows["openai-compatible"]["tool_calling"] == "native"
    assert catalog.QWEN.packaged.sha256.startswith("cc324af0") and "Apache-2.0" in catalog.QWEN.license


def test_a_renamed_copy_of_a_packaged_model_is_recognised_by_its_checksum(smollm2_path, tmp_path):
    copy = tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"  # a misleading file name
    shutil.copyfile(smollm2_path, copy)
    profile = catalog.profile_for_gguf(copy, read_metadata(copy))
    assert profile.key == "smollm2-135m-instruct" and profile.packaged is not None


def test_another_file_of_a_known_model_gets_its_abilities_but_not_its_checksum(tmp_path):
    f = tmp_path / "my-model.gguf"
    _gguf(f, {"general.architecture": "qwen2", "general.name": "Qwen2.5 Coder 1.5B Instruct",
              "qwen2.context_length": 32768})
    profile = catalog.profile_for_gguf(f, read_metadata(f))
    assert profile.key == "qwen2.5-coder-1.5b-instruct" and profile.packaged is None
    assert profile.tool_calling is ToolCalling.JSON and profile.chat_template


def test_an_unknown_gguf_gets_the_conservative_generic_profile(tmp_path):
    f = tmp_path / "qwen-looking-name-135m.gguf"  # the name is not evidence
    _gguf(f, {"general.architecture": "llama", "general.name": "Mystery 7B", "llama.context_length": 2048})
    profile = catalog.profile_for_gguf(f, read_metadata(f))
    assert profile.key == "gguf" and profile.tool_calling is ToolCalling.NONE
    assert profile.trained_context == 2048 and profile.context == 2048 and "Mystery 7B" in profile.title


def test_settings_override_the_tables_tool_calling():
    assert catalog.capabilities(catalog.QWEN, Settings(), "llamacpp", "q").tool_calling is ToolCalling.JSON
    st = Settings(llm_tool_calling="none")
    assert catalog.capabilities(catalog.QWEN, st, "llamacpp", "q").tool_calling is ToolCalling.NONE
    st = Settings(llm_tool_calling="json")
    caps = catalog.capabilities(catalog.SMOLLM2, st, "llamacpp", "s", context=1024)
    assert caps.tool_calling is ToolCalling.JSON and caps.context_size == 1024 and caps.name == "llamacpp:s"


@pytest.mark.skipif(qwen_gguf() is None, reason="the assembled Qwen GGUF is not present (run `make setup`)")
def test_the_stored_template_is_the_ggufs_own_with_only_the_braces_fixed():
    original = read_metadata(qwen_gguf())["tokenizer.chat_template"]
    stored = catalog.QWEN.template_text()
    broken = '{{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}}'
    assert original.count(broken) == 1 and broken not in stored
    assert original.replace(broken, broken[1:-1]) == stored
