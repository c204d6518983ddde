#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, lints, then the
# tests, inside a private D-Bus session with an unlocked gnome-keyring so that
# the keyring tests use a real OS keyring (never the user's own).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PINCER_TEST_SESSION:-}" ]; then
  bash scripts/deps.sh
  export PINCER_TEST_SESSION=1
  # Keeps the test keyring out of the home folder.
  XDG_DATA_HOME="$(mktemp -d)"
  export XDG_DATA_HOME
  exec dbus-run-session -- bash -c \
    'echo -n pincer-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec bash "$0"' "$0"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked
