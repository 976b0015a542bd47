"""Run comparison: a table of config values and final metrics, and the parallel-coordinates
plot the course homework asks for (PNG with matplotlib, interactive HTML with plotly)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def _main_metric(tool: str, runs: list[dict]) -> tuple[str, bool]:
    from tools.registry import get_tool

    metric = get_tool(tool).spec.metric_for(runs[0].get("config"))
    key, higher = metric.key, metric.higher_is_better
    if not key or not any(key in (r.get("metrics") or {}) for r in runs):
        keys = sorted({k for r in runs for k in (r.get("metrics") or {})})
        key = keys[0] if keys else ""
    return key, higher


def compare_runs(tool: str, runs: list[dict], out_dir: Path) -> dict[str, Any]:
    metric, higher = _main_metric(tool, runs)
    configs = [r.get("config") or {} for r in runs]
    # numeric config fields that differ between runs (plus epochs/lr even if equal)
    keys = sorted({k for c in configs for k, v in c.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    varying = [k for k in keys if len({c.get(k) for c in configs}) > 1 or k in ("epochs", "lr", "total_steps")]
    varying = [k for k in varying if k != "seed"] or keys[:4]
    rows = []
    for r, c in zip(runs, configs):
        row = {"id": r["id"], **{k: c.get(k) for k in varying}}
        for mk, mv in (r.get("metrics") or {}).items():
            if isinstance(mv, (int, float)):
                row[mk] = mv
        rows.append(row)
    rows.sort(key=lambda x: x.get(metric, float("-inf") if higher else float("inf")), reverse=higher)
    columns = ["id", *varying] + ([metric] if metric else [])
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dims = [k for k in columns[1:] if all(isinstance(r.get(k), (int, float)) for r in rows)]
    png = html = None
    fig_json = None
    if dims and rows:
        png = out_dir / f"{tool}-parallel-{stamp}.png"
        _draw_png(rows, dims, metric, png)
        fig = _plotly(rows, dims, metric)
        html = out_dir / f"{tool}-parallel-{stamp}.html"
        fig.write_html(str(html), include_plotlyjs=True, full_html=True)
        fig_json = json.loads(fig.to_json())
    return {"tool": tool, "metric": metric, "higher_is_better": higher, "columns": columns, "rows": rows,
            "png": str(png) if png else None, "html": str(html) if html else None, "plotly": fig_json}


def _draw_png(rows: list[dict], dims: list[str], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    data = np.array([[float(r[d]) for d in dims] for r in rows])
    lo, hi = data.min(axis=0), data.max(axis=0)
    norm = (data - lo) / np.where(hi > lo, hi - lo, 1.0)
    colour_vals = norm[:, dims.index(metric)] if metric in dims else np.linspace(0, 1, len(rows))
    fig, ax = plt.subplots(figsize=(1.8 * len(dims) + 2, 4))
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(rows):
        ax.plot(range(len(dims)), norm[i], color=cmap(colour_vals[i]), alpha=0.85, marker="o", label=r["id"])
    ax.set_xticks(range(len(dims)))
    ax.set_xticklabels([f"{d}\n[{lo[j]:.3g}…{hi[j]:.3g}]" for j, d in enumerate(dims)])
    ax.set_yticks([])
    for j in range(len(dims)):
        ax.axvline(j, color="grey", lw=0.8)
    ax.set_title(f"Parallel coordinates ({len(rows)} runs, colour = {metric})")
    if len(rows) <= 12:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plotly(rows: list[dict], dims: list[str], metric: str):
    import plotly.graph_objects as go

    colour = [float(r.get(metric, 0)) for r in rows] if metric in dims else list(range(len(rows)))
    return go.Figure(go.Parcoords(
        line={"color": colour, "colorscale": "Viridis", "showscale": True},
        dimensions=[{"label": d, "values": [float(r[d]) for r in rows]} for d in dims]))
