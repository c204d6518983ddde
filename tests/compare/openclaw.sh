#!/usr/bin/env bash
# Side by side: OpenClaw's gateway and `pincer run`, started the same way on
# the same machine. For each: time-to-ready and idle RSS (the VmRSS of the
# whole process tree, from /proc, after IDLE_SECS of idling).
#
#   bash tests/compare/openclaw.sh [--json]
#
# OpenClaw (npm `openclaw`, plus npm `node@24` for its Node >= 24.16) is
# installed into a fresh temp folder outside the repo at run time, started
# offline with no config (`gateway run --allow-unconfigured --auth none
# --bind loopback`), HOME and TMPDIR pointed into that folder, and removed
# afterwards. Pincer runs one bot connected to the QQ simulator, answering
# through the provider simulator (both `pincer-sim`).
#
# Environment:
#   PINCER_BIN, PINCER_SIM_BIN  release binaries (default: build them with
#                               `cargo build --release -p pincer-cli -p pincer-sim`)
#   OPENCLAW_VERSION            npm version or tag (default: latest)
#   IDLE_SECS                   idle time before RSS is read (default: 20)
#   KEEP_TMP=1                  keep the temp folder (for a look at the logs)
set -euo pipefail

JSON=0
[ "${1:-}" = "--json" ] && JSON=1
IDLE_SECS="${IDLE_SECS:-20}"
OPENCLAW_VERSION="${OPENCLAW_VERSION:-latest}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"

log() { echo "[compare] $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

WORK="$(mktemp -d -t pincer-compare.XXXXXX)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    # Each was started with setsid: the process group is the whole tree.
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  sleep 1
  for pid in "${PIDS[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# Starts "$@" in its own session (a new process group); prints its pid.
start_bg() {
  local out="$1"
  shift
  setsid "$@" >"$out" 2>&1 </dev/null &
  echo $!
}

# Sum of VmRSS (KiB) over `pid` and all its descendants.
tree_rss_kib() {
  local root="$1" total=0 pid rss
  local -a todo=("$root") all=()
  while [ "${#todo[@]}" -gt 0 ]; do
    pid="${todo[0]}"
    todo=("${todo[@]:1}")
    all+=("$pid")
    # Children of every thread of pid.
    local kids
    kids="$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)"
    for k in $kids; do todo+=("$k"); done
  done
  for pid in "${all[@]}"; do
    rss="$(awk '/^VmRSS:/ { print $2 }' /proc/"$pid"/status 2>/dev/null || true)"
    total=$((total + ${rss:-0}))
  done
  echo "$total"
}

tree_count() {
  local root="$1" n=0 pid
  local -a todo=("$root")
  while [ "${#todo[@]}" -gt 0 ]; do
    pid="${todo[0]}"
    todo=("${todo[@]:1}")
    [ -d /proc/"$pid" ] && n=$((n + 1))
    for k in $(cat /proc/"$pid"/task/*/children 2>/dev/null || true); do todo+=("$k"); done
  done
  echo "$n"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- binaries
if [ -z "${PINCER_BIN:-}" ] || [ -z "${PINCER_SIM_BIN:-}" ]; then
  log "building release binaries"
  (cd "$REPO" && cargo build --release -p pincer-cli -p pincer-sim >&2)
  TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
  PINCER_BIN="${PINCER_BIN:-$TARGET/release/pincer}"
  PINCER_SIM_BIN="${PINCER_SIM_BIN:-$TARGET/release/pincer-sim}"
fi
[ -x "$PINCER_BIN" ] && [ -x "$PINCER_SIM_BIN" ] || { log "missing $PINCER_BIN or $PINCER_SIM_BIN"; exit 1; }

# ---------------------------------------------------------------- OpenClaw
OC="$WORK/openclaw"
mkdir -p "$OC/home" "$OC/tmp"
cd "$OC"
# `allowScripts`: npm >= 11.10 runs no install scripts unless approved, and
# node@24 fetches its binary in one. (Older npm ignores the field.)
cat >package.json <<'EOF'
{"name": "openclaw-compare", "private": true,
 "allowScripts": {"node": true, "openclaw": true, "koffi": true, "protobufjs": true, "@google/genai": true}}
EOF
log "installing node@24 into $OC"
npm install --no-audit --no-fund --loglevel=error node@24 >&2
NODE_BIN_DIR="$OC/node_modules/node/bin"
"$NODE_BIN_DIR/node" --version >/dev/null
NODE_VERSION="$("$NODE_BIN_DIR/node" --version)"
log "installing openclaw@$OPENCLAW_VERSION with node $NODE_VERSION"
# npm itself runs on the new node, so openclaw's engines field is met.
PATH="$NODE_BIN_DIR:$PATH" npm install --no-audit --no-fund --loglevel=error \
  "openclaw@$OPENCLAW_VERSION" >&2
OC_VERSION="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"version\"])" "$OC/node_modules/openclaw/package.json")"
OC_PORT="$(free_port)"

log "starting the OpenClaw $OC_VERSION gateway on 127.0.0.1:$OC_PORT"
t0="$(now)"
OC_PID="$(start_bg "$OC/gateway.log" env HOME="$OC/home" TMPDIR="$OC/tmp" \
  PATH="$NODE_BIN_DIR:$PATH" \
  "$NODE_BIN_DIR/node" "$OC/node_modules/openclaw/openclaw.mjs" \
  gateway run --allow-unconfigured --auth none --bind loopback --port "$OC_PORT")"
PIDS+=("$OC_PID")
OC_PORT_S=""
OC_READY_S=""
for _ in $(seq 1 1200); do
  kill -0 "$OC_PID" 2>/dev/null || { cat "$OC/gateway.log" >&2; log "the gateway exited"; exit 1; }
  if [ -z "$OC_PORT_S" ] && port_open "$OC_PORT"; then OC_PORT_S="$(elapsed "$t0" "$(now)")"; fi
  if [ -n "$OC_PORT_S" ] &&
    curl -sf -o /dev/null "http://127.0.0.1:$OC_PORT/readyz"; then
    OC_READY_S="$(elapsed "$t0" "$(now)")"
    break
  fi
  sleep 0.05
done
[ -n "$OC_READY_S" ] || { log "OpenClaw never became ready"; exit 1; }
log "OpenClaw: port open after ${OC_PORT_S}s, /readyz 200 after ${OC_READY_S}s; idling ${IDLE_SECS}s"
sleep "$IDLE_SECS"
OC_RSS="$(tree_rss_kib "$OC_PID")"
OC_PROCS="$(tree_count "$OC_PID")"
kill -TERM -- "-$OC_PID" 2>/dev/null || true

# ---------------------------------------------------------------- Pincer
PH="$WORK/pincer"
mkdir -p "$PH/home"
APP_ID=102000777
SECRET=compare-secret-7fQ2
QQ_PORT="$(free_port)"
MODEL_PORT="$(free_port)"
QQ_PID="$(start_bg "$PH/qq.log" "$PINCER_SIM_BIN" qq --port "$QQ_PORT" --app "$APP_ID:$SECRET")"
PIDS+=("$QQ_PID")
MODEL_PID="$(start_bg "$PH/model.log" "$PINCER_SIM_BIN" provider --port "$MODEL_PORT")"
PIDS+=("$MODEL_PID")
for _ in $(seq 1 200); do
  port_open "$QQ_PORT" && port_open "$MODEL_PORT" && break
  sleep 0.05
done
# The config a `provider add` + `bot add` would write; secrets from the
# environment, so no keyring is needed.
cat >"$PH/home/config.toml" <<EOF
version = 1

[[provider]]
id = "sim"
kind = "openai"
base_url = "http://127.0.0.1:$MODEL_PORT/v1"
model = "sim-model"

[[bot]]
name = "compare"
app_id = "$APP_ID"
api_base = "http://127.0.0.1:$QQ_PORT"
token_url = "http://127.0.0.1:$QQ_PORT/app/getAppAccessToken"
provider = "sim"
EOF
export PINCER_HOME="$PH/home"
export PINCER_SECRET_BOT_COMPARE_APP_SECRET="$SECRET"
export PINCER_SECRET_PROVIDER_SIM_API_KEY="sim-key"

log "starting pincer run"
t0="$(now)"
PINCER_PID="$(start_bg "$PH/run.log" "$PINCER_BIN" run)"
PIDS+=("$PINCER_PID")
PINCER_READY_S=""
for _ in $(seq 1 1200); do
  kill -0 "$PINCER_PID" 2>/dev/null || { cat "$PH/run.log" >&2; log "pincer run exited"; exit 1; }
  if "$PINCER_BIN" status --json 2>/dev/null |
    python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["bots"] and s["bots"][0]["state"]=="ready" else 1)' 2>/dev/null; then
    PINCER_READY_S="$(elapsed "$t0" "$(now)")"
    break
  fi
  sleep 0.02
done
[ -n "$PINCER_READY_S" ] || { cat "$PH/run.log" >&2; log "pincer never became ready"; exit 1; }
log "Pincer: bot ready after ${PINCER_READY_S}s; idling ${IDLE_SECS}s"
sleep "$IDLE_SECS"
PINCER_RSS="$(tree_rss_kib "$PINCER_PID")"
PINCER_PROCS="$(tree_count "$PINCER_PID")"
PINCER_VERSION="$("$PINCER_BIN" --version 2>/dev/null || echo pincer)"

# ---------------------------------------------------------------- report
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
MACHINE="$(nproc) cores ($CPU), $(awk '/^MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
RSS_RATIO="$(awk -v a="$OC_RSS" -v b="$PINCER_RSS" 'BEGIN { printf "%.1f", a / b }')"
READY_RATIO="$(awk -v a="$OC_READY_S" -v b="$PINCER_READY_S" 'BEGIN { printf "%.1f", a / b }')"
if [ "$JSON" = 1 ]; then
  cat <<EOF
{"machine": "$MACHINE",
 "openclaw": {"version": "$OC_VERSION", "node": "$NODE_VERSION", "port_open_s": $OC_PORT_S, "ready_s": $OC_READY_S, "idle_rss_kib": $OC_RSS, "processes": $OC_PROCS},
 "pincer": {"version": "$PINCER_VERSION", "ready_s": $PINCER_READY_S, "idle_rss_kib": $PINCER_RSS, "processes": $PINCER_PROCS},
 "idle_secs": $IDLE_SECS, "rss_ratio": $RSS_RATIO, "ready_ratio": $READY_RATIO}
EOF
else
  printf '%s\n' "machine: $MACHINE"
  printf '%-28s %14s %16s %10s\n' "" "time-to-ready" "idle RSS (tree)" "processes"
  printf '%-28s %13ss %12s MiB %10s\n' "OpenClaw $OC_VERSION (node $NODE_VERSION)" "$OC_READY_S" \
    "$(awk -v k="$OC_RSS" 'BEGIN { printf "%.1f", k/1024 }')" "$OC_PROCS"
  printf '%-28s %13ss %12s MiB %10s\n' "$PINCER_VERSION, 1 bot" "$PINCER_READY_S" \
    "$(awk -v k="$PINCER_RSS" 'BEGIN { printf "%.1f", k/1024 }')" "$PINCER_PROCS"
  printf '%s\n' "OpenClaw / Pincer: RSS ${RSS_RATIO}x, time-to-ready ${READY_RATIO}x (OpenClaw's port opened after ${OC_PORT_S}s; ready = /readyz 200)"
fi
