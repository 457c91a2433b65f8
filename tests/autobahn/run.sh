#!/usr/bin/env bash
# Autobahn|Testsuite, strict, both roles, run by .ci/run:
#   - server role: `wstest -m fuzzingclient` against examples/echo_server;
#   - client role: `wstest -m fuzzingserver` against examples/autobahn_client;
#   (with AUTOBAHN_DRIVER=tokio: the driver's tokio_echo and
#   tokio_autobahn_client instead, graded into their own section);
# both built with all features (the server accepts permessage-deflate,
# the client offers it), on cases 1.*-7.*, 9.*, 10.* and a fixed sample of
# the permessage-deflate groups: every subgroup 12.1-12.5 and 13.1-13.7 at
# sizes 1, 5 and 11 of the suite's list (16 B, 4 KiB, and 8 KiB messages
# auto-fragmented into 256-byte frames), 1000 messages each.
#
#   bash tests/autobahn/run.sh                          # what CI runs
#   AUTOBAHN_UPDATE_DOCS=1 bash tests/autobahn/run.sh   # also rewrite docs/conformance.md
#   AUTOBAHN_CASES=all-deflate bash tests/autobahn/run.sh
#       all 216 permessage-deflate cases (12.*, 13.*) in both roles: about
#       an hour, as wstest spends up to 40 s on a case of 128 KiB messages
#   AUTOBAHN_CASES='1.1.1 5.*' bash tests/autobahn/run.sh   # any case patterns
#
# Fails (exit 1) when any case of either role is NON-STRICT, FAILED or
# UNIMPLEMENTED in `behavior` or `behaviorClose` (only the suite's own
# INFORMATIONAL grades are allowed), when a role misses cases the other ran,
# or (default case set only) when the generated section of
# docs/conformance.md does not match the run. Prints the counts per grade
# for each role and the time taken.
#
# Installs wstest under target/autobahn/ on first use (tests/autobahn/install.sh:
# Debian 11's Python 2.7 under a private apt configuration, pinned wheels
# under a private prefix); later runs reuse it. Reports land in
# target/autobahn/reports/{server,client}/ (index.json and HTML).
#
# Other knobs: AUTOBAHN_PROFILE=release|debug (default debug, with wsmachine
# and zlib-rs optimised: after `cargo test` it builds in about 30 s, where a
# cold release build takes 4 minutes here, and the cases run as fast),
# AUTOBAHN_TIMEOUT (seconds for each role's run; default 420, 5400 with
# all-deflate).
#
# Behind a reverse proxy: AUTOBAHN_FRONT=nginx|haproxy starts that proxy
# (tests/reverse_proxy/proxy.sh, the configurations of docs/deployment.md)
# in front of the server example, and the suite connects to the proxy. The
# server role only, graded strict, under its own agent name
# (wsmachine-tokio-via-nginx, ...) and not compared with docs/conformance.md.
# AUTOBAHN_DRIVER=axum (the axum extractor's axum_echo, its /ws endpoint) is
# a server role too. tests/reverse_proxy/run.sh runs these.
# AUTOBAHN_DRIVER=stream runs the server role against stream_echo (payload
# in pieces, echoed piece by piece as fragments).
set -euo pipefail
cd "$(dirname "$0")/../.."
START=$SECONDS

HERE=tests/autobahn
# shellcheck source=tests/autobahn/install.sh
source "$HERE/install.sh"
WORK=$AB_WORK
# The programs under test: the blocking examples (the default), or with
# AUTOBAHN_DRIVER=tokio the driver's tokio_echo and tokio_autobahn_client.
# Each pair has its own agent name, reports and section of the docs.
case "${AUTOBAHN_DRIVER:-blocking}" in
  blocking)
    SERVER_EXAMPLE=echo_server CLIENT_EXAMPLE=autobahn_client
    AGENT=wsmachine SECTION=ci
    ;;
  tokio)
    SERVER_EXAMPLE=tokio_echo CLIENT_EXAMPLE=tokio_autobahn_client
    AGENT=wsmachine-tokio SECTION=ci-tokio
    ;;
  plain)
    # The server role only: the plainest user loop (`msg?` then `send`)
    # with the defaults, so no permessage-deflate cases.
    SERVER_EXAMPLE=plain_echo CLIENT_EXAMPLE=
    AGENT=wsmachine-plain SECTION=ci-plain
    ;;
  stream)
    # The server role only: stream_echo, which hands payload out in pieces
    # (Config::piece_size) and echoes each piece as a fragment.
    SERVER_EXAMPLE=stream_echo CLIENT_EXAMPLE=
    AGENT=wsmachine-stream SECTION=
    ;;
  axum)
    # The server role only, at the app's WebSocket route.
    SERVER_EXAMPLE=axum_echo CLIENT_EXAMPLE=
    AGENT=wsmachine-axum SECTION=
    ;;
  *)
    echo "AUTOBAHN_DRIVER must be blocking, tokio, plain, stream or axum" >&2
    exit 2
    ;;
esac
WS_PATH=/
[ "$SERVER_EXAMPLE" != axum_echo ] || WS_PATH=/ws
FRONT=${AUTOBAHN_FRONT:-}
case "$FRONT" in
  '') ;;
  nginx | haproxy)
    # The proxy is what is under test with the server: its own agent name,
    # no client role, no docs section.
    CLIENT_EXAMPLE= AGENT=$AGENT-via-$FRONT SECTION=
    ;;
  *)
    echo "AUTOBAHN_FRONT must be nginx or haproxy" >&2
    exit 2
    ;;
esac
REPORTS=$WORK/reports/$AGENT
LOGS=$WORK/logs/$AGENT
PROFILE=${AUTOBAHN_PROFILE:-debug}
CASE_SET=${AUTOBAHN_CASES:-ci}

DEFLATE_SIZES=(1 5 11)
case "$CASE_SET" in
  ci)
    # Quoted: they are wstest's patterns, not the shell's.
    CASES=('1.*' '2.*' '3.*' '4.*' '5.*' '6.*' '7.*' '9.*' '10.*')
    if [ -n "$CLIENT_EXAMPLE" ]; then
      for group in 12.1 12.2 12.3 12.4 12.5 13.1 13.2 13.3 13.4 13.5 13.6 13.7; do
        for size in "${DEFLATE_SIZES[@]}"; do
          CASES+=("$group.$size")
        done
      done
    fi
    DEFAULT_TIMEOUT=420
    ;;
  all-deflate)
    CASES=('12.*' '13.*')
    DEFAULT_TIMEOUT=5400
    ;;
  *)
    read -r -a CASES <<<"$CASE_SET"
    DEFAULT_TIMEOUT=600
    ;;
esac
ROLE_TIMEOUT=${AUTOBAHN_TIMEOUT:-$DEFAULT_TIMEOUT}

say() { printf 'autobahn: %s\n' "$*"; }

# Background programs are killed on exit (tests/lib.sh).
# shellcheck source=../lib.sh
source "tests/lib.sh"

# free_port: a port nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until TRIES COMMAND...: retries COMMAND every 0.1 s.
wait_until() {
  local tries=$1
  shift
  until "$@" 2>/dev/null; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.1
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cases_json() {
  python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${CASES[@]}"
}

mkdir -p "$LOGS"
ab_install
say "$("${WSTEST[@]}" -a 2>/dev/null | tr '\n' ' ')"

# --all-features, as `cargo test --all-features` builds, so that after it
# (in CI) only wsmachine and zlib-rs are built again. It includes deflate,
# which 12.x and 13.x need.
BUILD_FLAGS=(--all-features --example "$SERVER_EXAMPLE")
[ -z "$CLIENT_EXAMPLE" ] || BUILD_FLAGS+=(--example "$CLIENT_EXAMPLE")
if [ "$PROFILE" = release ]; then
  BUILD_FLAGS+=(--release)
else
  # Those two at opt-level 3 in the debug build: deflate cases then run as
  # fast as in release (12.1.11 took 5.5 s unoptimised, 2.1 s so), without
  # the 4 minutes a cold release build of every dev-dependency takes here.
  BUILD_FLAGS+=(--config 'profile.dev.package.wsmachine.opt-level=3'
    --config 'profile.dev.package.zlib-rs.opt-level=3')
fi
[ "$PROFILE" = debug ] || [ "$PROFILE" = release ] || {
  echo "AUTOBAHN_PROFILE must be debug or release" >&2
  exit 2
}
say "building the examples ($PROFILE)"
BUILD_START=$SECONDS
cargo build --quiet "${BUILD_FLAGS[@]}"
say "built in $((SECONDS - BUILD_START)) s"
EXAMPLES=target/$PROFILE/examples

rm -rf "$REPORTS"
mkdir -p "$REPORTS/server" "$REPORTS/client"

# Both roles run at once: each is one single-threaded wstest and one
# example. Everything starts from this shell, so the trap stops it all.

# The server role: the suite as client, the echo server under test.
ECHO_LOG=$LOGS/$SERVER_EXAMPLE.stderr
# Emptied here, not only by the redirect below, which happens in the child
# some time after this shell goes on: the wait must not read the line a
# previous run left.
: >"$ECHO_LOG"
"$EXAMPLES/$SERVER_EXAMPLE" 127.0.0.1:0 --quiet 2>"$ECHO_LOG" &
echo_pid=$!
background_pids+=("$echo_pid")
# The whole line, port included: stderr is unbuffered, and the line may
# arrive in several writes (seen with six runs at once).
if ! wait_until 100 grep -qzP '(listening on ws|serving http)://127\.0\.0\.1:\d+[/\n]' "$ECHO_LOG"; then
  say "$SERVER_EXAMPLE did not start:"
  cat "$ECHO_LOG"
  exit 1
fi
echo_port=$(sed -n 's#.*\(listening on ws\|serving http\)://127\.0\.0\.1:\([0-9]*\).*#\2#p' "$ECHO_LOG" | head -n 1)
suite_target=$echo_port
if [ -n "$FRONT" ]; then
  # shellcheck source=../reverse_proxy/proxy.sh
  source tests/reverse_proxy/proxy.sh
  start_proxy "$FRONT" "$LOGS/$FRONT" 1h "$echo_port"
  suite_target=$PROXY_PORT
fi
# One spec file per agent: runs of several agents may share $WORK at once.
cat >"$LOGS/fuzzingclient.json" <<EOF
{"options": {"failByDrop": false}, "outdir": "$REPORTS/server",
 "servers": [{"agent": "$AGENT", "url": "ws://127.0.0.1:$suite_target$WS_PATH"}],
 "cases": $(cases_json), "exclude-cases": [], "exclude-agent-cases": {}}
EOF

# The client role: the suite as server, the Autobahn client under test
# (none for AUTOBAHN_DRIVER=plain, which tests a server only).
ROLES=(server)
[ -z "$CLIENT_EXAMPLE" ] || ROLES+=(client)
if [ -n "$CLIENT_EXAMPLE" ]; then
  suite_port=$(free_port)
  cat >"$LOGS/fuzzingserver.json" <<EOF
{"url": "ws://127.0.0.1:$suite_port", "outdir": "$REPORTS/client",
 "options": {"failByDrop": false},
 "cases": $(cases_json), "exclude-cases": [], "exclude-agent-cases": {}}
EOF
  # --webport 0: no report web server, which would take port 8080.
  timeout --kill-after=10 "$ROLE_TIMEOUT" "${WSTEST[@]}" -m fuzzingserver --webport 0 \
    -s "$LOGS/fuzzingserver.json" >"$LOGS/fuzzingserver.log" 2>&1 &
  suite_server_pid=$!
  background_pids+=("$suite_server_pid")
  if ! wait_until 300 port_open "$suite_port"; then
    say "fuzzingserver did not start:"
    tail -n 20 "$LOGS/fuzzingserver.log"
    exit 1
  fi
fi

say "${#CASES[@]} case patterns, roles: ${ROLES[*]}, each bounded by ${ROLE_TIMEOUT} s"
say "server role: fuzzingclient -> ${FRONT:+$FRONT on port $suite_target -> }$SERVER_EXAMPLE on port $echo_port"
ROLES_START=$SECONDS
timeout --kill-after=10 "$ROLE_TIMEOUT" "${WSTEST[@]}" -m fuzzingclient \
  -s "$LOGS/fuzzingclient.json" >"$LOGS/fuzzingclient.log" 2>&1 &
suite_client_pid=$!
background_pids+=("$suite_client_pid")

ran=0
if [ -n "$CLIENT_EXAMPLE" ]; then
  say "client role: $CLIENT_EXAMPLE -> fuzzingserver on port $suite_port"
  timeout --kill-after=10 "$ROLE_TIMEOUT" "$EXAMPLES/$CLIENT_EXAMPLE" "ws://127.0.0.1:$suite_port" \
    >"$LOGS/$CLIENT_EXAMPLE.log" 2>&1 &
  client_pid=$!
  background_pids+=("$client_pid")
  client_status=0
  wait "$client_pid" || client_status=$?
  client_done=$SECONDS
  if [ "$client_status" -ne 0 ]; then
    say "$CLIENT_EXAMPLE failed (status $client_status; 124 is the ${ROLE_TIMEOUT} s timeout):"
    tail -n 20 "$LOGS/$CLIENT_EXAMPLE.log"
    ran=1
  elif ! grep -q 'reports updated' "$LOGS/$CLIENT_EXAMPLE.log"; then
    say "$CLIENT_EXAMPLE did not update the reports"
    ran=1
  fi
  # The fuzzing server writes its reports when the client opens
  # /updateReports; then it has nothing more to do.
  wait_until 100 test -s "$REPORTS/client/index.json" || true
  kill "$suite_server_pid" 2>/dev/null || true
  say "client role ran in $((client_done - ROLES_START)) s"
fi
suite_client_status=0
wait "$suite_client_pid" || suite_client_status=$?
server_done=$SECONDS
kill "$echo_pid" 2>/dev/null || true
if [ "$suite_client_status" -ne 0 ]; then
  say "fuzzingclient failed (status $suite_client_status; 124 is the ${ROLE_TIMEOUT} s timeout):"
  tail -n 20 "$LOGS/fuzzingclient.log"
  ran=1
fi
say "server role ran in $((server_done - ROLES_START)) s"

grade_args=(--agent "$AGENT")
for role in "${ROLES[@]}"; do
  grade_args+=(--role "$role=$REPORTS/$role")
done
if [ "$CASE_SET" = ci ] && [ -n "$SECTION" ]; then
  grade_args+=(--docs docs/conformance.md --section "$SECTION")
  if [ "${AUTOBAHN_UPDATE_DOCS:-0}" = 1 ]; then
    grade_args+=(--update)
  else
    grade_args+=(--check)
  fi
elif [ "$CASE_SET" = all-deflate ] && [ -z "$FRONT" ] && [ "${AUTOBAHN_UPDATE_DOCS:-0}" = 1 ]; then
  grade_args+=(--docs docs/conformance.md --section all-deflate --update)
fi
graded=0
reports=1
for role in "${ROLES[@]}"; do
  [ -s "$REPORTS/$role/index.json" ] || reports=0
done
if [ "$reports" = 1 ]; then
  python3 "$HERE/grade.py" "${grade_args[@]}" || graded=1
else
  say "a role wrote no report"
  graded=1
fi
say "reports: $REPORTS/{server,client}/index.html"
say "took $((SECONDS - START)) s"
if [ "$ran" -ne 0 ] || [ "$graded" -ne 0 ]; then
  say "FAILED"
  exit 1
fi
say "strict in every role: ${ROLES[*]}"
