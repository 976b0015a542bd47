"""Reading a finished run, deterministically: the main metric against the tool's floor, what
the learning curves show (convergence, under/overfitting, spikes, divergence), what the
tool's own spec says about its result (a solved environment, GAN equilibrium...), the change
against the student's previous run, and one concrete next experiment.

The numbers always come from the run. A capable LLM may phrase or extend this text; the
embedded one only phrases it."""

from __future__ import annotations

import math
from typing import Any

from tools.spec import Finding, FindingKind, series
from tutor.agent.messages import say

SPIKE_RATIO = 2.5  # a value this many times its neighbours' median is a spike, not noise


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def curve_findings(history: list[dict], loss_keys: tuple[str, str] | None) -> list[Finding]:
    """Generic reading of train/val loss curves (per epoch)."""
    if not loss_keys:
        return []
    train_key, val_key = loss_keys
    raw_train = [h.get(train_key) for h in history if train_key in h] or [h.get("loss") for h in history if "loss" in h]
    raw_val = [h.get(val_key) for h in history if val_key in h]
    out: list[Finding] = []
    bad = next((i for i, v in enumerate(raw_train + raw_val) if v is None or not math.isfinite(float(v))), None)
    if bad is not None:
        out.append(Finding(FindingKind.DIVERGED, "Потери стали NaN/бесконечностью: обучение разошлось. Уменьшите скорость "
                                                 "обучения (lr) в 3–10 раз или проверьте нормализацию входа.",
                           "The loss became NaN/infinite: training diverged. Lower the learning rate (lr) 3-10x or "
                           "check the input normalisation."))
        return out
    train = [float(v) for v in raw_train]
    val = [float(v) for v in raw_val]
    for name, ys in ((val_key, val), (train_key, train)):
        for i in range(1, len(ys) - 1):
            window = ys[max(0, i - 2): i] + ys[i + 1: i + 3]
            med = sorted(window)[len(window) // 2]
            if med > 0 and ys[i] > SPIKE_RATIO * med:
                out.append(Finding(FindingKind.SPIKE,
                                   f"Скачок {name} до {_fmt(ys[i])} на эпохе {i + 1} (рядом ≈ {_fmt(med)}), потом снова "
                                   "вниз: шаг оптимизатора был слишком большим для этого места — обычно из-за высокого lr "
                                   "или маленького батча.",
                                   f"{name} spiked to {_fmt(ys[i])} at epoch {i + 1} (around it ≈ {_fmt(med)}) and came "
                                   "back down: an optimiser step was too large there — usually a high lr or a small batch."))
                break
    if len(train) >= 2:
        drop = (train[0] - train[-1]) / (abs(train[0]) + 1e-12)
        last_step = (train[-2] - train[-1]) / (abs(train[-2]) + 1e-12)
        if drop < -0.2:
            out.append(Finding(FindingKind.DIVERGED,
                               f"Потери на обучении выросли с {_fmt(train[0])} до {_fmt(train[-1])}: обучение расходится — "
                               "уменьшите lr.",
                               f"The training loss rose from {_fmt(train[0])} to {_fmt(train[-1])}: training diverges — "
                               "lower the lr."))
        elif drop < 0.05:
            out.append(Finding(FindingKind.UNDERFIT,
                               "Функция потерь почти не уменьшилась: модель недообучена (underfitting) — увеличьте число "
                               "эпох или скорость обучения.",
                               "The training loss barely decreased: the model underfits — train longer or raise the "
                               "learning rate."))
        elif last_step < 0.01:
            out.append(Finding(FindingKind.CONVERGED, f"Потери на обучении упали на {drop:.0%} и вышли на плато: обучение "
                                                      "сошлось.",
                               f"The training loss fell by {drop:.0%} and has plateaued: training converged."))
        else:
            out.append(Finding(FindingKind.STILL_IMPROVING,
                               f"Потери на обучении упали на {drop:.0%} и ещё снижаются: ещё несколько эпох могут помочь.",
                               f"The training loss fell by {drop:.0%} and is still decreasing: a few more epochs may help."))
    if len(val) >= 3:
        best = min(range(len(val)), key=val.__getitem__)
        if best < len(val) - 1 and val[-1] > val[best] * 1.05 and (len(train) < 2 or train[-1] < train[min(best, len(train) - 1)]):
            out.append(Finding(FindingKind.OVERFIT,
                               f"Потери на валидации минимальны на эпохе {best + 1} ({_fmt(val[best])}) и затем растут до "
                               f"{_fmt(val[-1])}, хотя на обучении падают: признак переобучения (overfitting) — помогут "
                               "ранняя остановка, Dropout, аугментация.",
                               f"The validation loss is lowest at epoch {best + 1} ({_fmt(val[best])}) and rises to "
                               f"{_fmt(val[-1])} while the training loss falls: overfitting — early stopping, Dropout or "
                               "augmentation help."))
        elif train and val[-1] > 1.5 * train[-1] + 0.05:
            out.append(Finding(FindingKind.GAP, "Потери на валидации заметно выше, чем на обучении: есть разрыв обобщения.",
                               "The validation loss is clearly above the training loss: there is a generalisation gap."))
    return out


def analyze(tool: str, result: dict[str, Any]) -> list[Finding]:
    """Generic curve findings plus the tool's own; a solved task is not called underfitted."""
    from tools.registry import get_tool

    spec = get_tool(tool).spec
    own = spec.findings(result, "ru") if spec.findings else []
    generic = curve_findings(result.get("history") or [], spec.loss_keys)
    if any(f.kind == FindingKind.SOLVED for f in own):
        generic = [f for f in generic if f.kind not in (FindingKind.UNDERFIT, FindingKind.STILL_IMPROVING)]
    return generic + own


def metric_line(tool: str, result: dict[str, Any], lang: str) -> str | None:
    from tools.registry import get_tool

    metric = get_tool(tool).spec.metric_for(result.get("config"))
    metrics = result.get("metrics") or {}
    if metric.key not in metrics:
        return None
    v = metrics[metric.key]
    # the label a student reads and the key they see in metrics.json, the UI and /compare
    label = metric.name(lang)
    line = f"**{label}** (`{metric.key}`) = {_fmt(v)}" if label != metric.key else f"**{label}** = {_fmt(v)}"
    ok = metric.meets_floor(v)
    if ok is not None:
        line += " — " + say("floor_met" if ok else "floor_missed", lang, floor=f"{metric.floor:g}")
    return line


def previous_line(tool: str, result: dict, previous: dict | None, lang: str) -> str | None:
    from tools.registry import get_tool

    if not previous:
        return None
    metric = get_tool(tool).spec.metric_for(result.get("config"))
    new, old = (result.get("metrics") or {}).get(metric.key), (previous.get("metrics") or {}).get(metric.key)
    if new is None or old is None:
        return None
    cfg, pcfg = result.get("config") or {}, previous.get("config") or {}
    changed = ", ".join(f"{k}: {pcfg.get(k)} → {v}" for k, v in cfg.items() if pcfg.get(k) != v and k != "seed")
    return say("previous_run", lang, prev=previous.get("id", "?"), metric=metric.key, old=_fmt(old), new=_fmt(new),
               verdict=say("better" if metric.better(new, old) else "not_better", lang),
               changed=changed[:300] or say("no_changes", lang))


def describe_run(tool: str, job: dict[str, Any], lang: str, previous: dict[str, Any] | None = None) -> tuple[str, list[Finding]]:
    """The deterministic report of a finished job (without the theory references) and its findings."""
    from tools.registry import get_tool

    result = job.get("result") or {"metrics": job.get("metrics"), "config": job.get("config")}
    result = {**result, "config": result.get("config") or job.get("config") or {}}
    spec = get_tool(tool).spec
    found = analyze(tool, result)
    lines = [say("done", lang, tool=tool, job=job.get("id", "?"))]
    main = metric_line(tool, result, lang)
    if main:
        lines.append(main)
    metric = spec.metric_for(result["config"])
    others = [f"{k} = {_fmt(v)}" for k, v in (result.get("metrics") or {}).items()
              if k != metric.key and isinstance(v, (int, float)) and not k.endswith("_per_s")][:6]
    if others:
        lines.append(say("other_metrics", lang, items=", ".join(others)))
    if result.get("wall_time_s") is not None:
        lines.append(say("wall_time", lang, seconds=f"{result['wall_time_s']:.1f}", device=result.get("device", "?")))
    lines += [f.text(lang) for f in found]
    prev = previous_line(tool, result, previous, lang)
    if prev:
        lines.append(prev)
    nxt = spec.next_step(result, found, lang) if spec.next_step else None
    if nxt:
        lines.append(say("next_step", lang, command=nxt))
    return "\n\n".join(lines), found


def theory_hits(index, tool: str, lang: str, k: int = 3) -> list:
    """The lecture sections that teach what the run shows: retrieval with the tool's theory
    query, keeping the tool's lecture files (either language) and never the tool pages."""
    from tools.registry import get_tool
    from tutor.agent.answer import prefer_language

    spec = get_tool(tool).spec
    hits = index.search(spec.theory_query, 12)
    stems = {lec.split("/")[-1] for lec in spec.lectures}
    own = [h for h in hits if h.source.split("/")[-1] in stems and "/tools/" not in h.source]
    rest = [h for h in hits if "/tools/" not in h.source and h not in own]
    picked = prefer_language(own + rest, lang)
    seen, out = set(), []
    for h in picked:
        key = (h.source.split("/")[-1], h.section.split(" > ")[-1])
        if key in seen:
            continue
        seen.add(key)
        out.append(h)
        if len(out) >= k:
            break
    return out
