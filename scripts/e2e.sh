#!/usr/bin/env bash
# End-to-end tests of the desktop app in a real window: the built app under
# Xvfb, driven over WebDriver (tauri-driver + WebKitWebDriver), with a private
# D-Bus session and an unlocked gnome-keyring, against the simulators.
# Expects target/debug/{pincer-desktop,pincer-sim} and tests/e2e/node_modules
# (scripts/test.sh builds and installs them). Screenshots: target/e2e-shots/.
# `scripts/e2e.sh --measure` prints the app's memory and start-up instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PINCER_E2E_INNER:-}" ]; then
  export PINCER_E2E_INNER=1
  exec xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- bash "$0" "$@"
fi
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home"
echo -n e2e | gnome-keyring-daemon --unlock --components=secrets >/dev/null
rm -rf target/e2e-shots
cd tests/e2e
if [ "${1:-}" = "--measure" ]; then
  # Memory and start-up numbers instead of tests (see tests/e2e/measure.mjs).
  exec node measure.mjs
fi
node --test --test-concurrency=1 --test-reporter=spec "$@"
