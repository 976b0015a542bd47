"""tutor.agent.router: how many runs a message asks for (the agent loop starts no more)."""

import pytest

from tutor.agent.router import asks_for_action, mentioned_tools, runs_asked_for


@pytest.mark.parametrize("message, n", [
    ("запусти ган по-быстрому", 1),
    ("обучи cnn smoke на 2 эпохи с lr 0.005", 1),
    ("train a small rnn quickly (smoke)", 1),
    ("сравни lr 0.1 и 0.001 для cnn smoke", 2),
    ("compare batch size 32 vs 128 for the cnn (smoke)", 2),
    ("сравни lr 0.1, 0.01 и 0.001", 3),
    ("запусти cnn и ган", 2),
    ("что такое дропаут?", 1),
])
def test_runs_asked_for(message, n):
    assert runs_asked_for(message) == n


def test_mentioned_tools():
    assert mentioned_tools("обучи детектор и сегментацию") == {"detection", "segmentation"}
    assert mentioned_tools("привет") == set()


@pytest.mark.parametrize("message, action", [
    ("запусти ган smoke и объясни лоссы", True),
    ("включи режим подсказок", True),
    ("switch to hint mode", True),
    ("что такое дропаут?", False),
    ("объясни свёртку", False),
    ("как работает режим подсказок?", False),
])
def test_asks_for_action(message, action):
    """Questions that still ask for a tool (a run, a mode) go through the agent loop with JSON tool calls."""
    assert asks_for_action(message) is action
