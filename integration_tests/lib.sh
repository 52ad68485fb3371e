# Shared by the integration scripts (source it): a scratch folder, processes killed on exit, `fail`,
# and `start_broker [mets broker options]`, which starts the development broker and sets $bootstrap.
# Needs $METS (the mets binary) and kcat; without kcat the script exits 77 (ctest: skipped).
command -v kcat >/dev/null || { echo "SKIP: kcat not installed"; exit 77; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.log; do [ -s "$log" ] && { echo "--- $log:"; cat "$log"; }; done
  exit 1
}

start_broker() {
  "$METS" broker "$@" --bootstrap-file "$work/bootstrap" >"$work/broker.out" 2>"$work/broker.log" &
  broker_pid=$!
  pids+=("$broker_pid")
  for _ in $(seq 100); do
    [ -s "$work/bootstrap" ] && break
    kill -0 "$broker_pid" 2>/dev/null || fail "the broker exited before announcing its address"
    sleep 0.1
  done
  [ -s "$work/bootstrap" ] || fail "no bootstrap file after 10 s"
  bootstrap=$(cat "$work/bootstrap")
}
