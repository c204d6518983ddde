#!/usr/bin/env bash
# Builds the Linux installers: a .deb and an .rpm holding the desktop app,
# the `pincer` CLI (/usr/bin/pincer) and the systemd user unit, in
# target/release/bundle/{deb,rpm}/. Needs what scripts/deps.sh installs and
# `npm ci` in ui/ (the Tauri CLI comes from there).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x ui/node_modules/.bin/tauri ] || npm ci --prefix ui --no-audit --no-fund
npm run --prefix ui build
# The package carries the CLI: build it first (release, like the app).
cargo build --release --locked -p pincer-cli
cd src-tauri
extra=()
if [ -z "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
  # Updater artifacts are signed with the release key, which only the release
  # workflow has (installers/README.md): local and CI builds make none.
  extra=(--config '{"bundle":{"createUpdaterArtifacts":false}}')
fi
../ui/node_modules/.bin/tauri build --ci --bundles deb,rpm "${extra[@]}" "$@"
ls -l ../target/release/bundle/deb/*.deb ../target/release/bundle/rpm/*.rpm
