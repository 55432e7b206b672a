"""How often a model sends its failed reply again, byte for byte — as the loop asks today, and with
the failed reply restated inside one fresh user turn instead of standing as the model's own turn.

Why: in the 40-task A/B (docs/results/repair-ab-0.5b-40) most retries of the 0.5B were exact copies
of the previous reply, even the escalated ones sampled at temperature 0.8 with a new seed. This
separates the two suspects: the sampling (server, speculation) and the conversation shape (the
previous reply sitting in the context as an assistant turn, which a small model copies).

For each escalated retry stored in an eval store that repeated its previous reply, it sends N
requests at the same temperature with seeds 1..N in two shapes:
  as-sent:  the stored messages unchanged (system, user, assistant R1, feedback, …, assistant Rk, feedback);
  restated: [system, one user turn = prompt + R_k + the last feedback] (tfagent.agent.loop.feedback.restated,
            what `--feedback restate` sends after a repeat).
and prints, per task and in total, how many replies equal R_k. The restated shape gives up the prefix
cache of the retry (the reason the loop extends the conversation), so it would be an escalation step
only, not the default.

    tfagent serve MODEL.gguf --name probe --port 8093 --parallel 1 --detach
    python benchmarks/retry_copying.py --base-url http://127.0.0.1:8093/v1 --db STORE --run RUN --endpoint schema
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

import httpx

from tfagent.agent.loop.feedback import restated


def escalated_repeats(db: str, run_id: str, endpoint: str, limit: int) -> list[tuple[str, list[dict], float, str]]:
    """(task, messages sent, temperature, the reply) of escalated retries that repeated the previous reply:
    the stored reply *is* the previous one, byte for byte (whatever shape the request had)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT task_id, data FROM attempts WHERE run_id = ? AND endpoint = ? AND attempt > 1 "
            "AND json_extract(data, '$.repeat') = 'same_reply' "
            "AND json_extract(data, '$.sampling.temperature') IS NOT NULL ORDER BY task_id LIMIT ?",
            (run_id, endpoint, limit)).fetchall()
    loaded = [(task, json.loads(data)) for task, data in rows]
    return [(task, d["messages"], float(d["sampling"]["temperature"]), d["reply"].strip()) for task, d in loaded]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--endpoint", default="schema")
    ap.add_argument("--tasks", type=int, default=10, help="escalated repeats to replay")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1..N")
    ap.add_argument("--seed-list", help="comma-separated seeds instead of 1..N (e.g. 3000,1,2,3,4)")
    ap.add_argument("--max-tokens", type=int, default=768)
    args = ap.parse_args()
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(range(1, args.seeds + 1))
    cases = escalated_repeats(args.db, args.run, args.endpoint, args.tasks)
    if not cases:
        print(f"no escalated repeated retries for {args.endpoint} in run {args.run}", file=sys.stderr)
        return 2
    totals = {"as-sent": 0, "restated": 0}
    with httpx.Client(base_url=args.base_url, timeout=600) as http:
        for task, messages, temperature, previous in cases:
            counts = {}
            shapes = {"as-sent": messages, "restated": restated(messages)}
            for shape, sent in shapes.items():
                if shape == "restated" and sent == messages:  # stored already restated: same requests
                    counts[shape] = counts["as-sent"]
                    totals[shape] += counts[shape]
                    continue
                same = 0
                for seed in seeds:
                    body = {"model": "probe", "messages": sent, "temperature": temperature, "seed": seed,
                            "max_tokens": args.max_tokens}
                    response = http.post("/chat/completions", json=body)
                    response.raise_for_status()
                    same += response.json()["choices"][0]["message"]["content"].strip() == previous
                counts[shape] = same
                totals[shape] += same
            print(f"{task}: identical to the previous reply — as-sent {counts['as-sent']}/{len(seeds)}, "
                  f"restated {counts['restated']}/{len(seeds)} (temperature {temperature})", flush=True)
    n = len(cases) * len(seeds)
    print(f"total over {len(cases)} retries x seeds {seeds}: as-sent {totals['as-sent']}/{n} "
          f"({totals['as-sent'] / n:.0%}), restated {totals['restated']}/{n} ({totals['restated'] / n:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
