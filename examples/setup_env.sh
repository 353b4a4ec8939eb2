#!/usr/bin/env bash
# Create (once) the project's virtual environment in .venv and install nd_fairseq into it.
#   bash examples/setup_env.sh        prints the python it set up; then: source .venv/bin/activate
# TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu for the CPU-only wheel, or a CUDA index
# such as .../whl/cu128) installs the pinned torch from there first.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then  # sourced: it would set -e in your shell and activate nothing
  echo "run it with bash: bash ${BASH_SOURCE[0]}; then: source .venv/bin/activate" >&2
  return 1
fi
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${ND_VENV:-$root/.venv}
stamp="$venv/.nd_fairseq-installed"
want=$(cat "$root/setup.py" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  python3 -m venv "$venv"
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
  fi
  # torch is pinned exactly in setup.py: a looser pin pulls a multi-GB CUDA build
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e "$root[test,tensorboard,examples]"
  echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
