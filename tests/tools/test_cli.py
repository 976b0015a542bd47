import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(args, tmp_path):
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "tools", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_json_result_is_the_last_line(tmp_path):
    r = run(["gan", "--preset", "smoke", "--json", "--out", str(tmp_path / "run")], tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["tool"] == "gan" and "curve_distance" in result["metrics"]
    assert "[epoch" in r.stderr  # progress went to stderr


def test_bad_input_exits_2_before_compute(tmp_path):
    r = run(["dqn", "--preset", "smoke", "--set", "total_steps=-5"], tmp_path)
    assert r.returncode == 2 and "total_steps" in r.stderr and "[started]" not in r.stderr
    r = run(["teleporter"], tmp_path)
    assert r.returncode == 2 and "unknown tool" in r.stderr
    r = run(["cnn", "--set", "epochs"], tmp_path)
    assert r.returncode == 2 and "key=value" in r.stderr


def test_schema(tmp_path):
    r = run(["segmentation", "--schema"], tmp_path)
    data = json.loads(r.stdout)
    assert "epochs" in data["schema"]["properties"] and "quick" in data["presets"]
