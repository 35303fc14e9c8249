#!/usr/bin/env python3
"""test_ha.py: unit tests of the HA harness's own logic, without a gateway (standard library
unittest): Kafka's murmur2 and default partition against the vectors common/hash.c is tested
with, the RESP encoder and reply parser, the registry key names, and the nothing-lost checker
on small synthetic runs, one per figure: a clean run passes, and each kind of violation is
counted, excused where the scenario says so, or makes the run unjudgeable.

    python3 tests/ha/test_ha.py        (tests/ha/run.sh --self-test runs it too)
"""

import contextlib
import io
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check  # noqa: E402
import gen  # noqa: E402
import hakafka  # noqa: E402
import haredis  # noqa: E402


class Murmur2(unittest.TestCase):
    # tests/common/test_hash.c: Kafka's UtilsTest.testMurmur2 and librdkafka's rdmurmur2.c
    VECTORS = [
        ("21", 0xc5f2f8ec), ("foobar", 0xd0e47bbe), ("a-little-bit-long-string", 0xc53b1da0),
        ("a-little-bit-longer-string", 0xa768c9c3),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 0xfc7d49cd),
        ("abc", 0x1c94221b), ("kafka", 0xd067cf64), ("giberish123456789", 0x8f552b0c),
        ("1234", 0x9fc97b14), ("234", 0xe7c009ca), ("34", 0x873930da), ("4", 0x5a4b5ca1),
        ("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c),
        ("reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377),
        ("eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e),
        ("AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f), ("", 0x106e08d9)]
    PARTITIONS = [
        ("kafka", 12, 4), ("kafka", 100, 80), ("giberish123456789", 12, 8), ("1234", 12, 0),
        ("", 12, 9), ("", 100, 81), ("CP-007", 12, 3), ("CP-007", 100, 63),
        ("gateway-pod-xyz", 12, 8), ("gateway-pod-xyz", 100, 48), ("gateway-pod-0", 12, 10),
        ("gateway-pod-0", 100, 10), ("gateway-pod-1", 12, 11), ("gateway-pod-1", 100, 95),
        ("gateway-pod-2", 12, 1), ("gateway-pod-2", 100, 25)]

    def test_vectors(self):
        for key, want in self.VECTORS:
            self.assertEqual(hakafka.murmur2(key.encode()), want, key)

    def test_bytes_above_0x7f(self):
        self.assertEqual(hakafka.murmur2(b"\xff\xfe\x80\x81\xc3\xbc\x7f"), 0x83a99db7)
        self.assertEqual(hakafka.murmur2("ü".encode()), 0x54a0f45a)

    def test_partitions(self):
        for key, n, want in self.PARTITIONS:
            self.assertEqual(hakafka.partition_of(key, n), want, (key, n))
        # the top bit is masked off, not the absolute value taken
        self.assertEqual(hakafka.partition_of("kafka", 2**31 - 1), 0x5067cf64)


class Resp(unittest.TestCase):
    def test_encode(self):
        self.assertEqual(haredis.Redis.encode("GET", "conn:A"),
                         b"*2\r\n$3\r\nGET\r\n$6\r\nconn:A\r\n")

    def test_replies_and_pipeline(self):
        """A fake server answers a pipeline with every RESP type."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        replies = (b"+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:7\r\n"
                   b"-ERR wrong\r\n*-1\r\n")

        def serve():
            c, _ = srv.accept()
            c.recv(65536)
            for i in range(0, len(replies), 7):  # cut anywhere
                c.sendall(replies[i:i + 7])
            c.recv(10)
            c.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        r = haredis.Redis("127.0.0.1", srv.getsockname()[1])
        out = r.pipeline([("PING",)] * 7)
        self.assertEqual(out[:5], ["OK", 42, "hello", None, ["a", 7]])
        self.assertIsInstance(out[5], haredis.RedisError)
        self.assertIsNone(out[6])
        r.close()
        srv.close()

    def test_unreachable(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with self.assertRaises(ConnectionError):
            haredis.Redis("127.0.0.1", port, timeout=0.5).call("PING")

    def test_keys(self):
        self.assertEqual(haredis.conn_key("CP-7"), "conn:CP-7")
        self.assertEqual(haredis.conn_identity("conn:CP-7"), "CP-7")
        self.assertIsNone(haredis.conn_identity("{conn:CP-7}:epoch"))
        self.assertIsNone(haredis.conn_identity("{conn:CP-7}:meta"))
        self.assertEqual(haredis.lease_key("p"), "pod:{p}")


class Generator(unittest.TestCase):
    def test_record(self):
        rec = json.loads(gen.command_record("ha-x-000001", "HA000001", "ocppgw-0", 20000))
        self.assertEqual(rec["command_id"], "ha-x-000001")
        self.assertEqual(rec["target_pod"], "ocppgw-0")
        self.assertEqual(rec["action"], "data_transfer")
        self.assertEqual(rec["payload"]["data"], "ha-x-000001")  # what cp-sim logs as ref
        self.assertEqual(rec["ttl_ms"], 20000)


T0 = 1_800_000_000_000  # ms


class RunBuilder:
    """A synthetic run directory: two stations on ocppgw-0 / ocppgw-1 through one HAProxy."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ha-test.")
        self.sim = []
        self.hap = []
        self.events = []
        self.results = []
        self.down = []
        self.gen = []
        self.timeline = []
        self.scen = {"name": "synthetic", "faults": [], "windows": [], "expect": [],
                     "admit": [], "generator": False,
                     "sims": [{"index": 0, "lb": 0, "log": "sim-0.log", "count": 2,
                               "identity_start": 1}],
                     "lbs": [{"index": 0, "port": 1}]}
        self.connected = {"t": T0 + 60000, "mappings": {"HA000001": "ocppgw-0",
                                                         "HA000002": "ocppgw-1"},
                          "leases": {"ocppgw-0": True, "ocppgw-1": True}}
        self.after = {"t": T0 + 90000, "mappings": {}, "leases": {}}
        self.seq = 0

    def line(self, t, kind, sid, ident, what, ref=None):
        self.sim.append(f"{T0 + t} {kind} {sid} {ident} {what}" + (f" {ref}" if ref else ""))

    def connect(self, t, ident, port, pod, proto="ocpp1.6"):
        self.hap.append(f"{T0 + t - 5} 127.0.0.1 {port} 1 pods {pod} --")
        self.line(t, "C", port, ident, proto)

    def call(self, t, ident, action, answer_after=5, event=True, result="ok"):
        self.seq += 1
        self.line(t, "S", self.seq, ident, action)
        if answer_after is not None:
            self.line(t + answer_after, "A", self.seq, ident, result)
        if event:
            self.events.append({"key": ident, "payload": json.dumps(
                {"subject": ident, "data": {"ocpp": {"message_id": str(self.seq)}}})})
        return self.seq

    def command(self, t, cid, ident, pod, results=("accepted",), executed=1, on_topic=True):
        self.scen["generator"] = True
        self.gen.append({"t": T0 + t, "command_id": cid, "cp_id": ident, "pod": pod,
                         "partition": 0})
        if on_topic:
            self.down.append({"partition": 0, "offset": len(self.down),
                              "payload": json.dumps({"command_id": cid})})
        for s in results:
            self.results.append({"partition": 0, "offset": len(self.results),
                                 "payload": json.dumps({"command_id": cid, "status": s})})
        for k in range(executed):
            self.line(t + 10 + k, "D", f"gw-{k}", ident, "DataTransfer:accept", cid)

    def healthy(self, until=60000):
        """Both stations connected at t=0 and sending a Heartbeat every 2 s until `until`."""
        self.connect(0, "HA000001", 40001, "ocppgw-0")
        self.connect(0, "HA000002", 40002, "ocppgw-1", "ocpp2.0.1")
        self.call(1, "HA000001", "BootNotification")
        self.call(1, "HA000002", "BootNotification")
        for t in range(2000, until, 2000):
            self.call(t, "HA000001", "Heartbeat")
            self.call(t + 1, "HA000002", "Heartbeat")

    def write(self, end=70000):
        self.line(end, "E", 0, "-", "end")
        d = self.dir
        os.makedirs(os.path.join(d, "topics"), exist_ok=True)
        for name, recs in (("ocpp-events-up", self.events), ("command-results", self.results),
                           ("commands-down", self.down), ("commands-dlq", [])):
            with open(os.path.join(d, "topics", f"{name}.jsonl"), "w") as f:
                for i, r in enumerate(recs):
                    r.setdefault("partition", 0)
                    r.setdefault("offset", i)
                    f.write(json.dumps(r) + "\n")
        files = {"sim-0.log": "\n".join(self.sim) + "\n",
                 "haproxy-0.log": "\n".join(self.hap) + "\n",
                 "gen.jsonl": "".join(json.dumps(g) + "\n" for g in self.gen),
                 "timeline.jsonl": "".join(json.dumps(e) + "\n" for e in self.timeline),
                 "scenario.json": json.dumps(self.scen),
                 "redis-connected.json": json.dumps(self.connected),
                 "redis-after.json": json.dumps(self.after)}
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        return d

    def check(self):
        return check.check(self.write())[0]


class Checker(unittest.TestCase):
    def setUp(self):
        self.b = RunBuilder()

    def tearDown(self):
        shutil.rmtree(self.b.dir, ignore_errors=True)

    def assertOnly(self, fig, **want):
        for k in check.MUST_BE_ZERO:
            self.assertEqual(fig[k], want.get(k, 0), f"{k} in {fig}")

    def test_clean(self):
        self.b.healthy()
        self.b.command(10000, "c1", "HA000001", "ocppgw-0")
        fig = self.b.check()
        self.assertOnly(fig)
        self.assertEqual(fig["stations"], 2)
        self.assertEqual(fig["messages"], 2 + 2 * 29)
        self.assertEqual(fig["commands"], 1)
        self.assertIsNone(fig["rehome99_s"])
        self.assertIn("=> PASS", check.figures_line(fig))

    def test_lost_and_crash_excuse(self):
        self.b.healthy()
        self.b.call(61000, "HA000001", "StatusNotification", event=False)
        self.b.call(61500, "HA000002", "MeterValues", event=False)
        self.b.call(61700, "HA000002", "Heartbeat", event=False)  # no event by default: not lost
        self.assertOnly(self.b.check(), lost=2)
        # a kill of ocppgw-0's bridge 2 s after the answer excuses the StatusNotification there,
        # never the transaction message
        self.b.timeline.append({"t": T0 + 63000, "what": "stage.exit", "pod": "ocppgw-0",
                                "stage": "bridge", "how": "signal SIGKILL"})
        fig, detail = check.check(self.b.write())
        self.assertOnly(fig, lost=1)
        self.assertEqual(detail["lost_in_crash"], 1)
        self.assertEqual(detail["lost_by_action"], {"MeterValues": 1})
        self.assertIn("FAIL(lost)", check.figures_line(fig))

    def test_callerror_needs_no_event(self):
        self.b.healthy()
        self.b.call(61000, "HA000001", "Heartbeat", event=False, result="CallError:Internal")
        self.assertOnly(self.b.check())

    def test_commands(self):
        self.b.healthy()
        self.b.command(10000, "none", "HA000001", "ocppgw-0", results=())
        self.b.command(11000, "two", "HA000001", "ocppgw-0", results=("accepted", "expired"))
        self.b.command(12000, "twice", "HA000002", "ocppgw-1", executed=2)
        self.b.command(13000, "expired", "HA000002", "ocppgw-1", results=("expired",),
                       executed=0)
        fig, detail = check.check(self.b.write())
        self.assertOnly(fig, no_result=1, multi_result=1, duplicates=1)
        self.assertEqual(detail["commands"]["statuses"],
                         {"accepted": 2, "expired": 2})

    def test_command_not_on_topic_is_unjudgeable(self):
        self.b.healthy()
        self.b.command(10000, "c1", "HA000001", "ocppgw-0", on_topic=False)
        with self.assertRaises(check.Invalid):
            check.check(self.b.write())

    def test_blackholes(self):
        self.b.healthy(until=30000)
        # HA000001: unanswered, closed by its own call timeout 30 s later
        self.b.call(31000, "HA000001", "Heartbeat", answer_after=None, event=False)
        self.b.line(61000, "X", 0, "HA000001", "call_timeout")
        # HA000002: answered after 12 s
        self.b.call(31000, "HA000002", "Heartbeat", answer_after=12000)
        fig, detail = check.check(self.b.write())
        self.assertOnly(fig, black_holed=2)
        self.assertEqual({e["station"] for e in detail["black_holed_examples"]},
                         {"HA000001", "HA000002"})
        # 9 s is no black hole; a CALL still open at the end after 11 s is
        b = RunBuilder()
        b.healthy(until=30000)
        b.call(31000, "HA000001", "Heartbeat", answer_after=9000)
        b.call(59000, "HA000002", "Heartbeat", answer_after=None, event=False)
        self.assertOnly(b.check(), black_holed=1)
        shutil.rmtree(b.dir)

    def test_blackhole_excuses(self):
        self.b.healthy(until=30000)
        self.b.call(31000, "HA000001", "MeterValues", answer_after=20000)  # held: Kafka down
        self.b.call(31000, "HA000002", "Heartbeat", answer_after=20000)  # not excused
        self.b.scen["windows"].append({"kind": "kafka", "from": T0 + 30000,
                                       "to": T0 + 50000})
        fig, detail = check.check(self.b.write())
        self.assertOnly(fig, black_holed=1)
        self.assertEqual(detail["waits_excused"], {"kafka": 1})
        self.assertEqual(detail["black_holed_by_pod"], {"ocppgw-1": 1})
        # a frozen pod excuses every wait of its connections, and only of them
        self.b.scen["windows"].append({"kind": "frozen_pod", "pod": "ocppgw-1",
                                       "from": T0 + 30000, "to": T0 + 50000})
        self.assertOnly(check.check(self.b.write())[0])

    def test_mappings(self):
        self.b.healthy()
        self.b.connected["mappings"]["HA000002"] = "ocppgw-0"  # connected to ocppgw-1
        self.b.after["mappings"] = {"HA000001": "ocppgw-0"}
        self.b.after["leases"] = {"ocppgw-0": True}
        fig, detail = check.check(self.b.write())
        self.assertOnly(fig, misrouted=1, stale=1)
        self.assertEqual(detail["misrouted_examples"][0][:3], ("HA000002", "ocppgw-1",
                                                               "ocppgw-0"))
        # a mapping whose pod has no lease is no route either; a station connected for less
        # than 5 s is not judged
        b = RunBuilder()
        b.healthy()
        b.connected["leases"]["ocppgw-0"] = False
        b.line(57000, "X", 0, "HA000002", "eof")
        b.connect(58000, "HA000002", 40003, "ocppgw-0")
        del b.connected["mappings"]["HA000002"]
        self.assertOnly(b.check(), misrouted=1)
        shutil.rmtree(b.dir)

    def test_rehome(self):
        self.b.healthy(until=30000)
        self.b.scen["faults"] = [T0 + 31000]
        # HA000002 loses its connection and is served again 9 s after the fault
        self.b.line(31000, "X", 0, "HA000002", "eof")
        self.b.connect(39000, "HA000002", 40003, "ocppgw-0")
        self.b.call(39500, "HA000002", "BootNotification", answer_after=500)
        self.b.call(32000, "HA000001", "Heartbeat")
        fig = self.b.check()
        self.assertAlmostEqual(fig["rehome99_s"], 9.0)
        # a station never served again: not reached
        b = RunBuilder()
        b.healthy(until=30000)
        b.scen["faults"] = [T0 + 31000]
        b.line(31000, "X", 0, "HA000002", "eof")
        b.call(32000, "HA000001", "Heartbeat")
        self.assertEqual(b.check()["rehome99_s"], math.inf)
        self.assertIn("re-home99 never", check.figures_line(b.check()))
        shutil.rmtree(b.dir)

    def test_expectations(self):
        self.b.healthy()
        self.b.scen["expect"] = [{"kind": "ready", "from": T0 + 10000, "to": T0 + 20000}]
        self.b.timeline += [
            {"t": T0 + 15000, "what": "pod.unready", "pod": "ocppgw-0"},
            {"t": T0 + 16000, "what": "stage.liveness_failed", "pod": "ocppgw-0"},
            {"t": T0 + 25000, "what": "pod.unready", "pod": "ocppgw-1"}]  # after the window
        # two late stations, one admitted before the deadline
        self.b.scen["sims"].append({"index": 1, "lb": 0, "log": "sim-1.log", "count": 2,
                                    "identity_start": 3})
        self.b.scen["admit"] = [{"sim": 1, "by": T0 + 30000}]
        self.b.connected["mappings"]["HA000003"] = "ocppgw-0"
        with open(os.path.join(self.b.dir, "sim-1.log"), "w") as f:
            f.write(f"{T0 + 20000} C 40005 HA000003 ocpp1.6\n"
                    f"{T0 + 20000} S 1 HA000003 BootNotification\n"
                    f"{T0 + 20001} A 1 HA000003 ok\n"
                    f"{T0 + 70000} E 0 - end\n")
        self.b.events.append({"key": "HA000003", "payload": json.dumps(
            {"subject": "HA000003", "data": {"ocpp": {"message_id": "1"}}})})
        fig = self.b.check()
        self.assertOnly(fig, unready=2, not_admitted=1)

    def test_unjudgeable(self):
        self.b.healthy()
        self.b.sim.append(f"{T0 + 70000} A 999 HA000001 ok")
        d = self.b.write()
        with open(os.path.join(d, "sim-0.log")) as f:  # cp-sim did not finish: no E line
            lines = [ln for ln in f if " E " not in ln]
        with open(os.path.join(d, "sim-0.log"), "w") as f:
            f.writelines(lines)
        with self.assertRaises(check.Invalid):
            check.check(d)

    def test_truncated_topic_is_unjudgeable(self):
        self.b.healthy()
        self.b.events[0]["offset"] = 5  # kafka-dev dropped the first records
        for i, e in enumerate(self.b.events[1:]):
            e["offset"] = 6 + i
        with self.assertRaises(check.Invalid):
            check.check(self.b.write())

    def test_main_exit_codes(self):
        self.b.healthy()
        d = self.b.write()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(check.main(["check.py", d]), 0)
            self.assertTrue(os.path.exists(os.path.join(d, "result.json")))
            self.b.call(61000, "HA000001", "StatusNotification", event=False)
            self.assertEqual(check.main(["check.py", self.b.write()]), 1)
            os.remove(os.path.join(d, "scenario.json"))
            self.assertEqual(check.main(["check.py", d]), 2)
        lines = out.getvalue().splitlines()
        self.assertTrue(lines[0].endswith("=> PASS"))
        self.assertTrue(lines[1].endswith("=> FAIL(lost)"))
        self.assertIn("cannot judge the run: missing scenario.json", lines[2])


if __name__ == "__main__":
    unittest.main(verbosity=1)
