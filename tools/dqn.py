"""DQN on gymnasium CartPole-v1 (lecture: «Обучение с подкреплением», corpus/lectures/17_rl_dqn.md).

Demonstrates the three ideas that make deep Q-learning stable: an experience replay
buffer (decorrelates consecutive transitions), a target network (a slowly moving
regression target for the Bellman update) and an ε-greedy schedule (explore first,
exploit later). cleanrl-style single file: Config → Env → Q-network → Train/Eval → run().
Main metric: eval_return_mean over greedy evaluation episodes (CartPole caps at 500).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from tools.common import (Log, Progress, RunDir, Started, ToolConfig, finish, null_emit, pick_device, plot_history,
                          plt_figure, seed_everything)



class Config(ToolConfig):
    env_id: Literal["CartPole-v1", "Acrobot-v1", "MountainCar-v0"] = Field(
        "CartPole-v1", description="gymnasium environment (discrete actions).")
    total_steps: int = Field(30_000, ge=200, le=5_000_000, description="Environment steps to train for.")
    lr: float = Field(1e-3, gt=0, le=1.0, description="Adam learning rate of the Q-network.")
    batch_size: int = Field(64, ge=8, le=4096, description="Transitions per gradient step.")
    gamma: float = Field(0.99, ge=0.0, le=1.0, description="Discount factor γ.")
    buffer_size: int = Field(20_000, ge=100, le=5_000_000, description="Replay buffer capacity (transitions).")
    learning_starts: int = Field(1_000, ge=0, le=1_000_000, description="Random steps before learning starts.")
    train_frequency: int = Field(1, ge=1, le=1000, description="Gradient step every N env steps.")
    target_update: int = Field(500, ge=1, le=1_000_000, description="Copy online → target network every N steps.")
    tau: float = Field(1.0, gt=0.0, le=1.0, description="Target update rate (1.0 = hard copy, <1 = Polyak).")
    exploration_fraction: float = Field(0.3, gt=0.0, le=1.0, description="Share of training over which ε decays.")
    start_e: float = Field(1.0, ge=0.0, le=1.0, description="Initial ε of ε-greedy.")
    end_e: float = Field(0.02, ge=0.0, le=1.0, description="Final ε of ε-greedy.")
    hidden: int = Field(128, ge=8, le=4096, description="Width of the two hidden layers of the Q-network.")
    eval_episodes: int = Field(10, ge=1, le=1000, description="Greedy episodes for the final evaluation.")
    log_every: int = Field(1000, ge=50, le=1_000_000, description="Progress event every N steps.")
    select_every: int = Field(
        5000, ge=0, le=1_000_000,
        description="Every N steps evaluate the greedy policy (3 episodes) and keep the best weights; 0 = off.")


PRESETS = {
    "smoke": {"total_steps": 1500, "learning_starts": 200, "eval_episodes": 2, "log_every": 500, "select_every": 0},
    "quick": {},
    "full": {"total_steps": 500_000, "lr": 2.5e-4, "batch_size": 128, "buffer_size": 10_000,
             "learning_starts": 10_000, "train_frequency": 10, "exploration_fraction": 0.5, "end_e": 0.05},
}


# ---- replay buffer ---------------------------------------------------------------------------

class ReplayBuffer:
    """Numpy ring buffer: the oldest transitions are overwritten once `capacity` is reached."""

    def __init__(self, capacity: int, obs_dim: int, rng: np.random.Generator) -> None:
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.capacity, self.pos, self.full, self.rng = capacity, 0, False, rng

    def __len__(self) -> int:
        return self.capacity if self.full else self.pos

    def add(self, obs, action, reward, next_obs, done) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i], self.next_obs[i], self.dones[i] = obs, action, reward, next_obs, done
        self.pos = (self.pos + 1) % self.capacity
        self.full = self.full or self.pos == 0

    def sample(self, n: int):
        idx = self.rng.integers(0, len(self), size=n)
        return self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.dones[idx]


def epsilon(step: int, cfg: Config) -> float:
    """Linear decay from start_e to end_e over exploration_fraction * total_steps."""
    duration = cfg.exploration_fraction * cfg.total_steps
    return max(cfg.end_e, cfg.start_e + (cfg.end_e - cfg.start_e) * step / duration)


def make_qnet(obs_dim: int, n_actions: int, hidden: int):
    import torch.nn as nn

    return nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_actions))


def evaluate(qnet, env_id: str, episodes: int, seed: int, device, render: bool = False):
    """Greedy returns over `episodes` episodes with distinct seeds (and frames of the first)."""
    import gymnasium as gym
    import torch

    env = gym.make(env_id, render_mode="rgb_array" if render else None)
    returns, frames = [], []
    if render:
        try:
            env.reset(seed=seed)
            env.render()
        except Exception:  # pygame (gymnasium[classic-control]) missing: evaluate without frames
            render = False
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + 10_000 + ep)
        done, total = False, 0.0
        while not done:
            if render and ep == 0 and len(frames) < 400:
                frames.append(env.render())
            with torch.no_grad():
                action = int(qnet(torch.as_tensor(obs, dtype=torch.float32, device=device)[None]).argmax(1).item())
            obs, r, term, trunc, _ = env.step(action)
            total += float(r)
            done = term or trunc
        returns.append(total)
    env.close()
    return returns, frames


def run(cfg: Config, emit=null_emit, out_dir: str | Path | None = None):
    import gymnasium as gym
    import torch
    import torch.nn.functional as F

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    prev_threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)  # a tiny MLP: thread hand-offs cost more than they save
    rd = RunDir(out_dir, "dqn", emit)
    emit(Started(tool="dqn", config=cfg.model_dump(), device=str(device), total_steps=cfg.total_steps))

    env = gym.make(cfg.env_id)
    env.action_space.seed(cfg.seed)
    obs_dim, n_actions = env.observation_space.shape[0], env.action_space.n
    qnet = make_qnet(obs_dim, n_actions, cfg.hidden).to(device)
    target = make_qnet(obs_dim, n_actions, cfg.hidden).to(device)
    target.load_state_dict(qnet.state_dict())
    opt = torch.optim.Adam(qnet.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    rb = ReplayBuffer(cfg.buffer_size, obs_dim, rng)

    obs, _ = env.reset(seed=cfg.seed)
    ep_return, ep_returns, losses, history = 0.0, [], [], []
    # Q-learning with function approximation oscillates: the greedy policy of the last
    # step is often worse than an earlier one, so keep the best by periodic evaluation
    best_return, best_state = -float("inf"), None
    for step in range(1, cfg.total_steps + 1):
        eps = epsilon(step, cfg)
        if rng.random() < eps:
            action = int(env.action_space.sample())
        else:
            with torch.no_grad():
                action = int(qnet(torch.as_tensor(obs, device=device)[None]).argmax(1).item())
        next_obs, reward, term, trunc, _ = env.step(action)
        # only true terminations cut the bootstrap; a time-limit truncation does not
        rb.add(obs, action, reward, next_obs, float(term))
        ep_return += float(reward)
        obs = next_obs
        if term or trunc:
            ep_returns.append(ep_return)
            ep_return = 0.0
            obs, _ = env.reset()

        if step > cfg.learning_starts and step % cfg.train_frequency == 0:
            o, a, r, no, d = (torch.as_tensor(x, device=device) for x in rb.sample(cfg.batch_size))
            with torch.no_grad():
                td_target = r + cfg.gamma * target(no).max(1).values * (1.0 - d)  # (B,)
            q = qnet(o).gather(1, a[:, None]).squeeze(1)  # (B, n_actions) -> (B,)
            loss = F.smooth_l1_loss(q, td_target)  # Huber: robust to large TD errors
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if step % cfg.target_update == 0:
            with torch.no_grad():
                for p_t, p in zip(target.parameters(), qnet.parameters()):
                    p_t.mul_(1.0 - cfg.tau).add_(cfg.tau * p)
        if cfg.select_every and step > cfg.learning_starts and step % cfg.select_every == 0:
            sel, _ = evaluate(qnet, cfg.env_id, 3, cfg.seed + 777 + step, device)
            if np.mean(sel) >= best_return:
                best_return = float(np.mean(sel))
                best_state = {k: v.detach().clone() for k, v in qnet.state_dict().items()}
        if step % cfg.log_every == 0 or step == cfg.total_steps:
            recent = ep_returns[-10:]
            m = {"episodic_return": float(np.mean(recent)) if recent else 0.0, "epsilon": eps,
                 "loss": float(np.mean(losses[-200:])) if losses else 0.0, "episodes": float(len(ep_returns))}
            history.append({"step": float(step), **m})
            emit(Progress(step=step, total=cfg.total_steps, unit="step", metrics=m))
    env.close()
    torch.set_num_threads(prev_threads)
    if best_state is not None:
        final, _ = evaluate(qnet, cfg.env_id, 3, cfg.seed + 778, device)
        if np.mean(final) < best_return:
            qnet.load_state_dict(best_state)
            emit(Log(message=f"kept the best weights seen during training (selection return {best_return:.0f})"))

    returns, frames = evaluate(qnet, cfg.env_id, cfg.eval_episodes, cfg.seed, device, render=True)
    metrics = {"eval_return_mean": float(np.mean(returns)), "eval_return_std": float(np.std(returns)),
               "train_episodes": float(len(ep_returns)), "steps_per_s": cfg.total_steps / (time.perf_counter() - t0)}
    emit(Log(message=f"greedy evaluation over {len(returns)} episodes: {metrics['eval_return_mean']:.1f}"))

    # ---- artifacts -------------------------------------------------------------------
    fig, axes = plt_figure(1, 2, figsize=(11, 3.6))
    axes[0].plot(ep_returns, alpha=0.4, label="episode return")
    if len(ep_returns) >= 10:
        axes[0].plot(np.convolve(ep_returns, np.ones(10) / 10, mode="valid"), label="moving average (10)")
    axes[0].set_xlabel("episode")
    axes[0].legend()
    axes[0].set_title(f"{cfg.env_id}: returns")
    axes[1].plot([h["step"] for h in history], [h["loss"] for h in history])
    axes[1].set_title("TD loss (Huber)")
    axes[1].set_xlabel("step")
    rd.save_figure("learning_curve.png", fig)
    if frames:
        idx = np.linspace(0, len(frames) - 1, min(6, len(frames))).astype(int)
        fig, axes = plt_figure(1, len(idx), figsize=(2.2 * len(idx), 1.8))
        for ax, i in zip(np.atleast_1d(axes), idx):
            ax.imshow(frames[i])
            ax.set_title(f"t={i}", fontsize=8)
            ax.axis("off")
        rd.save_figure("episode_frames.png", fig)
    else:
        emit(Log(level="warning", message="no frames rendered (rgb_array unavailable)"))
    rd.save_checkpoint("model.pt", {"state_dict": qnet.state_dict(), "config": cfg.model_dump(),
                                    "obs_dim": obs_dim, "n_actions": n_actions})
    return finish("dqn", cfg, emit, rd, metrics, history, device, t0)


def infer(checkpoint: str | Path, inputs: dict | None = None, out_dir: str | Path | None = None) -> dict:
    """Greedy episodes with a saved Q-network: {"returns": [...], "mean": float}."""
    import torch

    inputs = inputs or {}
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    qnet = make_qnet(ck["obs_dim"], ck["n_actions"], cfg.hidden)
    qnet.load_state_dict(ck["state_dict"])
    qnet.eval()
    returns, _ = evaluate(qnet, cfg.env_id, int(inputs.get("episodes", 5)), int(inputs.get("seed", 0)), "cpu")
    return {"returns": returns, "mean": float(np.mean(returns))}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import measure, training_cost  # noqa: E402
from tools.spec import Cost, Finding, FindingKind, Metric, ParamWord, ToolSpec, series  # noqa: E402

# (observation size, actions, best possible return, return at which gymnasium calls it solved)
ENVS = {"CartPole-v1": (4, 2, 500.0, 475.0), "Acrobot-v1": (6, 3, 0.0, -100.0), "MountainCar-v0": (2, 3, 0.0, -110.0)}
# the 2-core reference machine, fitted to bench/experiments.py (quick: 30 s for 30k steps): a DQN step is
# bound by Python and the environment, not by FLOPs
ENV_STEP_S, UPDATE_S, EVAL_STEP_S = 2e-4, 7.5e-4, 2e-4
GPU_UPDATE_S = 1.5e-3


def estimate(cfg: Config) -> Cost:
    import torch

    obs, act, best, _ = ENVS[cfg.env_id]
    m = measure(lambda: make_qnet(obs, act, cfg.hidden), lambda: (torch.empty(cfg.batch_size, obs),))
    updates = max(0, cfg.total_steps - cfg.learning_starts) // cfg.train_frequency
    selections = (cfg.total_steps // cfg.select_every) * 3 if cfg.select_every else 0
    eval_steps = (cfg.eval_episodes + selections) * 500  # episodes are capped at 500 steps
    cpu = cfg.total_steps * ENV_STEP_S + updates * UPDATE_S + eval_steps * EVAL_STEP_S + 2.0
    gpu = cfg.total_steps * ENV_STEP_S + updates * GPU_UPDATE_S + eval_steps * EVAL_STEP_S + 3.0
    base = training_cost(m, max(updates, 1), 1e12)  # memory of the networks; time modelled above
    buffer = cfg.buffer_size * (2 * obs + 3) * 4
    return Cost(cpu_s=round(cpu, 1), gpu_s=round(gpu, 1), parameters=2 * m.parameters,
                memory_bytes=base.memory_bytes + m.parameters * 4 + buffer, steps=cfg.total_steps)


def findings(result: dict, lang: str) -> list[Finding]:
    cfg = result.get("config") or {}
    m = result.get("metrics") or {}
    _, _, best, solved = ENVS.get(cfg.get("env_id", "CartPole-v1"), ENVS["CartPole-v1"])
    ret = m.get("eval_return_mean")
    out: list[Finding] = []
    if ret is None:
        return out
    if ret >= solved:
        top = " — это максимум среды" if ret >= best else ""
        out.append(Finding(FindingKind.SOLVED,
                           f"Средняя награда жадной политики {ret:.0f} из {best:.0f} возможных{top}: задача решена "
                           f"(порог решения {solved:.0f}). Дообучать дальше нечего — интереснее проверить устойчивость "
                           "(другой seed) или ускорить обучение.",
                           f"The greedy policy's mean return is {ret:.0f} of a possible {best:.0f}"
                           f"{' — the environment maximum' if ret >= best else ''}: the task is solved (threshold "
                           f"{solved:.0f}). There is nothing left to fit; check robustness (another seed) or learn faster."))
    else:
        returns = series(result.get("history") or [], "episodic_return")
        rising = len(returns) >= 4 and returns[-1] > returns[len(returns) // 2]
        out.append(Finding(FindingKind.UNDERFIT,
                           f"Средняя награда {ret:.0f} ниже порога решения {solved:.0f}{' и ещё растёт' if rising else ''}: "
                           "агенту нужно больше шагов среды или медленнее убывающее ε.",
                           f"Mean return {ret:.0f} is below the solved threshold {solved:.0f}"
                           f"{' and is still rising' if rising else ''}: the agent needs more environment steps or a "
                           "slower ε decay."))
    return out


def next_step(result: dict, found: list[Finding], lang: str) -> str | None:
    cfg = result.get("config") or {}
    if any(f.kind == FindingKind.SOLVED for f in found):
        return f"/run dqn seed={int(cfg.get('seed', 0)) + 1}"
    return f"/run dqn total_steps={min(5_000_000, int(cfg.get('total_steps', 30000)) * 2)}"


SPEC = ToolSpec(
    name="dqn",
    summary="Deep Q-Network on CartPole-v1 (also Acrobot, MountainCar): replay buffer, target network, "
            "epsilon schedule.",
    summary_ru="Deep Q-Network на CartPole-v1 (а также Acrobot, MountainCar): буфер воспроизведения, целевая сеть, "
               "ε-жадная стратегия.",
    theory_query="обучение с подкреплением DQN Q-learning буфер воспроизведения целевая сеть epsilon",
    lectures=("lectures/17_rl_dqn.md",),
    mentions=(r"\bdqn\b|\bдкн\b", r"cartpole|картпол|тележк", r"подкреплени", r"reinforcement|\brl\b",
              r"q-?learning|q-?обучени|acrobot|mountain.?car"),
    words=(ParamWord("env_id", r"acrobot|акробот", "Acrobot-v1"),
           ParamWord("env_id", r"mountain.?car|машинк\w* на гор", "MountainCar-v0"),
           ParamWord("total_steps", r"(\d+(?:[.,]\d+)?\s*(?:k|к|тыс\.?)?)\s*(?:шаг\w*|steps?\b|timesteps?)"),
           ParamWord("gamma", r"(?:gamma|гамм\w*|γ|дисконт\w*)\s*[:=]?\s*(\d+(?:[.,]\d+)?)"),
           ParamWord("buffer_size", r"(?:буфер\w*|buffer(?:.?size)?)\s*[:=]?\s*(\d+)"),
           ParamWord("exploration_fraction", r"(?:exploration.?fraction|доля исследовани\w*)\s*[:=]?\s*(\d+(?:[.,]\d+)?)")),
    metrics={None: Metric("eval_return_mean", True, 150.0, "средняя награда за эпизод", "mean episode return")},
    estimate=estimate,
    loss_keys=None,  # the TD loss grows as Q-values grow: returns tell how learning goes (findings)
    findings=findings,
    next_step=next_step,
    short_keys=("env_id", "total_steps", "lr", "batch_size", "gamma", "seed", "device"),
)
