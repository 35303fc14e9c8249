#!/usr/bin/env bash
# run-tests.sh: runs every test and closes with one line "N passed, M failed".
#
# Unit tests: every build/tests/**/test_* binary (check framework); each check counts.
# Integration tests: every tests/integration/test_*.sh; each script counts as one test, runs
# with a time bound, and its output is shown only when it fails (or with VERBOSE=1).
# HA scenarios: every scenario of tests/ha at the size `check` (docs/ha.md), one test each
# ("tests/ha/<scenario>"), the nothing-lost checker's verdict; about 15 minutes in all.
#   --unit / --integration / --ha   run only that part;  ONLY=pattern  runs matching tests only.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
export BUILD
mode="${1:-all}"
passed=0
failed=0
failed_names=()
ITEST_TIMEOUT="${ITEST_TIMEOUT:-300}"

if [ "$mode" = all ] || [ "$mode" = --unit ]; then
  while IFS= read -r t; do
    [ -n "${ONLY:-}" ] && [[ "$t" != *$ONLY* ]] && continue
    out="$(timeout 300 "$t" 2>&1)"
    rc=$?
    line="$(grep -E '^[0-9]+%: Checks: ' <<<"$out" | tail -1)"
    if [ -n "$line" ]; then
      checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
      fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
      errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
      bad=$((fails + errs))
      passed=$((passed + checks - bad))
      failed=$((failed + bad))
    else
      bad=1
      failed=$((failed + 1))
    fi
    if [ $rc -ne 0 ] && [ $bad -eq 0 ]; then bad=1; failed=$((failed + 1)); fi
    if [ $bad -ne 0 ]; then
      failed_names+=("${t#$BUILD/tests/}")
      echo "--- ${t#$BUILD/tests/}: FAILED (exit $rc)"
      grep -v -E '^[0-9]+%: Checks' <<<"$out" | grep -E 'F:|E:|error|Assertion|FAIL' | head -40
    else
      echo "--- ${t#$BUILD/tests/}: $line"
    fi
  done < <(find "$BUILD/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort)
fi

if [ "$mode" = all ] || [ "$mode" = --integration ]; then
  for t in tests/integration/test_*.sh; do
    [ -e "$t" ] || continue
    [ -n "${ONLY:-}" ] && [[ "$t" != *$ONLY* ]] && continue
    start=$SECONDS
    out="$(timeout --kill-after=10 "$ITEST_TIMEOUT" bash "$t" 2>&1)"
    rc=$?
    if [ $rc -eq 0 ]; then
      passed=$((passed + 1))
      echo "--- $t: passed in $((SECONDS - start)) s"
      [ -n "${VERBOSE:-}" ] && echo "$out"
    else
      failed=$((failed + 1))
      failed_names+=("$t")
      echo "--- $t: FAILED (exit $rc after $((SECONDS - start)) s)"
      echo "$out" | tail -n 60
    fi
  done
fi

if [ "$mode" = all ] || [ "$mode" = --ha ]; then
  names=()
  while read -r n _; do
    [ -n "${ONLY:-}" ] && [[ "tests/ha/$n" != *$ONLY* ]] && continue
    names+=("$n")
  done < <(tests/ha/run.sh --list)
  if [ ${#names[@]} -gt 0 ]; then
    start=$SECONDS
    out="$(timeout --kill-after=60 "${HA_TIMEOUT:-2400}" tests/ha/run.sh --check "${names[@]}" 2>&1)"
    rc=$?
    summary="$(sed -n '/^ha: check summary/,$p' <<<"$out")"
    for n in "${names[@]}"; do
      line="$(grep -E "^$n: stations" <<<"$summary" | tail -1)"
      if [[ "$line" == *"=> PASS"* ]]; then
        passed=$((passed + 1))
        echo "--- tests/ha/$n: ${line#*: }"
      else
        failed=$((failed + 1))
        failed_names+=("tests/ha/$n")
        echo "--- tests/ha/$n: FAILED ${line:+${line#*: }}"
        awk -v n="$n: stations" 'index($0, n) == 1 {on = 1; next} on && /^   / {print; next} {on = 0}' <<<"$summary"
      fi
    done
    echo "--- tests/ha: $((SECONDS - start)) s (exit $rc)"
    [ $rc -eq 0 ] || [ -n "$summary" ] || echo "$out" | tail -n 60
  fi
fi

if [ ${#failed_names[@]} -gt 0 ]; then
  echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
