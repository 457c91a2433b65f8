#!/usr/bin/env bash
# Behind real reverse proxies: nginx and HAProxy from Debian, configured as
# docs/deployment.md recommends (the templates beside this file), each
# started in the foreground on loopback ports with its files under
# target/reverse_proxy/, and stopped at the end. Run by .ci/run:
#
#   bash tests/reverse_proxy/run.sh
#
#   1. Autobahn|Testsuite's fuzzing client, strict, through each proxy
#      (tests/autobahn/run.sh with AUTOBAHN_FRONT): tokio_echo on cases
#      1-7, 9, 10 and CI's permessage-deflate sample (12.1-12.5, 13.1-13.7
#      at sizes 1, 5, 11); axum_echo and the blocking echo_server on 1-7,
#      9, 10. The six runs start first and run while 2-4 do;
#   2. through each proxy, close codes and rejections pass intact, and a
#      proxy that cuts a connection mid-message ends it with a typed
#      transport error on both sides after every whole message (the
#      tests of wsmachine-tokio/tests/reverse_proxy.rs, with the
#      proxy's idle timeout at 2 s so that it cuts fast, then the proxy
#      stopped with SIGTERM);
#   3. three tokio_echo behind one HAProxy (balance roundrobin): 30
#      connections land 10 on each (counted in the servers' logs);
#   4. headless Chromium loads axum_echo's page through nginx: echoes up to
#      1 MiB, deflate negotiated, a clean close (wsmachine-tokio/tests/browser_via_proxy.rs).
# About 4-5 minutes here, most of it the Autobahn runs.
#
# Installs nginx, haproxy and chromium with apt-get when missing (saying so);
# Autobahn's wstest as tests/autobahn/run.sh does. Prints each step's time;
# exits 1 when any check fails. Logs: target/reverse_proxy/logs/, and
# target/autobahn/logs/<agent>/ for the Autobahn runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
START=$SECONDS

WORK=$PWD/target/reverse_proxy
LOGS=$WORK/logs
rm -rf "$WORK"
mkdir -p "$LOGS"

say() { printf 'reverse_proxy: %s\n' "$*"; }

# shellcheck source=../lib.sh
source tests/lib.sh
# shellcheck source=proxy.sh
source tests/reverse_proxy/proxy.sh

# Each step's time, printed at the end.
timings=()
step_started=0
step() {
  step_started=$SECONDS
  printf '\n==> %s\n' "$*"
  current_step=$*
}
step_done() { timings+=("$(printf '%4d s  %s' "$((SECONDS - step_started))" "$current_step")"); }

step "system packages: nginx, haproxy, chromium"
missing=()
for tool in nginx haproxy chromium; do
  rp_binary "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} with apt-get (missing)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >"$LOGS/apt.log" 2>&1
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$LOGS/apt.log" 2>&1 || {
    say "apt-get install ${missing[*]} failed (see $LOGS/apt.log): install them, then run this again"
    exit 1
  }
fi
say "$("$(rp_binary nginx)" -v 2>&1), $("$(rp_binary haproxy)" -v | head -n 1 | cut -d' ' -f1-3)"
step_done

step "build: wstest, the examples (as tests/autobahn/run.sh builds them) and the tests"
# wstest once here: the six Autobahn runs below start at once, and would
# otherwise each install it into the same prefix on a fresh checkout.
# shellcheck source=../autobahn/install.sh
source tests/autobahn/install.sh
ab_install
# The same flags as tests/autobahn/run.sh, so that its builds are no-ops.
cargo build --quiet --all-features --example tokio_echo --example axum_echo --example echo_server \
  --config 'profile.dev.package.wsmachine.opt-level=3' \
  --config 'profile.dev.package.zlib-rs.opt-level=3'
cargo test --quiet -p wsmachine-tokio --all-features --test reverse_proxy --test browser_via_proxy --no-run 2>"$LOGS/build-tests.log" || {
  cat "$LOGS/build-tests.log"
  exit 1
}
step_done

# The Autobahn runs: each is tests/autobahn/run.sh with AUTOBAHN_FRONT.
CASES_PLAIN="1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.*"
CASES_DEFLATE=$CASES_PLAIN
for group in 12.1 12.2 12.3 12.4 12.5 13.1 13.2 13.3 13.4 13.5 13.6 13.7; do
  for size in 1 5 11; do
    CASES_DEFLATE+=" $group.$size"
  done
done

# start_autobahn PROXY DRIVER CASES: one run of tests/autobahn/run.sh in
# the background (its own trap stops its wstest, server and proxy), its
# output in a log.
declare -A ab_pids
start_autobahn() {
  AUTOBAHN_FRONT=$1 AUTOBAHN_DRIVER=$2 AUTOBAHN_CASES=$3 \
    bash tests/autobahn/run.sh >"$LOGS/autobahn-$2-via-$1.log" 2>&1 &
  ab_pids[$1-$2]=$!
  background_pids+=("$!")
}

# finish_autobahn PROXY DRIVER: waits for the run; counts it and prints its
# summary (or its end, when it failed).
finish_autobahn() {
  local log="$LOGS/autobahn-$2-via-$1.log" status=0
  wait "${ab_pids[$1-$2]}" || status=$?
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    printf '  pass  Autobahn %s via %s: %s\n' "$2" "$1" \
      "$(grep -E 'server role: [0-9]+ cases' "$log" | sed 's/^autobahn: server role: //')"
  else
    failed=$((failed + 1))
    failures+=("Autobahn $2 via $1")
    printf '  FAIL  Autobahn %s via %s (status %s):\n' "$2" "$1" "$status"
    tail -n 25 "$log" | sed 's/^/        | /'
  fi
}

# check_pass_through PROXY: the proxy with a 2 s idle timeout in front of
# the port the test binds.
check_pass_through() {
  local proxy=$1 backend
  backend=$(rp_free_port)
  start_proxy "$proxy" "$WORK/$proxy-pass-through" 2s "$backend" || return 1
  WSMACHINE_REVERSE_PROXY=$proxy \
    WSMACHINE_REVERSE_PROXY_ADDR=127.0.0.1:$PROXY_PORT \
    WSMACHINE_REVERSE_PROXY_BACKEND=127.0.0.1:$backend \
    WSMACHINE_REVERSE_PROXY_IDLE=2 \
    WSMACHINE_REVERSE_PROXY_PID=$PROXY_PID \
    timeout --kill-after=5 120 cargo test --quiet -p wsmachine-tokio --all-features \
    --test reverse_proxy -- --exact close_codes_rejections_and_drops_pass_through \
    --nocapture
  local status=$?
  kill "$PROXY_PID" 2>/dev/null || true
  return "$status"
}

# The six Autobahn runs go at once, and the other checks run meanwhile:
# each run is one single-threaded wstest that mostly waits on its peer, so
# together they take little longer than the slowest (tokio_echo with the
# deflate sample, about 4 minutes here) instead of the sum.
AB_STARTED=$SECONDS
for proxy in nginx haproxy; do
  start_autobahn "$proxy" tokio "$CASES_DEFLATE"
  start_autobahn "$proxy" axum "$CASES_PLAIN"
  start_autobahn "$proxy" blocking "$CASES_PLAIN"
done
say "Autobahn: 6 runs started (tokio_echo, axum_echo, echo_server through nginx and haproxy)"

for proxy in nginx haproxy; do
  step "$proxy: close codes, rejections and a cut mid-message pass through"
  check "close codes, 403, 426 and cuts through $proxy" check_pass_through "$proxy"
  # What the client saw, with the 426's head as the proxy rewrote it.
  grep -E '^(nginx|haproxy): |^  [|] |^  body: ' "$LOGS/close_codes__403__426_and_cuts_through_$proxy.log" |
    sed 's/^/        /' || true
  step_done
done

step "three tokio_echo behind one HAProxy (balance roundrobin): 30 connections"
spread() {
  local ports=() i port log
  for i in 1 2 3; do
    log=$WORK/tokio_echo-$i.log
    : >"$log" # not a line a previous run left
    target/debug/examples/tokio_echo 127.0.0.1:0 2>"$log" &
    background_pids+=("$!")
    local tries=100
    # The whole line with its port (it may arrive in several writes).
    until grep -qzP 'listening on ws://127\.0\.0\.1:\d+\n' "$log"; do
      tries=$((tries - 1))
      [ "$tries" -gt 0 ] || {
        echo "tokio_echo $i did not start"
        cat "$log"
        return 1
      }
      sleep 0.1
    done
    port=$(sed -n 's#.*listening on ws://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$log")
    ports+=("$port")
  done
  start_proxy haproxy "$WORK/haproxy-balance" 1h "${ports[@]}" || return 1
  WSMACHINE_REVERSE_PROXY=haproxy \
    WSMACHINE_REVERSE_PROXY_ADDR=127.0.0.1:$PROXY_PORT \
    WSMACHINE_REVERSE_PROXY_CONNECTIONS=30 \
    timeout --kill-after=5 120 cargo test --quiet -p wsmachine-tokio --all-features \
    --test reverse_proxy -- --exact connections_through_the_balancer --nocapture
  # Every connection's request target is /conn-N: each server must have
  # taken every third one, 10 in all.
  local counts=() status=0
  for i in 1 2 3; do
    local n
    n=$(grep -c 'accepted /conn-' "$WORK/tokio_echo-$i.log" || true)
    counts+=("$n")
    echo "tokio_echo $i (port ${ports[$((i - 1))]}): $n connections:" \
      "$(grep -o 'accepted /conn-[0-9]*' "$WORK/tokio_echo-$i.log" | sed 's#accepted /conn-##' | tr '\n' ' ')"
    [ "$n" -eq 10 ] || status=1
  done
  return "$status"
}
check "30 connections spread 10/10/10 over three tokio_echo" spread
grep -E '^tokio_echo [0-9]' "$LOGS/30_connections_spread_10_10_10_over_three_tokio_echo.log" |
  sed 's/^/        /' || true
step_done

step "Chromium through nginx: axum_echo's page and socket"
browser_through_nginx() {
  local backend
  backend=$(rp_free_port)
  start_proxy nginx "$WORK/nginx-browser" 1h "$backend" || return 1
  WSMACHINE_REVERSE_PROXY=nginx \
    WSMACHINE_REVERSE_PROXY_ADDR=127.0.0.1:$PROXY_PORT \
    WSMACHINE_REVERSE_PROXY_BACKEND=127.0.0.1:$backend \
    timeout --kill-after=5 120 cargo test --quiet -p wsmachine-tokio --all-features \
    --test browser_via_proxy -- --exact \
    chromium_through_a_reverse_proxy_echoes_with_deflate_and_closes_cleanly --nocapture
}
check "Chromium through nginx: echoes to 1 MiB, deflate, clean close" browser_through_nginx
grep -E '^  (text|binary) .* 1048576 B|ws.extensions|close event' \
  "$LOGS/Chromium_through_nginx__echoes_to_1_MiB__deflate__clean_close.log" | sed 's/^/        /' || true
step_done

step "Autobahn through nginx and haproxy: tokio_echo (with the deflate sample), axum_echo, echo_server"
for proxy in nginx haproxy; do
  for driver in tokio axum blocking; do
    finish_autobahn "$proxy" "$driver"
  done
done
# This step's time is the six runs' wall time, from their start.
step_started=$AB_STARTED
step_done

printf '\n'
say "step times:"
printf '  %s\n' "${timings[@]}"
say "$passed passed, $failed failed, in $((SECONDS - START)) s"
if [ "$failed" -ne 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
