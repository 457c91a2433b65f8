#!/usr/bin/env bash
# The tokio driver's examples against python-websockets:
#   - python-websockets as a client of tokio_echo, axum_echo and
#     hyper_upgrade (the core's checks in tests/interop/py_client.py, and
#     permessage-deflate negotiated and used);
#   - a plain HTTP GET to tokio_echo (426), after which it still serves;
#   - tokio_client against python-websockets' echo server, with the core
#     client's expected output.
# Reuses tests/interop/run.sh's venv (target/interop/venv), installing
# python-websockets there on first use. Needs cargo and python3 (venv).
# The target directory is $CARGO_TARGET_DIR when set, else target.
set -euo pipefail
cd "$(dirname "$0")/../.."

CORE=tests/interop
HERE=wsmachine-tokio/tests
TARGET=${CARGO_TARGET_DIR:-target}
WORK=$TARGET/interop
LOGS=$WORK/logs/tokio
VENV=$WORK/venv
EXAMPLES=$TARGET/debug/examples
STEP_TIMEOUT=60

# shellcheck source=../../tests/lib.sh
source "tests/lib.sh"

say() { printf 'interop (tokio): %s\n' "$*"; }

# start_example NAME PATTERN ARGS...: starts an example on a free port and
# sets PORT from the first 127.0.0.1:PORT in its stderr, matched after
# PATTERN.
start_example() {
  local name=$1 pattern=$2
  shift 2
  local log=$LOGS/$name.stderr
  : >"$log"
  "$EXAMPLES/$name" "$@" 2>"$log" &
  local pid=$!
  background_pids+=("$pid")
  local tries=0
  until grep -q "$pattern" "$log"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "$name did not start:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  PORT=$(grep "$pattern" "$log" | sed -n 's|.*127\.0\.0\.1:\([0-9]*\).*|\1|p' | head -n 1)
  LAST_PID=$pid
  LAST_LOG=$log
  [ -n "$PORT" ]
}

# client_echo_check URL: tokio_client with the core client's messages.
client_echo_check() {
  local url=$1 long expected actual status=0
  long=$(printf 'z%.0s' $(seq 65536))
  expected=$(printf 'text: %s\n' 'hello' 'héllo wörld ✓ 𝄞' '' "$long" 'a b  c')
  actual=$(timeout "$STEP_TIMEOUT" "$EXAMPLES/tokio_client" "$url" \
    --send 'hello' --send 'héllo wörld ✓ 𝄞' --send '' --send "$long" --send 'a b  c') || status=$?
  if [ "$status" -ne 0 ]; then
    echo "tokio_client exited with $status, expected 0; stdout:"
    printf '%s\n' "$actual" | cut -c1-200
    return 1
  fi
  if [ "$actual" != "$expected" ]; then
    echo "tokio_client printed (lines cut at 200 characters):"
    printf '%s\n' "$actual" | cut -c1-200
    return 1
  fi
  echo "ok: 5 echoes printed exactly, exit 0"
}

plain_http_check() {
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$CORE/plain_http.py" 127.0.0.1 "$1" || return 1
  local tries=0
  until grep -q 'handshake failed: kind=not_websocket status=426' "$2"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ]; then
      echo "tokio_echo did not log the failed handshake:"
      cat "$2"
      return 1
    fi
    sleep 0.1
  done
  echo "ok: tokio_echo logged kind=not_websocket status=426"
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

for tool in "${CARGO:-cargo}" python3 timeout; do
  command -v "$tool" >/dev/null || { say "missing $tool"; exit 1; }
done
mkdir -p "$LOGS"

say "building the driver's examples"
# All features, as tests/interop/run.sh and `cargo test --all-features`.
"${CARGO:-cargo}" build --workspace --all-features --examples --quiet
install_python_websockets
say "python websockets $("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)')"

start_example tokio_echo 'listening on ws://' 127.0.0.1:0
ECHO_PORT=$PORT
ECHO_LOG=$LAST_LOG
ECHO_PID=$LAST_PID
check "python-websockets client -> tokio_echo" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$CORE/py_client.py" "ws://127.0.0.1:$ECHO_PORT/echo"
check "python-websockets deflate client -> tokio_echo" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$HERE/py_deflate_client.py" "ws://127.0.0.1:$ECHO_PORT/"
check "plain HTTP GET -> tokio_echo answers 426" plain_http_check "$ECHO_PORT" "$ECHO_LOG"
check "python-websockets client -> tokio_echo after the plain GET" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$CORE/py_client.py" "ws://127.0.0.1:$ECHO_PORT/echo"
check "tokio_echo still running" kill -0 "$ECHO_PID"

start_example axum_echo 'serving http://' 127.0.0.1:0
check "python-websockets client -> axum_echo /ws" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$CORE/py_client.py" "ws://127.0.0.1:$PORT/ws"
check "python-websockets deflate client -> axum_echo /ws" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$HERE/py_deflate_client.py" "ws://127.0.0.1:$PORT/ws"

start_example hyper_upgrade 'serving http://' 127.0.0.1:0
check "python-websockets client -> hyper_upgrade /ws" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$CORE/py_client.py" "ws://127.0.0.1:$PORT/ws"
check "python-websockets deflate client -> hyper_upgrade /ws" \
  timeout "$STEP_TIMEOUT" "$VENV/bin/python" "$HERE/py_deflate_client.py" "ws://127.0.0.1:$PORT/ws"

port_file=$WORK/tokio_py_echo.port
rm -f "$port_file"
"$VENV/bin/python" "$CORE/py_echo_server.py" "$port_file" >"$LOGS/py_echo_server.out" 2>&1 &
background_pids+=("$!")
tries=0
until [ -s "$port_file" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 200 ] || { say "python echo server did not start"; exit 1; }
  sleep 0.1
done
check "tokio_client -> python-websockets echo server" \
  client_echo_check "ws://127.0.0.1:$(cat "$port_file")/"

say "$passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  printf 'interop (tokio): failed: %s\n' "${failures[@]}"
  exit 1
fi
