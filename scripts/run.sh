#!/usr/bin/env bash
# Runs Pincer. Without arguments: the desktop app (its setup wizard on the
# first run) when there is a display, else the demo below. `demo`: a demo that
# needs no account: the QQ connector as an echo bot against the built-in QQ
# simulator (type as a QQ user), or against the real QQ platform when
# PINCER_QQ_APP_ID and PINCER_SECRET_QQ_APP_SECRET are set. Other arguments go
# to the `pincer` command line (`scripts/run.sh bot add mybot --qr`, …).
# Installs the system packages it needs on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
if ! command -v cargo >/dev/null; then
  echo "Pincer is built with Rust (1.85 or newer). Install it from https://rustup.rs, then run this again." >&2
  echo "Pincer 使用 Rust 构建（1.85 或更新）。请先从 https://rustup.rs 安装，然后重新运行。" >&2
  exit 1
fi
demo() {
  exec cargo run --locked --release -q -p pincer-qq --example echo_bot
}
if [ "${1:-}" = "demo" ]; then
  demo
elif [ $# -gt 0 ]; then
  exec cargo run --locked --release -q -p pincer-cli -- "$@"
fi
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: running the echo-bot demo instead of the desktop app (scripts/run.sh demo)." >&2
  echo "没有图形界面：改为运行回声机器人演示（scripts/run.sh demo）。" >&2
  demo
fi
if ! command -v node >/dev/null; then
  echo "The desktop app's UI is built with Node.js ≥ 20: install it, then run this again." >&2
  echo "桌面应用的界面需要 Node.js 20 或更新版本：请先安装，然后重新运行。" >&2
  exit 1
fi
[ -d ui/node_modules ] || npm ci --prefix ui --no-audit --no-fund
npm run --prefix ui build
exec cargo run --locked --release -q -p pincer-desktop
