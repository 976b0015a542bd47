"""`python -m tutor models ensure|info|verify` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def tutor(*args, **env):
    full = {**os.environ, **{k: str(v) for k, v in env.items()}}
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=300)


def test_models_info_lists_the_files_and_the_table(tmp_path):
    r = tutor("models", "info", "--json", TUTOR_MODELS_DIR=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "qwen2.5-coder-1.5b-instruct" and out["models_dir"] == str(tmp_path)
    files = {f["model"]: f for f in out["files"]}
    assert files["qwen2.5-coder-1.5b-instruct"]["present"] is False
    assert files["qwen2.5-coder-1.5b-instruct"]["parts_installed"] == "22/22"
    assert files["smollm2-135m-instruct"]["present"] is True
    assert {row["key"] for row in out["table"]} >= {"qwen2.5-coder-1.5b-instruct", "smollm2-135m-instruct"}
    r = tutor("models", "info", TUTOR_MODELS_DIR=tmp_path)
    assert r.returncode == 0 and "not assembled" in r.stdout and "tools json" in r.stdout


def test_models_ensure_needs_nothing_for_another_backend(tmp_path):
    r = tutor("models", "ensure", TUTOR_MODELS_DIR=tmp_path, TUTOR_LLM_BACKEND="none")
    assert r.returncode == 0 and "no packaged model needed" in r.stdout
    assert not tmp_path.joinpath("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").exists()
    r = tutor("models", "ensure", "--model", "smollm2")
    assert r.returncode == 0 and "sha256 verified" in r.stdout
    r = tutor("models", "ensure", "--model", "gpt5")
    assert r.returncode == 2 and "not a packaged model" in r.stderr


def test_a_damaged_model_file_is_refused_with_what_to_do(tmp_path):
    bad = tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    with open(bad, "wb") as f:  # the right size, the wrong content
        f.truncate(1_117_320_768)
    for args in (("models", "verify", "--model", "qwen"), ("models", "ensure")):
        r = tutor(*args, TUTOR_MODELS_DIR=tmp_path)
        assert r.returncode == 1, r.stdout
        assert "does not match" in r.stderr and "delete" in r.stderr and "Traceback" not in r.stderr
    from tutor.llm import get_llm
    from tutor.llm.base import LLMUnavailable
    from tutor.settings import Settings

    with pytest.raises(LLMUnavailable, match="refusing to load it"):  # the service answers extractively then
        get_llm(Settings(models_dir=tmp_path))


@pytest.mark.slow
def test_models_ensure_assembles_once_then_only_verifies(tmp_path):
    r = tutor("models", "ensure", TUTOR_MODELS_DIR=tmp_path)
    assert r.returncode == 0 and "assembled from its parts" in r.stdout, r.stderr
    r = tutor("models", "ensure", TUTOR_MODELS_DIR=tmp_path)
    assert r.returncode == 0 and "present, sha256 verified" in r.stdout
    r = tutor("models", "verify", TUTOR_MODELS_DIR=tmp_path)
    assert r.returncode == 0 and "qwen2.5-coder-1.5b-instruct: OK" in r.stdout
    shutil.rmtree(tmp_path)
