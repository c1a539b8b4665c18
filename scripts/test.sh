#!/usr/bin/env bash
# Everything the tests need on a fresh machine, then every check CI runs. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# CPU torch first: the pinned wheel, so nothing pulls a multi-GB CUDA build
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -c requirements.lock -e ".[dev]"

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
    else
        echo "nginx is needed by the integration tests: sudo apt-get install nginx-light" >&2
        exit 1
    fi
fi

echo "== ruff";          ruff check src tests benchmarks && ruff format --check src tests benchmarks
echo "== mypy --strict"; mypy
echo "== import-linter"; lint-imports
echo "== pip-audit";     python scripts/audit.py  # see docs/operations.md (Dependency audit)
# the docs site (docs/ + the API reference from the docstrings) into site/: a broken link, a
# missing page or an object mkdocstrings cannot resolve fails the build (mkdocs.yml: strict).
# Not --quiet: it hides the warnings from strict mode too, and a broken link would pass
echo "== mkdocs";        NO_MKDOCS_2_WARNING=1 mkdocs build --strict
echo "== pytest";        python -m pytest "$@"
