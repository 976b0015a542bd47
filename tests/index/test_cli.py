"""`python -m tutor index build` and `python -m tutor search` as real subprocesses."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(args, tmp_path, stdin=None):
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_build_then_search_json(tmp_path, small_corpus):
    idx = tmp_path / "idx"
    (small_corpus / "junk.bin").write_bytes(b"\x00\x01")
    r = run(["index", "build", str(small_corpus), "--index-dir", str(idx)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3 files" in r.stdout and "chunks" in r.stdout
    assert "junk.bin" in r.stderr and "unsupported" in r.stderr  # per-file warning

    r = run(["search", "--index-dir", str(idx), "-k", "2", "--json", "целевая", "сеть", "DQN"], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert obj["query"] == "целевая сеть DQN"
    assert len(obj["hits"]) == 2
    assert set(obj["hits"][0]) == {"text", "source", "section", "anchor", "score"}
    assert obj["hits"][0]["source"].endswith("rl.md")
    assert "experience replay" in obj["hits"][0]["text"]  # the full chunk text

    r = run(["search", "--index-dir", str(idx), "--json", "-"], tmp_path, stdin="пулинг 2x2\n\nmode collapse\n")
    objs = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert [o["query"] for o in objs] == ["пулинг 2x2", "mode collapse"]
    assert objs[1]["hits"][0]["source"].endswith("gan.md")


def test_errors_exit_nonzero_with_message(tmp_path):
    r = run(["search", "--index-dir", str(tmp_path / "missing"), "что-нибудь"], tmp_path)
    assert r.returncode == 1 and "no index" in r.stderr
    r = run(["index", "build", str(tmp_path / "nope")], tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.md").write_text("")
    r = run(["index", "build", str(empty), "--index-dir", str(tmp_path / "i")], tmp_path)
    assert r.returncode == 1 and "nothing was indexed" in r.stderr and "a.md" in r.stderr
    r = run(["search", "-k", "0", "x"], tmp_path)
    assert r.returncode == 2
