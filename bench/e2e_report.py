#!/usr/bin/env python3
"""e2e_report.py: the tables and the plot of bench/bench_e2e.sh from its results TSV.

    e2e_report.py RESULTS.tsv OUT_PREFIX NPROC "LOAD AVERAGE"
Writes OUT_PREFIX.md (the tables, also printed) and OUT_PREFIX.png (gnuplot, when installed).
A TSV line: server, level (max | fixed | 25% | 50% | 90%), msg_rate asked, answered, seconds,
p50, p90, p99, p99.9 (ms), name=ticks,... (CPU per process over the run), ticks per second,
load average at the end of the run, cp-sim errors, transaction messages lost (queued/unanswered).
"""
import os, shutil, subprocess, sys

rows = []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    cpu = {k: int(v) / int(f[10]) for k, v in (x.split("=") for x in f[9].split(",") if x)}
    rows.append(dict(server=f[0], level=f[1], asked=int(f[2]), answered=int(f[3]), secs=float(f[4]),
                     p50=float(f[5]), p90=float(f[6]), p99=float(f[7]), p999=float(f[8]), cpu=cpu,
                     load=f[11], errors=f[12], lost=f[13]))
prefix, nproc, load = sys.argv[2], sys.argv[3], sys.argv[4]
SERVERS = [s for s in ("gateway", "peer", "limit") if any(r["server"] == s for r in rows)]
STAGES = {"gateway": ["ws-edge", "ocpp-core", "kafka-bridge", "redis-registry"], "peer": ["node"],
          "limit": ["lws_echo"]}
# the server's CPU: every process of its stages; redis-server (the gateway's store) shown apart
def rate(r): return r["answered"] / r["secs"]
def cpu_us(r, names=None):
    names = names or STAGES[r["server"]]
    return sum(r["cpu"].get(n, 0) for n in names) * 1e6 / max(r["answered"], 1)
def get(server, level):
    return next((r for r in rows if r["server"] == server and r["level"] == level), None)
def ratio(a, b): return f"{a / b:.2f}x" if a and b else "-"

out = []
p = out.append
p(f"# End-to-end benchmark, {os.path.basename(prefix)}\n")
p(f"bench/bench_e2e.sh on {nproc} CPUs shared with other work; load average at the end {load} "
  f"(each run's load average is in the last table). 1,000 connections, one CALL outstanding per "
  f"connection, the mix of bench/scenarios/e2e.yaml; every ratio is from this one run.\n")
p("## Throughput and CPU per answered message\n")
p("| server | max msg/s | CPU µs/msg at max | CPU µs/msg at 5,000/s | per stage at 5,000/s (µs/msg) |")
p("|---|---|---|---|---|")
for s in SERVERS:
    m, f = get(s, "max"), get(s, "fixed")
    stages = ", ".join(f"{n} {cpu_us(f, [n]):.1f}" for n in STAGES[s]) if f else "-"
    if s == "gateway" and f and "redis-server" in f["cpu"]:
        stages += f" (redis-server {cpu_us(f, ['redis-server']):.1f}, not counted)"
    p(f"| {s} | {rate(m):,.0f} | {cpu_us(m):.1f} | {cpu_us(f):.1f} | {stages} |" if m and f else f"| {s} | - | - | - | - |")
g, pe, li = get("gateway", "max"), get("peer", "max"), get("limit", "max")
gf, pf, lf = get("gateway", "fixed"), get("peer", "fixed"), get("limit", "fixed")
p("")
p("| ratio | value | target |")
p("|---|---|---|")
if g and li:
    p(f"| gateway / limit, CPU per message at 5,000/s | {ratio(cpu_us(gf), cpu_us(lf))} | ≤ 2x |")
    p(f"| gateway / limit, CPU per message at max | {ratio(cpu_us(g), cpu_us(li))} | |")
    p(f"| gateway / limit, max rate | {ratio(rate(g), rate(li))} | ≥ 0.5x |")
    p(f"| gateway / limit, p99 at 5,000/s | {ratio(gf['p99'], lf['p99'])} | ≤ 2x |")
if g and pe:
    p(f"| gateway / peer, CPU per message at 5,000/s | {ratio(cpu_us(gf), cpu_us(pf))} | ≤ 0.25x |")
    p(f"| gateway / peer, max rate | {ratio(rate(g), rate(pe))} | ≥ 5x |")
p("\n## Latency (ms) per load level\n")
p("| server | level | asked msg/s | answered msg/s | p50 | p90 | p99 | p99.9 | CPU µs/msg |")
p("|---|---|---|---|---|---|---|---|---|")
for s in SERVERS:
    for r in (x for x in rows if x["server"] == s):
        asked = "closed loop" if r["asked"] == 0 else f"{r['asked']:,}"
        p(f"| {s} | {r['level']} | {asked} | {rate(r):,.0f} | {r['p50']:.2f} | {r['p90']:.2f} | "
          f"{r['p99']:.2f} | {r['p999']:.2f} | {cpu_us(r):.1f} |")
p("\n## Runs\n")
p("| server | level | load average | cp-sim errors | transaction messages lost (queued/unanswered) |")
p("|---|---|---|---|---|")
for r in rows:
    p(f"| {r['server']} | {r['level']} | {r['load']} | {r['errors']} | {r['lost']} |")
text = "\n".join(out) + "\n"
if shutil.which("gnuplot"):
    dat = prefix + ".dat"
    with open(dat, "w") as d:
        for s in SERVERS:
            d.write(f"# {s}\n")
            for r in sorted((x for x in rows if x["server"] == s), key=rate):
                d.write(f"{rate(r):.0f} {r['p50']} {r['p99']} {cpu_us(r):.2f}\n")
            d.write("\n\n")
    plot = ", ".join(f"'{dat}' index {i} using 1:{{col}} with linespoints title '{s}'"
                     for i, s in enumerate(SERVERS))
    script = f"""set terminal png size 1200,450 noenhanced
set output '{prefix}.png'
set multiplot layout 1,2 title 'bench_e2e {os.path.basename(prefix)} ({nproc} CPUs, load {load})'
set xlabel 'answered msg/s'
set logscale y
set ylabel 'p99 latency (ms)'
plot {plot.format(col=3)}
set ylabel 'server CPU per message (µs)'
plot {plot.format(col=4)}
unset multiplot
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    os.unlink(dat)
    if r.returncode == 0:
        text += f"\n![throughput, latency and CPU per load level]({os.path.basename(prefix)}.png)\n"
    else:
        sys.stderr.write(r.stderr)
open(prefix + ".md", "w").write(text)
print(text)
