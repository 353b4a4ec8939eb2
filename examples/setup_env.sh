#!/usr/bin/env bash
# Create (once) the project's virtual environment in .venv and install nd_fairseq into it.
# Usage: source examples/setup_env.sh   (or bash it; it prints the python it set up)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${ND_VENV:-$root/.venv}
stamp="$venv/.nd_fairseq-installed"
want=$(cat "$root/setup.py" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  python3 -m venv "$venv"
  # torch is pinned exactly in setup.py: a looser pin pulls a multi-GB CUDA build
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e "$root[test,tensorboard,examples]"
  echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
