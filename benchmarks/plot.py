"""Plots from a results JSON of run.py (needs matplotlib: ``pip install -e '.[bench]'``).

    .venv/bin/python benchmarks/plot.py benchmarks/results/X.json [--out docs/]

A suite run gives ``benchmarks-throughput.png``: processing jobs/s per store, rota at defaults
and tuned beside each peer. A ``--scale`` run gives ``benchmarks-scale.png``: the claim cost
(per claim of 100 jobs) against the pending jobs, per store, with and without the delayed and
finished rows. run.py draws them itself with ``--plots DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

THROUGHPUT = "benchmarks-throughput.png"
SCALE = "benchmarks-scale.png"
ROTA_COLOURS = {"rota-defaults": "#1f77b4", "rota-tuned": "#08306b", "rota-variant": "#6baed6"}
PEER_COLOUR = "#bbbbbb"
STORE_COLOURS = {"sqlite": "#1b9e77", "redis": "#d95f02", "postgres": "#7570b3"}


def draw(report: dict[str, Any], out: Path) -> list[Path]:
    """Write the plots this report has data for into ``out``; returns their paths."""
    try:
        import matplotlib
    except ImportError:
        print("plots skipped: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return []
    matplotlib.use("Agg")  # files only, no display
    out.mkdir(parents=True, exist_ok=True)
    if report.get("mode") == "scale":
        return [_scale(report, out / SCALE)]
    stores = {s: r["systems"] for s, r in report.get("stores", {}).items() if r.get("systems")}
    return [_throughput(report, stores, out / THROUGHPUT)] if stores else []


def _caption(report: dict[str, Any]) -> str:
    args = report.get("args", {})
    return (
        f"{report.get('started', '')}, {report.get('cpus', '?')} CPUs, {args.get('jobs', 0):,} no-op "
        f"jobs, one worker process, median of {args.get('repeat', 1)}"
    )


def _throughput(report: dict[str, Any], stores: dict[str, dict[str, Any]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(stores), figsize=(4.2 * len(stores), 4.6), squeeze=False)
    for ax, (store, systems) in zip(axes[0], stores.items(), strict=True):
        rows = [(n, r) for n, r in systems.items() if r.get("jobs_s")]
        names = [n.replace(" (", "\n(") for n, _ in rows]
        values = [r["jobs_s"] for _, r in rows]
        colours = [ROTA_COLOURS.get(r.get("kind", ""), PEER_COLOUR) for _, r in rows]
        bars = ax.bar(range(len(rows)), values, color=colours)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7)
        ax.set_xticks(range(len(rows)), names, rotation=45, ha="right", fontsize=8)
        ax.set_title(store)
        ax.set_ylabel("jobs/s")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Processing, jobs/s — rota vs peers\n{_caption(report)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _scale(report: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (claim_ax, finish_ax) = plt.subplots(1, 2, figsize=(10, 4.4))
    for store, res in report.get("stores", {}).items():
        for label, style in (("pending", "-"), ("with_delayed_finished", "--")):
            points = res.get(label, {}).get("points", [])
            if not points:
                continue
            xs = [p["pending"] for p in points]
            extra = "" if label == "pending" else f" +{res[label].get('extra_delayed', 0):,} delayed/finished"
            line = {"color": STORE_COLOURS.get(store), "marker": "o", "label": f"{store}{extra}"}
            claim_ax.plot(xs, [p["claim_ms"] for p in points], style, **line)
            finish_ax.plot(xs, [p["finish_ms"] for p in points], style, **line)
    batch = next((r.get("batch") for r in report.get("stores", {}).values()), 100)
    for ax, what in ((claim_ax, "claim"), (finish_ax, "finish")):
        ax.set_xscale("log")
        ax.set_xlabel("pending jobs")
        ax.set_ylabel(f"ms per {what} of {batch} jobs (median)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        f"Store cost against pending jobs (flat is the goal)\n{report.get('started', '')}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", nargs="+", help="results JSON file(s) of run.py")
    parser.add_argument("--out", default="docs", help="directory for the PNGs (default docs/)")
    a = parser.parse_args()
    for name in a.results:
        try:
            report = json.loads(Path(name).read_text())
        except (OSError, ValueError) as exc:
            print(f"plot: error: cannot read {name}: {exc}", file=sys.stderr)
            sys.exit(1)
        paths = draw(report, Path(a.out))
        if not paths:
            print(f"plot: nothing to draw in {name}", file=sys.stderr)
        for path in paths:
            print(path)


if __name__ == "__main__":
    main()
