"""haredis.py: a minimal Redis client (RESP2 over a socket, standard library only) and the
registry's key names as the harness reads them.

The key names live here and nowhere else in tests/ha: the backend lookup `conn:<identity>`
(the seed's `GET conn:CP-007`, docs/registry.md), its companions `{conn:<identity>}:epoch` and
`{conn:<identity>}:meta` (the mapping key as their Cluster hash tag), and the pod leases.
"""

import socket


def conn_key(identity: str) -> str:
    """The key a backend GETs to find a station's pod (DESIGN §5, docs/registry.md)."""
    return "conn:%s" % identity


CONN_PATTERN = "conn:*"  # SCAN pattern of the mappings (companions start with "{conn:")


def conn_identity(key: str):
    """The identity of a mapping key, or None for a companion key or another. An identity has
    no ':' or braces (DESIGN §3), so anything after the prefix is the identity."""
    if key.startswith("conn:") and len(key) > 5 and not any(c in key[5:] for c in ":{}"):
        return key[5:]
    return None


def lease_key(pod: str) -> str:
    return "pod:{%s}" % pod


PODS_SET = "ocppgw:pods"


class RedisError(Exception):
    pass


class Redis:
    """One connection; reconnects on the next command after an error. Every call is bounded by
    `timeout` seconds."""

    def __init__(self, host: str, port: int, timeout: float = 2.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.settimeout(self.timeout)
        self.buf = b""

    @staticmethod
    def encode(*args) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ConnectionError(f"bad RESP reply {line[:40]!r}")

    def call(self, *args):
        try:
            if self.sock is None:
                self._connect()
            self.sock.sendall(self.encode(*args))
            return self._reply()
        except RedisError:
            raise
        except (OSError, ConnectionError) as e:
            self.close()
            raise ConnectionError(f"redis {self.host}:{self.port}: {e}") from e

    def pipeline(self, commands):
        """Sends every command, then reads every reply (errors returned as RedisError values)."""
        try:
            if self.sock is None:
                self._connect()
            self.sock.sendall(b"".join(self.encode(*c) for c in commands))
            out = []
            for _ in commands:
                try:
                    out.append(self._reply())
                except RedisError as e:
                    out.append(e)
            return out
        except (OSError, ConnectionError) as e:
            self.close()
            raise ConnectionError(f"redis {self.host}:{self.port}: {e}") from e

    def scan(self, pattern: str, count: int = 1000):
        cursor, keys = "0", []
        while True:
            cursor, batch = self.call("SCAN", cursor, "MATCH", pattern, "COUNT", count)
            keys.extend(batch)
            if cursor == "0":
                return keys


def snapshot(r: Redis) -> dict:
    """The registry's view as the checker needs it: every mapping (identity -> pod) and which
    pods hold a live lease."""
    keys = r.scan(CONN_PATTERN)
    idents = [(k, conn_identity(k)) for k in keys]
    idents = [(k, i) for k, i in idents if i is not None]
    values = r.pipeline([("GET", k) for k, _ in idents]) if idents else []
    mappings = {i: v for (_, i), v in zip(idents, values) if isinstance(v, str)}
    pods = r.call("SMEMBERS", PODS_SET) or []
    pods = sorted(set(pods) | set(mappings.values()))
    leases = r.pipeline([("PTTL", lease_key(p)) for p in pods]) if pods else []
    live = {p: isinstance(t, int) and (t > 0 or t == -1) for p, t in zip(pods, leases)}
    return {"mappings": mappings, "leases": live}
