#!/usr/bin/env bash
# Interop checks against other WebSocket implementations, run by .ci/run:
#   - python-websockets and node ws as clients of examples/echo_server;
#   - both as echo servers for examples/client;
#   - a node `http` server rejecting the upgrade with a chunked 503;
#   - a plain HTTP GET to examples/echo_server (426), after which the
#     server still serves WebSocket clients.
# Installs the peers on first use: python-websockets into
# target/interop/venv, node's ws into target/interop/node. Needs cargo,
# python3 (with venv) and node/npm. `cargo test --all-features` runs it
# (tests/it/interop_scripts.rs, which installs what is missing first).
# The target directory is $CARGO_TARGET_DIR when set, else target.
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/interop
TARGET=${CARGO_TARGET_DIR:-target}
WORK=$TARGET/interop
LOGS=$WORK/logs
VENV=$WORK/venv
NODE_PREFIX=$WORK/node
EXAMPLES=$TARGET/debug/examples
# Each peer program gets this long; a hang fails its check.
STEP_TIMEOUT=60
START=$SECONDS

# shellcheck source=../lib.sh
source "tests/lib.sh"

say() { printf 'interop: %s\n' "$*"; }

# wait_for_file FILE: waits up to 20 s for a background program to write
# FILE (the port it listens on).
wait_for_file() {
  local file=$1 tries=0
  while [ ! -s "$file" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ]; then
      echo "timed out waiting for $file" >&2
      return 1
    fi
    sleep 0.1
  done
}

# start_echo_server: starts examples/echo_server on a free port and sets
# ECHO_PID, ECHO_LOG and ECHO_PORT once it listens.
start_echo_server() {
  ECHO_LOG=$LOGS/echo_server.stderr
  : >"$ECHO_LOG"
  "$EXAMPLES/echo_server" 127.0.0.1:0 2>"$ECHO_LOG" &
  ECHO_PID=$!
  background_pids+=("$ECHO_PID")
  local tries=0
  until grep -q 'listening on ws://' "$ECHO_LOG"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ] || ! kill -0 "$ECHO_PID" 2>/dev/null; then
      echo "echo_server did not start:" >&2
      cat "$ECHO_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  ECHO_PORT=$(sed -n 's|.*listening on ws://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$ECHO_LOG" | head -n 1)
  [ -n "$ECHO_PORT" ]
}

# start_peer_server NAME COMMAND...: starts a peer server that writes its
# port to a file given as the last argument; sets PEER_PORT.
start_peer_server() {
  local name=$1
  shift
  local port_file=$WORK/$name.port
  rm -f "$port_file"
  "$@" "$port_file" >"$LOGS/$name.out" 2>&1 &
  background_pids+=("$!")
  wait_for_file "$port_file"
  PEER_PORT=$(cat "$port_file")
}

# client_echo_check URL: runs examples/client with a set of messages
# against an echo server at URL and compares its stdout and exit status.
client_echo_check() {
  local url=$1 long expected actual status=0
  long=$(printf 'z%.0s' $(seq 65536))
  expected=$(printf 'text: %s\n' 'hello' 'héllo wörld ✓ 𝄞' '' "$long" 'a b  c')
  actual=$(timeout "$STEP_TIMEOUT" "$EXAMPLES/client" "$url" \
    --send 'hello' --send 'héllo wörld ✓ 𝄞' --send '' --send "$long" --send 'a b  c') || status=$?
  if [ "$status" -ne 0 ]; then
    echo "examples/client exited with $status, expected 0; stdout:"
    printf '%s\n' "$actual" | cut -c1-200
    return 1
  fi
  if [ "$actual" != "$expected" ]; then
    echo "examples/client printed (lines cut at 200 characters):"
    printf '%s\n' "$actual" | cut -c1-200
    echo "expected:"
    printf '%s\n' "$expected" | cut -c1-200
    return 1
  fi
  echo "ok: 5 echoes printed exactly, exit 0"
}

# rejection_check URL: examples/client against the node 503 server.
rejection_check() {
  local url=$1 output status=0
  output=$(timeout "$STEP_TIMEOUT" "$EXAMPLES/client" "$url" --send 'never sent') || status=$?
  printf '%s\n' "$output"
  if [ "$status" -ne 2 ]; then
    echo "exit status $status, expected 2"
    return 1
  fi
  grep -qx 'rejected: 503' <<<"$output" || { echo "no 'rejected: 503' line"; return 1; }
  grep -qx 'body: part one part two' <<<"$output" || { echo "no exact body line"; return 1; }
  # The point of the check: node framed the body chunked.
  grep -qix 'header: Transfer-Encoding: chunked' <<<"$output" ||
    { echo "the 503 was not chunked, so this check proves nothing"; return 1; }
  grep -qx 'header: Retry-After: 7' <<<"$output" || { echo "no Retry-After header line"; return 1; }
}

# plain_http_check: a plain GET gets a 426, and the server logs it as a
# classified handshake failure.
plain_http_check() {
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$HERE/plain_http.py" 127.0.0.1 "$ECHO_PORT" || return 1
  local tries=0
  until grep -q 'handshake failed: kind=not_websocket status=426' "$ECHO_LOG"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ]; then
      echo "echo_server did not log the failed handshake:"
      cat "$ECHO_LOG"
      return 1
    fi
    sleep 0.1
  done
  echo "ok: echo_server logged kind=not_websocket status=426"
}

still_running_check() {
  if kill -0 "$ECHO_PID" 2>/dev/null; then
    echo "ok: echo_server is still running"
  else
    echo "echo_server exited:"
    cat "$ECHO_LOG"
    return 1
  fi
}

install_python_websockets() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import websockets' 2>/dev/null; then
    return
  fi
  say "installing python websockets into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade websockets
}

install_node_ws() {
  if [ -f "$NODE_PREFIX/node_modules/ws/package.json" ]; then
    return
  fi
  say "installing node ws into $NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  npm install --silent --no-audit --no-fund --prefix "$NODE_PREFIX" ws
}

for tool in "${CARGO:-cargo}" python3 node npm timeout; do
  command -v "$tool" >/dev/null || { say "missing $tool"; exit 1; }
done
mkdir -p "$LOGS"

say "building the examples"
# Every example of both crates, with all features: what the README's
# `cargo test --all-features` builds, so under it this is already fresh.
"${CARGO:-cargo}" build --workspace --all-features --examples --quiet
install_python_websockets
install_node_ws
export NODE_PATH=$NODE_PREFIX/node_modules
say "python websockets $("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)')," \
  "node $(node --version), ws $(node -p 'require("ws/package.json").version')"
INSTALLED=$SECONDS

start_echo_server
ECHO_URL=ws://127.0.0.1:$ECHO_PORT/echo
say "examples/echo_server on $ECHO_URL"

check "python-websockets client -> echo_server" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$HERE/py_client.py" "$ECHO_URL"
check "node ws client -> echo_server" \
  timeout "$STEP_TIMEOUT" node "$HERE/node_client.js" "$ECHO_URL"
check "plain HTTP GET -> echo_server answers 426 with Content-Length" plain_http_check
check "examples/client -> echo_server after the plain GET" client_echo_check "$ECHO_URL"
check "python-websockets client -> echo_server after the plain GET" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$HERE/py_client.py" "$ECHO_URL"
check "echo_server still running" still_running_check

start_peer_server py_echo_server "$VENV/bin/python" "$HERE/py_echo_server.py"
check "examples/client -> python-websockets echo server" \
  client_echo_check "ws://127.0.0.1:$PEER_PORT/"

start_peer_server node_echo_server node "$HERE/node_echo_server.js"
check "examples/client -> node ws echo server" \
  client_echo_check "ws://127.0.0.1:$PEER_PORT/"

start_peer_server node_reject_503 node "$HERE/node_reject_503.js"
check "examples/client -> node http 503 sent chunked" \
  rejection_check "ws://127.0.0.1:$PEER_PORT/"

say "checks took $((SECONDS - INSTALLED)) s, $((SECONDS - START)) s with build and installs"
say "$passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  printf 'interop: failed: %s\n' "${failures[@]}"
  exit 1
fi

# The tokio driver's examples against python-websockets, in the same venv.
bash wsmachine-tokio/tests/interop.sh
