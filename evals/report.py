"""Rendering an eval summary (``metrics.summarize``): a terminal table, report.json, report.md and a
self-contained report.html (matplotlib figures embedded as base64 PNG, no external files or scripts).

Nothing here computes a figure; it only formats what metrics.py produced, so the three outputs agree.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tfagent.agent.core.output import atomic_write

COLUMNS = ("quant", "bpw", "first try [95% CI]", "with retry [95% CI]", "uplift [95% CI]", "recovery",
           "flips vs ref", "p", "s/solved", "tok/solved")


# ---------------------------------------------------------------- cell formatting


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def rate_cell(entry: dict[str, Any]) -> str:
    if entry["rate"] is None:
        return "–"
    return f"{pct(entry['rate'])} [{100 * entry['lo']:.0f}–{100 * entry['hi']:.0f}] ({entry['passed']}/{entry['n']})"


def uplift_cell(uplift: dict[str, Any]) -> str:
    return f"{100 * uplift['diff']:+.1f} [{100 * uplift['lo']:+.0f}, {100 * uplift['hi']:+.0f}]"


def flips_cell(fig: dict[str, Any], reference: str | None) -> tuple[str, str]:
    versus = fig.get("vs_reference")
    if versus is None:
        return ("ref" if fig["endpoint"] == reference else "–"), "–"
    top = versus["with_retry"]
    return f"−{len(top['lost'])} / +{len(top['gained'])}", f"{top['p_value']:.2g}"


def number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table_rows(summary: dict[str, Any]) -> list[list[str]]:
    top = str(summary["max_attempts"] - 1)
    rows = []
    for fig in summary["endpoints"]:
        cost = fig["cost"][top]
        tokens = None
        if cost["solved"]:
            tokens = (cost["prompt_tokens"] + cost["completion_tokens"]) / cost["solved"]
        flips, p_value = flips_cell(fig, summary["reference"])
        rows.append([
            fig["endpoint"], number(fig["bpw"], 2), rate_cell(fig["first_try"]), rate_cell(fig["with_retry"]),
            uplift_cell(fig["uplift"]), pct(fig["recovery"]["rate"]), flips, p_value,
            number(cost["seconds_per_solved"]), number(tokens, 0),
        ])
    return rows


# ---------------------------------------------------------------- from the store


def summary_for_run(store, run_id: str, *, reference: str | None = None, scoring: str = "run") -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics summary, metadata) of a stored run; raises ValueError for an unknown reference."""
    from tfagent.evals.metrics import summarize

    run = store.run(run_id)
    spec = run["spec"]
    endpoints = {e["name"]: e.get("bpw") for e in spec["endpoints"]}
    cells = store.cell_facts(run_id, scoring)
    summary = summarize(cells, endpoints=endpoints, max_attempts=spec["max_attempts"], reference=reference)
    meta = {
        "run_id": run_id,
        "suite": run["suite"],
        "scoring": scoring,
        "samples": spec["samples"],
        "max_attempts": spec["max_attempts"],
        "tasks": len(spec["tasks"]),
        "cells": len(spec["tasks"]) * spec["samples"] * len(endpoints),
        "complete": len(cells),
        "endpoints": spec["endpoints"],
        "attribution": spec.get("attribution", ""),
    }
    return summary, meta


# ---------------------------------------------------------------- terminal


def render_table(summary: dict[str, Any], console: Console | None = None, title: str = "") -> None:
    if console is None:
        # Piped output (CI logs, files) is not limited to 80 columns: keep each endpoint on one line.
        console = Console(no_color=bool(os.environ.get("NO_COLOR")) or None, width=None if sys.stdout.isatty() else 160)
    table = Table(title=title or None, header_style="bold")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name == "quant" else "right")
    for row in table_rows(summary):
        table.add_row(*row)
    console.print(table)
    console.print(
        f"retries allowed: {summary['max_attempts'] - 1}; reference: {summary['reference'] or 'none'}; "
        f"intervals: Wilson 95 %, uplift Newcombe paired, p: exact McNemar vs reference (with retry)",
        highlight=False,
    )


# ---------------------------------------------------------------- files


def write_reports(summary: dict[str, Any], out_dir: str | Path, meta: dict[str, Any]) -> dict[str, Path]:
    """report.json (every figure), report.md and report.html into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, **summary}
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    atomic_write(paths["json"], json.dumps(document, indent=2, sort_keys=True))
    atomic_write(paths["md"], markdown(summary, meta))
    atomic_write(paths["html"], html_page(summary, meta, figures(summary)))
    return paths


def flip_lines(summary: dict[str, Any], budget: str = "with_retry") -> list[tuple[str, str, str]]:
    """(endpoint, lost ids, gained ids) vs the reference, with the full retry budget ("with_retry") or
    on the first try ("first_try": the per-item damage a quant does before any retry)."""
    lines = []
    for fig in summary["endpoints"]:
        versus = fig.get("vs_reference")
        if versus is None:
            continue
        top = versus[budget]
        ids = lambda pairs: ", ".join(f"{p['task']}#{p['sample']}" for p in pairs) or "none"  # noqa: E731
        lines.append((fig["endpoint"], ids(top["lost"]), ids(top["gained"])))
    return lines


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    out = [f"# Eval report: {meta.get('suite', '')}", "", _meta_line(meta), ""]
    out += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    out += ["", "## Pass rate by retry budget", "", "| quant | " + " | ".join(f"k={k}" for k in range(summary["max_attempts"])) + " |",
            "|---|" + "---|" * summary["max_attempts"]]
    for fig in summary["endpoints"]:
        out.append(f"| {fig['endpoint']} | " + " | ".join(rate_cell(e) for e in fig["pass_at_k"]) + " |")
    out += ["", f"## Flips vs reference ({summary['reference'] or 'none'})", ""]
    out += [f"- **{name}** lost: {lost}; gained: {gained}" for name, lost, gained in flip_lines(summary)] or ["- no reference"]
    out += [f"- **{name}** on the first try lost: {lost}; gained: {gained}"
            for name, lost, gained in flip_lines(summary, "first_try")]
    out += ["", "## Error categories over failed attempts", ""]
    for fig in summary["endpoints"]:
        cats = ", ".join(f"{k} {v}" for k, v in fig["error_categories"].items()) or "none"
        out.append(f"- **{fig['endpoint']}**: {cats}; well-formed replies {pct(fig['well_formed']['rate'])}; "
                   f"judge rejected {fig['judge_rejections']} verifier-accepted answers; "
                   f"{fig['unsupported']} cells the judge could not decide here (left out of the rates); "
                   f"{repeat_text(fig)}")
    out += ["", "## Bits for retries: Pareto frontier", "", "| quant | bpw | retries k | success | s/solved |", "|---|---|---|---|---|"]
    out += [f"| {p['endpoint']} | {number(p['bpw'], 2)} | {p['k']} | {pct(p['success'])} | {number(p['seconds_per_solved'])} |"
            for p in summary["frontier"]]
    out += ["", "Methods: " + "; ".join(f"{k}: {v}" for k, v in summary["methods"].items()), ""]
    if meta.get("attribution"):
        out += [f"Data: {meta['attribution']}", ""]
    return "\n".join(out)


def _meta_line(meta: dict[str, Any]) -> str:
    keys = ("run_id", "samples", "max_attempts", "tasks", "complete", "cells", "scoring")
    return " · ".join(f"{k}: {meta[k]}" for k in keys if k in meta)


# ---------------------------------------------------------------- figures (matplotlib, Agg)


def figures(summary: dict[str, Any]) -> dict[str, str]:
    """Title → base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")

    return draw_figures(summary, (("Success vs bits per weight", _plot_bpw), ("Pass rate vs retry budget", _plot_budget),
                                  ("Flips vs reference", _plot_flips), ("Cost per solved task", _plot_cost)))


def draw_figures(summary, plots) -> dict[str, str]:
    """Each (title, draw) that has something to draw, as a base64 PNG keyed by its title."""
    import matplotlib.pyplot as plt

    drawn = {}
    for title, draw in plots:
        fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
        if draw(ax, summary):
            ax.set_title(title)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            drawn[title] = base64.b64encode(buffer.getvalue()).decode("ascii")
        plt.close(fig)
    return drawn


def _plot_bpw(ax, summary: dict[str, Any]) -> bool:
    placed = sorted((f for f in summary["endpoints"] if f["bpw"] is not None), key=lambda f: f["bpw"])
    if not placed:
        return False
    xs = [f["bpw"] for f in placed]
    for key, label, color in (("first_try", "first try", "tab:orange"), ("with_retry", "with retry", "tab:blue")):
        ys = [100 * (f[key]["rate"] or 0) for f in placed]
        ax.fill_between(xs, [100 * f[key]["lo"] for f in placed], [100 * f[key]["hi"] for f in placed], color=color, alpha=0.18)
        ax.plot(xs, ys, marker="o", color=color, label=label)
    for f in placed:
        ax.annotate(f["endpoint"], (f["bpw"], 100 * (f["with_retry"]["rate"] or 0)), textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.set_xlabel("bits per weight")
    ax.set_ylabel("tasks solved (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return True


def _plot_budget(ax, summary: dict[str, Any]) -> bool:
    for f in summary["endpoints"]:
        ks = [e["k"] for e in f["pass_at_k"]]
        ys = [100 * (e["rate"] or 0) for e in f["pass_at_k"]]
        # max(0, …): rounding can put a bound a hair past the point (0 % with lo = 0.0000001).
        err = [[max(0.0, y - 100 * e["lo"]) for y, e in zip(ys, f["pass_at_k"])],
               [max(0.0, 100 * e["hi"] - y) for y, e in zip(ys, f["pass_at_k"])]]
        ax.errorbar(ks, ys, yerr=err, marker="o", capsize=3, label=f["endpoint"])
    ax.set_xticks(range(summary["max_attempts"]))
    ax.set_xlabel("retries allowed (k)")
    ax.set_ylabel("tasks solved (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return bool(summary["endpoints"])


def _plot_flips(ax, summary: dict[str, Any]) -> bool:
    compared = [f for f in summary["endpoints"] if "vs_reference" in f]
    if not compared:
        return False
    names = [f["endpoint"] for f in compared]
    lost = [-len(f["vs_reference"]["with_retry"]["lost"]) for f in compared]
    gained = [len(f["vs_reference"]["with_retry"]["gained"]) for f in compared]
    ax.bar(names, gained, color="tab:green", label="solved here, not on reference")
    ax.bar(names, lost, color="tab:red", label="solved on reference, not here")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel(f"task·samples vs {summary['reference']}")
    ax.legend(fontsize=8)
    return True


def _plot_cost(ax, summary: dict[str, Any]) -> bool:
    names = [f["endpoint"] for f in summary["endpoints"]]
    top = str(summary["max_attempts"] - 1)
    width = 0.38
    for offset, key, label in ((-width / 2, "0", "first try"), (width / 2, top, "with retry")):
        values = [f["cost"][key]["seconds_per_solved"] or 0 for f in summary["endpoints"]]
        ax.bar([i + offset for i in range(len(names))], values, width, label=label)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("seconds per solved task")
    ax.legend(fontsize=8)
    return bool(names)


# ---------------------------------------------------------------- HTML

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0}th,td{padding:.35em .6em;border-bottom:1px solid #e4e4e4;text-align:right}
th{background:#f5f5f7}td:first-child,th:first-child{text-align:left;font-weight:600}.text{text-align:left}
.meta,.note{color:#555;font-size:.9em}.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1em}
.figs img{width:100%;border:1px solid #eee}
"""


def _html_table(header: list[str] | tuple[str, ...], rows: list[list[str]], text_columns: tuple[int, ...] = ()) -> str:
    """Numbers right-aligned; ``text_columns`` (lists of ids, categories) left-aligned."""
    def cell(tag: str, i: int, value: object) -> str:
        style = " class='text'" if i in text_columns else ""
        return f"<{tag}{style}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def repeat_text(fig: dict[str, Any]) -> str:
    r = fig.get("repeats") or {"retries": 0, "same_reply": 0, "same_errors": 0}
    return (f"of {r['retries']} retries, {r['same_reply']} repeated the previous reply byte for byte and "
            f"{r['same_errors']} left the same errors")


def html_page(summary: dict[str, Any], meta: dict[str, Any], images: dict[str, str]) -> str:
    k_header = ["quant"] + [f"k={k}" for k in range(summary["max_attempts"])]
    k_rows = [[f["endpoint"]] + [rate_cell(e) for e in f["pass_at_k"]] for f in summary["endpoints"]]
    err_rows = [[f["endpoint"], ", ".join(f"{k} {v}" for k, v in f["error_categories"].items()) or "none",
                 pct(f["well_formed"]["rate"]), str(f["judge_rejections"]), str(f["unsupported"]),
                 number(f["mean_attempts_to_success"], 2), repeat_text(f)]
                for f in summary["endpoints"]]
    frontier = [[p["endpoint"], number(p["bpw"], 2), str(p["k"]), pct(p["success"]), number(p["seconds_per_solved"])]
                for p in summary["frontier"]]
    figs = "".join(f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,{b}"></figure>' for t, b in images.items())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>tfagent eval: {html.escape(str(meta.get('suite', '')))}</title><style>{STYLE}</style></head><body>",
        f"<h1>tfagent eval: {html.escape(str(meta.get('suite', '')))}</h1><p class='meta'>{html.escape(_meta_line(meta))}</p>",
        _html_table(COLUMNS, table_rows(summary)),
        f"<p class='note'>Intervals: Wilson 95 %. Uplift: with retry − first try, Newcombe paired interval. "
        f"Flips and p: vs reference <b>{html.escape(str(summary['reference'] or 'none'))}</b> with the full retry budget, "
        f"exact McNemar test. s/solved and tok/solved: model + verification time and prompt + completion tokens "
        f"of all attempts, per solved task.</p>",
        f"<h2>Figures</h2><div class='figs'>{figs}</div>",
        "<h2>Pass rate by retry budget</h2>", _html_table(k_header, k_rows),
        "<h2>Flips vs reference</h2>",
        _html_table(["quant", "solved on reference only", "solved here only"], [list(x) for x in flip_lines(summary)], (1, 2)),
        "<p class='note'>On the first try (before any retry):</p>",
        _html_table(["quant", "solved on reference only", "solved here only"],
                    [list(x) for x in flip_lines(summary, "first_try")], (1, 2)),
        "<h2>Failures</h2>",
        _html_table(["quant", "error categories (failed attempts)", "well-formed replies", "judge rejected", "judge undecided (left out)",
                     "mean attempts to success", "repeats"], err_rows, (1, 6)),
        "<h2>Bits for retries: Pareto frontier</h2>",
        _html_table(["quant", "bpw", "retries k", "success", "s/solved"], frontier),
    ]
    if meta.get("attribution"):
        parts.append(f"<p class='note'>Data: {html.escape(str(meta['attribution']))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
