"""python -m tools NAME [--preset P] [--set key=value ...] [--out DIR] [--json]"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    from tools.registry import TOOLS, get_tool, parse_overrides

    p = argparse.ArgumentParser(prog="python -m tools", description="Run an experiment tool.")
    p.add_argument("name", help=f"tool: {', '.join(TOOLS)}")
    p.add_argument("--preset", default="quick", help="smoke | quick | full (default quick)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    p.add_argument("--out", default=None, help="run directory (default DATA_DIR/artifacts/runs/...)")
    p.add_argument("--json", action="store_true", help="print the Result as one JSON object last")
    p.add_argument("--schema", action="store_true", help="print the tool's config JSON schema and presets, then exit")
    a = p.parse_args(argv)

    try:
        entry = get_tool(a.name)
        if a.schema:
            print(json.dumps({"schema": entry.config_cls.model_json_schema(), "presets": entry.presets}, indent=2))
            return 0
        cfg = entry.make_config(a.preset, parse_overrides(a.sets))
    except (KeyError, ValueError, ValidationError) as e:
        msg = e.args[0] if isinstance(e, KeyError) else str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 2

    from tools.common import MissingDataError, print_emit

    try:
        result = entry.run(cfg, print_emit, out_dir=a.out)
    except MissingDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    if a.json:
        print(result.model_dump_json())
    else:
        for k, v in result.metrics.items():
            print(f"{k}: {v:.4f}")
        print(f"artifacts: {result.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
