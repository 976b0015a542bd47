"""No Docker engine here: validate docker-compose.yml statically — services, profiles,
files it references, and that every TUTOR_* variable it sets is a real setting."""

import re
from pathlib import Path

import yaml

from tutor.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_profiles_and_settings():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    expected = {"tutor": None, "vllm": "gpu", "postgres": "prod", "ray-head": "cluster", "ray-worker": "cluster",
                "telegram-bot": "bots", "discord-bot": "bots"}
    assert set(expected) <= set(services)
    for name, profile in expected.items():
        assert (services[name].get("profiles") or [None])[0] == profile, name
    assert services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    for name in ("tutor", "vllm", "postgres", "ray-head"):
        assert "healthcheck" in services[name], name
    assert (ROOT / "Dockerfile").exists()
    known = {f"TUTOR_{f.upper()}" for f in Settings.model_fields}
    for name, svc in services.items():
        env = svc.get("environment") or {}
        for key in env:
            if key.startswith("TUTOR_"):
                assert key in known, f"{name}: {key} is not a setting"
        if "command" in svc and svc.get("image", "").startswith("tutor"):
            cmd = " ".join(svc["command"])
            if "-m tutor" in cmd:
                sub = cmd.split("-m tutor", 1)[1].split()[0]
                assert sub in ("serve", "bots", "jobs"), cmd
    for vol in spec["volumes"]:
        assert any(vol in str(v) for s in services.values() for v in s.get("volumes", [])), vol


def test_readme_documents_every_profile():
    readme = (ROOT / "README.md").read_text()
    for profile in ("gpu", "prod", "cluster", "bots"):
        assert re.search(rf"`{profile}`", readme), profile
