#!/usr/bin/env bash
# test_unified_contract.sh: the contract test of the unified model. Every event the conversion
# produces in test_unified_event (all valid request examples of 1.6 and 2.0.1, the data tests,
# the 1.6 / 2.0.1 session, the 2.1 messages and types) and every device.disconnected
# redis-registry makes (test_registry_logic)
# is validated by ajv against proto/unified/ (the published JSON Schemas), so the documents cannot
# drift from the code.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out="$(mktemp /tmp/ocppgw-unified.XXXXXX)"
trap 'rm -f "$out"' EXIT
UNIFIED_EVENTS_OUT="$out" "$BUILD/tests/services/ocpp-core/test_unified_event" >/dev/null
n=$(wc -l <"$out")
[ "$n" -gt 300 ] || { echo "only $n events produced"; exit 1; }
(cd "$E2E" && node contract.js "$ROOT/proto/unified" "$out")
# OCPP 2.1: its own types, each validated above; a 2.1 transaction with 2 x 16 KiB signed data
for t in der.alarm der.start_stop device.event_stream battery.swap payment.settlement; do
  grep -q "\"type\":\"$t\"" "$out" || { echo "no $t event produced"; exit 1; }
done
[ "$(grep -c '"version":"2.1"' "$out")" -gt 100 ] || { echo "too few 2.1 events"; exit 1; }
# the registry's device.disconnected (the sweeper's and the reconciliation's) too
UNIFIED_EVENTS_OUT="$out.reg" "$BUILD/tests/services/redis-registry/test_registry_logic" >/dev/null
trap 'rm -f "$out" "$out.reg"' EXIT
[ "$(grep -c '"type":"device.disconnected"' "$out.reg")" -ge 3 ] || { echo "no registry events"; exit 1; }
(cd "$E2E" && node contract.js "$ROOT/proto/unified" "$out.reg")
# the validator must refuse what breaks the contract (a test that cannot fail is a defect)
bad="$(mktemp /tmp/ocppgw-unified-bad.XXXXXX)"
trap 'rm -f "$out" "$out.reg" "$bad"' EXIT
grep -m1 '"type":"meter.values"' "$out" | sed 's/"unit":"Wh"/"unit":"kWh"/' >"$bad"
if (cd "$E2E" && node contract.js "$ROOT/proto/unified" "$bad" >/dev/null); then
  echo "contract accepted a kWh unit"; exit 1
fi
grep -m1 '"type":"der.alarm"' "$out" | sed 's/"alarm_ended":false/"alarm_ended":"no"/' >"$bad"
if (cd "$E2E" && node contract.js "$ROOT/proto/unified" "$bad" >/dev/null); then
  echo "contract accepted a der.alarm with alarm_ended a string"; exit 1
fi
# commands and results: every command record the command tests use, every result they produce
UNIFIED_COMMANDS_OUT="$out.cmd" UNIFIED_RESULTS_OUT="$out.res" \
  "$BUILD/tests/services/ocpp-core/test_unified_command" >/dev/null
trap 'rm -f "$out" "$out.reg" "$bad" "$out.cmd" "$out.res"' EXIT
[ "$(wc -l <"$out.cmd")" -ge 36 ] || { echo "too few command records"; exit 1; }
(cd "$E2E" && node contract.js "$ROOT/proto/unified" "$out.cmd" command.json)
(cd "$E2E" && node contract.js "$ROOT/proto/unified" "$out.res" result.json)
# a payload breaking its unified schema is refused by the contract too
grep -m1 '"action":"reset"' "$out.cmd" | sed 's/"type":"soft"/"type":"gentle"/' >"$bad"
if (cd "$E2E" && node contract.js "$ROOT/proto/unified" "$bad" command.json >/dev/null); then
  echo "contract accepted reset type gentle"; exit 1
fi
# the AsyncAPI document names the four topics and only schemas that exist here
python3 - "$ROOT/proto/unified" <<'PY'
import os, re, sys, yaml
d = sys.argv[1]
doc = yaml.safe_load(open(os.path.join(d, "asyncapi.yaml")))
assert doc["asyncapi"].startswith("3."), doc["asyncapi"]
topics = sorted(c["address"] for c in doc["channels"].values())
assert topics == ["command-results", "commands-dlq", "commands-down", "ocpp-events-up"], topics
refs = re.findall(r"\$ref: '([^'#][^']*)'", open(os.path.join(d, "asyncapi.yaml")).read())
assert refs, "no schema references"
for r in refs:
    assert os.path.exists(os.path.join(d, r)), f"asyncapi.yaml refers to missing {r}"
# every event type of cloudevent.json has its data schema listed in the document
import json
types = json.load(open(os.path.join(d, "cloudevent.json")))["properties"]["type"]["enum"]
for t in types:
    assert f"event-{t}.json" in refs, f"asyncapi.yaml lacks event type {t}"
print(f"asyncapi: 4 topics, {len(types)} event types, schemas {', '.join(refs)}")
PY
echo "contract test: $n events, $(wc -l <"$out.cmd") commands, $(wc -l <"$out.res") results valid"
