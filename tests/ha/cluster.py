"""cluster.py: the processes of an HA run and the faults the harness injects into them.

One redis-server and one kafka-dev (loopback, private directories, free ports), N pods each run
by a small supervisor that plays the kubelet, one or more HAProxy load balancers in TCP mode in
front of the pods' WebSocket ports, cp-sim stations through them, and a memory sampler.

The supervisor (class Pod) starts a pod's four stages one by one, as the StatefulSet's native
sidecars start (docs/deployment.md): redis-registry, kafka-bridge, ocpp-core, each once its
/healthz answers, then ws-edge. Then it behaves as the kubelet does with restartPolicy Always:
a stage that exits is started again with the same environment after a fixed back-off of
RESTART_BACKOFF_S (the kubelet's CrashLoopBackOff starts at 10 s and doubles; a short fixed
back-off keeps runs short and does not change what a restart means). It probes every stage as
k8s/statefulset.yaml says, with shorter periods: readiness GET /readyz every 1 s (timeout 1 s,
not ready after 2 failures, ready after 1 success), liveness GET /healthz every LIVENESS_PERIOD_S
(timeout 3 s, 3 failures: SIGTERM, SIGKILL after KILL_GRACE_S, then the restart). The pod is
ready when every stage is ready (every container of the manifest has a readiness probe), which
the supervisor serves on the pod's readiness port, the port HAProxy checks: the endpoint
controller's view of the pod.

Every stage start gets its own log file pods/<pod>/<stage>.<n>.log (n = 0, 1, ... per start), and
everything the supervisors and the harness do is appended to timeline.jsonl with its time.
"""

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import hakafka
import haredis

RESTART_BACKOFF_S = 1.0
READINESS_PERIOD_S = 1.0
READINESS_FAILURES = 2
LIVENESS_PERIOD_S = 10.0
LIVENESS_TIMEOUT_S = 3.0
LIVENESS_FAILURES = 3
KILL_GRACE_S = 10.0
STARTUP_TIMEOUT_S = 30.0

STAGES = ["registry", "bridge", "core", "edge"]  # start order (native sidecars first)
BINARY = {"registry": "redis-registry", "bridge": "kafka-bridge", "core": "ocpp-core",
          "edge": "ws-edge"}

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def now_ms() -> int:
    return int(time.time() * 1000)


def free_ports(n: int):
    """n distinct free loopback ports below the ephemeral range (32768+), so that outgoing
    connections cannot take one meanwhile (as tests/integration/lib.sh does)."""
    import random
    socks, ports = [], []
    try:
        while len(ports) < n:
            p = random.randrange(20000, 32000)
            if p in ports:
                continue
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                s.close()
                continue
            socks.append(s)
            ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def http_get(port: int, path: str, timeout: float):
    """Status of GET http://127.0.0.1:port/path, or None when nothing answered in time."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


class Timeline:
    """timeline.jsonl of a run: what happened when (faults, restarts, probe changes)."""

    def __init__(self, path: str, echo: bool = True):
        self.f = open(path, "a", buffering=1)
        self.t0 = time.time()
        self.lock = threading.Lock()
        self.echo = echo

    def mark(self, what: str, **kw):
        rec = {"t": now_ms(), "what": what, **kw}
        with self.lock:
            self.f.write(json.dumps(rec) + "\n")
            if self.echo:
                extra = " ".join(f"{k}={v}" for k, v in kw.items())
                print(f"  [{time.time() - self.t0:7.1f}s] {what} {extra}", flush=True)
        return rec["t"]

    def close(self):
        self.f.close()


class Procs:
    """Every process the harness started, so that cleanup ends exactly those (and nothing
    else): SIGCONT (a stopped process ignores SIGTERM until continued), SIGTERM, then SIGKILL."""

    def __init__(self):
        self.lock = threading.Lock()
        self.all = []

    def spawn(self, argv, env=None, log_path=None, **kw):
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, **kw)
        finally:
            if log_path:
                out.close()
        with self.lock:
            self.all.append(p)
        return p

    def cleanup(self, grace: float = 10.0):
        with self.lock:
            live = [p for p in self.all if p.poll() is None]
        for p in live:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    p.send_signal(sig)
                except OSError:
                    pass
        deadline = time.time() + grace
        for p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Redis:
    def __init__(self, cl):
        self.cl = cl
        self.port = free_ports(1)[0]
        self.dir = os.path.join(cl.dir, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.starts = 0

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def client(self, timeout=2.0):
        return haredis.Redis("127.0.0.1", self.port, timeout)

    def start(self):
        """Starts redis-server (empty: no RDB, no AOF) on the same port every time."""
        log = os.path.join(self.dir, f"redis.{self.starts}.log")
        self.starts += 1
        self.proc = self.cl.procs.spawn(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
             "--maxclients", "10000"], log_path=log)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if self.client(0.5).call("PING") == "PONG":
                    self.cl.tl.mark("redis.started", port=self.port, pid=self.proc.pid)
                    return
            except (ConnectionError, haredis.RedisError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start (see {log})")

    def signal(self, sig):
        self.cl.tl.mark("redis.signal", sig=signal.Signals(sig).name)
        self.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.proc.wait(timeout=15)


class KafkaDev:
    def __init__(self, cl, brokers=1, events_partitions=16, commands_partitions=8):
        self.cl = cl
        self.dir = os.path.join(cl.dir, "kafka")
        os.makedirs(self.dir, exist_ok=True)
        self.bootstrap_file = os.path.join(self.dir, "bootstrap")
        self.control = os.path.join(self.dir, "control")
        self.log = os.path.join(self.dir, "kafka-dev.log")
        env = clean_env()
        env.update(OCPPGW_KAFKA_DEV_BROKERS=str(brokers),
                   OCPPGW_EVENTS_PARTITIONS=str(events_partitions),
                   OCPPGW_COMMANDS_PARTITIONS=str(commands_partitions),
                   OCPPGW_BOOTSTRAP_FILE=self.bootstrap_file, OCPPGW_CONTROL_PATH=self.control,
                   OCPPGW_POD_ID="kafka-dev")
        self.proc = cl.procs.spawn([os.path.join(cl.bin, "kafka-dev")], env=env,
                                   log_path=self.log)
        deadline = time.time() + 30
        while not (os.path.exists(self.bootstrap_file) and os.path.getsize(self.bootstrap_file)):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"kafka-dev did not start (see {self.log})")
            time.sleep(0.1)
        with open(self.bootstrap_file) as f:
            self.brokers = f.read().strip()
        cl.tl.mark("kafka.started", brokers=self.brokers, pid=self.proc.pid)

    def command(self, line: str, timeout: float = 10):
        """Writes one fault-injection command to the FIFO and waits for kafka-dev to log that it
        applied it (docs/kafka-dev.md: answers of FIFO commands go to the log)."""
        with open(self.log, "rb") as f:
            f.seek(0, 2)
            start = f.tell()
        fd = os.open(self.control, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        t = self.cl.tl.mark("kafka.control", command=line)
        deadline = time.time() + timeout
        needle = f"'{line}': ".encode()
        while time.time() < deadline:
            with open(self.log, "rb") as f:
                f.seek(start)
                for ln in f.read().splitlines():
                    if needle in ln:
                        if b"': ok" not in ln:
                            raise RuntimeError(f"kafka-dev refused {line!r}: {ln.decode()}")
                        return t
            time.sleep(0.1)
        raise RuntimeError(f"kafka-dev did not apply {line!r} within {timeout}s")


def clean_env():
    """The environment without any OCPPGW_* of the caller: every stage gets exactly what the
    harness sets, the same at every start."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OCPPGW_")}


class Stage:
    def __init__(self, pod, name, admin_port):
        self.pod, self.name, self.admin_port = pod, name, admin_port
        self.proc = None
        self.starts = 0
        self.restart_at = None  # time of the scheduled restart after an exit
        self.ready = False
        self.ready_failures = 0
        self.live_failures = 0
        self.next_live = 0.0
        self.killing_since = None  # liveness kill in progress
        self.exits = []

    def env(self):
        p = self.pod
        e = clean_env()
        e.update(p.env)
        e.update(OCPPGW_ADMIN_PORT=str(self.admin_port), OCPPGW_ADMIN_BIND="127.0.0.1")
        return e

    def spawn(self):
        log = os.path.join(self.pod.dir, f"{self.name}.{self.starts}.log")
        self.proc = self.pod.cl.procs.spawn([os.path.join(self.pod.cl.bin, BINARY[self.name])],
                                            env=self.env(), log_path=log)
        self.starts += 1
        self.ready = False
        self.ready_failures = 0
        self.live_failures = 0
        self.next_live = time.time() + LIVENESS_PERIOD_S
        self.killing_since = None
        self.restart_at = None
        self.pod.cl.tl.mark("stage.start", pod=self.pod.name, stage=self.name,
                            pid=self.proc.pid, n=self.starts - 1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Pod:
    """One gateway pod and its supervisor thread (the kubelet of that pod)."""

    def __init__(self, cl, name: str, extra_env: dict):
        self.cl, self.name = cl, name
        self.dir = os.path.join(cl.dir, "pods", name)
        os.makedirs(os.path.join(self.dir, "ipc"), exist_ok=True)
        ports = free_ports(6)
        self.ws_port, self.ready_port = ports[0], ports[1]
        self.stages = {s: Stage(self, s, ports[2 + i]) for i, s in enumerate(STAGES)}
        self.env = {
            "OCPPGW_POD_ID": name,
            "OCPPGW_IPC_DIR": os.path.join(self.dir, "ipc"),
            "OCPPGW_REDIS_URL": cl.redis.url,
            "OCPPGW_KAFKA_BROKERS": cl.kafka.brokers,
            "OCPPGW_WS_PORT": str(self.ws_port),
            "OCPPGW_WS_BIND": "127.0.0.1",
            "OCPPGW_CORE_COUNT": "1",
            "OCPPGW_CORE_INDEX": "0",
            "OCPPGW_LOG_LEVEL": "info",
            # stations connect without credentials: security is tested elsewhere
            # (test_edge_tls.sh); the faults here are about availability
            "OCPPGW_SECURITY_PROFILE": "0",
            "OCPPGW_ALLOW_UNKNOWN_STATIONS": "true",
        }
        self.env.update(extra_env)
        self.state = "new"  # starting, running, frozen, terminating, stopped, dead
        self.lock = threading.RLock()
        self.stop_flag = False
        self.thread = None
        self.server = None
        self.incarnation = 0
        self.was_ready = False
        self._serve_readiness()

    # --- readiness endpoint (what the load balancer checks) -------------------------------
    def ready(self) -> bool:
        with self.lock:
            return self.state == "running" and all(s.ready for s in self.stages.values())

    def _serve_readiness(self):
        pod = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = pod.ready()
                body = b"ready\n" if ok else b"not ready\n"
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # HAProxy resets its check connections once it read the status

        self.server = Server(("127.0.0.1", self.ready_port), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True,
                         name=f"{self.name}-readyz").start()

    # --- lifecycle --------------------------------------------------------------------------
    def start(self, wait_ready: bool = True):
        """Starts the stages in order (each once the previous answers /healthz, as the
        manifest's startup probes do) and the supervisor thread."""
        with self.lock:
            self.state = "starting"
            self.incarnation += 1
        self.cl.tl.mark("pod.start", pod=self.name, incarnation=self.incarnation)
        for name in STAGES:
            st = self.stages[name]
            st.spawn()
            if name != "edge":
                deadline = time.time() + STARTUP_TIMEOUT_S
                while http_get(st.admin_port, "/healthz", 1.0) != 200:
                    if time.time() > deadline or not st.alive():
                        raise RuntimeError(f"{self.name}/{name} did not start (see {self.dir})")
                    time.sleep(0.1)
        with self.lock:
            self.state = "running"
        if self.thread is None or not self.thread.is_alive():
            self.stop_flag = False
            self.thread = threading.Thread(target=self._supervise, daemon=True,
                                           name=f"{self.name}-kubelet")
            self.thread.start()
        if wait_ready:
            self.wait_ready(30)

    def wait_ready(self, timeout: float):
        deadline = time.time() + timeout
        while not self.ready():
            if time.time() > deadline:
                raise RuntimeError(f"pod {self.name} not ready within {timeout}s "
                                   f"({self.readiness()})")
            time.sleep(0.2)

    def readiness(self):
        return {n: s.ready for n, s in self.stages.items()}

    def _supervise(self):
        next_probe = 0.0
        while not self.stop_flag:
            now = time.time()
            with self.lock:
                state = self.state
            if state == "running":
                for st in self.stages.values():
                    self._watch(st, now)
                if now >= next_probe:
                    next_probe = now + READINESS_PERIOD_S
                    self._probe_all(now)
            time.sleep(0.05)

    def _watch(self, st: Stage, now: float):
        if st.proc is None:
            return
        rc = st.proc.poll()
        if rc is not None and st.restart_at is None:
            st.ready = False
            how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"status {rc}"
            st.exits.append(rc)
            st.restart_at = now + RESTART_BACKOFF_S
            self.cl.tl.mark("stage.exit", pod=self.name, stage=st.name, pid=st.proc.pid,
                            how=how, restart_in_s=RESTART_BACKOFF_S)
        elif rc is not None and now >= st.restart_at:
            st.spawn()
        elif rc is None and st.killing_since and now - st.killing_since > KILL_GRACE_S:
            st.proc.kill()

    def _probe_all(self, now: float):
        threads = [threading.Thread(target=self._probe, args=(st, now), daemon=True)
                   for st in self.stages.values() if st.alive()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(LIVENESS_TIMEOUT_S + 0.5)
        ready = self.ready()
        if ready != self.was_ready:
            self.was_ready = ready
            self.cl.tl.mark("pod.ready" if ready else "pod.unready", pod=self.name,
                            stages=self.readiness())

    def _probe(self, st: Stage, now: float):
        code = http_get(st.admin_port, "/readyz", READINESS_PERIOD_S)
        if code == 200:
            if not st.ready:
                self.cl.tl.mark("stage.ready", pod=self.name, stage=st.name)
            st.ready, st.ready_failures = True, 0
        else:
            st.ready_failures += 1
            if st.ready and st.ready_failures >= READINESS_FAILURES:
                st.ready = False
                self.cl.tl.mark("stage.unready", pod=self.name, stage=st.name, code=code)
        if now >= st.next_live and st.killing_since is None:
            st.next_live = now + LIVENESS_PERIOD_S
            code = http_get(st.admin_port, "/healthz", LIVENESS_TIMEOUT_S)
            if code == 200:
                st.live_failures = 0
            else:
                st.live_failures += 1
                self.cl.tl.mark("stage.liveness_failed", pod=self.name, stage=st.name, code=code,
                                failures=st.live_failures)
                if st.live_failures >= LIVENESS_FAILURES:
                    self.cl.tl.mark("stage.liveness_kill", pod=self.name, stage=st.name)
                    st.killing_since = time.time()
                    try:
                        st.proc.send_signal(signal.SIGTERM)
                    except OSError:
                        pass

    # --- faults -----------------------------------------------------------------------------
    def signal_stage(self, stage: str, sig):
        st = self.stages[stage]
        t = self.cl.tl.mark("fault.stage", pod=self.name, stage=stage,
                            sig=signal.Signals(sig).name, pid=st.proc.pid)
        st.proc.send_signal(sig)
        return t

    def pids(self):
        return {n: s.proc.pid for n, s in self.stages.items() if s.alive()}

    def kill(self, sig=signal.SIGKILL):
        """The whole pod at once (a node lost, an OOM of the pod): no restart until start()."""
        with self.lock:
            self.state = "dead"
            self.was_ready = False
        t = self.cl.tl.mark("fault.pod", pod=self.name, sig=signal.Signals(sig).name)
        for st in self.stages.values():
            if st.alive():
                st.proc.send_signal(sig)
        for st in self.stages.values():
            if st.proc:
                try:
                    st.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    st.proc.kill()
                    st.proc.wait()
            st.ready = False
        return t

    def freeze(self):
        """SIGSTOP of every stage, the kubelet with them (a paused VM, a partitioned node):
        nothing is probed or restarted until thaw(); the readiness port answers 503."""
        with self.lock:
            self.state = "frozen"
            self.was_ready = False
        t = self.cl.tl.mark("fault.pod", pod=self.name, sig="SIGSTOP")
        for st in self.stages.values():
            if st.alive():
                st.proc.send_signal(signal.SIGSTOP)
        return t

    def thaw(self):
        for st in self.stages.values():
            if st.alive():
                st.proc.send_signal(signal.SIGCONT)
        t = self.cl.tl.mark("fault.pod", pod=self.name, sig="SIGCONT")
        with self.lock:
            self.state = "running"
        return t

    def terminate(self, prestop_s: float = 10.0, grace_s: float = 30.0):
        """Pod deletion as Kubernetes does it: out of the endpoints at once (readiness 503),
        ws-edge's preStop (sleep), SIGTERM to ws-edge and wait for it, then the native
        sidecars in reverse start order (core, bridge, registry), each SIGTERM then SIGKILL
        after grace_s."""
        with self.lock:
            self.state = "terminating"
            self.was_ready = False
        t = self.cl.tl.mark("fault.pod", pod=self.name, sig="SIGTERM", prestop_s=prestop_s)
        time.sleep(prestop_s)
        for name in reversed(STAGES):
            st = self.stages[name]
            if not st.alive():
                continue
            st.proc.send_signal(signal.SIGTERM)
            try:
                rc = st.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                st.proc.kill()
                rc = st.proc.wait()
                self.cl.tl.mark("stage.killed_after_grace", pod=self.name, stage=name)
            st.ready = False
            self.cl.tl.mark("stage.stopped", pod=self.name, stage=name, rc=rc)
        with self.lock:
            self.state = "stopped"
        return t

    def shutdown(self):
        """The end of the run: every stage stopped in the pod's drain order (edge first, then
        core, bridge, registry), each SIGTERM then SIGKILL after a grace; no restarts."""
        self.stop_flag = True
        if self.thread:
            self.thread.join(5)
        with self.lock:
            self.state = "stopped"
        for st in self.stages.values():
            if st.alive():
                st.proc.send_signal(signal.SIGCONT)  # a frozen stage ignores SIGTERM
        for name in reversed(STAGES):
            st = self.stages[name]
            if st.proc is None or st.proc.poll() is not None:
                continue
            st.proc.send_signal(signal.SIGTERM)
            try:
                st.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                st.proc.kill()
                st.proc.wait()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class LoadBalancer:
    """HAProxy (Debian's) in TCP mode, as a Kubernetes Service / cloud L4 balancer: a random
    pod for each connection (as kube-proxy chooses; round robin would put cp-sim processes
    that connect in lockstep on one pod each) among the pods' WebSocket ports, each server health-checked on its pod's readiness port
    (GET /readyz every 1 s, down after 2 failures, up after 2 successes). Existing connections
    are left alone when a server goes down (kube-proxy does not cut established flows). Every
    connection is logged when it reaches its server (option logasap), so the checker knows
    which pod each station connection went to."""

    def __init__(self, cl, index: int):
        self.cl, self.index = cl, index
        self.port = free_ports(1)[0]
        self.cfg = os.path.join(cl.dir, f"haproxy-{index}.cfg")
        self.log = os.path.join(cl.dir, f"haproxy-{index}.log")
        servers = "\n".join(
            f"    server {p.name} 127.0.0.1:{p.ws_port} check port {p.ready_port}"
            for p in cl.pods)
        with open(self.cfg, "w") as f:
            f.write(f"""# written by tests/ha/cluster.py
global
    maxconn 9500
    log stdout format raw local0
    nbthread 1
defaults
    mode tcp
    log global
    option logasap
    log-format "%Ts%ms %ci %cp %fp %b %s %ts"
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 2s
    retries 2
    option redispatch
frontend ws
    bind 127.0.0.1:{self.port}
    maxconn 9500
    default_backend pods
backend pods
    balance random
    option httpchk GET /readyz
    default-server inter 1s fall 2 rise 2
{servers}
""")
        self.proc = cl.procs.spawn(["haproxy", "-db", "-f", self.cfg], log_path=self.log)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"haproxy did not start (see {self.log})")
                time.sleep(0.1)
        cl.tl.mark("lb.started", index=index, port=self.port, pid=self.proc.pid)

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/ocpp"


class CpSim:
    """One cp-sim process (detailed log_file), its report, and a follower of its log that
    tells the harness how many stations are connected and booted."""

    def __init__(self, cl, index: int, lb: LoadBalancer, count: int, identity_start: int,
                 settings: dict, leaver: bool = False):
        self.cl, self.index, self.lb, self.count = cl, index, lb, count
        self.leaver = leaver  # stations that leave for good during the run
        self.identity_start = identity_start
        self.log = os.path.join(cl.dir, f"sim-{index}.log")
        self.report = os.path.join(cl.dir, f"sim-{index}.report")
        self.err = os.path.join(cl.dir, f"sim-{index}.err")
        args = {"url": lb.url, "count": count, "identity_prefix": "HA",
                "identity_start": identity_start, "log_file": self.log,
                "log_format": "detailed", "progress": "off", "seed": 1 + index}
        args.update(settings)
        argv = [os.path.join(cl.bin, "cp-sim")] + [f"--{k}={v}" for k, v in args.items()]
        with open(self.report, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=clean_env())
        with cl.procs.lock:
            cl.procs.all.append(self.proc)
        self.settings = args
        self.pos = 0
        self.open = set()
        self.booted = set()
        self.last_answer = {}
        cl.tl.mark("sim.started", index=index, count=count, lb=lb.index, pid=self.proc.pid,
                   leaver=leaver)

    def identities(self):
        return [f"HA{i:06d}" for i in range(self.identity_start,
                                             self.identity_start + self.count)]

    def follow(self):
        """Reads what cp-sim flushed since the last call (it flushes once a second)."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            return
        self.pos += end + 1
        for line in data[:end].decode(errors="replace").splitlines():
            p = line.split()
            if len(p) < 5:
                continue
            t, kind, ident = int(p[0]), p[1], p[3]
            if kind == "C":
                self.open.add(ident)
                self.booted.discard(ident)
            elif kind == "X":
                self.open.discard(ident)
                self.booted.discard(ident)
            elif kind == "A":
                self.last_answer[ident] = t
                if ident in self.open:
                    self.booted.add(ident)  # the first CALL of a connection is its boot

    def stop(self, timeout: float = 30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.cl.tl.mark("sim.stopped", index=self.index, rc=self.proc.returncode)


class MemSampler:
    """RSS of every gateway process (and of redis, kafka-dev, haproxy) once a second, to
    mem.jsonl: {t, pod, stage, pid, rss_kb}; and every METRICS_EVERY seconds each stage's
    /metrics (counters and gauges, not histograms) to metrics.jsonl: {t, pod, stage, m}."""

    METRICS_EVERY = 5

    def __init__(self, cl, period: float = 1.0):
        self.cl, self.period = cl, period
        self.f = open(os.path.join(cl.dir, "mem.jsonl"), "a", buffering=1)
        self.mf = open(os.path.join(cl.dir, "metrics.jsonl"), "a", buffering=1)
        self.ticks = 0
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True, name="mem")
        self.thread.start()

    @staticmethod
    def rss_kb(pid: int):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def _run(self):
        last = time.monotonic()
        while not self.stop_flag:
            t = now_ms()
            lag = time.monotonic() - last - self.period
            last = time.monotonic()
            if lag > 2.0:  # the whole host stalled (another program hogging it): say so
                self.cl.tl.mark("host.stall", seconds=round(lag + self.period, 1))
            procs = []
            for p in self.cl.pods:
                for n, st in p.stages.items():
                    if st.alive():
                        procs.append((p.name, n, st.proc.pid))
            for name, obj in (("redis", self.cl.redis), ("kafka-dev", self.cl.kafka)):
                if obj and obj.proc and obj.proc.poll() is None:
                    procs.append(("-", name, obj.proc.pid))
            for lb in self.cl.lbs:
                if lb.proc.poll() is None:
                    procs.append(("-", f"haproxy-{lb.index}", lb.proc.pid))
            for pod, stage, pid in procs:
                rss = self.rss_kb(pid)
                if rss is not None:
                    self.f.write(json.dumps({"t": t, "pod": pod, "stage": stage, "pid": pid,
                                             "rss_kb": rss}) + "\n")
            if self.ticks % self.METRICS_EVERY == 0:
                self.scrape(t)
            self.ticks += 1
            time.sleep(self.period)

    def scrape(self, t):
        for p in self.cl.pods:
            if p.state != "running":
                continue
            for n, st in p.stages.items():
                if not st.alive():
                    continue
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{st.admin_port}/metrics",
                                                timeout=1) as r:
                        text = r.read().decode(errors="replace")
                except (OSError, ValueError):
                    continue
                m = {}
                for line in text.splitlines():
                    if line.startswith("#") or "_bucket{" in line or not line.strip():
                        continue
                    name, _, val = line.rpartition(" ")
                    if name.endswith(("_sum", "_count")) and "_seconds" in name:
                        continue
                    try:
                        m[name.replace("ocppgw_", "", 1)] = float(val)
                    except ValueError:
                        pass
                self.mf.write(json.dumps({"t": t, "pod": p.name, "stage": n, "m": m}) + "\n")

    def stop(self):
        self.stop_flag = True
        self.thread.join(5)
        self.f.close()
        self.mf.close()


class Cluster:
    """Everything of one scenario run, in directory `dir`. Use as a context manager: every
    process it started is ended on the way out, whatever happened."""

    def __init__(self, dir: str, bin: str, pods: int = 3, lbs: int = 1, pod_env: dict = None,
                 events_partitions: int = 16, commands_partitions: int = 8, echo: bool = True):
        self.dir, self.bin = dir, bin
        os.makedirs(dir, exist_ok=True)
        self.tl = Timeline(os.path.join(dir, "timeline.jsonl"), echo)
        self.procs = Procs()
        self.pods, self.lbs, self.sims = [], [], []
        self.redis = self.kafka = self.mem = None
        self.n_pods, self.n_lbs = pods, lbs
        self.pod_env = pod_env or {}
        self.events_partitions, self.commands_partitions = events_partitions, commands_partitions
        self.closed = False

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        for b in ("ws-edge", "ocpp-core", "kafka-bridge", "redis-registry", "kafka-dev",
                  "cp-sim", "ocppctl"):
            if not os.access(os.path.join(self.bin, b), os.X_OK):
                raise RuntimeError(f"missing {self.bin}/{b}: run 'make all' first")
        for tool in ("haproxy", "redis-server", "kcat"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} not found (scripts/install-deps.sh installs it)")
        self.redis = Redis(self)
        self.redis.start()
        self.kafka = KafkaDev(self, events_partitions=self.events_partitions,
                              commands_partitions=self.commands_partitions)
        for i in range(self.n_pods):
            self.pods.append(Pod(self, f"ocppgw-{i}", self.pod_env))
        for p in self.pods:
            p.start(wait_ready=False)
        for p in self.pods:
            p.wait_ready(30)
        for i in range(self.n_lbs):
            self.lbs.append(LoadBalancer(self, i))
        self.mem = MemSampler(self)
        # every pod holds its lease before stations arrive
        r = self.redis.client()
        deadline = time.time() + 15
        while True:
            snap = haredis.snapshot(r)
            if all(snap["leases"].get(p.name) for p in self.pods):
                break
            if time.time() > deadline:
                raise RuntimeError(f"pod leases missing: {snap['leases']}")
            time.sleep(0.2)
        r.close()

    def pod(self, name: str) -> Pod:
        return next(p for p in self.pods if p.name == name)

    def start_sims(self, groups, leavers=(), per_sim_max: int = 9000):
        """For each (count, settings) of groups, count stations split over as many cp-sim
        processes as needed (each within its descriptor limit and its load balancer's
        maxconn), one load balancer each in turn; plus, for each n in leavers, n stations (with
        the first group's settings) in a cp-sim of their own that leave() stops for good."""
        start = 1
        load = {lb.index: 0 for lb in self.lbs}

        def least_loaded(c):  # each balancer takes at most ~9,500 connections
            lb = min(self.lbs, key=lambda b: load[b.index])
            load[lb.index] += c
            return lb
        for count, settings in groups:
            n = max(1, -(-count // per_sim_max))
            for i in range(n):
                c = count // n + (1 if i < count % n else 0)
                self.sims.append(CpSim(self, len(self.sims), least_loaded(c), c, start,
                                       settings))
                start += c
        settings = groups[0][1]
        for k, c in enumerate(leavers):
            ls = dict(settings, drain_ms=500)
            self.sims.append(CpSim(self, len(self.sims), least_loaded(c), c, start, ls,
                                   leaver=True))
            start += c

    def leave(self, k: int):
        """The k-th group of leaver stations goes away for good (their connections close; they
        never come back): their mappings must then be released."""
        s = [s for s in self.sims if s.leaver][k]
        if s.proc.poll() is None:
            self.tl.mark("sim.leaving", index=s.index, count=s.count)
            s.stop()

    def identities(self):
        out = []
        for s in self.sims:
            out.extend(s.identities())
        return out

    def wait_booted(self, fraction: float, timeout: float):
        """Until `fraction` of all stations are connected and booted (from the cp-sim logs)."""
        total = sum(s.count for s in self.sims)
        deadline = time.time() + timeout
        while True:
            for s in self.sims:
                s.follow()
                if s.proc.poll() is not None:
                    raise RuntimeError(f"cp-sim {s.index} exited (see {s.err})")
            booted = sum(len(s.booted) for s in self.sims)
            if booted >= fraction * total:
                self.tl.mark("sim.booted", booted=booted, total=total)
                return booted
            if time.time() > deadline:
                raise RuntimeError(f"only {booted} of {total} stations booted in {timeout}s")
            time.sleep(0.5)

    def stop_sims(self):
        for s in self.sims:
            if s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
        for s in self.sims:
            s.stop()

    def dump_topics(self, topics=("ocpp-events-up", "command-results", "commands-dlq",
                                  "commands-down")):
        os.makedirs(os.path.join(self.dir, "topics"), exist_ok=True)
        out = {}
        for t in topics:
            out[t] = hakafka.dump_topic(self.kafka.brokers, t,
                                        os.path.join(self.dir, "topics", f"{t}.jsonl"))
        self.tl.mark("topics.dumped", **{k.replace("-", "_"): v for k, v in out.items()})
        return out

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.mem:
            self.mem.stop()
            self.mem = None
        for s in self.sims:  # stations first: the pods then have nothing to drain
            if s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
        for s in self.sims:
            try:
                s.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()
        for p in self.pods:
            try:
                p.shutdown()
            except Exception as e:  # cleanup goes on whatever failed
                print(f"  pod {p.name} shutdown: {e}")
        self.procs.cleanup()
        self.tl.mark("cluster.closed")
        self.tl.close()
