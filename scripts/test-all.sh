#!/usr/bin/env bash
# `make test`'s tiers, one after the other, each to the end even when an earlier one failed:
#   unit           pure code, fake timers (parallel)
#   integration    each adapter against the real thing: dockerd, HAProxy, HTTP
#   clock +1 year  unit and integration again with the whole process tree's clock a year ahead
#                  (libfaketime): nothing may depend on today's date
#   e2e            the whole stack, Serf, Swarm in nested engines, headless Chromium
# Then one line per tier and, last, one line over them all: `N passed, N failed`.
# TIERS="unit e2e" runs some of them (same names, clock for the shifted one).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=.run/test-results
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.log
TIERS="${TIERS:-unit integration clock e2e}"

ensure_faketime() {
  command -v faketime >/dev/null 2>&1 && return 0
  echo "==> installing Debian's faketime (the clock-ahead tier)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q faketime >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q faketime >/dev/null; }
}

run_tier() {
  local name="$1"
  shift
  echo "==> $name"
  "$@" --json --outputFile="$OUT/$name.json"
}

for tier in $TIERS; do
  case "$tier" in
    unit) run_tier unit npx jest --selectProjects unit ;;
    integration) run_tier integration npx jest --selectProjects integration --runInBand ;;
    clock)
      ensure_faketime
      # FAKETIME_DONT_FAKE_MONOTONIC: timers and timeouts run at the real pace, dates are a year on.
      echo "==> the clock a year ahead: $(FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f +365d date -u +%Y-%m-%dT%H:%M:%SZ)"
      FAKETIME_DONT_FAKE_MONOTONIC=1 run_tier clock faketime -f +365d npx jest --selectProjects unit integration --runInBand
      ;;
    e2e)
      scripts/ensure-chromium.sh
      # Two lanes at once. The tests on engines of their own (nested dockerd: Swarm, the engine
      # restart) run beside those on the host's engine, with a project, ports, networks and a
      # cleanup label of their own; each lane runs its files one after the other.
      # --forceExit and a time bound: whatever a failed test leaves behind (a stream, a timer)
      # ends with the tier instead of holding CI until it runs out of memory or time.
      nested='test/e2e/(swarm|engine-restart)\.test\.ts'
      e2e_jest=(timeout --kill-after=60 45m npx jest --selectProjects e2e --runInBand --forceExit)
      HS_TEST_LANE=nested HS_TEST_PROJECT=hsnest HS_TEST_HTTP_PORT=19080 HS_TEST_STATS_PORT=19936 \
        HS_TEST_STATUS_PORT=19081 HS_TEST_NETWORK=hsnest-heig HS_TEST_CONTROL_NETWORK=ha-hsnest-control \
        run_tier e2e-nested "${e2e_jest[@]}" --testPathPattern "$nested" >"$OUT/e2e-nested.log" 2>&1 &
      nested_pid=$!
      run_tier e2e "${e2e_jest[@]}" --testPathIgnorePatterns "$nested"
      wait "$nested_pid"
      echo "==> e2e-nested (ran beside e2e; its output)"
      cat "$OUT/e2e-nested.log"
      ;;
    *) echo "unknown tier $tier (unit, integration, clock, e2e)" >&2 ;;
  esac
done

# One line per tier, then the total. A tier that left no results (it crashed) counts as failed.
node - "$OUT" $(echo " $TIERS " | sed 's/ e2e / e2e e2e-nested /') <<'EOF'
const fs = require("node:fs");
const [dir, ...tiers] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let broken = 0;
for (const tier of tiers) {
  const file = `${dir}/${tier}.json`;
  if (!fs.existsSync(file)) {
    console.log(`  ${tier.padEnd(12)} no results: the tier did not run to its end`);
    broken++;
    continue;
  }
  const r = JSON.parse(fs.readFileSync(file, "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  const suitesFailed = r.numFailedTestSuites - r.testResults.filter((s) => s.assertionResults.some((a) => a.status === "failed")).length;
  passed += r.numPassedTests;
  failed += r.numFailedTests + suitesFailed;
  console.log(
    `  ${tier.padEnd(12)} ${r.numPassedTests} passed, ${r.numFailedTests} failed` +
      (suitesFailed > 0 ? `, ${suitesFailed} suite(s) failed to run` : "") +
      (skipped > 0 ? `, ${skipped} skipped` : ""),
  );
}
console.log(`${passed} passed, ${failed + broken} failed`);
process.exit(failed + broken > 0 ? 1 : 0);
EOF
