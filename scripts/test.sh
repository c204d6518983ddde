#!/usr/bin/env bash
# Runs every check and test of the workspace: the UI's type-check, build and
# unit tests, formatting, lints, the Rust tests, then the desktop app end to
# end in a real window; inside a private D-Bus session with an unlocked gnome-keyring so that
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

echo "== UI: install, type-check, build, unit tests"
npm ci --prefix ui --no-audit --no-fund
npm run --prefix ui build
npm test --prefix ui

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== desktop app end to end (a real window under Xvfb, over WebDriver)"
# The binaries under test (cargo test builds only those with integration tests).
cargo build --locked -p pincer-desktop -p pincer-sim
[ -x .tools/bin/tauri-driver ] || cargo install --locked --root .tools tauri-driver@2.1.0
npm ci --prefix tests/e2e --no-audit --no-fund
bash scripts/e2e.sh

echo "== installers: build the .deb and .rpm, check them (and install the .deb in CI)"
bash scripts/package.sh
bash scripts/check-package.sh
