"""Deterministic summaries of experiment results in Russian or English: the main metric
against the tool's quality floor, what the learning curves show (convergence, over- or
underfitting), and the change against the student's previous run of the same tool.
A capable LLM may elaborate on this text; it never replaces the numbers."""

from __future__ import annotations

from typing import Any

# main metric per tool/task, whether higher is better, and the quick-preset floor
METRICS: dict[tuple[str, str | None], tuple[str, bool, float | None]] = {
    ("cnn", None): ("test_accuracy", True, 0.97),
    ("detection", None): ("map50", True, 0.7),
    ("segmentation", None): ("miou", True, 0.75),
    ("rnn", "text"): ("test_accuracy", True, 0.8),
    ("rnn", "forecast"): ("rmse", False, None),
    ("transformer", "classify"): ("test_accuracy", True, 0.8),
    ("transformer", "generate"): ("val_perplexity", False, None),
    ("gan", "curve"): ("curve_distance", False, 0.1),
    ("gan", "dcgan"): ("sample_score", True, None),
    ("dqn", None): ("eval_return_mean", True, 150.0),
}

NAMES_RU = {"test_accuracy": "точность на тесте", "map50": "mAP@0.5", "miou": "mIoU", "rmse": "RMSE",
            "val_perplexity": "перплексия на валидации", "curve_distance": "среднее расстояние до кривой",
            "sample_score": "оценка качества сэмплов", "eval_return_mean": "средняя награда за эпизод"}


def main_metric(tool: str, config: dict[str, Any]) -> tuple[str, bool, float | None]:
    task = config.get("task")
    return METRICS.get((tool, task)) or METRICS.get((tool, None)) or next(
        (v for (t, _), v in METRICS.items() if t == tool), ("", True, None))


def _series(history: list[dict], key: str) -> list[float]:
    return [float(h[key]) for h in history if key in h and h[key] is not None]


def curve_findings(history: list[dict], lang: str) -> list[str]:
    ru = lang == "ru"
    out: list[str] = []
    train = _series(history, "train_loss") or _series(history, "loss")
    val = _series(history, "val_loss")
    if len(train) >= 2:
        drop = (train[0] - train[-1]) / (abs(train[0]) + 1e-12)
        last_step = (train[-2] - train[-1]) / (abs(train[-2]) + 1e-12)
        if drop < 0.05:
            out.append("Функция потерь почти не уменьшилась: модель недообучена (underfitting) — увеличьте число эпох "
                       "или скорость обучения." if ru else
                       "The training loss barely decreased: the model underfits — train longer or raise the learning rate.")
        elif last_step < 0.01:
            out.append(f"Потери на обучении упали на {drop:.0%} и вышли на плато: обучение сошлось." if ru else
                       f"The training loss fell by {drop:.0%} and has plateaued: training converged.")
        else:
            out.append(f"Потери на обучении упали на {drop:.0%} и ещё снижаются: ещё несколько эпох могут помочь." if ru else
                       f"The training loss fell by {drop:.0%} and is still decreasing: a few more epochs may help.")
    if len(val) >= 3:
        best = min(range(len(val)), key=val.__getitem__)
        if best < len(val) - 1 and val[-1] > val[best] * 1.05 and (len(train) < 2 or train[-1] < train[best]):
            out.append(f"Потери на валидации минимальны на эпохе {best + 1} и затем растут, хотя на обучении падают: "
                       "признак переобучения (overfitting) — помогут ранняя остановка, Dropout, аугментация." if ru else
                       f"The validation loss is lowest at epoch {best + 1} and rises afterwards while the training loss "
                       "falls: overfitting — early stopping, Dropout or augmentation help.")
        elif train and val[-1] > 1.5 * train[-1] + 0.05:
            out.append("Потери на валидации заметно выше, чем на обучении: есть разрыв обобщения." if ru else
                       "The validation loss is clearly above the training loss: there is a generalisation gap.")
    return out


def summarize_result(tool: str, result: dict[str, Any], lang: str, previous: dict[str, Any] | None = None) -> str:
    """`result`: a job's result dict (metrics, history, config, wall_time_s, device)."""
    ru = lang == "ru"
    metrics = result.get("metrics") or {}
    config = result.get("config") or {}
    key, higher, floor = main_metric(tool, config)
    lines = []
    if key and key in metrics:
        v = metrics[key]
        name = NAMES_RU.get(key, key) if ru else key
        line = f"**{name}** = {v:.4g}" if ru else f"**{key}** = {v:.4g}"
        if floor is not None:
            ok = v >= floor if higher else v <= floor
            if ru:
                line += f" — {'порог качества' if ok else 'ниже порога качества'} {floor:g} {'достигнут' if ok else ''}".rstrip()
            else:
                line += f" — {'meets' if ok else 'misses'} the quality floor {floor:g}"
        if tool == "rnn" and "baseline_rmse" in metrics:
            b = metrics["baseline_rmse"]
            better = metrics.get("rmse", b) < b
            line += (f"; сезонный наивный прогноз: {b:.4g} — модель {'лучше' if better else 'хуже'} базового решения"
                     if ru else f"; seasonal-naive baseline: {b:.4g} — the model is {'better' if better else 'worse'} than the baseline")
        lines.append(line)
    others = [f"{k} = {v:.4g}" for k, v in metrics.items() if k != key and isinstance(v, (int, float))][:6]
    if others:
        lines.append(("Другие метрики: " if ru else "Other metrics: ") + ", ".join(others))
    wall = result.get("wall_time_s")
    if wall is not None:
        dev = result.get("device", "?")
        lines.append(f"Время: {wall:.1f} с на {dev}." if ru else f"Time: {wall:.1f} s on {dev}.")
    lines += curve_findings(result.get("history") or [], lang)
    if previous and key and key in (previous.get("metrics") or {}) and key in metrics:
        pv, v = previous["metrics"][key], metrics[key]
        diff = {k: (previous.get("config", {}).get(k), val) for k, val in config.items()
                if previous.get("config", {}).get(k) != val and k not in ("seed",)}
        changed = ", ".join(f"{k}: {a} → {b}" for k, (a, b) in list(diff.items())[:5]) or ("без изменений" if ru else "none")
        better = (v > pv) if higher else (v < pv)
        if ru:
            lines.append(f"По сравнению с прошлым запуском: {key} {pv:.4g} → {v:.4g} "
                         f"({'лучше' if better else 'не лучше'}); изменённые параметры: {changed}.")
        else:
            lines.append(f"Compared with your previous run: {key} {pv:.4g} → {v:.4g} "
                         f"({'better' if better else 'not better'}); changed parameters: {changed}.")
    return "\n\n".join(lines)
