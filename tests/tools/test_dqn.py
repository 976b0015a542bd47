import numpy as np
import pytest
from pydantic import ValidationError

from tools.dqn import Config, ReplayBuffer, epsilon, infer, run


def test_replay_buffer_is_a_ring():
    rb = ReplayBuffer(3, 2, np.random.default_rng(0))
    for i in range(5):
        rb.add(np.full(2, i), i % 2, float(i), np.full(2, i + 1), 0.0)
    assert len(rb) == 3 and sorted(rb.rewards.tolist()) == [2.0, 3.0, 4.0]
    o, a, r, no, d = rb.sample(8)
    assert o.shape == (8, 2) and set(r.tolist()) <= {2.0, 3.0, 4.0}


def test_epsilon_schedule():
    cfg = Config(total_steps=1000, exploration_fraction=0.5, start_e=1.0, end_e=0.1)
    assert epsilon(0, cfg) == 1.0 and epsilon(250, cfg) == pytest.approx(0.55) and epsilon(900, cfg) == pytest.approx(0.1)


def test_bad_config():
    with pytest.raises(ValidationError):
        Config(gamma=1.5)
    with pytest.raises(ValidationError):
        Config(env_id="Pong-v5")


def test_infer(tmp_path):
    result = run(Config(total_steps=300, learning_starts=100, eval_episodes=1, select_every=0, device="cpu"), out_dir=tmp_path)
    out = infer(result.artifact("model.pt").path, {"episodes": 2})
    assert len(out["returns"]) == 2 and out["mean"] > 0


@pytest.mark.slow
def test_quick_preset_balances_the_pole(tmp_path):
    assert run(Config(device="cpu"), out_dir=tmp_path).metrics["eval_return_mean"] >= 150
