#!/usr/bin/env bash
# Builds, packs and tests both SDKs against live sandbox servers (the test suites start them), and checks that
# the generated types match the server. Needs the server's .venv (scripts/dev.py makes it) and node >= 18 + npm.
# Exits non-zero when any step fails; every step runs, so one report shows all failures.
set -uo pipefail

SDK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SDK")"
VENV="${VENV:-$ROOT/.venv}"
export PLATFORM_SERVER_BIN="${PLATFORM_SERVER_BIN:-$VENV/bin/platform-server}"
failed=()

step() {
  local name="$1"
  shift
  echo "==> sdk: $name"
  if ! "$@"; then
    echo "!! sdk: $name FAILED"
    failed+=("$name")
  fi
}

pack_dir="$(mktemp -d)"
trap 'rm -rf "$pack_dir"' EXIT

cd "$SDK/typescript" || exit 1
step "typescript: npm ci" npm ci --no-audit --no-fund
step "typescript: build (strict tsc)" npm run --silent build
step "typescript: npm pack" npm pack --ignore-scripts --pack-destination "$pack_dir"
step "typescript: tests (node --test)" npm test --silent

cd "$ROOT" || exit 1
step "generated types match the server (sdk/generate.py --check)" "$VENV/bin/python" sdk/generate.py --check
step "python: pip install -e sdk/python" "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e sdk/python
step "python: mypy" bash -c "cd sdk/python && '$VENV/bin/mypy'"
step "python: ruff" bash -c "cd sdk/python && '$VENV/bin/ruff' check ."
step "python: tests (pytest)" "$VENV/bin/pytest" sdk/python/tests -q

if ((${#failed[@]})); then
  printf '!! sdk: %d step(s) failed:\n' "${#failed[@]}"
  printf '   - %s\n' "${failed[@]}"
  exit 1
fi
echo "==> sdk: all steps passed"
