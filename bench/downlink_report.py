#!/usr/bin/env python3
"""downlink_report.py: the table of bench/bench_downlink.sh (bench/README.md).

Reads the run directory: results.tsv (kcat of command-results: Kafka timestamp TAB value),
down.tsv (kcat of commands-down), produce.out (ocppctl produce's delivery lines), uplink.report
and sim.report (cp-sim's reports). Prints the table and appends it to the results file.
Exits 1 when a command got no result or more than one (the check of issue 15)."""
import collections
import datetime
import json
import os
import re
import sys

(run, tag, n, stations, action, hz, produce_ms, up0, up1, up_load, t0, t1, cpus, load, qmax,
 report, peak) = sys.argv[1:18]
n, stations, hz, produce_ms = int(n), int(stations), int(hz), int(produce_ms)


def parse_ticks(s):
    return {k: int(v) for k, v in (kv.split("=") for kv in s.strip(",").split(",") if kv)}


def cpu_us(a, b):  # per stage, in microseconds
    a, b = parse_ticks(a), parse_ticks(b)
    return {k: (b[k] - a[k]) * 1e6 / hz for k in b}


def iso_ms(s):  # RFC 3339 UTC with a fraction of any length
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", s)
    t = datetime.datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() * 1000 + (float("0." + m[2]) * 1000 if m[2] else 0)


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


# commands as written (Kafka timestamp = when ocppctl produced each record)
sent = {}
for line in open(f"{run}/down.tsv", errors="replace"):
    ts, _, val = line.rstrip("\n").partition("\t")
    try:
        rec = json.loads(val)
    except ValueError:
        continue
    cid = rec.get("command_id", "")
    if cid.startswith(tag + "-") and "hops" not in rec:
        sent.setdefault(cid, int(ts))
produced_ok = sum(1 for line in open(f"{run}/produce.out") if line.startswith("ok "))

# results
results = collections.defaultdict(list)
for line in open(f"{run}/results.tsv", errors="replace"):
    ts, _, val = line.rstrip("\n").partition("\t")
    try:
        rec = json.loads(val)
    except ValueError:
        continue
    if str(rec.get("command_id", "")).startswith(tag + "-"):
        results[rec["command_id"]].append((int(ts), rec))

statuses = collections.Counter(r[0][1].get("status") for r in results.values())
dups = sum(1 for r in results.values() if len(r) > 1)
missing = n - len(results)
e2e_lat, core_lat, station_lat, in_lat, out_lat = [], [], [], [], []
for cid, rs in results.items():
    ts, rec = rs[0]
    if cid in sent:
        e2e_lat.append(ts - sent[cid])
    try:
        if cid in sent:  # before the core (bridge: consume, LOOKUP, DEDUP) and after it
            in_lat.append(iso_ms(rec["received_at"]) - sent[cid])
        out_lat.append(ts - iso_ms(rec["at"]))
        core_lat.append(iso_ms(rec["at"]) - iso_ms(rec["received_at"]))
        station_lat.append(iso_ms(rec["answered_at"]) - iso_ms(rec["sent_at"]))
    except (KeyError, TypeError, ValueError):
        pass
first = min(sent.values()) if sent else 0
last = max(rs[0][0] for rs in results.values()) if results else 0
span = (last - first) / 1000 if results and sent else float("nan")
rate = len(results) / span if span and span > 0 else 0.0

dl_cpu = cpu_us(t0, t1)
up_cpu = cpu_us(up0, up1)
up = open(f"{run}/uplink.report").read()
up_answered = int(re.search(r"answered (\d+),", up).group(1))
up_secs = float(re.search(r"run: ([\d.]+) s", up).group(1))
up_rate = up_answered / up_secs
sim = open(f"{run}/sim.report").read()
m = re.search(r"downlink calls answered (\d+)", sim)
sim_answered = m.group(1) if m else "?"

gw = ["ws-edge", "ocpp-core", "kafka-bridge", "redis-registry"]
answered = max(len(results), 1)
dl_per = {k: dl_cpu[k] / answered for k in dl_cpu}
up_per = {k: up_cpu[k] / max(up_answered, 1) for k in up_cpu}
dl_total = sum(dl_per[k] for k in gw)
up_total = sum(up_per[k] for k in gw)


def stages(per):
    return ", ".join(f"{k} {per[k]:.1f}" for k in gw) + f" (redis-server {per['redis-server']:.1f}, not counted)"


now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "",
    f"### Downlink: commands-down -> stations -> command-results ({now})",
    "",
    f"{cpus} CPUs, load average after {load} (uplink run: {up_load}). The whole pod (run.sh); {n:,} "
    f"`{action}` commands over {stations:,} cp-sim stations (half 1.6, half 2.0.1, answering every "
    f"CSMS action), key = the pod id, written with `ocppctl produce` (librdkafka, acks=all) in "
    f"{produce_ms / 1000:.2f} s ({n * 1000 / max(produce_ms, 1):,.0f} records/s, {produced_ok:,} acknowledged); "
    f"command_queue_max {qmax}, command_max_inflight "
    f"{os.environ.get('OCPPGW_COMMAND_MAX_INFLIGHT', '10000 (default)')} (peak of the bridge's "
    f"commands in flight, sampled every 0.2 s: {int(peak):,}). The Node peer and the lws limit have no downlink path: the reference "
    f"is the pod's own uplink (bench/scenarios/e2e.yaml, closed loop, same pod, just before).",
    "",
    "| figure | downlink | uplink (same pod) | downlink / uplink |",
    "|---|---|---|---|",
    f"| rate, end to end | {rate:,.0f} commands/s ({len(results):,} results in {span:.2f} s, "
    f"first command to last result) | {up_rate:,.0f} msg/s | {rate / up_rate:.2f}x |",
    f"| gateway CPU per command / message | {dl_total:.1f} µs | {up_total:.1f} µs | "
    f"{dl_total / up_total:.2f}x |",
    f"| per stage (µs) | {stages(dl_per)} | {stages(up_per)} | |",
    "",
    "| latency per command (ms) | p50 | p90 | p99 | p99.9 | max |",
    "|---|---|---|---|---|---|",
    "| command record -> result record (Kafka timestamps) | "
    + " | ".join(f"{pct(e2e_lat, p):.0f}" for p in (50, 90, 99, 99.9, 100)) + " |",
    "| before ocpp-core: command record -> core received_at (bridge: consume, LOOKUP, DEDUP, "
    "COMMAND) | " + " | ".join(f"{pct(in_lat, p):.0f}" for p in (50, 90, 99, 99.9, 100)) + " |",
    "| after ocpp-core: result `at` -> result record (RESULT to the bridge, produced acks=all) | "
    + " | ".join(f"{pct(out_lat, p):.0f}" for p in (50, 90, 99, 99.9, 100)) + " |",
    "| in ocpp-core: command received -> result (received_at -> at; queue behind the station's "
    "earlier commands included) | "
    + " | ".join(f"{pct(core_lat, p):.0f}" for p in (50, 90, 99, 99.9, 100)) + " |",
    "| the station's round trip: CALL sent -> answered (sent_at -> answered_at) | "
    + " | ".join(f"{pct(station_lat, p):.0f}" for p in (50, 90, 99, 99.9, 100)) + " |",
    "",
    f"Results: {len(results):,} of {n:,} commands, "
    + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    + f"; without a result {missing:,}; with more than one result {dups:,}; "
    f"downlink CALLs answered by the stations (cp-sim) {sim_answered}. "
    + ("**Every command got exactly one final result.**" if missing == 0 and dups == 0 else
       "**CHECK FAILED: not exactly one final result per command.**"),
]
text = "\n".join(lines) + "\n"
print(text)
with open(report, "a") as f:
    f.write(text)
print(f"downlink: appended to {report}")
sys.exit(0 if missing == 0 and dups == 0 else 1)
