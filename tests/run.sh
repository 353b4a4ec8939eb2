#!/usr/bin/env bash
# Set up the environment (once) and run the whole test suite on CPU.
#   bash tests/run.sh [pytest args]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=$(bash "$root/examples/setup_env.sh")
cd "$root"
PYTHONWARNINGS=ignore exec "$python" -m pytest -q -p no:cacheprovider tests "$@"
