# Sourced by the scripts: make ./.venv with cvjobs installed, once, and again whenever
# pyproject.toml changes. EXTRAS picks the optional dependencies ("dev" for the tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
stamp=".venv/.installed-${EXTRAS:-run}"
# The test dependencies include the runtime ones.
if [ -z "${EXTRAS:-}" ] && [ -f .venv/.installed-dev ] && [ ! pyproject.toml -nt .venv/.installed-dev ]; then
    stamp=.venv/.installed-dev
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setting up .venv (${EXTRAS:-runtime} dependencies)..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    target="."
    [ -n "${EXTRAS:-}" ] && target=".[${EXTRAS}]"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
    touch "$stamp"
fi
