#!/usr/bin/env bash
# permessage-deflate interop: wsmachine (built with --features deflate)
# against python-websockets and Node's ws, as server and as client, with
# compression on both ways. Each case checks that the echoes match, that
# permessage-deflate was negotiated (on the wire: python's
# ws.response.headers, ws's ws.extensions, our 101 or Accepted), and that the
# bytes on the wire are well under the payload (both sides compressed).
#
#   tests/interop/deflate.sh
#
# Uses target/interop/venv (python websockets) and target/interop/node (ws),
# creating them if missing ($CARGO_TARGET_DIR instead of target when set).
# Prints "deflate interop: N passed, M failed". `cargo test --all-features`
# runs it (tests/it/interop_scripts.rs).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET == /* ]] || TARGET="$ROOT/$TARGET"
INTEROP="$TARGET/interop"
PY="$INTEROP/venv/bin/python"
export NODE_PATH="$INTEROP/node/node_modules"

if [[ ! -x "$PY" ]] || ! "$PY" -c 'import websockets' 2>/dev/null; then
    python3 -m venv "$INTEROP/venv"
    "$INTEROP/venv/bin/pip" install --quiet websockets
fi
if [[ ! -d "$NODE_PATH/ws" ]]; then
    npm install --silent --prefix "$INTEROP/node" ws >/dev/null
fi

# All features, as the other interop scripts and `cargo test --all-features`.
"${CARGO:-cargo}" build --quiet --workspace --all-features --examples
ECHO="$TARGET/debug/examples/deflate_echo"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

PASSED=0
FAILED=0

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
    local port=$1
    for _ in $(seq 100); do
        if "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on $port" >&2
    return 1
}

# Checks a counts line (key=value pairs): permessage-deflate negotiated, and
# each direction's wire bytes under half its payload bytes.
check_counts() {
    local line=$1
    [[ "$line" == *permessage-deflate* ]] || { echo "not negotiated: $line"; return 1; }
    local payload_in wire_in payload_out wire_out
    payload_in=$(sed -n 's/.*payload_in=\([0-9]*\).*/\1/p' <<<"$line")
    wire_in=$(sed -n 's/.*wire_in=\([0-9]*\).*/\1/p' <<<"$line")
    payload_out=$(sed -n 's/.*payload_out=\([0-9]*\).*/\1/p' <<<"$line")
    wire_out=$(sed -n 's/.*wire_out=\([0-9]*\).*/\1/p' <<<"$line")
    if (( payload_in == 0 || wire_in * 2 >= payload_in || wire_out * 2 >= payload_out )); then
        echo "not compressed both ways: $line"
        return 1
    fi
}

run_case() {
    local name=$1
    shift
    if output=$("$@" 2>&1); then
        PASSED=$((PASSED + 1))
        echo "ok   $name"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name"
        sed 's/^/     /' <<<"$output"
    fi
}

cat >"$WORK/py_client.py" <<'EOF'
import sys
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

url, variant = sys.argv[1], sys.argv[2]
if variant == "default":
    options = {}  # compression="deflate" is the default
else:
    options = {"compression": None, "extensions": [ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True,
        server_max_window_bits=10, client_max_window_bits=9)]}
body = "all work and no play makes jack a dull boy " * 500
messages = [body, bytes(i % 61 for i in range(30000)), "hi", "h\u00e9llo " + body]
with connect(url, max_size=2**24, **options) as ws:
    header = ws.response.headers.get("Sec-WebSocket-Extensions", "")
    print("negotiated:", header)
    assert header.startswith("permessage-deflate"), header
    if variant != "default":
        for param in ["server_no_context_takeover", "client_no_context_takeover",
                      "server_max_window_bits=10", "client_max_window_bits=9"]:
            assert param in header, (param, header)
    for message in messages:
        ws.send(message)
        assert ws.recv() == message
    # A fragmented message: three frames, compressed as one message.
    parts = [body[:7000], body[7000:15000], body[15000:]]
    ws.send(iter(parts))
    assert ws.recv() == body
print("echoes matched")
EOF

cat >"$WORK/py_server.py" <<'EOF'
import sys
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.sync.server import serve

port, variant = int(sys.argv[1]), sys.argv[2]
if variant == "default":
    options = {}
else:
    options = {"compression": None, "extensions": [ServerPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True,
        server_max_window_bits=10, client_max_window_bits=10)]}

def echo(ws):
    print("negotiated:", ws.response.headers.get("Sec-WebSocket-Extensions"), flush=True)
    for message in ws:
        ws.send(message)

with serve(echo, "127.0.0.1", port, max_size=2**24, **options) as server:
    server.serve_forever()
EOF

cat >"$WORK/node_client.js" <<'EOF'
const WebSocket = require('ws');
const [url] = process.argv.slice(2);
const body = 'all work and no play makes jack a dull boy '.repeat(500);
const expected = [Buffer.from(body), Buffer.from(Array.from({ length: 30000 }, (_, i) => i % 61)),
  Buffer.from('hi'), Buffer.from(body)];
const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 }, maxPayload: 1 << 24 });
let received = 0;
ws.on('open', () => {
  console.log('negotiated:', ws.extensions);
  if (!ws.extensions.includes('permessage-deflate')) process.exit(1);
  ws.send(body);
  ws.send(expected[1]);
  ws.send('hi');
  // The last one in three fragments.
  ws.send(body.slice(0, 7000), { fin: false });
  ws.send(body.slice(7000, 15000), { fin: false });
  ws.send(body.slice(15000), { fin: true });
});
ws.on('message', (data) => {
  if (!Buffer.from(data).equals(expected[received])) {
    console.log('mismatch on message', received);
    process.exit(1);
  }
  received += 1;
  if (received === expected.length) ws.close(1000, 'done');
});
ws.on('close', (code) => {
  console.log('closed', code, 'after', received, 'messages');
  process.exit(code === 1000 && received === expected.length ? 0 : 1);
});
ws.on('error', (error) => { console.log('error', error.message); process.exit(1); });
EOF

cat >"$WORK/node_server.js" <<'EOF'
const { WebSocketServer } = require('ws');
const [port, variant] = process.argv.slice(2);
const deflate = variant === 'default' ? { threshold: 0 } : {
  threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true,
  serverMaxWindowBits: 10, clientMaxWindowBits: 10,
};
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port), perMessageDeflate: deflate,
  maxPayload: 1 << 24 });
wss.on('connection', (ws) => {
  console.log('negotiated:', ws.extensions);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
EOF

# Our server, a foreign client. The server prints one counts line per
# connection; the last one is this client's.
our_server_case() {
    local log=$1
    shift
    "$@" || return 1
    sleep 0.3
    check_counts "$(grep '^conn ' "$log" | tail -n 1)"
}

start_our_server() {
    local port=$1 log=$2
    shift 2
    "$ECHO" server "127.0.0.1:$port" "$@" >"$log" 2>&1 &
    PIDS+=($!)
    wait_for_port "$port"
}

PORT=$(free_port)
LOG="$WORK/our_server.log"
start_our_server "$PORT" "$LOG"
run_case "python-websockets client -> wsmachine server" \
    our_server_case "$LOG" timeout 60 "$PY" "$WORK/py_client.py" "ws://127.0.0.1:$PORT/" default
run_case "python-websockets client (no takeover, window bits) -> wsmachine server" \
    our_server_case "$LOG" timeout 60 "$PY" "$WORK/py_client.py" "ws://127.0.0.1:$PORT/" tuned
run_case "node ws client -> wsmachine server" \
    our_server_case "$LOG" timeout 60 node "$WORK/node_client.js" "ws://127.0.0.1:$PORT/"

PORT=$(free_port)
LOG="$WORK/our_server_tuned.log"
start_our_server "$PORT" "$LOG" --no-context-takeover --max-window-bits 9 --level 1
run_case "python-websockets client -> wsmachine server (no takeover, 9 bits, level 1)" \
    our_server_case "$LOG" timeout 60 "$PY" "$WORK/py_client.py" "ws://127.0.0.1:$PORT/" default
run_case "node ws client -> wsmachine server (no takeover, 9 bits, level 1)" \
    our_server_case "$LOG" timeout 60 node "$WORK/node_client.js" "ws://127.0.0.1:$PORT/"

# A foreign server, our client: the client prints its counts line last.
our_client_case() {
    local output
    output=$(timeout 60 "$ECHO" client "$@") || { echo "$output"; return 1; }
    echo "$output"
    check_counts "$(tail -n 1 <<<"$output")"
}

for variant in default tuned; do
    PORT=$(free_port)
    "$PY" "$WORK/py_server.py" "$PORT" "$variant" >"$WORK/py_server_$variant.log" 2>&1 &
    PIDS+=($!)
    wait_for_port "$PORT"
    run_case "wsmachine client -> python-websockets server ($variant)" \
        our_client_case "ws://127.0.0.1:$PORT/" --count 12
    run_case "wsmachine client (no takeover, 10 bits) -> python-websockets server ($variant)" \
        our_client_case "ws://127.0.0.1:$PORT/" --count 12 --no-context-takeover --max-window-bits 10

    PORT=$(free_port)
    node "$WORK/node_server.js" "$PORT" "$variant" >"$WORK/node_server_$variant.log" 2>&1 &
    PIDS+=($!)
    wait_for_port "$PORT"
    run_case "wsmachine client -> node ws server ($variant)" \
        our_client_case "ws://127.0.0.1:$PORT/" --count 12
    # ws answers an offer it would have to narrow (a window other than its
    # own 10) with 400 instead of declining it, so the tuned server gets 10.
    bits=8
    [[ $variant == tuned ]] && bits=10
    run_case "wsmachine client ($bits bits) -> node ws server ($variant)" \
        our_client_case "ws://127.0.0.1:$PORT/" --count 12 --max-window-bits "$bits"
done

echo "deflate interop: $PASSED passed, $FAILED failed"
(( FAILED == 0 ))
