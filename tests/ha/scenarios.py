#!/usr/bin/env python3
"""scenarios.py: the HA scenarios of issue 12, each a test that passes only with the
nothing-lost checker clean (docs/ha.md).

    scenarios.py [--reduced | --full | --check] [--keep] [--out DIR] [--list] [SCENARIO ...]

Every scenario runs the same frame: start redis-server, kafka-dev, the pods (each under its
supervisor) and HAProxy; start the stations (cp-sim through HAProxy) and wait until 99 % have
booted; start the command generator; let it run `warm_s`; inject the scenario's faults and
observe; stop the generator and wait for every command's result (bounded); read Redis while the
stations are still connected; stop the stations; wait for their mappings to go (bounded); read
Redis again; dump every topic; stop everything; run check.py on the run directory.

Exit status: 0 when every scenario run passed, 1 when one failed, 2 when one could not be run or
judged. Run directories of failed scenarios are kept (all of them with --keep).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check  # noqa: E402
import cluster  # noqa: E402
import gen  # noqa: E402
import haredis  # noqa: E402

# What every pod gets besides its identity, ports and addresses (cluster.Pod):
POD_ENV = {
    # HAProxy in TCP mode hides the stations' addresses: every connection comes from
    # 127.0.0.1, so the per-address connection rate limit would throttle the whole fleet.
    "OCPPGW_IP_CONNECT_RATE": "0",
    # ... and the per-address cap on open connections (ip_max_connections, 100 by default)
    # would refuse every station past the 100th: 0 turns it off.
    "OCPPGW_IP_MAX_CONNECTIONS": "0",
    # A station answers a DataTransfer at once: a downlink CALL unanswered for 10 s (instead
    # of 30 s) is a timeout, and the bridge's backstop for a command whose core died holding
    # it fires 20 s after the command's expiry (instead of 2 min), so that the harness can
    # wait for every result. The backstop must stay above the core's timeout, or a command
    # can get both results (docs/commands.md, known limits).
    "OCPPGW_COMMAND_TIMEOUT_MS": "10s",
    "OCPPGW_COMMAND_CORE_GRACE_MS": "20s",
}
CORE_GRACE_S = 20
# Stations that leave for good: (seconds after the first fault, share of the fleet). The
# first group goes before it could reconnect after the fault, the second once the restarted
# stage is back; their mappings must be released either way.
LEAVERS = [(0.5, 0.1), (5.0, 0.1)]

SIZES = {
    "reduced": {"stations": 300, "heartbeat_ms": 2000, "session_every_ms": 20000, "ramp": 300,
                "cmd_rate": 5.0, "events_partitions": 16, "warm_s": 10, "observe_s": 35,
                "ttl_ms": 20000},
    "full": {"stations": 3000, "heartbeat_ms": 5000, "session_every_ms": 60000, "ramp": 500,
             "cmd_rate": 20.0, "events_partitions": 64, "warm_s": 15, "observe_s": 60,
             "ttl_ms": 30000},
    # what `make check` runs (tests/integration/test_ha.sh): every scenario, with its faults as
    # long as at the other sizes, on fewer stations and shorter observation, within ~15 minutes
    "check": {"stations": 150, "heartbeat_ms": 2000, "session_every_ms": 20000, "ramp": 300,
              "cmd_rate": 4.0, "events_partitions": 8, "warm_s": 6, "observe_s": 20,
              "ttl_ms": 15000},
}


def sim_settings(p):
    return {"mode": "life", "v201_percent": 50, "ramp_rate": p["ramp"],
            "heartbeat_interval_ms": p["heartbeat_ms"], "session_every_ms": p["session_every_ms"],
            "session_length_ms": 8000, "meter_interval_ms": 2000, "call_timeout_ms": 30000,
            "connect_timeout_ms": 10000, "backoff_min_ms": 1000, "backoff_range_ms": 2000,
            "backoff_repeat_times": 3, "drain_ms": 5000}


class ResultWatcher:
    """A kcat consumer of command-results from the beginning for the whole run, so the
    harness can wait until every command it wrote has a result."""

    def __init__(self, cl):
        self.path = os.path.join(cl.dir, "results-stream.jsonl")
        self.out = open(self.path, "w")
        self.proc = subprocess.Popen(["kcat", "-b", cl.kafka.brokers, "-C", "-E", "-t",
                                      "command-results", "-o", "beginning", "-J", "-u", "-q"],
                                     stdout=self.out, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        with cl.procs.lock:
            cl.procs.all.append(self.proc)
        self.pos = 0
        self.have = set()

    def results(self):
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        end = data.rfind(b"\n")
        if end >= 0:
            self.pos += end + 1
            for line in data[:end].splitlines():
                try:
                    v = json.loads(json.loads(line)["payload"])
                    self.have.add(v.get("command_id"))
                except (ValueError, TypeError, KeyError, AttributeError):
                    pass
        return self.have

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.out.close()


class Ctx:
    """What a scenario's fault function gets: the cluster, the generator, the sizes, and the
    record of faults and excuse windows the checker reads from scenario.json."""

    def __init__(self, cl, generator, p, record):
        self.cl, self.gen, self.p, self.rec = cl, generator, p, record
        self.leave_at = None
        self.left = set()

    def fault(self, t_ms):
        """Records a fault (for re-home times); the leaver stations go 5 s after the first."""
        self.rec["faults"].append(t_ms)
        if self.leave_at is None:
            self.leave_at = t_ms / 1000.0

    def window(self, kind, t_from, t_to, **kw):
        self.rec["windows"].append({"kind": kind, "from": t_from, "to": t_to, **kw})

    def expect(self, kind, t_from, t_to):
        self.rec["expect"].append({"kind": kind, "from": t_from, "to": t_to})

    def sleep(self, s):
        """Sleeps while following the station logs (keeps the harness's view current)."""
        end = time.time() + s
        while time.time() < end:
            self.maybe_leave()
            for sim in self.cl.sims:
                sim.follow()
            time.sleep(min(0.5, max(0.0, end - time.time())))

    def maybe_leave(self, now=False):
        """Each group of leavers goes at its delay after leave_at (or now, at the end)."""
        for k, (delay, _) in enumerate(LEAVERS):
            if k not in self.left and (now or (self.leave_at and
                                               time.time() >= self.leave_at + delay)):
                self.left.add(k)
                self.cl.leave(k)


# --- the scenarios ------------------------------------------------------------------------

def sc_baseline(c):
    """No fault: the harness and the checker must be clean on a healthy gateway."""
    c.leave_at = time.time()
    c.sleep(c.p["observe_s"])


def sc_pod_kill(c):
    """SIGKILL of a whole pod under load; the StatefulSet brings it back 15 s later."""
    pod = c.cl.pod("ocppgw-0")
    c.fault(pod.kill(signal.SIGKILL))
    c.sleep(15)
    pod.start(wait_ready=True)
    c.sleep(max(10, c.p["observe_s"] - 15))


def sc_rolling_restart(c):
    """SIGTERM rolling restart: every pod in turn is deleted as Kubernetes does (out of the
    endpoints, preStop, SIGTERM edge, then the sidecars) and recreated, the next one once it is
    ready again."""
    for pod in c.cl.pods:
        c.fault(pod.terminate(prestop_s=c.p.get("prestop_s", 5)))
        pod.start(wait_ready=True)
        c.sleep(5)
    c.sleep(15)


def sc_stale_partition(c):
    """A backend with a stale lookup writes to a dead pod's partition before, during and long
    after its takeover: every command must be delivered once or expire, with one result. Half
    the commands go to the dead pod's stations for 5 s before the kill and 10 s after it, none
    for the commands' ttl + 5 s after that (so that the takeover can finish: every command it
    read is final, delivered or expired), then half again for 25 s."""
    victim = "ocppgw-0"
    c.gen.fill_cache()
    c.gen.aim(victim, 0.5)
    c.sleep(5)
    t = c.cl.pod(victim).kill(signal.SIGKILL)  # gone for good
    c.fault(t)
    c.sleep(10)
    c.gen.aim(victim, 0)
    c.cl.tl.mark("generator.aim", victim=victim, share=0)
    c.sleep(c.p["ttl_ms"] / 1000 + 5)
    c.gen.aim(victim, 0.5)
    c.cl.tl.mark("generator.aim", victim=victim, share=0.5)
    c.sleep(25)


def stage_kill(stage):
    def run(c):
        pod = c.cl.pod("ocppgw-0")
        c.fault(pod.signal_stage(stage, signal.SIGKILL))  # the supervisor restarts it
        c.sleep(c.p["observe_s"])
    run.__doc__ = (f"SIGKILL of ocppgw-0's {stage} under load; the supervisor restarts it with "
                   f"the same environment 1 s later (a container restart).")
    return run


def sc_registry_then_redis(c):
    """SIGKILL of ocppgw-0's registry (restarted 1 s later), then 10 s later redis-server
    restarted empty: a registry that forgot its table cannot re-assert its pod's connections,
    which stay connected but unreachable for commands (misrouted)."""
    pod = c.cl.pod("ocppgw-0")
    c.fault(pod.signal_stage("registry", signal.SIGKILL))
    c.sleep(10)
    t = c.cl.tl.mark("fault.redis", sig="SIGKILL")
    c.cl.redis.proc.kill()
    c.cl.redis.proc.wait(10)
    c.sleep(2)
    c.cl.redis.start()
    c.sleep(c.p["observe_s"])


def sc_pod_freeze(c):
    """A pod frozen (SIGSTOP of its four stages) for 40 s, past its lease (5 s) and past the
    stations' call timeout (30 s), then resumed: it must not answer for stations that moved,
    and must close its stale connections."""
    pod = c.cl.pod("ocppgw-0")
    t0 = pod.freeze()
    c.fault(t0)
    c.sleep(40)
    t1 = pod.thaw()
    c.window("frozen_pod", t0, t1, pod=pod.name)
    c.sleep(c.p["observe_s"])


def late_stations(c, n_frac=0.1):
    """Starts new stations (another cp-sim) now: they must be admitted during the fault."""
    n = max(10, int(c.p["stations"] * n_frac))
    start = sum(s.count for s in c.cl.sims) + 1
    s = cluster.CpSim(c.cl, len(c.cl.sims), c.cl.lbs[0], n, start, sim_settings(c.p))
    c.rec.setdefault("late_sims", []).append(s.index)
    c.cl.sims.append(s)
    return s


def sc_redis_restart(c):
    """redis-server SIGKILLed and started again empty 2 s later."""
    t = c.cl.tl.mark("fault.redis", sig="SIGKILL")
    c.cl.redis.proc.kill()
    c.cl.redis.proc.wait(10)
    c.fault(t)
    c.sleep(2)
    c.cl.redis.start()
    c.expect("ready", t, int(time.time() * 1000) + 5000)
    c.sleep(c.p["observe_s"])


def sc_redis_unreachable(c):
    """Redis unreachable for 30 s (redis-server SIGSTOPped: connections hang, as behind a
    black hole). Pods must stay ready, stations served, new stations admitted."""
    t0 = c.cl.tl.mark("fault.redis", sig="SIGSTOP")
    c.cl.redis.proc.send_signal(signal.SIGSTOP)
    c.fault(t0)
    c.sleep(12)
    late = late_stations(c)
    c.sleep(18)
    t1 = c.cl.tl.mark("fault.redis", sig="SIGCONT")
    c.cl.redis.proc.send_signal(signal.SIGCONT)
    c.expect("ready", t0, t1)
    c.rec["admit"].append({"sim": late.index, "by": t1})
    c.sleep(c.p["observe_s"])


def sc_kafka_down(c):
    """The Kafka broker down for 20 s: transaction messages wait (persist before
    acknowledging), everything else is served, no liveness failure, all delivered after."""
    t0 = c.cl.kafka.command("broker-down all")
    c.fault(t0)
    c.sleep(20)
    t1 = c.cl.kafka.command("broker-up all")
    c.window("kafka", t0, t1, grace_ms=15000)
    c.expect("ready", t0, t1 + 10000)
    c.sleep(c.p["observe_s"])


def sc_kafka_slow(c):
    """Kafka slow: every broker response delayed 500 ms for 30 s."""
    t0 = c.cl.kafka.command("rtt all 500")
    c.fault(t0)
    c.sleep(30)
    t1 = c.cl.kafka.command("rtt all 0")
    c.window("kafka", t0, t1, grace_ms=15000)
    c.expect("ready", t0, t1 + 10000)
    c.sleep(c.p["observe_s"])


def sc_reconnect_storm(c):
    """A pod SIGKILLed under many stations: all of its stations reconnect within seconds to
    the others. Memory of every surviving process is sampled (mem.jsonl) and the handshake p99
    comes from cp-sim's report."""
    pod = c.cl.pod("ocppgw-0")
    c.rec["storm_pod"] = pod.name
    c.fault(pod.kill(signal.SIGKILL))
    c.sleep(c.p["observe_s"])


# The Kafka scenarios bound kafka-bridge's producer queue at 1,000 records (the manifest has
# 100,000), as issue 12 did, and the ZeroMQ high-water marks at 1,000 messages (10,000), with
# two pods and 80 % of the stations sending only a Heartbeat a second (about 200 events/s per
# pod at reduced size): the bounds then fill about 15 s into the outage, as the defaults would
# in a minute-long outage of a full-size fleet.
KAFKA_ENV = {"OCPPGW_KAFKA_QUEUE_MESSAGES": "1000", "OCPPGW_ZMQ_HWM": "1000"}
KAFKA_REDUCED = {"pods": 2, "stations": 500, "heartbeat_ms": 1000, "hb_only_share": 0.8}
KAFKA_FULL = {"pods": 2, "stations": 3000, "heartbeat_ms": 1000, "hb_only_share": 0.8}
KAFKA_CHECK = {"pods": 2, "stations": 400, "heartbeat_ms": 1000, "hb_only_share": 0.8}

SCENARIOS = {
    "baseline": (sc_baseline, {}),
    "pod-kill": (sc_pod_kill, {}),
    "rolling-restart": (sc_rolling_restart, {"full": {"prestop_s": 10}}),
    "stale-partition": (sc_stale_partition, {}),
    "kill-edge": (stage_kill("edge"), {}),
    "kill-core": (stage_kill("core"), {}),
    "kill-bridge": (stage_kill("bridge"), {}),
    "kill-registry": (stage_kill("registry"), {}),
    "kill-registry-redis-restart": (sc_registry_then_redis, {}),
    "pod-freeze": (sc_pod_freeze, {}),
    "redis-restart": (sc_redis_restart, {}),
    "redis-unreachable": (sc_redis_unreachable, {}),
    "kafka-down": (sc_kafka_down, {"env": KAFKA_ENV, "reduced": KAFKA_REDUCED,
                                   "full": KAFKA_FULL, "check": KAFKA_CHECK}),
    "kafka-slow": (sc_kafka_slow, {"env": KAFKA_ENV, "reduced": KAFKA_REDUCED,
                                   "full": KAFKA_FULL, "check": KAFKA_CHECK}),
    "reconnect-storm": (sc_reconnect_storm, {
        "reduced": {"stations": 1200, "heartbeat_ms": 10000, "ramp": 400, "observe_s": 30},
        "check": {"stations": 800, "heartbeat_ms": 10000, "ramp": 400, "observe_s": 25},
        "full": {"stations": 16000, "heartbeat_ms": 30000, "session_every_ms": 300000,
                 "ramp": 1000, "observe_s": 45, "lbs": 3}}),
}


# --- the frame every scenario runs in --------------------------------------------------------

def wait_results(cl, generator, watcher, p):
    """Until every command written has a result, or its deadline (expiry + the bridge's
    backstop grace + slack) has passed for all of them."""
    ids = set()
    last_write = 0
    with open(os.path.join(cl.dir, "gen.jsonl")) as f:
        for line in f:
            g = json.loads(line)
            if "command_id" in g:
                ids.add(g["command_id"])
                last_write = max(last_write, g["t"])
    deadline = last_write / 1000.0 + p["ttl_ms"] / 1000.0 + CORE_GRACE_S + 15
    while True:
        missing = ids - watcher.results()
        if not missing or time.time() > deadline:
            cl.tl.mark("results.waited", commands=len(ids), without_result=len(missing))
            return
        time.sleep(1)


def settle_mappings(cl, timeout=25):
    """After the stations left: until no mapping is left in Redis, or timeout."""
    r = cl.redis.client()
    deadline = time.time() + timeout
    snap = {"mappings": {}, "leases": {}}
    while time.time() < deadline:
        try:
            snap = haredis.snapshot(r)
            if not snap["mappings"]:
                break
        except (ConnectionError, haredis.RedisError):
            pass
        time.sleep(0.5)
    snap["t"] = cluster.now_ms()
    r.close()
    return snap


def run_one(name, size, out_base, bin_dir, sets=None, attempts=3):
    """Runs a scenario; a run whose cluster could not even start (a port taken by another
    program between its choice and its use: the ports are picked free but not reserved) is
    tried again with new ports."""
    for attempt in range(1, attempts + 1):
        try:
            return run_attempt(name, size, out_base, bin_dir, sets)
        except StartupError as e:
            print(f"{name}: the cluster did not start ({e}); attempt {attempt} of {attempts}",
                  flush=True)
    line = f"{name}: could not run: the cluster did not start in {attempts} attempts"
    print(line, flush=True)
    return 2, line, os.path.join(out_base, name)


class StartupError(Exception):
    pass


def run_attempt(name, size, out_base, bin_dir, sets=None):
    fn, overrides = SCENARIOS[name]
    p = dict(SIZES[size])
    p.update(overrides.get(size, {}))
    p.update(sets or {})
    pod_env = dict(POD_ENV, **overrides.get("env", {}))
    run = os.path.join(out_base, name)
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    rec = {"name": name, "size": size, "params": p, "pod_env": pod_env, "faults": [],
           "windows": [], "expect": [],
           "admit": [], "generator": True, "doc": (fn.__doc__ or "").strip()}
    print(f"== {name} ({size}): {summary(fn)}", flush=True)
    t_start = time.time()
    error = None
    try:
        cl = cluster.Cluster(run, bin_dir, pods=p.get("pods", 3), lbs=p.get("lbs", 1),
                             pod_env=pod_env, events_partitions=p["events_partitions"])
        try:
            cl.__enter__()
        except RuntimeError as e:
            raise StartupError(str(e)) from e
        generator = None
        try:
            watcher = ResultWatcher(cl)
            # a share of the fleet only sends Heartbeats (no sessions): as the stations of
            # issue 12's Kafka test, they keep sending while transaction messages are held
            hb_only = int(p["stations"] * p.get("hb_only_share", 0))
            groups = [(p["stations"] - hb_only, sim_settings(p))]
            if hb_only:
                groups.append((hb_only, dict(sim_settings(p), session_every_ms=0)))
            cl.start_sims(groups, leavers=[max(5, int(p["stations"] * f)) for _, f in LEAVERS])
            cl.wait_booted(0.99, 60 + p["stations"] / p["ramp"])
            generator = gen.Generator(os.path.join(bin_dir, "ocppctl"), cl.redis.port,
                                      cl.kafka.brokers, cl.identities(),
                                      os.path.join(run, "gen.jsonl"), rate=p["cmd_rate"],
                                      ttl_ms=p["ttl_ms"],
                                      mode="stale" if name == "stale-partition" else "fresh",
                                      prefix=f"ha-{name}")
            generator.start()
            c = Ctx(cl, generator, p, rec)
            c.sleep(p["warm_s"])
            rec["fault_started"] = cluster.now_ms()
            fn(c)
            c.maybe_leave(now=True)
            generator.stop()
            cl.tl.mark("generator.stopped", written=generator.written,
                       delivered=generator.delivered)
            wait_results(cl, generator, watcher, p)
            r = cl.redis.client()
            try:
                snap = haredis.snapshot(r)
                snap["t"] = cluster.now_ms()
            except (ConnectionError, haredis.RedisError) as e:
                snap = {}
                cl.tl.mark("redis.unreadable", error=str(e))
            r.close()
            with open(os.path.join(run, "redis-connected.json"), "w") as f:
                json.dump(snap, f)
            cl.stop_sims()
            after = settle_mappings(cl)
            with open(os.path.join(run, "redis-after.json"), "w") as f:
                json.dump(after, f)
            cl.dump_topics()
            watcher.stop()
            rec["sims"] = [{"index": s.index, "lb": s.lb.index, "log": s.log, "count": s.count,
                            "identity_start": s.identity_start, "report": s.report,
                            "leaver": s.leaver} for s in cl.sims]
            rec["lbs"] = [{"index": lb.index, "port": lb.port} for lb in cl.lbs]
            rec["pods"] = [{"name": pd.name, "ws_port": pd.ws_port,
                            "stages": {n: st.starts for n, st in pd.stages.items()}}
                           for pd in cl.pods]
        finally:
            if generator and not generator.stop_flag.is_set():
                generator.stop()
            cl.close()
    except StartupError:
        raise
    except Exception as e:  # the run could not be completed: report it, keep the directory
        error = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    rec["wall_s"] = round(time.time() - t_start, 1)
    with open(os.path.join(run, "scenario.json"), "w") as f:
        json.dump(rec, f, indent=1)
    if error:
        line = f"{name}: could not run: {error}"
        print(line, flush=True)
        return 2, line, run
    rc = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "check.py"),
                         run], capture_output=True, text=True)
    line = (rc.stdout.strip().splitlines() or ["(no output)"])[-1]
    notes = notes_line(run, rec)
    print(line, flush=True)
    print(f"   {notes}", flush=True)
    return rc.returncode, line + "\n   " + notes, run


def summary(fn) -> str:
    """The first sentence of a scenario's docstring."""
    doc = " ".join((fn.__doc__ or "").split())
    return doc.split(". ")[0].rstrip(".") + "."


def notes_line(run, rec):
    """What the supervisors saw (restarts, liveness kills, unready stages) and the storm
    figures: handshake p99 and peak memory."""
    from collections import Counter
    tl = [json.loads(l) for l in open(os.path.join(run, "timeline.jsonl"))]
    exits = Counter(f"{e['pod']}/{e['stage']}" for e in tl if e["what"] == "stage.exit")
    kills = Counter(f"{e['pod']}/{e['stage']}" for e in tl if e["what"] == "stage.liveness_kill")
    unready = Counter(f"{e['pod']}/{e['stage']}" for e in tl if e["what"] == "stage.unready")
    parts = [f"wall {rec['wall_s']}s"]
    stalls = [e["seconds"] for e in tl if e["what"] == "host.stall"]
    if stalls:
        parts.append(f"HOST STALLED {len(stalls)}x (longest {max(stalls)} s): timings unreliable")
    if exits:
        parts.append("exits " + ",".join(f"{k}x{v}" for k, v in sorted(exits.items())))
    if kills:
        parts.append("liveness-kills " + ",".join(f"{k}x{v}" for k, v in sorted(kills.items())))
    if unready:
        parts.append("unready " + ",".join(f"{k}x{v}" for k, v in sorted(unready.items())))
    hs = []
    for s in rec.get("sims", []):
        try:
            for l in open(s["report"]):
                if "ws handshake" in l:
                    hs.append(float(l.split()[-3]))
        except OSError:
            pass
    if hs:
        parts.append(f"handshake p99 {max(hs):.1f} ms")
    if rec.get("storm_pod") and rec.get("faults"):
        # RSS of every surviving process just before the pod died -> its peak afterwards
        tf = rec["faults"][0]
        before, peak = {}, {}
        for l in open(os.path.join(run, "mem.jsonl")):
            m = json.loads(l)
            if m["pod"] == rec["storm_pod"]:
                continue
            k = f"{m['pod']}/{m['stage']}"
            if m["t"] < tf:
                before[k] = m["rss_kb"]
            else:
                peak[k] = max(peak.get(k, 0), m["rss_kb"])
        parts.append("RSS MiB before->peak after " + ", ".join(
            f"{k} {before.get(k, 0) / 1024:.0f}->{v / 1024:.0f}"
            for k, v in sorted(peak.items())))
    try:
        res = json.load(open(os.path.join(run, "result.json")))["detail"]
        if res.get("lost_by_action"):
            parts.append(f"lost by action {res['lost_by_action']}")
        if res.get("lost_in_crash"):
            parts.append(f"lost in a crash (excused) {res['lost_in_crash_by_action']}")
        st = res.get("commands", {}).get("statuses")
        if st:
            parts.append(f"results {st}")
        if res.get("black_holed_by_pod"):
            parts.append(f"black-holed by pod {res['black_holed_by_pod']}")
        if res.get("stale_by_pod"):
            parts.append(f"stale by pod {res['stale_by_pod']}")
        if res.get("waits_excused"):
            parts.append(f"excused waits {res['waits_excused']}")
    except (OSError, ValueError, KeyError):
        pass
    return "; ".join(parts)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--reduced", action="store_true", help="reduced sizes (the default)")
    g.add_argument("--full", action="store_true", help="full sizes (make ha)")
    g.add_argument("--check", action="store_true", help="the sizes make check runs")
    ap.add_argument("--keep", action="store_true", help="keep every run directory")
    ap.add_argument("--out", help="directory for the run directories (default: a new one "
                    "under /tmp)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a size parameter (stations, heartbeat_ms, observe_s, ...)")
    ap.add_argument("scenarios", nargs="*", help="scenarios to run (default: all)")
    a = ap.parse_args(argv)
    if a.list:
        for n, (fn, _) in SCENARIOS.items():
            print(f"{n:18s} {summary(fn)}")
        return 0
    names = a.scenarios or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            print(f"unknown scenario {n!r}; --list shows them", file=sys.stderr)
            return 2
    size = "full" if a.full else "check" if a.check else "reduced"
    sets = {}
    for kv in a.set:
        k, _, v = kv.partition("=")
        if k not in SIZES["reduced"] and k not in ("pods", "lbs", "prestop_s", "hb_only_share"):
            print(f"unknown parameter {k!r}", file=sys.stderr)
            return 2
        sets[k] = float(v) if "." in v else int(v)
    build = os.environ.get("BUILD", "build")
    if not os.path.isabs(build):
        build = os.path.join(cluster.ROOT, build)
    bin_dir = os.path.join(build, "bin")
    out = a.out or tempfile.mkdtemp(prefix="ocppgw-ha.")
    os.makedirs(out, exist_ok=True)
    print(f"ha: {size} run of {len(names)} scenario(s); run directories under {out}")
    lines, worst = [], 0

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    try:
        for n in names:
            rc, line, run = run_one(n, size, out, bin_dir, sets)
            lines.append(line)
            worst = max(worst, rc)
            if rc == 0 and not a.keep:
                shutil.rmtree(run, ignore_errors=True)
    except KeyboardInterrupt:
        print("ha: interrupted", file=sys.stderr)
        worst = max(worst, 2)
    with open(os.path.join(out, "summary.txt"), "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nha: {size} summary ({out}/summary.txt):")
    for line in lines:
        print(line)
    if worst == 0 and not a.keep:
        shutil.rmtree(out, ignore_errors=True)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
