#!/usr/bin/env bash
# Streaming memory and throughput: one large binary message through the
# stream_echo example (examples/stream_echo.rs), sent in fragments of each
# size, with and without permessage-deflate; and the whole-message path
# (`stream_echo --whole`, messages of 1 MiB) to compare throughputs with.
#
#   wsmachine-tokio/benches/stream_echo.sh [BYTES] [FRAGMENT...]
#
# BYTES defaults to 4294967296 (4 GiB), the fragments to 4096 65536 1048576.
# For each case a fresh server is started; its idle RSS (VmRSS once
# listening, before the client connects) and its peak RSS (VmHWM after the
# client is done) are read from /proc, and the growth is their difference.
# Throughput is the client's: payload bytes echoed back per second.
#
# Not a test: run by hand (a 4 GiB case takes seconds; with deflate, about
# a minute and a half, so the deflate cases run for the fragment sizes in
# DEFLATE_FRAGMENTS, default 65536). The acceptance figures: growth <= 16 MiB
# in every streaming case, streaming throughput >= 80% of the whole-message
# path at 1 MiB messages.
#
# Cases: the message in fragments of each size; as ONE frame of its length
# written 64 KiB at a time (`--one-frame`); as whole 1 MiB messages through
# the streaming server and through `--whole`; and the text variants (3-byte
# characters that fragments and pieces split) of one-frame, 64 KiB
# fragments and whole messages.
set -euo pipefail

BYTES=${1:-4294967296}
shift || true
FRAGMENTS=("$@")
[ ${#FRAGMENTS[@]} -gt 0 ] || FRAGMENTS=(4096 65536 1048576)
PORT=${STREAM_ECHO_PORT:-19406}
ADDR=127.0.0.1:$PORT

cd "$(dirname "$0")/../.."
export CARGO_INCREMENTAL=0
cargo build --quiet --release -p wsmachine-tokio --example stream_echo
TARGET=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN=$TARGET/release/examples/stream_echo

kib() { awk -v k="$1" '/^'"$1"':/ {print $2}' "/proc/$2/status"; }

SERVER=
stop() { [ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=; }; }
trap stop EXIT

# run NAME SERVER_ARGS -- CLIENT_ARGS: one case on a fresh server.
run() {
    local name=$1; shift
    local server_args=()
    while [ "$1" != -- ]; do server_args+=("$1"); shift; done
    shift
    "$BIN" "$ADDR" --quiet "${server_args[@]}" 2>/dev/null &
    SERVER=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.2
    local idle
    idle=$(kib VmRSS "$SERVER")
    local report
    report=$("$BIN" --client "$ADDR" --bytes "$BYTES" "$@")
    sleep 0.2
    local peak
    peak=$(kib VmHWM "$SERVER")
    stop
    printf '%-34s idle=%6d KiB peak=%6d KiB growth=%6d KiB  %s\n' \
        "$name" "$idle" "$peak" $((peak - idle)) "$report"
}

echo "bytes=$BYTES one message per streaming case; cores=$(nproc)"
DEFLATE_FRAGMENTS=(${DEFLATE_FRAGMENTS:-65536})
# Text messages are of 3-byte characters: whole ones a multiple of 3 long.
TEXT_BYTES=$((BYTES / 3 * 3))
for deflate in no-deflate deflate; do
    client_deflate=()
    fragments=("${FRAGMENTS[@]}")
    if [ $deflate = deflate ]; then
        client_deflate=(--deflate)
        fragments=("${DEFLATE_FRAGMENTS[@]}")
    fi
    for fragment in "${fragments[@]}"; do
        run "stream fragment=$fragment $deflate" -- \
            --fragment "$fragment" "${client_deflate[@]}"
    done
    run "stream one-frame $deflate" -- --one-frame "${client_deflate[@]}"
    run "stream messages-of=1048576 $deflate" -- \
        --messages-of 1048576 "${client_deflate[@]}"
    run "whole messages-of=1048576 $deflate" --whole -- \
        --messages-of 1048576 "${client_deflate[@]}"
done
BYTES=$TEXT_BYTES
run "text stream fragment=65536" -- --text --fragment 65536
run "text stream one-frame" -- --text --one-frame
run "text stream messages-of=1048575" -- --text --messages-of 1048575
run "text whole messages-of=1048575" --whole -- --text --messages-of 1048575
