"""gymnasium's check_env idea for our tools: every registered tool honours the contract,
and its smoke preset really trains on the CPU, deterministically."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from tools.common import ArtifactSaved, Finished, Log, Progress, Started
from tools.registry import TOOLS, get_tool, parse_overrides

NAMES = sorted(TOOLS)


@pytest.mark.parametrize("name", NAMES)
def test_module_contract_and_schema(name):
    entry = get_tool(name)
    mod = entry.load()
    assert {"smoke", "quick", "full"} <= set(mod.PRESETS)
    assert callable(mod.run) and mod.SPEC.name == name
    schema = mod.Config.model_json_schema()
    for field, spec in schema["properties"].items():
        assert spec.get("description"), f"{name}.{field} has no description"
        types = {spec.get("type")} | {s.get("type") for s in spec.get("anyOf", [])}
        if types & {"integer", "number"}:
            bounded = any(k in spec for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"))
            assert bounded, f"{name}.{field} is numeric without bounds"
    for preset in ("smoke", "quick", "full"):
        entry.make_config(preset)  # every preset validates
    with pytest.raises(ValidationError):
        entry.make_config("smoke", {"no_such_field": 1})
    with pytest.raises(KeyError, match="unknown preset"):
        entry.make_config("gigantic")


@pytest.mark.parametrize("name", NAMES)
def test_smoke_run_events_artifacts_and_determinism(name, tmp_path):
    entry = get_tool(name)
    cfg = entry.make_config("smoke", {"device": "cpu"})
    events = []
    result = entry.run(cfg, events.append, out_dir=tmp_path / "a")
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    assert all(isinstance(e, (Progress, Log, ArtifactSaved)) for e in events[1:-1])
    assert any(isinstance(e, Progress) for e in events)
    key = entry.spec.metric_for(cfg.model_dump()).key
    assert key in result.metrics
    assert result.device == "cpu" and result.seed == cfg.seed and result.config == cfg.model_dump()
    names = {a.name for a in result.artifacts}
    assert "metrics.json" in names and "model.pt" in names and any(n.endswith(".png") for n in names)
    for a in result.artifacts:
        assert Path(a.path).is_file() and Path(a.path).stat().st_size > 0
    again = entry.run(cfg, lambda e: None, out_dir=tmp_path / "b")

    def model_metrics(m):  # throughput counters (samples_per_s...) measure the machine, not the model
        return {k: v for k, v in m.items() if not k.endswith("_per_s")}

    assert model_metrics(again.metrics) == model_metrics(result.metrics)  # fixed seed on CPU: identical runs


def test_unknown_tool_and_overrides():
    with pytest.raises(KeyError, match="unknown tool"):
        get_tool("teleporter")
    assert parse_overrides(["epochs=3", "lr=0.01", "task=text", "augment=false"]) == {
        "epochs": 3, "lr": 0.01, "task": "text", "augment": False}
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["epochs"])


def test_quick_with_a_task_that_has_its_own_preset_starts_from_it():
    gan = get_tool("gan")
    cfg = gan.make_config("quick", {"task": "dcgan"})
    assert cfg.epochs == gan.presets["dcgan"]["epochs"] and cfg.batch_size == gan.presets["dcgan"]["batch_size"]
    assert gan.make_config("quick", {"task": "dcgan", "epochs": 3}).epochs == 3  # the student's values still win
    assert gan.make_config("quick").task == "curve"
    rnn = get_tool("rnn")  # a task without a preset of its own keeps quick
    assert rnn.make_config("quick", {"task": "forecast"}).task == "forecast"
