#!/usr/bin/env bash
# Runs Pincer. With arguments, they go to the `pincer` command line
# (`scripts/run.sh bot add mybot --qr`, `scripts/run.sh run`, …). Without
# arguments, a demo that needs no account: the QQ connector as an echo bot
# against the built-in QQ simulator (type as a QQ user), or against the real
# QQ platform when PINCER_QQ_APP_ID and PINCER_SECRET_QQ_APP_SECRET are set.
# Installs the system packages it needs on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
if ! command -v cargo >/dev/null; then
  echo "Pincer is built with Rust (1.85 or newer). Install it from https://rustup.rs, then run this again." >&2
  echo "Pincer 使用 Rust 构建（1.85 或更新）。请先从 https://rustup.rs 安装，然后重新运行。" >&2
  exit 1
fi
if [ $# -gt 0 ]; then
  exec cargo run --locked --release -q -p pincer-cli -- "$@"
fi
exec cargo run --locked --release -q -p pincer-qq --example echo_bot
