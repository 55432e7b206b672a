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
from tfagent.evals.judging.verdicts import JUDGES, judges_of, verdict_outcome

COLUMNS = ("quant", "bpw", "first try [95% CI]", "with retry [95% CI]", "uplift [95% CI]", "recovery",
           "flips vs ref", "p", "s/solved", "tok/solved", "autofix")


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


def autofix_cell(fig: dict[str, Any]) -> str:
    """Solved (with retry) only after tfagent's renames, of all solved: "2 of 9"; "-" when none was."""
    counts = (fig.get("autofix") or {}).get("with_retry") or {"solved": 0, "with_autofix": 0}
    return f"{counts['with_autofix']} of {counts['solved']}" if counts["with_autofix"] else "-"


def number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def judge_summaries(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(judge, its summary) for each judge the report holds, the primary one first."""
    primary = summary.get("judge", "strict")
    out = [(primary, summary)]
    out += [(j, summary[j]) for j in JUDGES if j != primary and isinstance(summary.get(j), dict)]
    return out


def columns(summary: dict[str, Any]) -> tuple[str, ...]:
    """The table's header: a ``judge`` column after ``quant`` when the report holds both verdicts."""
    return COLUMNS if len(judge_summaries(summary)) == 1 else (COLUMNS[0], "judge") + COLUMNS[1:]


def _figure_row(fig: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    top = str(summary["max_attempts"] - 1)
    cost = fig["cost"][top]
    tokens = None
    if cost["solved"]:
        tokens = (cost["prompt_tokens"] + cost["completion_tokens"]) / cost["solved"]
    flips, p_value = flips_cell(fig, summary["reference"])
    return [fig["endpoint"], number(fig["bpw"], 2), rate_cell(fig["first_try"]), rate_cell(fig["with_retry"]),
            uplift_cell(fig["uplift"]), pct(fig["recovery"]["rate"]), flips, p_value,
            number(cost["seconds_per_solved"]), number(tokens, 0), autofix_cell(fig)]


def table_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One row per endpoint; with both judges, one per endpoint and judge (strict first)."""
    judged = judge_summaries(summary)
    if len(judged) == 1:
        return [_figure_row(fig, summary) for fig in summary["endpoints"]]
    rows = []
    for index, fig in enumerate(summary["endpoints"]):
        for judge, part in judged:
            row = _figure_row(part["endpoints"][index], part)
            rows.append([row[0], judge] + row[1:])
    return rows


# ---------------------------------------------------------------- from the store


def summary_for_run(store, run_id: str, *, reference: str | None = None, scoring: str = "run",
                    judge: str = "both") -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics summary, metadata) of a stored run under ``judge`` ("strict", "fair" or "both": the
    strict summary with the fair one under ``summary["fair"]``). "both" on a store judged before the fair
    judge existed reports strict alone and says so in ``meta["judge_note"]``; "fair" there is an error.
    Raises ValueError for an unknown reference or judge, StoreError for a missing fair verdict."""
    from tfagent.evals.reporting.metrics import summarize

    judges = judges_of(judge)
    run = store.run(run_id)
    spec = run["spec"]
    note = ""
    if judge == "both" and not store.has_judge(run_id, scoring, "fair"):
        judges = ("strict",)
        note = (f"fair verdicts are not stored for scoring {scoring!r} (judged before the fair judge existed): "
                f"`tfagent eval rescore {run_id}` adds them")
    endpoints = {e["name"]: e.get("bpw") for e in spec["endpoints"]}
    summaries = {}
    for name in judges:
        cells = store.cell_facts(run_id, scoring, name)
        summaries[name] = summarize(cells, endpoints=endpoints, max_attempts=spec["max_attempts"], reference=reference)
        summaries[name]["judge"] = name
        summaries[name]["undecided_cells"] = store.undecided_cells(run_id, scoring, name)
    summary = summaries[judges[0]]
    for name in judges[1:]:
        summary[name] = summaries[name]
    if len(judges) > 1:
        summary["judge_comparison"] = judge_comparison(store.judgments(run_id, scoring))
    meta = {
        "run_id": run_id,
        "suite": run["suite"],
        "scoring": scoring,
        "judges": list(judges),
        "samples": spec["samples"],
        "max_attempts": spec["max_attempts"],
        "tasks": len(spec["tasks"]),
        "cells": len(spec["tasks"]) * spec["samples"] * len(endpoints),
        "complete": len(store.cell_facts(run_id, scoring, judges[0])),
        "endpoints": spec["endpoints"],
        "attribution": spec.get("attribution", ""),
    }
    if note:
        meta["judge_note"] = note
    return summary, meta


def judge_comparison(judged: dict) -> dict[str, Any]:
    """Which tasks the fair judge corrects (reason), and the cells whose final verdict differs between
    the judges (strict → fair), from the stored verdicts alone."""
    corrections: dict[str, str] = {}
    resolved: dict[str, list[str]] = {}
    flips = []
    for key, entry in sorted(judged.items()):
        verdict = entry["verdict"]
        fair = verdict.get("fair") or {}
        if fair.get("correction"):
            corrections[key.task_id] = fair["correction"]
        if fair.get("resolved"):
            resolved.setdefault(key.task_id, fair["resolved"])
        strict_ok, strict_undecided = verdict_outcome(verdict, "strict")
        fair_ok, fair_undecided = verdict_outcome(verdict, "fair")
        before = "undecided" if strict_undecided else ("pass" if strict_ok else "fail")
        after = "undecided" if fair_undecided else ("pass" if fair_ok else "fail")
        if before != after:
            flips.append({"endpoint": key.endpoint, "task": key.task_id, "sample": key.sample, "strict": before,
                          "fair": after, "why": fair.get("correction") or "; ".join(fair.get("resolved") or []) or ""})
    return {"corrections": [{"task": t, "reason": r} for t, r in sorted(corrections.items())],
            "resolved": resolved, "flips": flips}


# ---------------------------------------------------------------- terminal


def render_table(summary: dict[str, Any], console: Console | None = None, title: str = "") -> None:
    if console is None:
        # Piped output (CI logs, files) is not limited to 80 columns: keep each endpoint on one line.
        console = Console(no_color=bool(os.environ.get("NO_COLOR")) or None, width=None if sys.stdout.isatty() else 160)
    table = Table(title=title or None, header_style="bold")
    for name in columns(summary):
        table.add_column(name, justify="left" if name in ("quant", "judge") else "right")
    for row in table_rows(summary):
        table.add_row(*row)
    console.print(table)
    console.print(
        f"retries allowed: {summary['max_attempts'] - 1}; reference: {summary['reference'] or 'none'}; "
        f"intervals: Wilson 95 %, uplift Newcombe paired, p: exact McNemar vs reference (with retry)",
        highlight=False,
    )
    for line in judge_lines(summary):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def judge_lines(summary: dict[str, Any]) -> list[str]:
    """What the judges say beyond the table: strict vs fair (corrections, cells that differ) and the
    cells each judge left undecided, with the reason."""
    lines = []
    judged = judge_summaries(summary)
    comparison = summary.get("judge_comparison")
    if comparison is not None:
        lines.append(f"judges: strict = the suite's own intents (IaC-Eval's, unchanged); fair = "
                     f"{len(comparison['corrections'])} corrected intent(s) + unknown-at-plan references resolved")
        for item in comparison["corrections"]:
            lines.append(f"  corrected {item['task']}: {item['reason']}")
        for flip in comparison["flips"]:
            lines.append(f"  {flip['endpoint']} {flip['task']}#{flip['sample']}: strict {flip['strict']} → fair "
                         f"{flip['fair']}" + (f" ({flip['why']})" if flip["why"] else ""))
        if not comparison["flips"]:
            lines.append("  no cell's verdict differs between the judges")
    for judge, part in judged:
        for cell in part.get("undecided_cells", []):
            lines.append(f"undecided ({judge}): {cell['endpoint']} {cell['task']}#{cell['sample']}: {cell['reason']}")
    return lines


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


STRATEGY_KEYS = ("grounding", "verify", "feedback", "candidates", "autofix", "constrain")


def strategy_text(endpoint: dict[str, Any]) -> str:
    """What an arm does differently: its loop strategy and sampling, from the run's spec."""
    parts = []
    for key in STRATEGY_KEYS:
        value = endpoint.get(key)
        if value is None or value == "":
            continue
        parts.append(f"{key} {','.join(value) if isinstance(value, list) else str(value).lower()}")
    params = endpoint.get("params") or {}
    parts += [f"{k} {params[k]}" for k in ("temperature", "seed", "max_tokens") if k in params]
    return "; ".join(parts) or "the run's defaults"


def arms_markdown(summary: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """Each arm's strategy and what its answers cost: tokens spent in the whole retry budget (every
    candidate and retry included) and tasks solved per 1,000 of them, so "more bits, more retries, more
    samples or more knowledge" compare at equal cost."""
    specs = {e["name"]: e for e in meta.get("endpoints") or []}
    if not specs:
        return []
    out = ["", "## Arms: strategy and cost", "",
           "| arm | strategy | tokens spent (prompt + completion) | completion tokens | solved | solved per 1,000 tokens |",
           "|---|---|---|---|---|---|"]
    top = str(summary["max_attempts"] - 1)
    for fig in summary["endpoints"]:
        cost = fig["cost"][top]
        spent = cost["prompt_tokens"] + cost["completion_tokens"]
        per = f"{1000 * cost['solved'] / spent:.3f}" if spent else "–"
        out.append(f"| {fig['endpoint']} | {strategy_text(specs.get(fig['endpoint'], {}))} | {spent:,} | "
                   f"{cost['completion_tokens']:,} | {cost['solved']} | {per} |")
    return out


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    out = [f"# Eval report: {meta.get('suite', '')}", "", _meta_line(meta), ""]
    header = columns(summary)
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    if meta.get("judge_note"):
        out += ["", f"Note: {meta['judge_note']}."]
    out += arms_markdown(summary, meta)
    judged = judge_summaries(summary)
    for judge, part in judged:
        suffix = f" ({judge} judge)" if len(judged) > 1 else ""
        out += ["", f"## Pass rate by retry budget{suffix}", "",
                "| quant | " + " | ".join(f"k={k}" for k in range(part["max_attempts"])) + " |",
                "|---|" + "---|" * part["max_attempts"]]
        for fig in part["endpoints"]:
            out.append(f"| {fig['endpoint']} | " + " | ".join(rate_cell(e) for e in fig["pass_at_k"]) + " |")
    for judge, part in judged:
        suffix = f", {judge} judge" if len(judged) > 1 else ""
        out += ["", f"## Flips vs reference ({part['reference'] or 'none'}{suffix})", ""]
        out += [f"- **{name}** lost: {lost}; gained: {gained}" for name, lost, gained in flip_lines(part)] or ["- no reference"]
        out += [f"- **{name}** on the first try lost: {lost}; gained: {gained}"
                for name, lost, gained in flip_lines(part, "first_try")]
    out += judge_markdown(summary)
    out += ["", "## Error categories over failed attempts", ""]
    for fig in summary["endpoints"]:
        cats = ", ".join(f"{k} {v}" for k, v in fig["error_categories"].items()) or "none"
        out.append(f"- **{fig['endpoint']}**: {cats}; well-formed replies {pct(fig['well_formed']['rate'])}; "
                   f"judge rejected {fig['judge_rejections']} verifier-accepted answers; "
                   f"{fig['undecided']} cells the judge could not decide here (left out of the rates); "
                   f"{repeat_text(fig)}")
    out += ["", "## Bits for retries: Pareto frontier", "", "| quant | bpw | retries k | success | s/solved |", "|---|---|---|---|---|"]
    out += [f"| {p['endpoint']} | {number(p['bpw'], 2)} | {p['k']} | {pct(p['success'])} | {number(p['seconds_per_solved'])} |"
            for p in summary["frontier"]]
    out += ["", "Methods: " + "; ".join(f"{k}: {v}" for k, v in summary["methods"].items()), ""]
    if meta.get("attribution"):
        out += [f"Data: {meta['attribution']}", ""]
    return "\n".join(out)


def judge_markdown(summary: dict[str, Any]) -> list[str]:
    """The judges' section: corrected tasks with reasons, cells whose verdict differs, undecided cells."""
    out = []
    comparison = summary.get("judge_comparison")
    if comparison is not None:
        out += ["", "## Strict and fair judges", "",
                "Strict: each task's own intent (IaC-Eval's, unchanged, comparable with the literature). Fair: the "
                "suite's corrected intent where the original demands what the prompt does not state "
                "(`corrections.yaml`), and planned values unknown only because they reference another resource "
                "resolved from the configuration.", "", "Corrected tasks:", ""]
        out += [f"- `{c['task']}`: {c['reason']}" for c in comparison["corrections"]] or ["- none in this run"]
        out += ["", "Cells whose final verdict differs (strict → fair):", ""]
        out += [f"- {f['endpoint']} `{f['task']}`#{f['sample']}: {f['strict']} → {f['fair']}"
                + (f" — {f['why']}" if f["why"] else "") for f in comparison["flips"]] or ["- none"]
    undecided = [(judge, cell) for judge, part in judge_summaries(summary) for cell in part.get("undecided_cells", [])]
    out += ["", "## Undecided cells (left out of the rates)", ""]
    out += [f"- {judge}: {c['endpoint']} `{c['task']}`#{c['sample']}: undecided: {c['reason']}" for judge, c in undecided] or ["- none"]
    return out


def _meta_line(meta: dict[str, Any]) -> str:
    keys = ("run_id", "samples", "max_attempts", "tasks", "complete", "cells", "scoring", "judges")
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


def _judges_html(summary: dict[str, Any]) -> str:
    comparison = summary.get("judge_comparison")
    parts = []
    if comparison is not None:
        parts += ["<h2>Strict and fair judges</h2>",
                  "<p class='note'>Strict: each task's own intent (IaC-Eval's, unchanged). Fair: the suite's corrected "
                  "intent where the original demands what the prompt does not state, and unknown-at-plan references "
                  "resolved from the configuration.</p>",
                  _html_table(["task", "correction"], [[c["task"], c["reason"]] for c in comparison["corrections"]], (1,)),
                  _html_table(["quant", "task#sample", "strict", "fair", "why"],
                              [[f["endpoint"], f"{f['task']}#{f['sample']}", f["strict"], f["fair"], f["why"]]
                               for f in comparison["flips"]], (1, 4))]
    rows = [[judge, c["endpoint"], f"{c['task']}#{c['sample']}", c["reason"]]
            for judge, part in judge_summaries(summary) for c in part.get("undecided_cells", [])]
    parts += ["<h2>Undecided cells (left out of the rates)</h2>",
              _html_table(["judge", "quant", "task#sample", "reason"], rows, (2, 3)) if rows else "<p class='note'>none</p>"]
    return "\n".join(parts)


def html_page(summary: dict[str, Any], meta: dict[str, Any], images: dict[str, str]) -> str:
    k_header = ["quant"] + [f"k={k}" for k in range(summary["max_attempts"])]
    k_rows = [[f["endpoint"]] + [rate_cell(e) for e in f["pass_at_k"]] for f in summary["endpoints"]]
    err_rows = [[f["endpoint"], ", ".join(f"{k} {v}" for k, v in f["error_categories"].items()) or "none",
                 pct(f["well_formed"]["rate"]), str(f["judge_rejections"]), str(f["undecided"]),
                 number(f["mean_attempts_to_success"], 2), repeat_text(f)]
                for f in summary["endpoints"]]
    frontier = [[p["endpoint"], number(p["bpw"], 2), str(p["k"]), pct(p["success"]), number(p["seconds_per_solved"])]
                for p in summary["frontier"]]
    figs = "".join(f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,{b}"></figure>' for t, b in images.items())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>tfagent eval: {html.escape(str(meta.get('suite', '')))}</title><style>{STYLE}</style></head><body>",
        f"<h1>tfagent eval: {html.escape(str(meta.get('suite', '')))}</h1><p class='meta'>{html.escape(_meta_line(meta))}</p>",
        _html_table(columns(summary), table_rows(summary)),
        f"<p class='note'>Intervals: Wilson 95 %. Uplift: with retry − first try, Newcombe paired interval. "
        f"Flips and p: vs reference <b>{html.escape(str(summary['reference'] or 'none'))}</b> with the full retry budget, "
        f"exact McNemar test. s/solved and tok/solved: model + verification time and prompt + completion tokens "
        f"of all attempts (every --candidates sample included), per solved task. autofix: solved tasks whose final "
        f"answer verified only after tfagent's renames (--autofix), of all solved with retry.</p>",
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
        _judges_html(summary),
    ]
    if meta.get("attribution"):
        parts.append(f"<p class='note'>Data: {html.escape(str(meta['attribution']))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
