#!/usr/bin/env python3
"""check.py: the nothing-lost checker of the HA harness (docs/ha.md).

    check.py RUN_DIR [--json]

Reads what a scenario left in RUN_DIR: the cp-sim logs (log_format detailed), the HAProxy
connection logs, the command generator's log, every topic dumped from the beginning
(topics/*.jsonl: ocpp-events-up, command-results, commands-dlq, commands-down), Redis as it was
while the stations were still connected (redis-connected.json) and after they all left and the
run settled (redis-after.json), and scenario.json (faults and the windows in which a wait is
excused). Prints one line of figures and exits 0 when every must-be-0 figure is 0, 1 when one
is not, 2 when the run cannot be judged (missing or truncated input).

Must be 0:
  lost          CALLs answered `ok` to a station with no event on ocpp-events-up (matched by
                subject = identity and data.ocpp.message_id = the CALL's message id). Every CALL
                cp-sim sends produces exactly one event (device.online, heartbeat when the pods publish them,
                connector.status_changed, authorization.requested, transaction.*).
                Transaction messages are answered only once Kafka has their event (persist
                before acknowledging, DESIGN §3): each one missing counts. The others are
                answered first and published right after: one missing counts too, unless the
                pod it was answered on lost its ocpp-core or kafka-bridge to a kill (SIGKILL,
                a crash, a liveness kill, the whole pod) within CRASH_EXCUSE_S after the
                answer, which is the window the design accepts for them (lost_in_crash,
                reported).
  no_result     commands written to commands-down without a result on command-results
  multi_result  commands with more than one result (exactly one final result per command)
  duplicates    commands a station executed more than once (cp-sim D lines by command id)
  black-holed   stations with a CALL unanswered for more than BLACKHOLE_S seconds while their
                connection stayed open (answered late, closed by the station's own timeout,
                or still waiting at the end), except waits the scenario excuses: transaction
                messages held while Kafka was down or slow (persist before acknowledging), and
                connections on a pod that was frozen.
  stale         conn: mappings left in Redis after every station left and the run settled
  misrouted     stations connected (for 5 s and more) while Redis was read, whose mapping was
                missing, named another pod than the one HAProxy connected them to, or named a
                pod without a lease: commands could not reach them.
  unready       where the scenario says the pods must stay ready (Redis or Kafka degraded):
                pods that turned unready and liveness probes that failed in that window
                (timeline.jsonl, written by the pod supervisors).
  not_admitted  where the scenario starts new stations during a fault and says they must be
                admitted: those that had no CALL answered before the fault ended.
Figures: stations, messages (CALLs answered), commands, re-home99 (seconds from a fault until
99 % of the stations served in the 10 s before it have had a CALL sent after the fault
answered; the worst over the scenario's faults; its floor is the stations' message interval).
"""

import bisect
import glob
import json
import math
import os
import sys
from collections import Counter, defaultdict

BLACKHOLE_S = 10.0
CRASH_EXCUSE_S = 5.0
CONNECTED_FOR_S = 5.0
REHOME_FRACTION = 0.99
TRANSACTIONAL = ("StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent")
# ocpp-core publishes heartbeat events only with event_heartbeat on (DESIGN §4: off by default)
HEARTBEAT_EVENTS = os.environ.get("OCPPGW_EVENT_HEARTBEAT", "false") == "true"
MUST_BE_ZERO = ("lost", "no_result", "multi_result", "duplicates", "black_holed", "stale",
                "misrouted", "unready", "not_admitted")


class Invalid(Exception):
    """The run cannot be judged (its inputs are missing or incomplete)."""


def is_transactional(action: str) -> bool:
    return action.startswith(TRANSACTIONAL)


def load_json(path, default=None):
    if not os.path.exists(path):
        if default is not None:
            return default
        raise Invalid(f"missing {os.path.basename(path)}")
    with open(path) as f:
        return json.load(f)


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        raise Invalid(f"missing {os.path.relpath(path)}")
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


# --- HAProxy: which pod each station connection went to ---------------------------------

def read_haproxy(path):
    """{client_port: sorted [(t_ms, server)]} from a log-format "%Ts%ms %ci %cp %fp %b %s %ts"."""
    conns = defaultdict(list)
    if not os.path.exists(path):
        return conns
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) < 6 or not p[0].isdigit() or not p[2].isdigit():
                continue
            conns[int(p[2])].append((int(p[0]), p[5]))
    for v in conns.values():
        v.sort()
    return conns


def pod_of(conns, port: int, t: int):
    """The server of the last connection from `port` accepted before t (+0.5 s of slack)."""
    v = conns.get(port)
    if not v:
        return None
    i = bisect.bisect_right(v, (t + 500, "\uffff")) - 1
    return v[i][1] if i >= 0 else None


# --- cp-sim logs -------------------------------------------------------------------------

class Station:
    __slots__ = ("open", "pod", "since", "out", "conns")

    def __init__(self):
        self.open = False
        self.pod = None
        self.since = None
        self.out = None  # outstanding CALL: (seq, sent_ms, action, pod)
        self.conns = []  # [start, end or None, pod]


def parse_sim_logs(run, scen):
    """Walks every cp-sim log once. Returns the per-station facts the checks need."""
    sims = scen.get("sims") or []
    if not sims:
        raise Invalid("scenario.json lists no cp-sim")
    lbs = {lb["index"]: read_haproxy(os.path.join(run, f"haproxy-{lb['index']}.log"))
           for lb in scen.get("lbs", [])}
    answered_ok = {}  # (ident, seq) -> action
    action_of = {}
    answers = []  # (t, ident, sent_t)
    waits = []  # (ident, seq, action, sent, until, pod, how)
    executions = defaultdict(list)  # command ref -> [(t, ident, message id)]
    stations = {}
    end_t = None
    for sim in sims:
        path = os.path.join(run, os.path.basename(sim["log"]))
        if not os.path.exists(path):
            raise Invalid(f"missing {os.path.basename(path)}")
        conns = lbs.get(sim.get("lb", 0), {})
        ended = None
        with open(path, errors="replace") as f:
            for line in f:
                p = line.split()
                if len(p) < 5 or not p[0].isdigit():
                    continue
                t, kind, sid, ident, what = int(p[0]), p[1], p[2], p[3], p[4]
                if kind == "E":
                    ended = t
                    continue
                st = stations.get(ident)
                if st is None:
                    st = stations[ident] = Station()
                if kind == "C":
                    st.open, st.since = True, t
                    st.pod = pod_of(conns, int(sid), t) if sid.isdigit() else None
                    st.conns.append([t, None, st.pod])
                elif kind == "X":
                    if st.out:
                        seq, sent, act, pod = st.out
                        waits.append((ident, seq, act, sent, t, pod, "closed:" + what))
                    st.open, st.out = False, None
                    if st.conns:
                        st.conns[-1][1] = t
                elif kind == "S":
                    action_of[(ident, sid)] = what
                    if st.open:
                        st.out = (sid, t, what, st.pod)
                elif kind == "A":
                    sent = None
                    if st.out and st.out[0] == sid:
                        seq, sent, act, pod = st.out
                        waits.append((ident, seq, act, sent, t, pod, "answered"))
                        st.out = None
                    if what == "ok":
                        answered_ok[(ident, sid)] = (action_of.get((ident, sid), "?"), t,
                                                     st.pod)
                    answers.append((t, ident, sent))
                elif kind == "D":
                    ref = p[5] if len(p) > 5 else "-"
                    if ref != "-":
                        executions[ref].append((t, ident, sid))
        if ended is None:
            raise Invalid(f"{os.path.basename(path)} has no end line: cp-sim did not finish")
        for ident, st in stations.items():
            if st.out and st.open:
                seq, sent, act, pod = st.out
                waits.append((ident, seq, act, sent, ended, pod, "unanswered at end"))
                st.out = None
            if st.open:  # cp-sim ended: its connections closed
                st.open = False
                st.conns[-1][1] = ended
        end_t = max(end_t or 0, ended)
    answers.sort()
    return {"stations": stations, "answered_ok": answered_ok, "answers": answers,
            "waits": waits, "executions": executions, "end": end_t}


# --- the checks --------------------------------------------------------------------------

def excused(wait, windows):
    ident, seq, act, sent, until, pod, how = wait
    for w in windows:
        if sent > w["to"] + w.get("grace_ms", 0) or until < w["from"]:
            continue
        if w["kind"] == "kafka" and is_transactional(act):
            return w["kind"]
        if w["kind"] == "frozen_pod" and pod == w["pod"]:
            return w["kind"]
    return None


def check_blackholes(facts, windows):
    bad, excuses = defaultdict(list), Counter()
    for w in facts["waits"]:
        if (w[4] - w[3]) / 1000.0 <= BLACKHOLE_S:
            continue
        why = excused(w, windows)
        if why:
            excuses[why] += 1
        else:
            bad[w[0]].append(w)
    return bad, excuses


def check_lost(facts, events):
    seen = Counter()
    for r in events:
        try:
            ev = json.loads(r["payload"])
        except (ValueError, TypeError, KeyError):
            continue
        mid = ((ev.get("data") or {}).get("ocpp") or {}).get("message_id")
        if mid is not None:
            seen[(ev.get("subject") or r.get("key"), str(mid))] += 1
    # a Heartbeat has no event unless the pods publish them (event_heartbeat, off by default)
    lost = [(k, a) for k, a in facts["answered_ok"].items()
            if k not in seen and (HEARTBEAT_EVENTS or a[0] != "Heartbeat")]
    return lost, seen


def crashes(timeline):
    """{pod: [t]} of the kills that may take answered-but-unpublished events with them."""
    out = defaultdict(list)
    for e in timeline:
        if e["what"] == "fault.pod" and e.get("sig") == "SIGKILL":
            out[e["pod"]].append(e["t"])
        elif (e["what"] == "stage.exit" and e.get("stage") in ("core", "bridge") and
              str(e.get("how", "")).startswith("signal")):
            out[e["pod"]].append(e["t"])
    return out


def split_lost(lost, crash_times):
    """(lost, lost_in_crash): a message answered before its event was persisted is excused
    when its pod lost its core or bridge within CRASH_EXCUSE_S after the answer."""
    counted, excused_ = [], []
    for k, (act, t, pod) in lost:
        if not is_transactional(act) and any(
                t <= c <= t + CRASH_EXCUSE_S * 1000 for c in crash_times.get(pod, ())):
            excused_.append((k, act))
        else:
            counted.append((k, act))
    return counted, excused_


def phase(t, faults):
    """Where t lies relative to the first fault: before, 0-10s after, 10s+ after."""
    if not faults:
        return "no fault"
    dt = (t - faults[0]) / 1000.0
    return "before the fault" if dt < 0 else ("0-10s after" if dt < 10 else "10s+ after")


def check_commands(gen, down, results, executions, faults=()):
    written = [g for g in gen if "command_id" in g]
    ids = {g["command_id"] for g in written}
    on_topic = set()
    for r in down:
        try:
            on_topic.add(json.loads(r["payload"]).get("command_id"))
        except (ValueError, TypeError, AttributeError):
            pass
    res = defaultdict(list)
    for r in results:
        try:
            v = json.loads(r["payload"])
        except (ValueError, TypeError):
            continue
        if v.get("command_id") in ids:
            res[v["command_id"]].append(v.get("status"))
    no_result = sorted(c for c in ids if not res.get(c))
    multi = sorted(c for c in ids if len(res.get(c, [])) > 1)
    dups = sorted(c for c in ids if len(executions.get(c, [])) > 1)
    accepted_unexecuted = sorted(c for c in ids
                                 if res.get(c) == ["accepted"] and not executions.get(c))
    statuses = Counter(s for c in ids for s in res.get(c, []))
    when = {g["command_id"]: g["t"] for g in written}
    when.update({g["delivered"]: g["t"] for g in gen if "delivered" in g})  # in Kafka then
    pod = {g["command_id"]: g["pod"] for g in written}
    no_result_by = Counter(f"{phase(when[c], faults)} to {pod[c]}" for c in no_result)
    return {"commands": len(ids), "unwritten": sorted(ids - on_topic), "no_result": no_result,
            "multi_result": multi, "duplicates": dups, "statuses": dict(statuses),
            "accepted_unexecuted": accepted_unexecuted,
            "no_result_by_phase": dict(no_result_by),
            "executed": sum(1 for c in ids if executions.get(c))}


def check_mappings(facts, connected, after):
    """misrouted: at the time of `connected`, stations connected for CONNECTED_FOR_S whose
    mapping does not name the pod they are connected to with a live lease. stale: mappings
    left in `after`."""
    misrouted = []
    if connected:
        t = connected["t"]
        maps, leases = connected["mappings"], connected["leases"]
        for ident, st in facts["stations"].items():
            cur = [c for c in st.conns if c[0] <= t - CONNECTED_FOR_S * 1000 and
                   (c[1] is None or c[1] > t)]
            if not cur:
                continue
            pod = cur[-1][2]
            got = maps.get(ident)
            if got is None or (pod is not None and got != pod) or not leases.get(got):
                misrouted.append((ident, pod, got, bool(leases.get(got))))
    stale = []
    if after:
        for ident, pod in sorted(after["mappings"].items()):
            stale.append((ident, pod, bool(after["leases"].get(pod))))
    return misrouted, stale


def sim_identities(sim):
    start = sim.get("identity_start") or 0
    return {f"HA{n:06d}" for n in range(start, start + sim.get("count", 0))}


def rehome(facts, faults, leavers=frozenset()):
    """For each fault: seconds until REHOME_FRACTION of the stations answered in the 10 s
    before it have had a CALL sent after it answered. The worst one (None: no fault;
    math.inf: not reached before the end)."""
    answers = facts["answers"]
    worst = None
    per_fault = []
    for tf in faults:
        before = {i for t, i, _ in answers if tf - 10000 <= t < tf and i not in leavers}
        if not before:
            continue
        first = {}
        for t, i, sent in answers:
            if t >= tf and sent is not None and sent >= tf and i in before and i not in first:
                first[i] = t - tf
        delays = sorted(first.values())
        k = math.ceil(REHOME_FRACTION * len(before))
        d = delays[k - 1] / 1000.0 if len(delays) >= k else math.inf
        per_fault.append({"t": tf, "stations": len(before), "served_again": len(delays),
                          "rehome99_s": d})
        worst = d if worst is None else max(worst, d)
    return worst, per_fault


def check_expectations(scen, timeline, facts):
    """unready: pod.unready and stage.liveness_failed marks inside the scenario's "ready"
    windows. not_admitted: stations of an admit sim without an answer before its deadline."""
    unready = []
    for w in scen.get("expect", []):
        if w["kind"] != "ready":
            continue
        for e in timeline:
            if w["from"] <= e["t"] <= w["to"] and e["what"] in ("pod.unready",
                                                               "stage.liveness_failed"):
                unready.append(e)
    not_admitted = []
    for a in scen.get("admit", []):
        sim = next((s for s in scen.get("sims", []) if s["index"] == a["sim"]), None)
        if not sim:
            continue
        first = {}
        for t, i, _ in facts["answers"]:
            first.setdefault(i, t)
        not_admitted += sorted(i for i in sim_identities(sim) if first.get(i, math.inf) > a["by"])
    return unready, not_admitted


def topic_truncated(recs):
    first = {}
    for r in recs:
        p = r.get("partition")
        first[p] = min(first.get(p, r.get("offset", 0)), r.get("offset", 0))
    return sorted(p for p, o in first.items() if o > 0)


def check(run):
    scen = load_json(os.path.join(run, "scenario.json"))
    facts = parse_sim_logs(run, scen)
    topics = {t: read_jsonl(os.path.join(run, "topics", f"{t}.jsonl"))
              for t in ("ocpp-events-up", "command-results", "commands-dlq", "commands-down")}
    for t, recs in topics.items():
        cut = topic_truncated(recs)
        if cut:
            raise Invalid(f"{t} partitions {cut} lost their oldest records (kafka-dev keeps "
                          f"~5 MiB per partition): raise events_partitions or lower the load")
    gen = read_jsonl(os.path.join(run, "gen.jsonl")) if scen.get("generator") else []
    connected = load_json(os.path.join(run, "redis-connected.json"), {})
    after = load_json(os.path.join(run, "redis-after.json"))
    windows = scen.get("windows", [])
    faults = scen.get("faults") or []

    timeline = read_jsonl(os.path.join(run, "timeline.jsonl"))
    lost, seen = check_lost(facts, topics["ocpp-events-up"])
    lost, lost_in_crash = split_lost(lost, crashes(timeline))
    holes, excuses = check_blackholes(facts, windows)
    cmd = check_commands(gen, topics["commands-down"], topics["command-results"],
                         facts["executions"], faults)
    misrouted, stale = check_mappings(facts, connected, after)
    leavers = set()
    for sim in scen.get("sims", []):
        if sim.get("leaver"):
            leavers |= sim_identities(sim)
    worst, per_fault = rehome(facts, faults, leavers)
    unready, not_admitted = check_expectations(scen, timeline, facts)
    if not facts["answered_ok"]:
        raise Invalid("no CALL was answered: the scenario did not run")
    if scen.get("generator") and cmd["commands"] == 0:
        raise Invalid("the generator wrote no command")
    if cmd["unwritten"]:
        raise Invalid(f"{len(cmd['unwritten'])} commands logged by the generator are not on "
                      f"commands-down (e.g. {cmd['unwritten'][:3]})")

    fig = {
        "scenario": scen.get("name", os.path.basename(run)),
        "stations": sum(s.get("count", 0) for s in scen["sims"]) or len(facts["stations"]),
        "messages": len(facts["answered_ok"]),
        "commands": cmd["commands"],
        "lost": len(lost),
        "no_result": len(cmd["no_result"]),
        "multi_result": len(cmd["multi_result"]),
        "duplicates": len(cmd["duplicates"]),
        "black_holed": len(holes),
        "stale": len(stale),
        "misrouted": len(misrouted),
        "unready": len(unready),
        "not_admitted": len(not_admitted),
        "rehome99_s": worst,
    }
    detail = {
        "lost_by_action": dict(Counter(a for _, a in lost)),
        "lost_examples": [f"{i} {s} {a}" for (i, s), a in lost[:10]],
        "lost_in_crash": len(lost_in_crash),
        "lost_in_crash_by_action": dict(Counter(a for _, a in lost_in_crash)),
        "events_duplicated": sum(1 for v in seen.values() if v > 1),
        "black_holed_examples": [
            {"station": w[0], "seq": w[1], "action": w[2], "wait_s": (w[4] - w[3]) / 1000.0,
             "pod": w[5], "how": w[6]} for ws in list(holes.values())[:10] for w in ws[:1]],
        "black_holed_by_pod": dict(Counter(ws[0][5] for ws in holes.values())),
        "black_holed_calls": sum(len(ws) for ws in holes.values()),
        "waits_excused": dict(excuses),
        "commands": {k: (v if not isinstance(v, list) else {"count": len(v), "examples": v[:5]})
                     for k, v in cmd.items() if k != "commands"},
        "stale_examples": stale[:10],
        "stale_by_pod": dict(Counter(p for _, p, _ in stale)),
        "misrouted_examples": misrouted[:10],
        "rehome_per_fault": per_fault,
        "unready_examples": unready[:10],
        "not_admitted_examples": not_admitted[:10],
    }
    return fig, detail


def figures_line(fig) -> str:
    r = fig["rehome99_s"]
    rs = "-" if r is None else ("never" if r == math.inf else f"{r:.1f}s")
    bad = [k for k in MUST_BE_ZERO if fig[k]]
    verdict = "PASS" if not bad else "FAIL(" + ",".join(bad) + ")"
    return (f"{fig['scenario']}: stations {fig['stations']} messages {fig['messages']} "
            f"commands {fig['commands']} lost {fig['lost']} no_result {fig['no_result']} "
            f"multi_result {fig['multi_result']} duplicates {fig['duplicates']} "
            f"black-holed {fig['black_holed']} stale {fig['stale']} "
            f"misrouted {fig['misrouted']} unready {fig['unready']} "
            f"not_admitted {fig['not_admitted']} re-home99 {rs} => {verdict}")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    run = argv[1]
    try:
        fig, detail = check(run)
    except Invalid as e:
        print(f"{os.path.basename(os.path.normpath(run))}: cannot judge the run: {e}")
        return 2
    with open(os.path.join(run, "result.json"), "w") as f:
        json.dump({"figures": fig, "detail": detail}, f, indent=1, default=str)
    if "--json" in argv:
        print(json.dumps({"figures": fig, "detail": detail}, indent=1, default=str))
    print(figures_line(fig))
    return 0 if not any(fig[k] for k in MUST_BE_ZERO) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
