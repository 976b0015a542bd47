"""No tool Config has a field that accepts a filesystem path: walking every registered tool's
JSON schema, each string field is an enum, or a pattern that refuses path-like values, or
text explicitly marked as text for the model (`x-free-text`, e.g. a generation prompt)."""

import re

import pytest

from tools.registry import TOOLS, get_tool

PATH_LIKE = ["/etc/passwd", "../../etc/passwd", "..", ".", "./data", "~/secrets", "~root", "C:\\Windows",
             "C:/Windows", "\\\\server\\share", "a/../b", "data/artifacts/jobs", "/", "a/b/c", "file:///etc/passwd",
             "%2e%2e%2fetc", "a\x00b", "data\\artifacts"]


def string_fields(schema: dict):
    for name, spec in schema["properties"].items():
        options = spec.get("anyOf", [spec])
        for opt in options:
            if opt.get("type") == "string" or "enum" in opt or "const" in opt:
                yield name, spec, opt


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_string_field_is_an_enum_a_pattern_or_marked_text(tool):
    schema = get_tool(tool).config_cls.model_json_schema()
    for name, spec, opt in string_fields(schema):
        if "enum" in opt or "const" in opt:
            values = opt.get("enum", [opt.get("const")])
            assert not any("/" in str(v) or "\\" in str(v) or str(v).startswith((".", "~")) for v in values), name
        elif "pattern" in opt:
            pattern = re.compile(opt["pattern"])
            assert not [v for v in PATH_LIKE if pattern.search(v)], f"{tool}.{name} accepts a path"
            assert opt.get("maxLength") or spec.get("maxLength"), f"{tool}.{name}: a patterned string needs a max length"
        else:
            assert spec.get("x-free-text"), f"{tool}.{name} is a free string: make it an enum, a pattern, or mark it"


def test_the_model_id_pattern_only_admits_hub_ids():
    """org/name passes the pattern, but the tool resolves it with snapshot_download (tested in
    tests/datasets/test_online.py), never as a folder."""
    from tools.transformer import Config

    for bad in PATH_LIKE + ["a/b/c", "org/", "/name", "org/.name", "org/name.", "org//name"]:
        with pytest.raises(ValueError):
            Config(model_id=bad)
    for ok in ("minilm", "rubert-tiny", "openai-community/gpt2", "DeepPavlov/rubert-base-cased", "Qwen/Qwen2.5-0.5B"):
        assert Config(model_id=ok).model_id == ok


@pytest.mark.parametrize("tool", ["cnn", "detection", "segmentation", "rnn", "transformer"])
def test_dataset_name_is_a_slug(tool):
    cls = get_tool(tool).config_cls
    assert "data_path" not in cls.model_fields
    for bad in PATH_LIKE + ["Afhq", "a" * 64, "_incoming", "x"]:
        with pytest.raises(ValueError):
            cls(dataset_name=bad)
    cfg = cls(dataset_name="afhq-2026")
    assert cfg.dataset == "registered"
    with pytest.raises(ValueError, match="needs dataset_name"):
        cls(dataset="registered")
    default = cls().dataset
    with pytest.raises(ValueError, match="use it with dataset=registered"):
        cls(dataset=default, dataset_name="afhq")


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_preset_validates(tool):
    entry = get_tool(tool)
    for preset in entry.presets:
        assert len(preset) <= 16  # the jobs table's preset column
        entry.make_config(preset)
