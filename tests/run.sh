#!/usr/bin/env bash
# Set up the environment (once), lint the code (ruff.toml) and run the whole test suite on CPU.
#   bash tests/run.sh [TEST_FILE[::TEST] ...] [pytest args]   (no file: the whole suite)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=$(bash "$root/examples/setup_env.sh")
cd "$root"
"$(dirname "$python")/ruff" check --quiet .
# test files or nodes among the arguments run alone; otherwise (e.g. only -k or -x) the whole suite
paths=()
for arg in "$@"; do [ -e "${arg%%::*}" ] && paths+=("$arg"); done
[ ${#paths[@]} -gt 0 ] || set -- tests "$@"
PYTHONWARNINGS=ignore exec "$python" -m pytest -q -p no:cacheprovider "$@"
