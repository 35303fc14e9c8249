"""gen.py: the command generator of the HA harness: a backend writing commands to
commands-down exactly as DESIGN §5 tells one to.

For each command it picks a station, looks up its pod (GET conn:<identity>, haredis.conn_key),
and writes the record with key = pod to partition (murmur2(pod) & 0x7fffffff) % N, acks=all
(through `ocppctl produce`, hakafka.Producer). Every command is a unified `data_transfer` whose
`data` is the command_id itself, so the station's log (cp-sim's D lines, log_format detailed)
says which command it executed and how often. gen.jsonl gets one line per command written
{"t", "command_id", "cp_id", "pod", "partition", "cached"}, one per delivery report
{"t", "delivered": command_id, "partition", "offset"} or {"t", "failed": command_id, "error"},
and one per skipped pick {"t", "skip": "no mapping" (the station is not connected) or "redis"
(the lookup failed), "cp_id"}.

Modes: `fresh` looks the owner up for every command; `stale` keeps the first owner it saw for
a station and never asks again (a backend with a cached lookup: after a failover it keeps
writing to the dead pod's partition). aim(victim, share) aims that share of the commands at
stations whose cached owner is the victim pod; aim(victim, 0) avoids them altogether (a quiet
partition).
"""

import json
import random
import threading
import time

import hakafka
import haredis

VENDOR = "ocppgw-ha"


def command_record(command_id: str, cp_id: str, pod: str, ttl_ms: int) -> str:
    return json.dumps({"command_id": command_id, "cp_id": cp_id, "target_pod": pod,
                       "action": "data_transfer",
                       "payload": {"vendor_id": VENDOR, "message_id": "ha", "data": command_id},
                       "ttl_ms": ttl_ms}, separators=(",", ":"))


class Generator:
    def __init__(self, ocppctl: str, redis_port: int, brokers: str, identities, log_path: str,
                 rate: float = 5.0, ttl_ms: int = 20000, mode: str = "fresh", prefix: str = "ha",
                 topic: str = "commands-down", seed: int = 7):
        self.redis = haredis.Redis("127.0.0.1", redis_port, timeout=1.0)
        self.brokers, self.topic = brokers, topic
        self.partitions = hakafka.partition_count(brokers, topic)
        self.log = open(log_path, "a", buffering=1)
        self.log_lock = threading.Lock()
        self.producer = hakafka.Producer(ocppctl, brokers, topic, log_path + ".err",
                                         self._delivered)
        self.identities = list(identities)
        self.rate, self.ttl_ms, self.mode, self.prefix = rate, ttl_ms, mode, prefix
        self.rng = random.Random(seed)
        self.cache = {}
        self.victim, self.victim_share = None, 0.0
        self.n = 0
        self.written = 0
        self.delivered = 0
        self.stop_flag = threading.Event()
        self.thread = None
        self.lock = threading.Lock()

    def fill_cache(self):
        """Looks every station up once (the stale backend's cache as of now)."""
        keys = [haredis.conn_key(i) for i in self.identities]
        vals = self.redis.pipeline([("GET", k) for k in keys])
        for i, v in zip(self.identities, vals):
            if isinstance(v, str):
                self.cache[i] = v
        return len(self.cache)

    def _write(self, rec):
        with self.log_lock:
            self.log.write(json.dumps(rec) + "\n")

    def _delivered(self, cid, partition, offset, error):
        t = int(time.time() * 1000)
        if error is None:
            self.delivered += 1
            self._write({"t": t, "delivered": cid, "partition": partition, "offset": offset})
        else:
            self._write({"t": t, "failed": cid, "error": error})

    def aim(self, victim, share: float):
        with self.lock:
            self.victim, self.victim_share = victim, share

    def _pick(self):
        with self.lock:
            victim, share = self.victim, self.victim_share
        if victim and share == 0:
            others = [i for i in self.identities if self.cache.get(i, victim) != victim]
            if others:
                return self.rng.choice(others)
        if victim and self.rng.random() < share:
            on_victim = [i for i, p in self.cache.items() if p == victim]
            if on_victim:
                return self.rng.choice(on_victim)
        return self.rng.choice(self.identities)

    def _lookup(self, ident):
        if self.mode == "stale" and ident in self.cache:
            return self.cache[ident], True
        pod = self.redis.call("GET", haredis.conn_key(ident))
        if pod and self.mode == "stale":
            self.cache[ident] = pod
        return pod, False

    def one(self):
        ident = self._pick()
        t = int(time.time() * 1000)
        try:
            pod, cached = self._lookup(ident)
        except (ConnectionError, haredis.RedisError) as e:
            self._write({"t": t, "skip": "redis", "cp_id": ident, "error": str(e)[:120]})
            return
        if not pod:
            self._write({"t": t, "skip": "no mapping", "cp_id": ident})
            return
        self.n += 1
        cid = f"{self.prefix}-{self.n:06d}"
        part = hakafka.partition_of(pod, self.partitions)
        self._write({"t": int(time.time() * 1000), "command_id": cid, "cp_id": ident,
                     "pod": pod, "partition": part, "cached": cached})
        self.producer.send(part, pod, command_record(cid, ident, pod, self.ttl_ms), tag=cid)
        self.written += 1

    def _run(self):
        period = 1.0 / self.rate
        next_t = time.time()
        while not self.stop_flag.is_set():
            self.one()
            next_t += period
            delay = next_t - time.time()
            if delay < -1.0:  # fell behind (a slow lookup): do not burst to catch up
                next_t = time.time()
            elif delay > 0:
                self.stop_flag.wait(delay)

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True, name="generator")
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        if self.thread:
            self.thread.join(10)
        self.producer.close()
        self.redis.close()
        self.log.close()
