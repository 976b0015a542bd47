"""Experiment requests in varied Russian and English phrasing → the right tool, preset and
parameters, without any LLM (rules + embedding fallback). Floor: 0.9 exact matches."""

import json
from pathlib import Path

from tutor.agent.router import filter_params, route

CASES = [json.loads(line) for line in (Path(__file__).parent / "experiment_requests.jsonl").read_text().splitlines()
         if line.strip()]


def test_routing_accuracy():
    assert len(CASES) >= 30
    ok, misses = 0, []
    for c in CASES:
        it = route(c["q"])
        params = filter_params(it.tool, it.params)[0] if it.tool else {}
        good = (it.kind == "experiment" and it.tool == c["tool"] and it.preset == c.get("preset")
                and all(params.get(k) == v for k, v in c["params"].items()))
        ok += good
        if not good:
            misses.append(f"{c['q']!r} -> {it.kind} {it.tool} {it.preset} {params}")
    acc = ok / len(CASES)
    print(f"\nrouting eval: {ok}/{len(CASES)} = {acc:.2f}")
    assert acc >= 0.9, "\n".join(misses)


def test_questions_are_not_experiments():
    for q in ["Что такое свёртка?", "How does DQN work?", "Почему GAN страдает от коллапса мод?",
              "Объясни, как обучается LSTM", "What is the learning rate?"]:
        assert route(q).kind == "question", q
