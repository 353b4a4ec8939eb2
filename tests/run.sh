#!/usr/bin/env bash
# Set up the environment (once), lint the code (ruff.toml) and run the whole test suite on CPU.
#   bash tests/run.sh [pytest args]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=$(bash "$root/examples/setup_env.sh")
cd "$root"
"$(dirname "$python")/ruff" check --quiet .
PYTHONWARNINGS=ignore exec "$python" -m pytest -q -p no:cacheprovider tests "$@"
