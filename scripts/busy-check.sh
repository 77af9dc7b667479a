#!/bin/sh
# Issue 17 item 1: the namespaced end-to-end suites must hold on a busy machine.
# Runs them RUNS times in a row (default 5) while two CPU-bound processes run
# beside them, and prints one line per run: pass/fail, seconds, failed tests.
#   sh scripts/busy-check.sh                 # test/tun + test/ike/interop.test.ts
#   RUNS=3 sh scripts/busy-check.sh test/tun  # other suites
# Needs root (namespaces), tshark, strongSwan (.ci/run installs them). The
# burners run at normal priority: that is the point; stop them with the script.
set -u
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
if [ $# -eq 0 ]; then set -- test/tun test/ike/interop.test.ts; fi
LOGDIR=${LOGDIR:-build/busy-check}
mkdir -p "$LOGDIR"
npm run --silent build >/dev/null || { echo "busy-check: build failed"; exit 2; }
node -e 'for(;;){}' & B1=$!
node -e 'for(;;){}' & B2=$!
trap 'kill $B1 $B2 2>/dev/null' EXIT INT TERM
echo "busy-check: $RUNS runs of $* beside 2 CPU burners (pids $B1 $B2), $(nproc) CPUs"
pass=0
i=1
while [ "$i" -le "$RUNS" ]; do
  t0=$(date +%s)
  log="$LOGDIR/run$i.log"
  if npx vitest run --reporter=verbose "$@" >"$log" 2>&1; then r=PASS; pass=$((pass + 1)); else r=FAIL; fi
  t1=$(date +%s)
  failed=$(grep -E '^ +(×|✗|FAIL)' "$log" | head -5 | tr '\n' ' ')
  echo "run $i: $r $((t1 - t0)) s $(grep -E '^ +Tests ' "$log" | tr -s ' ') $failed"
  i=$((i + 1))
done
echo "busy-check: $pass/$RUNS runs passed"
[ "$pass" -eq "$RUNS" ]
