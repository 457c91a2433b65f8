# What the project's test scripts share (sourced, not run): a count of
# checks that pass and fail, and background programs killed on exit.
#
# Before sourcing, set LOGS (where each check's output goes). After it, add
# each background program's pid to background_pids.

passed=0
failed=0
failures=()
background_pids=()

cleanup() {
  local pid
  for pid in "${background_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
# A script stopped by a signal (its caller's cleanup, a timeout, Ctrl-C)
# stops its background programs too: bash runs the EXIT trap only when it
# exits, not when a signal kills it.
trap 'exit 143' TERM
trap 'exit 130' INT

# check NAME COMMAND...: runs COMMAND, counts it, and shows its output when
# it fails.
check() {
  local name=$1
  shift
  local log
  log="$LOGS/$(printf '%s' "$name" | tr -c 'A-Za-z0-9_-' '_').log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf '  pass  %s\n' "$name"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '  FAIL  %s\n' "$name"
    sed 's/^/        | /' "$log"
  fi
}
