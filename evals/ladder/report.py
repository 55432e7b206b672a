"""The ladder report: the research's table per quant, pass rate after k retries, break-even, error fates,
and success vs bits per weight — as report.json, report.md and a self-contained report.html.

Figures come from ``ladder/metrics.py`` ``ladder_summary`` (pure); this module only formats them.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from tfagent.agent.core.output import atomic_write
from tfagent.evals.reporting.report import (STYLE, _html_table, _plot_budget, judge_markdown, number, rate_cell, strategy_text,
                                  uplift_cell)

COLUMNS = ("quant", "bpw", "first try [95% CI]", "with retry [95% CI]", "uplift [95% CI]",
           "flips vs ref, first try (−lost/+gained, p)", "flips vs ref, with retry (−lost/+gained, p)",
           "tok/solved first try", "tok/solved with retry", "s/solved first try", "s/solved with retry")


def summary_of_store(store, run_id: str, judge: str = "both", scoring: str = "run") -> tuple[dict[str, Any], dict[str, Any]]:
    """The ladder summary under the primary judge, with the fair one under ``summary["fair"]`` for "both"
    (a store judged before the fair judge existed reports strict alone, noted in ``meta["judge_note"]``)."""
    from tfagent.evals.judging.verdicts import judges_of
    from tfagent.evals.ladder.metrics import ladder_summary
    from tfagent.evals.reporting.report import judge_comparison

    run = store.run(run_id)
    spec = run["spec"]
    endpoints = {e["name"]: e.get("bpw") for e in spec["endpoints"]}
    reference = spec.get("ladder", {}).get("reference")
    baselines = spec.get("ladder", {}).get("baselines") or {}
    judges = judges_of(judge)
    note = ""
    if judge == "both" and not store.has_judge(run_id, scoring, "fair"):
        judges = ("strict",)
        note = f"fair verdicts are not stored (judged before the fair judge existed): `tfagent eval rescore {run_id}` adds them"
    summaries = {}
    for name in judges:
        cells = store.cell_facts(run_id, scoring, judge=name)
        summaries[name] = ladder_summary(cells, endpoints=endpoints, max_attempts=spec["max_attempts"], reference=reference,
                                         baselines=baselines)
        summaries[name]["judge"] = name
        summaries[name]["undecided_cells"] = store.undecided_cells(run_id, scoring, judge=name)
    summary = summaries[judges[0]]
    for name in judges[1:]:
        summary[name] = summaries[name]
    if len(judges) > 1:
        summary["judge_comparison"] = judge_comparison(store.judgments(run_id, scoring))
    meta = {"run_id": run_id, "suite": run["suite"], "samples": spec["samples"], "max_attempts": spec["max_attempts"],
            "tasks": len(spec["tasks"]), "cells": len(spec["tasks"]) * spec["samples"] * len(endpoints),
            "complete": len(store.cell_facts(run_id, scoring, judge=judges[0])), "attribution": spec.get("attribution", ""),
            "ladder": spec.get("ladder", {}), "endpoints": spec["endpoints"], "judges": list(judges)}
    if note:
        meta["judge_note"] = note
    return summary, meta


def time_of_store(store, run_id: str, phases: dict[str, float]) -> dict[str, Any]:
    """Where the time went: the ladder's wall-clock phases, per server (a rung with its baseline arm) the wall
    time its attempts were running, and per arm the stream-seconds of its stored attempts (prefill, decode,
    the rest of the model request, verification)."""
    from tfagent.evals.ladder.metrics import attempt_span, busy_wall, time_split, wall_split

    baselines = store.run(run_id)["spec"].get("ladder", {}).get("baselines") or {}
    rows = [(row["endpoint"], row["created"], json.loads(row["data"])) for row in store.attempt_ends(run_id)]
    busy = busy_wall([(baselines.get(endpoint, endpoint), created, attempt_span(data)) for endpoint, created, data in rows])
    return {"wall": wall_split(phases), "busy": busy, "streams": time_split([(endpoint, data) for endpoint, _, data in rows])}


ARM_COLUMNS = ("arm", "bpw", "strategy", "tokens first try", "solved per 1k tokens, first try",
               "tokens with retry", "solved per 1k tokens, with retry")


def arm_rows(summary: dict[str, Any], meta: dict[str, Any]) -> list[list[str]]:
    """Each arm's strategy and what its answers cost: tokens spent (prompt + completion, every candidate and
    retry within the budget) and tasks solved per 1,000 of them."""
    specs = {e["name"]: e for e in meta.get("endpoints") or []}
    rows = []
    for fig in summary["endpoints"]:
        first, retry = fig["per_1k_tokens"]["first_try"], fig["per_1k_tokens"]["with_retry"]
        rows.append([fig["endpoint"], number(fig["bpw"], 2), strategy_text(specs.get(fig["endpoint"], {})),
                     f"{first['tokens']:,}", number(first["solved_per_1k_tokens"], 3),
                     f"{retry['tokens']:,}", number(retry["solved_per_1k_tokens"], 3)])
    return rows


BASELINE_COLUMNS = ("rung", "budget", "strategy arm", "baseline arm (the old default)", "uplift [95% CI]",
                    "flips (−lost/+gained, p)")


def baseline_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for pair in summary.get("baseline_pairs") or []:
        for budget in ("first_try", "with_retry"):
            v = pair[budget]
            n = v["pairs"]
            up = v["uplift"]
            rows.append([pair["arm"], budget.replace("_", " "), f"{v['strategy_solved']}/{n}", f"{v['baseline_solved']}/{n}",
                         f"{100 * up['diff']:+.1f} [{100 * up['lo']:+.0f}, {100 * up['hi']:+.0f}]",
                         f"−{len(v['lost'])} / +{len(v['gained'])} (p {v['p_value']:.2g})"])
    return rows


def baseline_flip_lines(summary: dict[str, Any]) -> list[str]:
    ids = lambda pairs: ", ".join(f"{p['task']}#{p['sample']}" for p in pairs) or "none"  # noqa: E731
    return [f"{pair['arm']} vs {pair['baseline']}, {budget.replace('_', ' ')}: lost {ids(pair[budget]['lost'])}; "
            f"gained {ids(pair[budget]['gained'])}"
            for pair in summary.get("baseline_pairs") or [] for budget in ("first_try", "with_retry")]


TIME_COLUMNS = ("arm", "attempts (with server timings)", "prefill s", "decode s", "other model s", "verify s")


def time_rows(summary: dict[str, Any], time: dict[str, Any]) -> list[list[str]]:
    streams = time.get("streams") or {}
    rows = []
    for fig in summary["endpoints"]:
        t = streams.get(fig["endpoint"])
        if t is None:
            continue
        rows.append([fig["endpoint"], f"{t['attempts']} ({t['timed']})", f"{t['prefill']:.0f}", f"{t['decode']:.0f}",
                     f"{t['other_model']:.0f}", f"{t['verify']:.0f}"])
    if len(streams) > 1:
        total = {key: sum(t[key] for t in streams.values())
                 for key in ("attempts", "timed", "prefill", "decode", "other_model", "verify")}
        rows.append(["all arms", f"{total['attempts']} ({total['timed']})", f"{total['prefill']:.0f}",
                     f"{total['decode']:.0f}", f"{total['other_model']:.0f}", f"{total['verify']:.0f}"])
    return rows


def busy_sentence(time: dict[str, Any]) -> str:
    busy = time.get("busy") or {}
    if not busy:
        return ""
    return (f"Model and verification busy {sum(busy.values()) / 60:.1f} min in all: " +
            ", ".join(f"{server} {seconds / 60:.1f} min" for server, seconds in busy.items()) +
            " (per server, a rung with its baseline arm: the union of its stored attempts' intervals, so kills and the "
            "gaps between sittings cost nothing here; the judge's seconds after each cell are not included). ")


def wall_sentence(time: dict[str, Any]) -> str:
    wall = time.get("wall") or {}
    total = sum(wall.values())
    if not total:
        return busy_sentence(time) + "No phase clock recorded (the report was built from a store alone)."
    return busy_sentence(time) + (
            f"Phase clock (ladder-state.json; a phase cut short by a kill is not in it) {total / 60:.1f} min: " +
            ", ".join(f"{k} {v:.0f} s" for k, v in wall.items() if v is not None) +
            ". Per arm below: stream-seconds of the stored attempts (prefill = the server's prompt processing, "
            "decode = its generation, other model = waiting for a slot, transport and streaming, verify = the "
            "in-loop verifiers); requests run in parallel, so they add up to more than the eval's wall time.")


def _strategy_lines(meta: dict[str, Any]) -> list[str]:
    ladder = meta.get("ladder", {})
    lines = []
    if ladder.get("strategy"):
        lines.append(f"strategy of every rung: {strategy_text(ladder['strategy'])}")
    if ladder.get("baselines"):
        lines.append(f"baseline arms ({', '.join(ladder['baselines'])}): the old default strategy (before issue 19), "
                     f"{strategy_text(ladder.get('baseline_strategy') or {})}, on the same server as their rung")
    imatrix = ladder.get("imatrix")
    if imatrix:
        lines.append(f"importance matrix (IQ rungs): llama-imatrix on {imatrix['calibration']} "
                     f"({imatrix['calibration_bytes']} bytes, sha256 {imatrix['calibration_sha256']}), "
                     f"{imatrix['seconds']:.0f} s")
    return lines


def _flips(fig: dict[str, Any], budget: str) -> str:
    versus = fig.get("vs_reference")
    if versus is None:
        return "reference"
    v = versus[budget]
    return f"−{len(v['lost'])} / +{len(v['gained'])} (p {v['p_value']:.2g})"


def table_rows(summary: dict[str, Any]) -> list[list[str]]:
    top = str(summary["max_attempts"] - 1)
    rows = []
    for fig in summary["endpoints"]:
        rows.append([
            fig["endpoint"], number(fig["bpw"], 2), rate_cell(fig["first_try"]), rate_cell(fig["with_retry"]),
            uplift_cell(fig["uplift"]), _flips(fig, "first_try"), _flips(fig, "with_retry"),
            number(fig["tokens_per_solved"]["0"], 0), number(fig["tokens_per_solved"][top], 0),
            number(fig["cost"]["0"]["seconds_per_solved"]), number(fig["cost"][top]["seconds_per_solved"]),
        ])
    return rows


def k_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["quant", "bpw"] + [f"k={k}" for k in range(summary["max_attempts"])]
    return header, [[f["endpoint"], number(f["bpw"], 2)] + [rate_cell(e) for e in f["pass_at_k"]] for f in summary["endpoints"]]


def break_even_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["quant", "bpw", "retries k", f"vs {summary['break_even']['reference']} first try (diff [95% CI])",
              "lost / gained", "p (worse, one-sided)", "not worse", "tok/solved", "s/solved"]
    rows = []
    for r in summary["break_even"]["rows"]:
        rows.append([r["endpoint"], number(r["bpw"], 2), str(r["k"]),
                     f"{100 * r['diff']:+.1f} [{100 * r['lo']:+.0f}, {100 * r['hi']:+.0f}]",
                     f"−{r['only_ref']} / +{r['only_here']}", f"{r['p_worse']:.3g}", "yes" if r["not_worse"] else "no",
                     number(r["cost"]["tokens_per_solved"], 0), number(r["cost"]["seconds_per_solved"])])
    return header, rows


def break_even_sentence(summary: dict[str, Any]) -> str:
    be = summary["break_even"]
    ref_cost = be["reference_first_try_cost"]
    ref = (f"{be['reference']} ({number(be['reference_bpw'], 2)} bpw) on the first try costs "
           f"{number(ref_cost['tokens_per_solved'], 0)} tokens and {number(ref_cost['seconds_per_solved'])} s per solved task")
    answer = be["answer"]
    if answer is None:
        return f"No lower quant reaches the reference's first try with any retry budget (criterion: {be['criterion']}). {ref}."
    cost = answer["cost"]
    strict = be["answer_at_least_as_good"]
    strict_text = (f" Requiring at least as many solved pairs (diff ≥ 0): {strict['endpoint']} "
                   f"({number(strict['bpw'], 2)} bpw) with k = {strict['k']}." if strict else
                   " No lower quant solves at least as many pairs as the reference's first try.")
    return (f"Break-even: {answer['endpoint']} ({number(answer['bpw'], 2)} bpw) with k = {answer['k']} retr"
            f"{'y' if answer['k'] == 1 else 'ies'} is not worse than the reference's first try "
            f"(diff {100 * answer['diff']:+.1f} points [{100 * answer['lo']:+.0f}, {100 * answer['hi']:+.0f}], "
            f"one-sided p {answer['p_worse']:.3g}); it costs {number(cost['tokens_per_solved'], 0)} tokens and "
            f"{number(cost['seconds_per_solved'])} s per solved task. {ref}.{strict_text}")


def error_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["quant", "attempt", "error categories (failed attempts)"]
    rows = []
    for f in summary["endpoints"]:
        for attempt, cats in f["categories_by_attempt"].items():
            rows.append([f["endpoint"], attempt, ", ".join(f"{k} {v}" for k, v in cats.items())])
    return header, rows


def fate_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["quant", "category on a failed first try", "cells", "fixed by retries", "never fixed"]
    rows = [[f["endpoint"], cat, str(v["first_try"]), str(v["fixed"]), str(v["never"])]
            for f in summary["endpoints"] for cat, v in f["category_fates"].items()]
    return header, rows


def _md_table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _meta_lines(meta: dict[str, Any], notes: list[str], phases: dict[str, float]) -> list[str]:
    ladder = meta.get("ladder", {})
    lines = [f"run {meta['run_id']} · suite {meta['suite']} · {meta['tasks']} tasks × {meta['samples']} sample(s) · "
             f"{meta['max_attempts']} attempts · {meta['complete']}/{meta['cells']} cells complete · "
             f"reference {ladder.get('reference')} · layout {ladder.get('layout')}"]
    if ladder.get("source"):
        lines.append(f"source {ladder['source']}")
    for rung in ladder.get("rungs", []):
        how = "the source file itself" if rung["made_by"] == "source" else (
            f"{rung['made_by']}{', re-quantized from the source' if rung['requantized'] else ''}"
            f"{', with importance matrix' if rung['imatrix'] else ''}, {rung['seconds']:.0f} s")
        lines.append(f"rung {rung['qtype']}: {rung['bpw']:.2f} bpw, {rung['bytes'] / 2**20:.0f} MiB ({how})")
    lines += _strategy_lines(meta)
    lines += [f"note: {n}" for n in notes]
    if phases:
        total = sum(phases.values())
        lines.append(f"wall time {total / 60:.1f} min: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()))
    if meta["complete"] < meta["cells"]:
        lines.append(f"INCOMPLETE: {meta['cells'] - meta['complete']} cells not done; re-run the command to resume")
    return lines


def markdown(summary, meta, notes, phases, time: dict[str, Any] | None = None) -> str:
    time = time or {}
    out = [f"# Quant ladder: {meta['suite']}", ""] + [f"- {line}" for line in _meta_lines(meta, notes, phases)] + [""]
    out += _md_table(COLUMNS, table_rows(summary))
    out += ["", "## Arms: strategy, tokens and solved per 1,000 tokens", ""] + _md_table(ARM_COLUMNS, arm_rows(summary, meta))
    if summary.get("baseline_pairs"):
        out += ["", "## What the strategy buys: each end against the old default on the same rung", ""]
        out += _md_table(BASELINE_COLUMNS, baseline_rows(summary))
        out += [""] + [f"- {line}" for line in baseline_flip_lines(summary)]
    out += ["", "## Where the time went", "", wall_sentence(time), ""] + _md_table(TIME_COLUMNS, time_rows(summary, time))
    out += ["", "## Pass rate after k retries", ""] + _md_table(*k_rows(summary))
    out += ["", "## Break-even", "", break_even_sentence(summary), ""] + _md_table(*break_even_rows(summary))
    fair = summary.get("fair")
    if isinstance(fair, dict):
        out += ["", "## The same ladder under the fair judge", ""] + _md_table(COLUMNS, table_rows(fair))
        out += ["", "Pass rate after k retries (fair):", ""] + _md_table(*k_rows(fair))
        out += ["", "Break-even (fair): " + break_even_sentence(fair)]
        if fair.get("baseline_pairs"):
            out += ["", "What the strategy buys (fair):", ""] + _md_table(BASELINE_COLUMNS, baseline_rows(fair))
    if meta.get("judge_note"):
        out += ["", f"Note: {meta['judge_note']}."]
    out += judge_markdown(summary)
    out += ["", "## Error categories per attempt", ""] + _md_table(*error_rows(summary))
    out += ["", "## Which errors the retries fix", ""] + _md_table(*fate_rows(summary))
    out += ["", "## Flips vs reference (task#sample)", ""]
    for f in summary["endpoints"]:
        for budget in ("first_try", "with_retry"):
            v = f.get("vs_reference", {}).get(budget)
            if v:
                ids = lambda pairs: ", ".join(f"{p['task']}#{p['sample']}" for p in pairs) or "none"  # noqa: E731
                out.append(f"- **{f['endpoint']}**, {budget.replace('_', ' ')}: lost {ids(v['lost'])}; gained {ids(v['gained'])}")
    out += ["", "Methods: " + "; ".join(f"{k}: {v}" for k, v in summary["methods"].items()), ""]
    if meta.get("attribution"):
        out += [f"Data: {meta['attribution']}", ""]
    return "\n".join(out)


def _plot_ladder(ax, summary) -> bool:
    baselines = summary.get("baselines") or {}
    placed = sorted((f for f in summary["endpoints"] if f["bpw"] is not None and f["endpoint"] not in baselines),
                    key=lambda f: f["bpw"])
    if not placed:
        return False
    base = [f for f in summary["endpoints"] if f["endpoint"] in baselines and f["bpw"] is not None]
    for budget, marker in (("first_try", "x"), ("with_retry", "+")):  # the old default strategy (before issue 19) at the ends
        if base:
            ax.scatter([f["bpw"] for f in base], [100 * (f[budget]["rate"] or 0) for f in base], marker=marker, s=60,
                       color="black", zorder=3, label=f"the old default, {budget.replace('_', ' ')}")
    xs = [f["bpw"] for f in placed]
    for k in range(summary["max_attempts"]):
        entries = [f["pass_at_k"][k] for f in placed]
        label = "first try" if k == 0 else f"with {k} retr{'y' if k == 1 else 'ies'}"
        line, = ax.plot(xs, [100 * (e["rate"] or 0) for e in entries], marker="o", label=label)
        ax.fill_between(xs, [100 * e["lo"] for e in entries], [100 * e["hi"] for e in entries], color=line.get_color(), alpha=0.12)
    for f in placed:
        ax.annotate(f["endpoint"], (f["bpw"], 100 * (f["first_try"]["rate"] or 0)), textcoords="offset points", xytext=(4, -12), fontsize=8)
    ax.set_xlabel("bits per weight")
    ax.set_ylabel("tasks solved (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return True


def _plot_flips(ax, summary) -> bool:
    compared = [f for f in summary["endpoints"] if "vs_reference" in f]
    if not compared:
        return False
    xs = list(range(len(compared)))
    for offset, budget, label in ((-0.2, "first_try", "first try"), (0.2, "with_retry", "with retry")):
        lost = [-len(f["vs_reference"][budget]["lost"]) for f in compared]
        gained = [len(f["vs_reference"][budget]["gained"]) for f in compared]
        ax.bar([x + offset for x in xs], gained, 0.38, label=f"gained ({label})")
        ax.bar([x + offset for x in xs], lost, 0.38, label=f"lost ({label})")
    ax.set_xticks(xs, [f["endpoint"] for f in compared])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel(f"task·samples vs {summary['reference']}")
    ax.legend(fontsize=7)
    return True


LADDER_PLOT = "Success vs bits per weight (bands: Wilson 95 %)"


def figures(summary) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")

    from tfagent.evals.reporting.report import draw_figures

    return draw_figures(summary, ((LADDER_PLOT, _plot_ladder),
                                  ("Pass rate after k retries", _plot_budget), ("Flips vs reference", _plot_flips)))


def _fair_html(summary) -> list[str]:
    from tfagent.evals.reporting.report import _judges_html

    fair = summary.get("fair")
    parts = []
    if isinstance(fair, dict):
        parts += ["<h2>The same ladder under the fair judge</h2>", _html_table(COLUMNS, table_rows(fair)),
                  _html_table(*k_rows(fair)), f"<p>{html.escape(break_even_sentence(fair))}</p>"]
        if fair.get("baseline_pairs"):
            parts.append(_html_table(BASELINE_COLUMNS, baseline_rows(fair)))
    return parts + [_judges_html(summary)]


def _strategy_html(summary, meta, time) -> list[str]:
    esc = html.escape
    parts = ["<h2>Arms: strategy, tokens and solved per 1,000 tokens</h2>",
             _html_table(ARM_COLUMNS, arm_rows(summary, meta), (2,))]
    if summary.get("baseline_pairs"):
        parts += ["<h2>What the strategy buys: each end against the old default on the same rung</h2>",
                  _html_table(BASELINE_COLUMNS, baseline_rows(summary)),
                  "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in baseline_flip_lines(summary)) + "</ul>"]
    parts += ["<h2>Where the time went</h2>", f"<p>{esc(wall_sentence(time))}</p>",
              _html_table(TIME_COLUMNS, time_rows(summary, time))]
    return parts


def html_page(summary, meta, notes, phases, images, time: dict[str, Any] | None = None) -> str:
    esc = html.escape
    time = time or {}
    figs = "".join(f'<figure><img alt="{esc(t)}" src="data:image/png;base64,{b}"><figcaption>{esc(t)}</figcaption></figure>'
                   for t, b in images.items())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>tfagent quant ladder: {esc(meta['suite'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Quant ladder: {esc(meta['suite'])}</h1>",
        "<ul class='meta'>" + "".join(f"<li>{esc(line)}</li>" for line in _meta_lines(meta, notes, phases)) + "</ul>",
        _html_table(COLUMNS, table_rows(summary)),
        "<p class='note'>Intervals: Wilson 95 %. Uplift: with retry − first try, Newcombe paired interval. Flips: "
        "task·samples solved by the reference and not here (lost) or the reverse (gained), exact McNemar p. "
        "tok/solved and s/solved: prompt + completion tokens and model + verification seconds of all attempts "
        "within the budget, per solved task.</p>",
        *_strategy_html(summary, meta, time),
        f"<h2>Figures</h2><div class='figs'>{figs}</div>",
        "<h2>Pass rate after k retries</h2>", _html_table(*k_rows(summary)),
        "<h2>Break-even</h2>", f"<p>{esc(break_even_sentence(summary))}</p>", _html_table(*break_even_rows(summary)),
        "<h2>Error categories per attempt</h2>", _html_table(*error_rows(summary), (2,)),
        "<h2>Which errors the retries fix</h2>", _html_table(*fate_rows(summary), (1,)),
        *_fair_html(summary),
        f"<p class='note'>Methods: {esc('; '.join(f'{k}: {v}' for k, v in summary['methods'].items()))}</p>",
    ]
    if meta.get("attribution"):
        parts.append(f"<p class='note'>Data: {esc(str(meta['attribution']))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_ladder_report(store, run_id: str, out: Path, *, notes: list[str] = (), phases: dict[str, float] | None = None,
                        judge: str = "both", scoring: str = "run") -> dict[str, Path]:
    """report.json/.md/.html of a ladder run in ``out``: from the store alone (``tfagent eval report`` passes the
    notes stored with the run and the phases of ``ladder-state.json``), no model."""
    summary, meta = summary_of_store(store, run_id, judge, scoring)
    if scoring != "run":
        meta["scoring"] = scoring
    phases = phases or {}
    time = time_of_store(store, run_id, phases)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    document = {"meta": meta, "notes": list(notes), "wall_seconds": phases, "time": time, **summary}
    atomic_write(paths["json"], json.dumps(document, indent=2, sort_keys=True, default=str))
    atomic_write(paths["md"], markdown(summary, meta, list(notes), phases, time))
    images = figures(summary)
    atomic_write(paths["html"], html_page(summary, meta, list(notes), phases, images, time))
    ladder_plot = images.get(LADDER_PLOT)
    if ladder_plot:  # the headline plot as its own file, for a README to show beside the table
        paths["png"] = out / "ladder.png"
        atomic_write(paths["png"], base64.b64decode(ladder_plot))
    return paths
