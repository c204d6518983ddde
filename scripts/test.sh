#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, lints, then the tests.
# One build profile (dev) is shared by clippy's check and the test binaries as
# far as cargo allows.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked
