"""Job configs never name a server path (security issue, item 1): as a student, every string
field of every tool's config (read from GET /v1/tools, so a new field is covered too) is
sent path-like values through POST /v1/jobs. Each answer is a 4xx JSON error, and its
message is the same whether the path exists on the server or not (the value itself
replaced), so nothing can be learnt about the server's folders.

Fields marked `x-free-text` (a generation prompt) are text for the model, never read as a
name or a path; they are accepted as text, which is checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import client, free_port, server  # noqa: F401 - the real server fixtures

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def student(server):
    """A student key with a rate limit high enough for hundreds of submissions."""
    env = {**os.environ, "TUTOR_DATA_DIR": str(server["data"])}
    out = subprocess.run([sys.executable, "-m", "tutor", "keys", "create", "prober", "--role", "student",
                          "--rate-limit", "100000", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    key = json.loads(out)["key"]
    with httpx.Client(base_url=server["base"], headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        yield c


def path_pairs(data: Path) -> list[tuple[str, str]]:
    """(a path that exists on the server, a similar one that does not)."""
    return [
        (str(ROOT), str(ROOT) + "-missing"),
        ("/etc/passwd", "/etc/no-such-file"),
        ("/etc", "/no-such-dir"),
        (str(data / "artifacts" / "jobs"), str(data / "artifacts" / "no-jobs")),
        (str(data), str(data) + "-missing"),
        ("../../../../../../etc/passwd", "../../../../../../etc/no-such-file"),
        ("./corpus/lectures", "./corpus/no-lectures"),
        ("~/", "~nobody-here/"),
        ("file:///etc/passwd", "file:///etc/no-such-file"),
        ("..\\..\\etc", "..\\..\\no-such"),
    ]


def string_fields(schema: dict) -> list[tuple[str, bool]]:
    out = []
    for name, spec in schema["properties"].items():
        opts = spec.get("anyOf", [spec])
        if any(o.get("type") == "string" or "enum" in o for o in opts):
            out.append((name, bool(spec.get("x-free-text"))))
    return out


def test_path_like_values_in_every_string_field(student, server):
    c = student
    tools = c.get("/v1/tools").json()
    pairs = path_pairs(server["data"])
    checked, free_text = 0, []
    for tool in tools:
        for field, is_text in string_fields(tool["config_schema"]):
            if is_text:
                free_text.append(f"{tool['name']}.{field}")
                continue
            for present, absent in pairs:
                answers = []
                for value in (present, absent):
                    r = c.post("/v1/jobs", json={"tool": tool["name"], "preset": "smoke", "config": {field: value}})
                    assert 400 <= r.status_code < 500, (tool["name"], field, value, r.status_code, r.text)
                    err = r.json()["error"]
                    assert set(err) >= {"code", "message"}
                    answers.append((r.status_code, err["code"], err["message"].replace(value, "<value>")))
                    checked += 1
                assert answers[0] == answers[1], (tool["name"], field, answers)
    assert checked >= 2 * len(pairs) * 10  # dataset, dataset_name, model_id, device, task... of every tool
    assert free_text == ["transformer.prompt"]


def test_registered_dataset_names_reveal_nothing(student):
    c = student
    msgs = []
    for name in ("jobs", "artifacts", "index", "no-such-set"):  # folders that exist in DATA_DIR, and one that does not
        r = c.post("/v1/jobs", json={"tool": "cnn", "preset": "smoke", "config": {"dataset_name": name}})
        assert r.status_code == 422
        msgs.append(r.json()["error"]["message"].replace(name, "<name>"))
    assert len(set(msgs)) == 1 and "no registered dataset '<name>'" in msgs[0]


def test_a_free_text_prompt_is_only_text(student):
    c = student
    r = c.post("/v1/jobs", json={"tool": "transformer", "preset": "smoke", "config": {"prompt": "/etc/passwd"}})
    assert r.status_code == 201, r.text
    job = r.json()
    # accepted as text; what the API echoes has server paths redacted (tutor.redact), a prompt included
    assert job["config"]["prompt"] in ("/etc/passwd", "…/passwd") and job["config"]["task"] == "generate"
    c.post(f"/v1/jobs/{job['id']}/cancel")


@pytest.mark.parametrize("model_id", ["/work", "../models", "~/.cache/huggingface", "C:\\models", "data"])
def test_model_id_never_takes_a_path(student, model_id):
    r = student.post("/v1/jobs", json={"tool": "transformer", "config": {"model_id": model_id}})
    assert r.status_code == 422 and "model_id" in r.json()["error"]["message"]
