#!/usr/bin/env bash
# The two commands of the README:
#   ./run.sh demo   set up a virtualenv and run the main job (build a collection from the shipped sample, search it)
#   ./run.sh test   set up a virtualenv with the test dependencies, check lint and format (ruff), run the test suite
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

setup() {  # $1: the extras to install
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  .venv/bin/python -m pip install -q -e ".[$1]"
}

browser() {  # the console test drives Debian's chromium + chromedriver (no browser download at run time)
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return; fi
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium chromium-driver >/dev/null; } \
    || echo "warning: could not install chromium + chromium-driver; tests/service/test_console.py will fail" >&2
}

case "${1:-}" in
  demo)
    setup plot
    .venv/bin/python demo/run_demo.py "${@:2}"
    ;;
  test)
    setup test
    browser
    # lint and format first (the config is pyproject's); two commands: set -e ignores a failure inside `a && b`
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/python -m pytest -q "${@:2}"
    ;;
  bench)
    setup bench
    for b in "${@:2}"; do .venv/bin/python "benchmarks/$b.py"; done
    ;;
  *)
    echo "usage: ./run.sh demo | test [pytest args] | bench NAME..." >&2
    exit 2
    ;;
esac
