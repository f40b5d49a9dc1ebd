#!/usr/bin/env bash
# Runs the cluster lanes (e2e on kwok, e2e/realnode on the real kubelet)
# ROUNDS times in a row beside HOGS busy loops, the way CI meets a loaded
# machine: a test that reads something before it waited for exactly that
# thing shows up here as a red round. Stops at the first red round, since
# the claim is "N green rounds in a row"; its output stays in LOGDIR.
#
#   hack/load-rounds.sh            # 10 rounds, one hog
#   ROUNDS=3 HOGS=2 hack/load-rounds.sh
#
# Each round prints one line: round, result, wall time, load average.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-10}
HOGS=${HOGS:-1}
LOGDIR=${LOGDIR:-$(mktemp -d /tmp/envgen-load-rounds.XXXXXX)}
GO=${GO:-go}
mkdir -p "$LOGDIR"

testbin=$(hack/testbin.sh)
# Compile the test binaries once, so that round 1 does not pay for it.
ENVGEN_TESTBIN=$testbin $GO test -count=1 -run '^$' ./e2e/ ./e2e/realnode/ >/dev/null

hogs=()
stop_hogs() { for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_hogs EXIT
for _ in $(seq "$HOGS"); do
	(while :; do :; done) &
	hogs+=($!)
done

echo "commit $(git rev-parse --short HEAD), $ROUNDS rounds, $HOGS CPU hog(s), $(nproc) cores, logs in $LOGDIR"
for round in $(seq "$ROUNDS"); do
	start=$(date +%s)
	log=$LOGDIR/round-$round.log
	if ENVGEN_TESTBIN=$testbin $GO test -count=1 -timeout 45m ./e2e/ ./e2e/realnode/ >"$log" 2>&1; then
		result=green
	else
		result=red
	fi
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "round $round: $result in $(($(date +%s) - start)) s (load $load) $(grep -E '^(ok|FAIL|---)' "$log" | tr '\n' ' ')"
	if [ "$result" = red ]; then
		echo "red round $round: $log"
		exit 1
	fi
done
echo "$ROUNDS green rounds in a row"
