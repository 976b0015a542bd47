"""The cost model: estimates from the actual config, calibrated against the CPU benchmark."""

import json
from pathlib import Path

import pytest

from tools.registry import TOOLS, get_tool

BENCH = Path(__file__).resolve().parents[2] / "bench" / "results" / "experiments-cpu-2026-11-23.json"
ROWS = [r for r in json.loads(BENCH.read_text())["rows"] if "wall_s" in r]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['tool']}-{r['task'] or ''}-{r['preset']}")
def test_quick_estimates_match_the_cpu_benchmark(row):
    entry = get_tool(row["tool"])
    cfg = entry.make_config(row["preset"], {"task": row["task"]} if row["task"] else {})
    cost = entry.estimate(cfg)
    assert row["wall_s"] / 2 <= cost.cpu_s <= row["wall_s"] * 2, (cost, row["wall_s"])
    assert 0 < cost.gpu_s and cost.memory_bytes > 0 and cost.parameters > 0


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_cost_grows_with_the_work(name):
    entry = get_tool(name)
    small, big = entry.make_config("smoke"), entry.make_config("full")
    assert entry.estimate(small).cpu_s < entry.estimate(big).cpu_s


def test_a_preset_cannot_hide_the_real_cost():
    cnn = get_tool("cnn")
    cheap = cnn.estimate(cnn.make_config("smoke"))
    heavy = cnn.estimate(cnn.make_config("smoke", {"epochs": 500, "channels": 512, "batch_size": 4}))
    assert cheap.cpu_s < 15 and heavy.cpu_s > 3600 * 10  # the probe: "15 s" before


def test_models_too_big_for_memory_are_visible_in_the_estimate():
    tr = get_tool("transformer")
    cost = tr.estimate(tr.make_config("smoke", {"task": "generate", "n_layer": 48, "n_embd": 4096, "n_head": 64}))
    assert cost.parameters > 9e9 and cost.memory_bytes > 100 * 2**30
