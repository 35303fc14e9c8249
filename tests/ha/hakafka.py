"""hakafka.py: the Kafka side of the HA harness, through kcat (Debian's package).

Kafka's murmur2 and default partition (the routing rule of DESIGN §5, the same function as
common/hash.c and librdkafka's murmur2_random partitioner), a topic's partition count, a dump of
a topic from the beginning as JSON lines, and a producer writing to chosen partitions.
"""

import json
import subprocess
import threading

MURMUR2_SEED = 0x9747B28C


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 as an unsigned 32-bit pattern (Java returns it as a signed int)."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (MURMUR2_SEED ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = data[4 * n4:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_of(key: str, partitions: int) -> int:
    """(murmur2(key) & 0x7fffffff) % partitions: where a backend writes a command for pod key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def partition_count(brokers: str, topic: str, timeout: float = 15) -> int:
    out = subprocess.run(["kcat", "-b", brokers, "-L", "-J", "-t", topic], capture_output=True,
                         text=True, timeout=timeout, check=True).stdout
    for t in json.loads(out)["topics"]:
        if t["topic"] == topic:
            return len(t["partitions"])
    raise RuntimeError(f"topic {topic} not found")


def dump_topic(brokers: str, topic: str, path: str, timeout: float = 600) -> int:
    """Writes every record of topic, from the beginning of every partition, as kcat -J lines
    ({topic, partition, offset, ts, key, payload}) to path; returns the number of records."""
    with open(path, "w") as out:
        subprocess.run(["kcat", "-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-J",
                        "-q", "-X", "fetch.message.max.bytes=4194304"],
                       stdout=out, stderr=subprocess.DEVNULL, timeout=timeout, check=True)
    n = 0
    with open(path) as f:
        for line in f:
            n += bool(line.strip())
    return n


def read_dump(path: str):
    """Records of a dump_topic file (payload left as text; unparsable lines are skipped)."""
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
    return recs


class Producer:
    """Writes records to chosen partitions of one topic with acks=all through one long-running
    `ocppctl produce <topic>` (tools/ocppctl): each key<TAB>value line is produced as soon as it
    is read, librdkafka retries while the brokers are down, and every delivery is reported
    back: on_delivery(tag, partition, offset, error) is called from a reader thread. (kcat -P
    is not used: it holds lines back for seconds, and exits once every broker is down.)"""

    def __init__(self, ocppctl: str, brokers: str, topic: str, log_path: str, on_delivery,
                 timeout: str = "10m"):
        self.lock = threading.Lock()
        self.tags = {}
        self.line = 0
        self.on_delivery = on_delivery
        self.err = open(log_path, "a")
        self.proc = subprocess.Popen([ocppctl, "--kafka", brokers, "produce", topic,
                                      "--timeout", timeout],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True, name="producer")
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            p = line.split(None, 4)
            if len(p) >= 2 and p[1].isdigit():
                with self.lock:
                    tag = self.tags.pop(int(p[1]), None)
                if p[0] == "ok" and len(p) >= 4:
                    self.on_delivery(tag, int(p[2]), int(p[3]), None)
                else:
                    self.on_delivery(tag, None, None, " ".join(p[2:]).strip())

    def send(self, partition: int, key: str, value: str, tag=None):
        assert "\t" not in key and "\n" not in key and "\n" not in value
        with self.lock:
            self.line += 1
            self.tags[self.line] = tag
            self.proc.stdin.write(f"{partition}\t{key}\t{value}\n")
            self.proc.stdin.flush()

    def close(self, timeout: float = 60):
        """Ends the input and waits for the last delivery reports."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        self.err.close()
