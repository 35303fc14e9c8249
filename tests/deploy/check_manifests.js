// check_manifests.js: keeps the deployment files honest against the code.
//
//   NODE_PATH=tests/e2e/node_modules node tests/deploy/check_manifests.js
//
// Reads k8s/ (through k8s/kustomization.yaml), docker-compose.yml, the Dockerfile and the
// dashboard, and checks them against what the code says: every Kubernetes object validates
// against the Kubernetes (kubernetes-models) or Prometheus Operator schemas; the pod is wired as
// DESIGN §1/§9/§10 require; every configuration key and OCPPGW_* variable exists in
// docs/configuration.md; the ConfigMap's file and the compose environment are accepted by the real
// binaries (--print-config); every metric in the alert rules, the dashboard and the HPA exists in
// the sources; the Dockerfile's package lists cover the libraries the binaries link; the compose
// health check works against a real admin port without curl; docker-compose.yml (two pods, HAProxy,
// three KRaft nodes, Redis, Prometheus, Grafana, cp-sim) validates against the compose
// specification's JSON schema and is wired as docs/deployment.md says; the topics Job and compose's
// kafka-init run the same script with the documented counts; the Prometheus adapter's rule serves
// the HPA's metric; docs/operations.md documents every metric of the sources and has a runbook
// entry for every alert; compose's rules file is the PrometheusRule's groups.
//
// Unknown (misspelt) fields are caught by compiling each object as a typed TypeScript literal.
// Then it breaks the files on purpose, one way at a time (in memory), and fails if any breakage
// goes unnoticed, so the checks themselves cannot silently stop checking.
// Exit 0 when everything holds; every problem is printed as "FAIL <check>: <what>".
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const cp = require('child_process');
const YAML = require('yaml');

const ROOT = path.resolve(__dirname, '../..');
const BUILD = process.env.BUILD || 'build';
const BIN = path.resolve(ROOT, BUILD, 'bin');
const STAGES = ['ws-edge', 'ocpp-core', 'kafka-bridge', 'redis-registry'];
const SIDECAR_ORDER = ['redis-registry', 'kafka-bridge', 'ocpp-core']; // start order
const UID = 10001;
const IPC_DIR = '/run/ocppgw';
const TOPICS = ['ocpp-events-up', 'commands-down', 'command-results', 'commands-dlq'];
// documented defaults of k8s/topics/create-topics.sh (docs/operations.md#kafka-topics)
const TOPIC_ENV = { COMMANDS_PARTITIONS: '128', EVENTS_PARTITIONS: '64', RESULTS_PARTITIONS: '16', DLQ_PARTITIONS: '4',
  REPLICATION_FACTOR: '3', MIN_INSYNC_REPLICAS: '2' };
const TOPICS_SCRIPT = 'topics/create-topics.sh';
// docker compose: the two pods, their services named <pod>-<stage>
const COMPOSE_PODS = ['pod-a', 'pod-b'];
const { extractRules } = require('./extract_rules');
// metrics that are not the gateway's own, allowed in rules and dashboards
const EXTERNAL_METRICS = new Set(['up', 'kube_pod_container_status_restarts_total']);
// libraries of debian:bookworm-slim itself (priority required), not installed by the Dockerfile
const BASE_PACKAGES = new Set(['libc6', 'libgcc-s1', 'libstdc++6', 'zlib1g']);

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const clone = (x) => JSON.parse(JSON.stringify(x));

// ------------------------------------------------------------------------------------------
// Facts from the code (never mutated by the self-test)

// docs/configuration.md is generated from the services' own tables (make code-check keeps it so)
function configKeys() {
  const keys = {};
  let section = null;
  for (const line of read('docs/configuration.md').split('\n')) {
    const h = line.match(/^## (\S+)/);
    if (h) { section = h[1]; keys[section] = new Map(); continue; }
    const k = line.match(/^ {2}([a-z0-9_]+) \((OCPPGW_[A-Z0-9_]+)\): .*default '([^']*)'/);
    if (k && section) keys[section].set(k[1], { env: k[2], def: k[3] });
  }
  return keys;
}

// metric names registered in services/, common/ and tools/ (without the ocppgw_ prefix), from
// direct registrations and from the rows of the stages' metrics tables (metrics_def_t); the
// standard process metrics (register_collected) are exported unprefixed and kept in .unprefixed
function sourceMetrics() {
  const metrics = new Map();
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.c')) files.push(rel);
    }
  };
  ['services', 'common', 'tools'].forEach(walk);
  const re = /\b(metrics_counter|metrics_gauge|metrics_histogram|metrics_count|register_collected)\s*\(\s*"([a-z_][a-z0-9_]*)"\s*,([^;]*)/gs;
  const row = /\{\s*"([a-z_][a-z0-9_]*)"\s*,\s*METRICS_(COUNTER|GAUGE|HISTOGRAM)\b/g;
  metrics.unprefixed = new Set();
  for (const f of files) {
    const src = read(f);
    for (const m of src.matchAll(re)) {
      let type = { metrics_counter: 'counter', metrics_count: 'counter', metrics_gauge: 'gauge',
        metrics_histogram: 'histogram' }[m[1]];
      if (m[1] === 'register_collected') {
        metrics.unprefixed.add(m[2]);
        continue;
      }
      metrics.set(m[2], type);
    }
    for (const m of src.matchAll(row)) metrics.set(m[1], m[2].toLowerCase());
  }
  return metrics;
}

// pkg-config modules the Makefile builds `all` with, and the Debian package of each .pc file
function pkgConfigPackages() {
  const mods = new Set();
  for (const m of read('Makefile').matchAll(/^([A-Z]+)_PKGS\s*:=\s*(.*)$/gm)) {
    if (m[1] !== 'TEST') m[2].trim().split(/\s+/).forEach((x) => mods.add(x));
  }
  return [...mods].map((mod) => {
    const pc = sh('pkg-config', ['--path', mod]);
    return { mod, pkg: pc && owningPackage(pc.trim()) };
  });
}

// the libraries each stage binary links directly (NEEDED), and the Debian package of each
function linkedPackages() {
  const ld = sh('ldconfig', ['-p']) || '';
  const out = [];
  for (const stage of STAGES) {
    const dump = sh('objdump', ['-p', path.join(BIN, stage)]);
    if (!dump) { out.push({ stage }); continue; }
    // A SANITIZER= build links differently (sanitizer runtimes, no --as-needed pruning): its
    // libraries say nothing about the image, whose build uses no sanitizer.
    if (/NEEDED\s+lib(asan|ubsan|tsan)\.so/.test(dump)) {
      console.log(`note: ${stage} is a sanitizer build; library coverage of the image not checked`);
      out.push({ stage, sanitizer: true });
      continue;
    }
    for (const m of dump.matchAll(/NEEDED\s+(\S+)/g)) {
      const line = ld.split('\n').find((l) => l.trim().startsWith(m[1] + ' ') && /x86-64|64bit|AArch64/.test(l));
      const file = line && line.split('=>')[1].trim();
      out.push({ stage, lib: m[1], pkg: file && owningPackage(file) });
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// The files under test (the self-test mutates copies of this)

function loadFiles() {
  const kust = YAML.parse(read('k8s/kustomization.yaml'));
  const objects = [];
  const docErrors = [];
  const files = [...kust.resources, 'secret.example.yaml'];
  for (const f of files) {
    for (const doc of YAML.parseAllDocuments(read(path.join('k8s', f)))) {
      if (doc.errors.length) docErrors.push(`${f}: ${doc.errors[0].message}`);
      const obj = doc.toJS();
      if (obj) objects.push({ file: f, obj });
    }
  }
  return {
    kust,
    objects,
    docErrors,
    k8sFiles: fs.readdirSync(path.join(ROOT, 'k8s')).filter((f) => /\.ya?ml$/.test(f)),
    dashboard: JSON.parse(read('k8s/dashboards/ocppgw.json')),
    compose: YAML.parse(read('docker-compose.yml'), { merge: true }),
    dockerfile: read('Dockerfile'),
    haproxy: read('compose/haproxy/haproxy.cfg'),
    cpSim: YAML.parse(read('compose/cp-sim.yaml')),
    promConfig: YAML.parse(read('compose/prometheus/prometheus.yml')),
    composeRules: read('compose/prometheus/ocppgw-rules.yml'),
    adapter: YAML.parse(read('k8s/prometheus-adapter/rules.yaml')),
    operations: read('docs/operations.md'),
    grafana: {
      datasources: YAML.parse(read('compose/grafana/provisioning/datasources/prometheus.yaml')),
      dashboards: YAML.parse(read('compose/grafana/provisioning/dashboards/ocppgw.yaml')),
    },
  };
}

// renames decided but not made yet (tests/deploy/pending_renames.tsv): exported name -> new name
function pendingRenames() {
  const m = new Map();
  for (const line of read('tests/deploy/pending_renames.tsv').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [oldName, newName] = line.split('\t');
    m.set(oldName, newName);
  }
  return m;
}

// the compose specification's JSON schema, as shipped by dclint (npm), compiled once
let composeValidator;
function composeSchema() {
  if (!composeValidator) {
    const Ajv = require('ajv');
    const dir = path.dirname(require.resolve('dclint/package.json'));
    const schema = JSON.parse(fs.readFileSync(path.join(dir, 'schemas/compose.schema.json'), 'utf8'));
    delete schema.$schema; // draft-07 under an https URL ajv does not know; the vocabulary is ajv's default
    composeValidator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  return composeValidator;
}

// ${VAR:-default} -> default, everywhere in a parsed compose file (what compose does without VAR)
function interpolateAll(x) {
  if (typeof x === 'string') return interpolate(x);
  if (Array.isArray(x)) return x.map(interpolateAll);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, interpolateAll(v)]));
  return x;
}

// ------------------------------------------------------------------------------------------
// Helpers

function modelClass(apiVersion, kind) {
  const mod = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  try {
    return require(mod)[kind];
  } catch (e) {
    return undefined;
  }
}

const find = (M, kind, name) =>
  M.objects.map((o) => o.obj).find((o) => o.kind === kind && (!name || o.metadata.name === name));
const findAll = (M, kind) => M.objects.map((o) => o.obj).filter((o) => o.kind === kind);
const matches = (selector, labels) =>
  !!selector && Object.entries(selector).every(([k, v]) => labels && labels[k] === v);

function podContainers(sts) {
  const spec = sts.spec.template.spec;
  return [...(spec.initContainers || []), ...(spec.containers || [])];
}

function configFile(M) {
  const cm = find(M, 'ConfigMap', 'ocppgw-config');
  return cm && cm.data && YAML.parse(cm.data['ocppgw.yaml']);
}

// value of a stage's key as the pod would see it: env > own section > common > default
function effective(K, cfg, env, stage, key) {
  const e = (env || []).find((v) => v.name === K[stage].get(key).env);
  if (e && e.value !== undefined) return String(e.value);
  if (cfg && cfg[stage] && cfg[stage][key] !== undefined) return String(cfg[stage][key]);
  if (cfg && cfg.common && cfg.common[key] !== undefined) return String(cfg.common[key]);
  return K[stage].get(key).def;
}

// Dockerfile: stages and the packages each apt-get install line names
function parseDockerfile(text) {
  const joined = text.replace(/\\\n/g, ' ');
  const stages = [];
  for (const line of joined.split('\n')) {
    const l = line.trim();
    if (/^FROM\s/i.test(l)) stages.push({ from: l.split(/\s+/)[1], lines: [] });
    else if (stages.length && l && !l.startsWith('#')) stages[stages.length - 1].lines.push(l);
  }
  for (const s of stages) {
    s.packages = new Set();
    for (const l of s.lines) {
      const m = l.match(/apt-get install ([^&;]*)/);
      if (m) m[1].split(/\s+/).filter((w) => w && !w.startsWith('-')).forEach((p) => s.packages.add(p));
    }
  }
  return stages;
}

function sh(cmd, args) {
  const r = cp.spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : null;
}

function owningPackage(file) {
  const out = sh('dpkg', ['-S', file]) || sh('dpkg', ['-S', fs.realpathSync(file)]);
  return out ? out.split(':')[0].trim() : null;
}

// every ocppgw_* name in a PromQL expression, checked against the registered metrics
function checkExprMetrics(err, where, expr, metrics) {
  const names = expr.match(/\bocppgw_[a-z0-9_]+/g) || [];
  for (const full of names) {
    const name = full.slice('ocppgw_'.length);
    if (metrics.has(name)) continue;
    const h = name.match(/^(.*)_(bucket|sum|count)$/);
    if (h && metrics.get(h[1]) === 'histogram') continue;
    err(`${where}: metric ${full} does not exist in services/, common/ or tools/`);
  }
  const bare = expr.replace(/"[^"]*"/g, '').match(/\b[a-z_][a-z0-9_]*(?=\s*[{[])/g) || [];
  for (const b of bare) {
    if (!b.startsWith('ocppgw_') && !EXTERNAL_METRICS.has(b) && !metrics.unprefixed.has(b) &&
        !/^(by|without|on|ignoring)$/.test(b)) {
      err(`${where}: metric ${b} is neither the gateway's nor an allowed external one`);
    }
  }
  if (!names.length && !bare.some((b) => EXTERNAL_METRICS.has(b) || metrics.unprefixed.has(b))) {
    err(`${where}: uses no metric`);
  }
}

// ------------------------------------------------------------------------------------------
// The checks: each gets (M files, F facts, err(msg))

const CHECKS = {
  'k8s-files'(M, F, err) {
    M.docErrors.forEach((e) => err(`YAML: ${e}`));
    for (const f of M.k8sFiles) {
      if (f === 'kustomization.yaml' || f === 'secret.example.yaml') continue;
      if (!M.kust.resources.includes(f)) err(`k8s/${f} is not listed in k8s/kustomization.yaml`);
    }
    for (const g of M.kust.configMapGenerator || []) {
      for (const f of g.files) if (!fs.existsSync(path.join(ROOT, 'k8s', f))) err(`missing ${f}`);
    }
    const rbac = M.objects.filter((o) => /Role(Binding)?$/.test(o.obj.kind));
    rbac.forEach((o) => err(`${o.file}: ${o.obj.kind} present, the gateway has no API rights`));
  },

  'k8s-schema'(M, F, err) {
    for (const { file, obj } of M.objects) {
      const Cls = obj && obj.apiVersion && modelClass(obj.apiVersion, obj.kind);
      if (!Cls) { err(`${file}: no schema for ${obj && obj.apiVersion} ${obj && obj.kind}`); continue; }
      try {
        new Cls(obj).validate();
      } catch (e) {
        err(`${file}: ${obj.kind}/${obj.metadata && obj.metadata.name}: ${e.message}`);
      }
    }
  },

  'k8s-pod'(M, F, err) {
    const sts = find(M, 'StatefulSet');
    if (!sts) return err('no StatefulSet');
    const spec = sts.spec.template.spec;
    const labels = sts.spec.template.metadata.labels;
    const cfg = configFile(M);
    if (!matches(sts.spec.selector.matchLabels, labels)) err('selector does not match the pod labels');
    const svc = find(M, 'Service', sts.spec.serviceName);
    if (!svc || svc.spec.clusterIP !== 'None') err(`serviceName ${sts.spec.serviceName} is not a headless Service`);

    // four containers: three native sidecars in start order, the edge as the main container
    const sidecars = (spec.initContainers || []).map((c) => c.name);
    if (JSON.stringify(sidecars) !== JSON.stringify(SIDECAR_ORDER)) {
      err(`initContainers must be the sidecars ${SIDECAR_ORDER.join(', ')} in that order, are ${sidecars}`);
    }
    (spec.initContainers || []).forEach((c) => {
      if (c.restartPolicy !== 'Always') err(`${c.name}: restartPolicy Always (native sidecar) missing`);
    });
    const mains = (spec.containers || []).map((c) => c.name);
    if (JSON.stringify(mains) !== '["ws-edge"]') err(`containers must be [ws-edge], are ${mains}`);

    // pod level
    const psc = spec.securityContext || {};
    if (psc.runAsNonRoot !== true || psc.runAsUser !== UID) err(`pod securityContext must run as non-root ${UID}`);
    if (!psc.seccompProfile || psc.seccompProfile.type !== 'RuntimeDefault') err('pod seccompProfile RuntimeDefault missing');
    if (spec.automountServiceAccountToken !== false) err('pod automountServiceAccountToken must be false');
    const sa = find(M, 'ServiceAccount', spec.serviceAccountName);
    if (!sa) err(`serviceAccountName ${spec.serviceAccountName} does not exist`);
    else if (sa.automountServiceAccountToken !== false) err('ServiceAccount automountServiceAccountToken must be false');
    const grace = spec.terminationGracePeriodSeconds;
    if (!(grace >= 60 && grace <= 300)) err(`terminationGracePeriodSeconds ${grace} is not 60..300 (edge drain)`);
    const anti = (((spec.affinity || {}).podAntiAffinity || {}).requiredDuringSchedulingIgnoredDuringExecution || []);
    if (!anti.some((t) => t.topologyKey === 'kubernetes.io/hostname' && matches(t.labelSelector.matchLabels, labels))) {
      err('no required pod anti-affinity across nodes (kubernetes.io/hostname)');
    }
    const ipcVol = (spec.volumes || []).find((v) => v.emptyDir && v.emptyDir.medium === 'Memory');
    if (!ipcVol) err('no emptyDir with medium Memory for the ipc sockets');
    const cfgVol = (spec.volumes || []).find((v) => v.configMap && v.configMap.name === 'ocppgw-config');
    if (!cfgVol) err('ConfigMap ocppgw-config is not mounted');
    if (!cfg) err('ConfigMap ocppgw-config has no ocppgw.yaml');

    for (const c of podContainers(sts)) {
      const n = c.name;
      if (!STAGES.includes(n)) { err(`unexpected container ${n}`); continue; }
      if (!c.command || path.basename(c.command[0]) !== n) err(`${n}: command must run /usr/local/bin/${n}`);
      const sc = c.securityContext || {};
      if (sc.runAsNonRoot !== true) err(`${n}: runAsNonRoot missing`);
      if (sc.runAsUser !== UID) err(`${n}: runAsUser must be ${UID}`);
      if (sc.readOnlyRootFilesystem !== true) err(`${n}: readOnlyRootFilesystem missing`);
      if (sc.allowPrivilegeEscalation !== false) err(`${n}: allowPrivilegeEscalation must be false`);
      if (!sc.capabilities || !(sc.capabilities.drop || []).includes('ALL')) err(`${n}: capabilities must drop ALL`);
      if (!sc.seccompProfile || sc.seccompProfile.type !== 'RuntimeDefault') err(`${n}: seccompProfile RuntimeDefault missing`);
      const r = c.resources || {};
      if (!r.requests || !r.requests.cpu || !r.requests.memory) err(`${n}: cpu and memory requests missing`);
      if (!r.limits || !r.limits.memory) err(`${n}: memory limit missing`);

      const env = c.env || [];
      for (const e of env) {
        if (!e.name.startsWith('OCPPGW_') || e.name === 'OCPPGW_CONFIG') continue;
        if (![...F.keys[n].values()].some((k) => k.env === e.name)) err(`${n}: env ${e.name} is not a key of ${n} (docs/configuration.md)`);
      }
      const pod = env.find((e) => e.name === 'OCPPGW_POD_ID');
      if (!pod || !pod.valueFrom || !pod.valueFrom.fieldRef || pod.valueFrom.fieldRef.fieldPath !== 'metadata.name') {
        err(`${n}: OCPPGW_POD_ID must come from the downward API (metadata.name)`);
      }
      const mounts = c.volumeMounts || [];
      const ipcDir = effective(F.keys, cfg, env, n, 'ipc_dir');
      if (!ipcVol || !mounts.some((m) => m.name === ipcVol.name && m.mountPath === ipcDir)) {
        err(`${n}: the ipc emptyDir is not mounted at its ipc_dir ${ipcDir}`);
      }
      if (ipcDir !== IPC_DIR) err(`${n}: ipc_dir ${ipcDir}, the image prepares ${IPC_DIR}`);
      const confEnv = env.find((e) => e.name === 'OCPPGW_CONFIG');
      const cfgMount = cfgVol && mounts.find((m) => m.name === cfgVol.name);
      if (!confEnv || !cfgMount || confEnv.value !== `${cfgMount.mountPath}/ocppgw.yaml`) {
        err(`${n}: OCPPGW_CONFIG must name ocppgw.yaml in the mounted ConfigMap`);
      }
      if (effective(F.keys, cfg, env, n, 'admin_bind') !== '0.0.0.0') {
        err(`${n}: admin_bind must be 0.0.0.0 for kubelet probes and scraping`);
      }
      // probes on the stage's admin port
      const adminPort = Number(effective(F.keys, cfg, env, n, 'admin_port'));
      const portOf = (p) => (typeof p === 'number' ? p : ((c.ports || []).find((q) => q.name === p) || {}).containerPort);
      // the registry has no readiness probe: Redis down must not make the pods unready
      // (docs/deployment.md); every other stage's readiness is /readyz
      if (n === 'redis-registry' && c.readinessProbe) err('redis-registry: no readinessProbe (Redis down must not make the pod unready)');
      for (const [probe, pth] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']]) {
        if (n === 'redis-registry' && probe === 'readinessProbe') continue;
        const h = c[probe] && c[probe].httpGet;
        if (!h) { err(`${n}: ${probe} missing`); continue; }
        if (h.path !== pth) err(`${n}: ${probe} must GET ${pth}`);
        if (portOf(h.port) !== adminPort) err(`${n}: ${probe} port ${h.port} is not its admin port ${adminPort}`);
      }
      if (n === 'ws-edge') {
        if (!c.lifecycle || !c.lifecycle.preStop) err('ws-edge: preStop missing');
        const ws = (c.ports || []).find((p) => p.name === 'ws');
        const wsPort = Number(effective(F.keys, cfg, env, n, 'ws_port'));
        if (!ws || ws.containerPort !== wsPort) err(`ws-edge: port "ws" must be ws_port ${wsPort}`);
      }
      if (n === 'redis-registry') {
        const u = env.find((e) => e.name === 'OCPPGW_REDIS_URL');
        if (!u || !u.valueFrom || !u.valueFrom.secretKeyRef) err('redis-registry: OCPPGW_REDIS_URL must come from a Secret');
      }
    }
  },

  'k8s-config'(M, F, err) {
    const cfg = configFile(M);
    if (!cfg) return err('ConfigMap ocppgw-config/ocppgw.yaml missing');
    for (const [section, body] of Object.entries(cfg)) {
      if (section === 'common') {
        for (const k of Object.keys(body || {})) {
          if (!STAGES.some((s) => F.keys[s].has(k))) err(`common: key ${k} belongs to no stage`);
        }
      } else if (!STAGES.includes(section)) {
        err(`unknown section ${section}`);
      } else {
        for (const k of Object.keys(body || {})) {
          if (!F.keys[section].has(k)) err(`${section}: unknown key ${k}`);
        }
      }
    }
  },

  'k8s-services'(M, F, err) {
    const sts = find(M, 'StatefulSet');
    const labels = sts.spec.template.metadata.labels;
    const edge = podContainers(sts).find((c) => c.name === 'ws-edge');
    const allPorts = podContainers(sts).flatMap((c) => c.ports || []);
    const lbs = findAll(M, 'Service').filter((s) => s.spec.type === 'LoadBalancer');
    if (lbs.length !== 1) return err(`expected one LoadBalancer Service, found ${lbs.length}`);
    const lb = lbs[0];
    if (lb.spec.externalTrafficPolicy !== 'Local') err('LoadBalancer externalTrafficPolicy must be Local');
    if (!matches(lb.spec.selector, labels)) err('LoadBalancer selector does not match the pod');
    const p = lb.spec.ports || [];
    if (p.length !== 1 || p[0].port !== 8080 || (p[0].protocol || 'TCP') !== 'TCP') err('LoadBalancer must expose TCP 8080 only');
    const tp = p[0] && p[0].targetPort;
    if (!(edge.ports || []).some((q) => q.name === tp || q.containerPort === tp)) err(`LoadBalancer targetPort ${tp} is not a ws-edge port`);
    for (const s of findAll(M, 'Service')) {
      if (!matches(s.spec.selector, labels)) err(`Service ${s.metadata.name} selects no gateway pod`);
      for (const q of s.spec.ports || []) {
        const t = q.targetPort === undefined ? q.port : q.targetPort;
        if (!allPorts.some((c) => c.name === t || c.containerPort === t)) err(`Service ${s.metadata.name}: targetPort ${t} is no container port`);
      }
    }
    const pdb = find(M, 'PodDisruptionBudget');
    if (!pdb || !matches(pdb.spec.selector.matchLabels, labels)) err('no PodDisruptionBudget selecting the pod');
    const hpa = find(M, 'HorizontalPodAutoscaler');
    if (!hpa) return err('no HorizontalPodAutoscaler');
    const ref = hpa.spec.scaleTargetRef;
    if (ref.kind !== sts.kind || ref.name !== sts.metadata.name) err('HPA does not scale the gateway StatefulSet');
    const pm = (hpa.spec.metrics || []).filter((m) => m.type === 'Pods');
    if (!pm.some((m) => m.pods.metric.name === 'ocppgw_edge_connections')) err('HPA does not scale on ocppgw_edge_connections');
    for (const m of pm) checkExprMetrics(err, 'HPA', m.pods.metric.name, F.metrics);
    for (const m of pm) {
      const base = m.pods.metric.name.replace(/^ocppgw_/, '');
      if (F.metrics.has(base) && F.metrics.get(base) !== 'gauge') err(`HPA metric ${m.pods.metric.name} is not a gauge`);
    }
  },

  'monitoring'(M, F, err) {
    const sts = find(M, 'StatefulSet');
    const sm = find(M, 'ServiceMonitor');
    if (!sm) return err('no ServiceMonitor');
    const svc = findAll(M, 'Service').find((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
    if (!svc) return err('the ServiceMonitor selects no Service');
    const svcPorts = new Map((svc.spec.ports || []).map((p) => [p.name, p]));
    for (const e of sm.spec.endpoints) {
      if (!svcPorts.has(e.port)) err(`ServiceMonitor port ${e.port} is not a port of Service ${svc.metadata.name}`);
      if ((e.path || '/metrics') !== '/metrics') err(`ServiceMonitor ${e.port}: path must be /metrics`);
    }
    const cfg = configFile(M);
    for (const c of podContainers(sts)) {
      const port = Number(effective(F.keys, cfg, c.env, c.name, 'admin_port'));
      const scraped = sm.spec.endpoints.some((e) => {
        const sp = svcPorts.get(e.port);
        if (!sp) return false;
        const t = sp.targetPort === undefined ? sp.port : sp.targetPort;
        return (c.ports || []).some((q) => q.containerPort === port && (q.name === t || q.containerPort === t));
      });
      if (!scraped) err(`${c.name}: admin port ${port} is not scraped`);
    }
    const rules = find(M, 'PrometheusRule');
    if (!rules) return err('no PrometheusRule');
    let n = 0;
    for (const g of rules.spec.groups) {
      for (const r of g.rules) {
        n++;
        const where = `alert ${r.alert}`;
        if (!r.alert || !r.expr) { err(`${g.name}: rule without alert or expr`); continue; }
        if (!r.labels || !['critical', 'warning', 'info'].includes(r.labels.severity)) err(`${where}: severity label missing`);
        if (!r.annotations || !r.annotations.summary) err(`${where}: summary annotation missing`);
        checkExprMetrics(err, where, String(r.expr), F.metrics);
        for (const j of String(r.expr).matchAll(/job="([^"]+)"/g)) {
          if (j[1] !== svc.metadata.name) err(`${where}: job "${j[1]}" is not the scraped Service ${svc.metadata.name}`);
        }
      }
    }
    if (n < 5) err(`only ${n} alert rules`);
    // the dashboard
    const d = M.dashboard;
    if (!d.title || !Array.isArray(d.panels)) return err('dashboard: title or panels missing');
    const ids = new Set();
    let targets = 0;
    const used = new Set();
    for (const p of d.panels) {
      if (ids.has(p.id)) err(`dashboard: duplicate panel id ${p.id}`);
      ids.add(p.id);
      if (p.type === 'row') continue;
      if (!p.title || !p.gridPos || !(p.targets || []).length) err(`dashboard panel ${p.id}: title, gridPos or targets missing`);
      for (const t of p.targets || []) {
        targets++;
        checkExprMetrics(err, `dashboard panel "${p.title}"`, String(t.expr), F.metrics);
        (String(t.expr).match(/\bocppgw_([a-z]+)_/g) || []).forEach((s) => used.add(s));
      }
    }
    for (const stage of ['edge', 'core', 'bridge', 'registry']) {
      if (!used.has(`ocppgw_${stage}_`)) err(`dashboard: no panel on ${stage} metrics`);
    }
    if (targets < 10) err(`dashboard: only ${targets} queries`);
  },

  'compose'(M, F, err) {
    const list = (x) => (Array.isArray(x) ? x : []);
    const c = M.compose;
    const svcs = c.services || {};
    const kafkas = Object.keys(svcs).filter((n) => /^kafka-\d+$/.test(n));
    for (const s of ['kafka-init', 'redis', 'haproxy', 'prometheus', 'grafana', 'cp-sim']) {
      if (!svcs[s]) err(`service ${s} missing`);
    }
    for (const [name, s] of Object.entries(svcs)) {
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on || {});
      for (const dep of deps) if (!svcs[dep]) err(`${name}: depends_on unknown ${dep}`);
      for (const v of s.volumes || []) {
        const src = String(v).split(':')[0];
        if (src.startsWith('.')) {
          if (!fs.existsSync(path.join(ROOT, src))) err(`${name}: mounts ${src}, which does not exist`);
        } else if (!src.startsWith('/') && !(c.volumes || {}).hasOwnProperty(src)) err(`${name}: volume ${src} not declared`);
      }
    }
    // two pods of four stages: one pod id and one ipc volume per pod, none shared between pods
    const podIds = new Map();
    const ipcVolumes = new Map();
    for (const pod of COMPOSE_PODS) {
      for (const n of STAGES) {
        const sn = `${pod}-${n}`;
        const s = svcs[sn];
        if (!s) { err(`service ${sn} missing`); continue; }
        const env = s.environment || {};
        if (!Array.isArray(s.command) || s.command[0] !== n) err(`${sn}: command must be ["${n}"]`);
        if (String(s.user).split(':')[0] !== String(UID)) err(`${sn}: user must be ${UID}`);
        if (s.read_only !== true) err(`${sn}: read_only must be true`);
        if (!(s.cap_drop || []).includes('ALL')) err(`${sn}: cap_drop ALL missing`);
        if (s.image !== (svcs[`${COMPOSE_PODS[0]}-ws-edge`] || {}).image) err(`${sn}: all stages must use one image`);
        for (const k of Object.keys(env)) {
          if (k.startsWith('OCPPGW_') && ![...F.keys[n].values()].some((o) => o.env === k)) err(`${sn}: env ${k} is not a key of ${n}`);
        }
        const ipcDir = env.OCPPGW_IPC_DIR || F.keys[n].get('ipc_dir').def;
        const ipc = (s.volumes || []).map(String).find((v) => v.split(':')[1] === ipcDir);
        if (!ipc) err(`${sn}: no volume mounted at its ipc_dir ${ipcDir}`);
        else ipcVolumes.set(sn, ipc.split(':')[0]);
        podIds.set(sn, env.OCPPGW_POD_ID);
        const port = env.OCPPGW_ADMIN_PORT || F.keys[n].get('admin_port').def;
        if (env.OCPPGW_ADMIN_BIND !== '0.0.0.0') err(`${sn}: admin_bind must be 0.0.0.0 (HAProxy's checks, Prometheus)`);
        const test = ((s.healthcheck || {}).test || []).join(' ');
        if (!test.includes('/healthz') || !test.includes(`/${port} `)) err(`${sn}: healthcheck must GET /healthz on admin port ${port}`);
        if (/\bcurl\b|\bwget\b/.test(test)) err(`${sn}: healthcheck uses a tool the image does not have`);
      }
      const ids = new Set(STAGES.map((n) => podIds.get(`${pod}-${n}`)));
      const vols = new Set(STAGES.map((n) => ipcVolumes.get(`${pod}-${n}`)));
      if (ids.size !== 1 || ids.has(undefined)) err(`${pod}: its four stages must share one OCPPGW_POD_ID, have ${[...ids]}`);
      if (vols.size !== 1 || vols.has(undefined)) err(`${pod}: its four stages must share one ipc volume, have ${[...vols]}`);
      const dep = (a, b) => svcs[`${pod}-${a}`] && Object.keys(svcs[`${pod}-${a}`].depends_on || {}).includes(`${pod}-${b}`);
      if (!dep('ws-edge', 'ocpp-core') || !dep('ocpp-core', 'kafka-bridge') || !dep('kafka-bridge', 'redis-registry')) {
        err(`${pod}: depends_on must chain ws-edge -> ocpp-core -> kafka-bridge -> redis-registry`);
      }
      const bridge = svcs[`${pod}-kafka-bridge`] || {};
      if (((bridge.depends_on || {})['kafka-init'] || {}).condition !== 'service_completed_successfully') {
        err(`${pod}-kafka-bridge must wait for kafka-init to complete`);
      }
      const brokers = ((bridge.environment || {}).OCPPGW_KAFKA_BROKERS || '').split(',');
      if (brokers.sort().join() !== kafkas.map((k) => `${k}:9092`).sort().join()) err(`${pod}-kafka-bridge brokers ${brokers} are not the Kafka nodes ${kafkas}`);
      const url = (((svcs[`${pod}-redis-registry`] || {}).environment || {}).OCPPGW_REDIS_URL || '');
      if (!/@redis:6379/.test(url)) err(`${pod}-redis-registry must use the redis service`);
      if (list((svcs[`${pod}-ws-edge`] || {}).ports).some((p) => /:8080$/.test(String(p)))) {
        err(`${pod}-ws-edge publishes 8080: charge points must come through HAProxy`);
      }
    }
    if (new Set([...podIds.values()]).size !== COMPOSE_PODS.length) err('the two pods must have different pod ids');
    if (new Set([...ipcVolumes.values()]).size !== COMPOSE_PODS.length) err('the two pods must not share an ipc volume');
    const hostPorts = Object.values(svcs).flatMap((s) => list(s.ports).map((p) => String(p).split(':').slice(0, -1).join(':')));
    const dupPorts = hostPorts.filter((p, i) => hostPorts.indexOf(p) !== i);
    if (dupPorts.length) err(`host ports published twice: ${dupPorts}`);

    // Kafka: three KRaft nodes, one quorum; kafka-init runs the topics Job's script with RF 3, min ISR 2
    if (kafkas.length !== 3) err(`expected three Kafka nodes, found ${kafkas.length}`);
    for (const k of kafkas) {
      const e = svcs[k].environment || {};
      if (!/^apache\/kafka:3\./.test(String(svcs[k].image))) err(`${k} must be apache/kafka 3.x`);
      if (!String(e.KAFKA_PROCESS_ROLES || '').includes('controller')) err(`${k} must run in KRaft mode`);
      if (!String(e.KAFKA_ADVERTISED_LISTENERS || '').includes(`PLAINTEXT://${k}:9092`)) err(`${k} must advertise ${k}:9092`);
      const voters = String(e.KAFKA_CONTROLLER_QUORUM_VOTERS || '').split(',');
      if (voters.length !== kafkas.length || !voters.includes(`${e.KAFKA_NODE_ID}@${k}:9093`)) err(`${k}: quorum voters ${voters} do not list every node`);
      if (String(e.KAFKA_AUTO_CREATE_TOPICS_ENABLE) !== 'false') err(`${k}: topics must not be created automatically`);
    }
    const init = svcs['kafka-init'] || {};
    const ie = interpolateAll(init.environment || {});
    if (!(init.volumes || []).some((v) => String(v).startsWith(`./k8s/${TOPICS_SCRIPT}:`))) err(`kafka-init must mount k8s/${TOPICS_SCRIPT}`);
    if (!JSON.stringify(init.command || '').includes('create-topics.sh')) err('kafka-init must run create-topics.sh');
    for (const [k, v] of Object.entries(TOPIC_ENV)) if (String(ie[k]) !== v) err(`kafka-init: ${k} is ${ie[k]}, documented ${v}`);
    if ((ie.BOOTSTRAP_SERVERS || '').split(',').sort().join() !== kafkas.map((k) => `${k}:9092`).sort().join()) err('kafka-init must bootstrap from every Kafka node');
    if (!/^redis:7/.test(String((svcs.redis || {}).image))) err('redis must be Redis 7');

    // HAProxy: TCP, both edges, health check GET /readyz on each edge's admin port
    const hp = svcs.haproxy || {};
    if (!list(hp.ports).some((p) => /(^|:)8080:8080$/.test(String(p)))) err('haproxy must publish 8080');
    const cfg = M.haproxy.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    if (!cfg.includes('mode tcp')) err('haproxy.cfg: mode tcp missing');
    if (!cfg.some((l) => /^http-check send .*uri \/readyz\b/.test(l)) || !cfg.includes('option httpchk')) err('haproxy.cfg: the health check must GET /readyz');
    for (const pod of COMPOSE_PODS) {
      const edge = svcs[`${pod}-ws-edge`] || {};
      const env = edge.environment || {};
      const port = env.OCPPGW_ADMIN_PORT || F.keys['ws-edge'].get('admin_port').def;
      const ws = env.OCPPGW_WS_PORT || F.keys['ws-edge'].get('ws_port').def;
      if (!cfg.some((l) => new RegExp(`^server \\S+ ${pod}-ws-edge:${ws} check port ${port}\\b`).test(l))) {
        err(`haproxy.cfg: no checked server ${pod}-ws-edge:${ws} with check port ${port}`);
      }
      if (!Object.keys(hp.depends_on || {}).includes(`${pod}-ws-edge`)) err(`haproxy must depend on ${pod}-ws-edge`);
    }

    // cp-sim: 100 stations through HAProxy
    const sim = svcs['cp-sim'] || {};
    if (sim.network_mode !== 'service:haproxy') err('cp-sim must share HAProxy\'s network namespace');
    const cfgArg = (sim.command || [])[(sim.command || []).indexOf('--config') + 1];
    if (!(sim.volumes || []).map(String).includes(`./compose/cp-sim.yaml:${cfgArg}:ro`)) err('cp-sim must run with compose/cp-sim.yaml');
    const simCfg = (M.cpSim || {})['cp-sim'] || {};
    if (Number(simCfg.count) !== 100) err(`cp-sim must simulate 100 stations, compose/cp-sim.yaml says ${simCfg.count}`);
    if (!/^ws:\/\/127\.0\.0\.1:8080\//.test(String(simCfg.url))) err(`cp-sim url ${simCfg.url} is not HAProxy's frontend`);
    if (!sim.build || sim.build.target !== 'build') err('cp-sim must run from the Dockerfile\'s build stage');
  },

  'compose-schema'(M, F, err) {
    const validate = composeSchema();
    if (!validate(interpolateAll(M.compose))) { // YAML merge keys resolved, as compose does before validating
      for (const e of validate.errors.slice(0, 10)) err(`docker-compose.yml${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`);
    }
  },

  'compose-monitoring'(M, F, err) {
    const svcs = M.compose.services || {};
    const job = (M.promConfig.scrape_configs || []).find((j) => j.job_name === 'ocppgw-pods');
    if (!job) return err('compose prometheus.yml: no job ocppgw-pods (the ServiceMonitor\'s job name)');
    const targets = (job.static_configs || []).flatMap((sc) => (sc.targets || []).map((t) => ({ t, l: sc.labels || {} })));
    for (const pod of COMPOSE_PODS) {
      for (const n of STAGES) {
        const s = svcs[`${pod}-${n}`];
        if (!s) continue;
        const env = s.environment || {};
        const want = `${pod}-${n}:${env.OCPPGW_ADMIN_PORT || F.keys[n].get('admin_port').def}`;
        const t = targets.find((x) => x.t === want);
        if (!t) { err(`compose prometheus.yml does not scrape ${want}`); continue; }
        if (t.l.pod !== env.OCPPGW_POD_ID || t.l.container !== n || !t.l.namespace) {
          err(`compose prometheus.yml: ${want} must carry pod=${env.OCPPGW_POD_ID}, container=${n} and a namespace`);
        }
      }
    }
    if (!(M.promConfig.rule_files || []).some((f) => f.endsWith('ocppgw-rules.yml'))) err('compose prometheus.yml does not load ocppgw-rules.yml');
    if (M.composeRules !== extractRules()) err('compose/prometheus/ocppgw-rules.yml differs from k8s/prometheusrule.yaml: node tests/deploy/extract_rules.js compose/prometheus/ocppgw-rules.yml');
    const prom = svcs.prometheus || {};
    for (const f of ['prometheus.yml', 'ocppgw-rules.yml']) {
      if (!(prom.volumes || []).some((v) => String(v).startsWith(`./compose/prometheus/${f}:`))) err(`prometheus must mount compose/prometheus/${f}`);
    }
    const g = svcs.grafana || {};
    const provider = ((M.grafana.dashboards.providers || [])[0] || {}).options || {};
    if (!(g.volumes || []).some((v) => String(v).startsWith('./k8s/dashboards/ocppgw.json:' + provider.path + '/'))) {
      err(`grafana must mount k8s/dashboards/ocppgw.json under its provider path ${provider.path}`);
    }
    const ds = (M.grafana.datasources.datasources || [])[0] || {};
    if (ds.type !== 'prometheus' || ds.url !== 'http://prometheus:9090' || ds.isDefault !== true) err('grafana: the default data source must be the prometheus service');
  },

  // DESIGN §9: charge-point ports from anywhere, admin ports only from the monitoring namespace
  'network-policy'(M, F, err) {
    const np = find(M, 'NetworkPolicy', 'ocppgw');
    if (!np) return err('no NetworkPolicy ocppgw');
    const sts = find(M, 'StatefulSet');
    if (!matches(np.spec.podSelector.matchLabels, sts.spec.template.metadata.labels)) err('NetworkPolicy selects no gateway pod');
    if (!(np.spec.policyTypes || []).includes('Ingress')) err('NetworkPolicy must restrict Ingress');
    const allPorts = podContainers(sts).flatMap((c) => c.ports || []);
    const open = new Set(), admin = new Set();
    for (const rule of np.spec.ingress || []) {
      for (const q of rule.ports || []) {
        if (!allPorts.some((c) => c.name === q.port || c.containerPort === q.port)) err(`NetworkPolicy: port ${q.port} is no container port`);
        const name = (allPorts.find((c) => c.name === q.port || c.containerPort === q.port) || {}).name || String(q.port);
        if (!rule.from || !rule.from.length) open.add(name);
        else if (rule.from.every((f) => f.namespaceSelector && !f.ipBlock)) admin.add(name);
        else err(`NetworkPolicy: port ${name} is open to something other than a namespace`);
      }
      if (!(rule.ports || []).length) err('NetworkPolicy: a rule without ports opens every port');
    }
    for (const c of allPorts) {
      if (/^admin-/.test(c.name) && open.has(c.name)) err(`NetworkPolicy: admin port ${c.name} is open to everyone`);
      if (/^admin-/.test(c.name) && !admin.has(c.name)) err(`NetworkPolicy: admin port ${c.name} is not reachable from the monitoring namespace`);
      if (/^wss?$/.test(c.name) && !open.has(c.name)) err(`NetworkPolicy: charge-point port ${c.name} is not open`);
    }
  },

  'topics-job'(M, F, err) {
    const job = find(M, 'Job', 'ocppgw-topics');
    if (!job) return err('no Job ocppgw-topics');
    const spec = job.spec.template.spec;
    const c = (spec.containers || [])[0] || {};
    const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
    for (const [k, v] of Object.entries(TOPIC_ENV)) if (env[k] !== v) err(`topics Job: ${k} is ${env[k]}, documented ${v}`);
    const cfg = configFile(M);
    const brokers = cfg && cfg['kafka-bridge'] && cfg['kafka-bridge'].kafka_brokers;
    if (env.BOOTSTRAP_SERVERS !== brokers) err(`topics Job: BOOTSTRAP_SERVERS ${env.BOOTSTRAP_SERVERS} is not the bridge's kafka_brokers ${brokers}`);
    if (!/^apache\/kafka:3\./.test(String(c.image))) err('topics Job must run apache/kafka 3.x (its kafka-topics.sh)');
    const mount = (c.volumeMounts || []).find((m) => JSON.stringify(c.command || []).includes(`${m.mountPath}/create-topics.sh`));
    const vol = mount && (spec.volumes || []).find((v) => v.name === mount.name);
    const gen = vol && vol.configMap && (M.kust.configMapGenerator || []).find((g) => g.name === vol.configMap.name);
    if (!gen || !(gen.files || []).includes(TOPICS_SCRIPT)) err(`topics Job must run k8s/${TOPICS_SCRIPT} from a generated ConfigMap`);
    if (spec.automountServiceAccountToken !== false) err('topics Job: automountServiceAccountToken must be false');
    const psc = spec.securityContext || {};
    const sc = c.securityContext || {};
    if (psc.runAsNonRoot !== true || !psc.seccompProfile || psc.seccompProfile.type !== 'RuntimeDefault') err('topics Job: pod must be non-root with RuntimeDefault seccomp');
    if (sc.allowPrivilegeEscalation !== false || !(sc.capabilities && (sc.capabilities.drop || []).includes('ALL')) || sc.readOnlyRootFilesystem !== true) {
      err('topics Job: container must drop ALL capabilities, forbid privilege escalation, read-only root');
    }
    if (!['OnFailure', 'Never'].includes(spec.restartPolicy)) err('topics Job: restartPolicy must be OnFailure or Never');
    if (!(job.spec.backoffLimit >= 1) || !(job.spec.activeDeadlineSeconds > 0)) err('topics Job: backoffLimit and activeDeadlineSeconds must bound it');
    const script = read(`k8s/${TOPICS_SCRIPT}`);
    for (const t of TOPICS) if (!new RegExp(`^create ${t} `, 'm').test(script)) err(`create-topics.sh does not create ${t}`);
    if (!script.includes('--if-not-exists')) err('create-topics.sh must create with --if-not-exists (idempotent)');
  },

  'hpa-adapter'(M, F, err) {
    const hpa = find(M, 'HorizontalPodAutoscaler');
    const names = ((hpa && hpa.spec.metrics) || []).filter((m) => m.type === 'Pods').map((m) => m.pods.metric.name);
    const rules = M.adapter.rules || [];
    for (const n of names) {
      const r = rules.find((x) => x.name && new RegExp(x.name.matches).test(n) && (x.name.as || n) === n);
      if (!r) { err(`prometheus-adapter rules serve no metric ${n} (the HPA's)`); continue; }
      if (!String(r.seriesQuery).startsWith(`${n}{`)) err(`prometheus-adapter rule for ${n}: seriesQuery ${r.seriesQuery} selects another metric`);
      const o = (r.resources || {}).overrides || {};
      if (!o.namespace || o.namespace.resource !== 'namespace' || !o.pod || o.pod.resource !== 'pod') err(`prometheus-adapter rule for ${n}: namespace and pod must map to their resources`);
      if (!/<<\.GroupBy>>/.test(r.metricsQuery || '') || !/<<\.LabelMatchers>>/.test(r.metricsQuery || '')) err(`prometheus-adapter rule for ${n}: metricsQuery must use LabelMatchers and GroupBy`);
    }
  },

  'operations-doc'(M, F, err) {
    const doc = M.operations;
    const pending = pendingRenames();
    const documented = new Map();
    for (const m of doc.matchAll(/^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram)\s*\|/gm)) documented.set(m[1], m[2]);
    const source = new Map([...F.metrics].map(([k, v]) => [`ocppgw_${k}`, v]));
    for (const u of F.metrics.unprefixed) source.set(u, u.endsWith('_total') ? 'counter' : 'gauge');
    for (const [name, type] of source) {
      const d = pending.get(name) || name;
      if (!documented.has(d)) err(`docs/operations.md: metric ${d} is not documented`);
      else if (documented.get(d) !== type) err(`docs/operations.md: ${d} documented as a ${documented.get(d)}, the code has a ${type}`);
    }
    const renamedTo = new Set(pending.values());
    for (const d of documented.keys()) {
      if (!source.has(d) && !renamedTo.has(d)) err(`docs/operations.md documents ${d}, which no source registers`);
    }
    const rules = find(M, 'PrometheusRule');
    for (const g of (rules ? rules.spec.groups : [])) {
      for (const r of g.rules) {
        if (!r.alert) continue;
        if (!new RegExp(`^### ${r.alert}$`, 'm').test(doc)) err(`docs/operations.md: no runbook entry "### ${r.alert}"`);
        if ((r.annotations || {}).runbook_url !== `docs/operations.md#${r.alert.toLowerCase()}`) err(`alert ${r.alert}: runbook_url must be docs/operations.md#${r.alert.toLowerCase()}`);
      }
    }
  },

  'dockerfile'(M, F, err) {
    const st = parseDockerfile(M.dockerfile);
    if (st.length !== 2) return err(`expected 2 stages, found ${st.length}`);
    const [build, run] = st;
    for (const s of st) if (!/^debian:bookworm-slim\b/.test(s.from)) err(`stage FROM ${s.from}: must be debian:bookworm-slim`);
    if (!run.lines.some((l) => new RegExp(`^USER ${UID}(:${UID})?$`).test(l))) err(`runtime stage must run as USER ${UID}`);
    if (!build.lines.some((l) => /^RUN .*make .*\ball\b/.test(l))) err('build stage must run make all');
    const copy = run.lines.filter((l) => /^COPY --from=/.test(l)).join(' ');
    for (const s of STAGES) if (!copy.includes(`/bin/${s}`)) err(`runtime stage does not copy ${s}`);
    const cmd = run.lines.filter((l) => /^(CMD|ENTRYPOINT)\s/.test(l));
    if (!cmd.length || cmd.some((l) => !/^(CMD|ENTRYPOINT)\s+\[/.test(l))) err('CMD/ENTRYPOINT must be exec form (no shell)');
    if (!run.lines.some((l) => l === `ENV OCPPGW_IPC_DIR=${IPC_DIR}`)) err(`runtime must set OCPPGW_IPC_DIR=${IPC_DIR}`);
    if (!run.lines.some((l) => l.includes(`install -d -o ${UID}`) && l.includes(IPC_DIR))) err(`runtime must create ${IPC_DIR} owned by ${UID}`);
    if (run.packages.size === 0 || [...run.packages].some((p) => /-dev$/.test(p))) err('runtime stage installs no packages or a -dev package');

    // build: a -dev package for every pkg-config module the Makefile builds `all` with
    for (const { mod, pkg } of F.pcPackages) {
      if (!pkg) err(`cannot resolve the package of pkg-config module ${mod} here`);
      else if (!build.packages.has(pkg)) err(`build stage lacks ${pkg} (pkg-config ${mod})`);
    }
    for (const t of ['gcc', 'make', 'pkg-config']) if (!build.packages.has(t)) err(`build stage lacks ${t}`);

    // runtime: the package of every library a stage binary links directly
    for (const { stage, lib, pkg, sanitizer } of F.linked) {
      if (sanitizer) continue;
      if (!lib) err(`cannot read ${path.join(BIN, stage)} (build first)`);
      else if (!pkg) err(`${stage}: cannot resolve the package of ${lib}`);
      else if (!run.packages.has(pkg) && !BASE_PACKAGES.has(pkg)) err(`${stage} links ${lib} (${pkg}), which the runtime stage does not install`);
    }
    // libwebsockets loads its libuv event-loop plugin at run time (not a NEEDED entry)
    const edgeSrc = fs.readdirSync(path.join(ROOT, 'services/ws-edge')).filter((f) => f.endsWith('.c'))
      .map((f) => read(`services/ws-edge/${f}`)).join('\n');
    if (/LWS_SERVER_OPTION_LIBUV/.test(edgeSrc) && !run.packages.has('libwebsockets-evlib-uv')) {
      err('ws-edge uses the libuv event loop: runtime stage needs libwebsockets-evlib-uv');
    }
  },
};

function runChecks(M, F, only) {
  const failures = [];
  for (const [name, fn] of Object.entries(CHECKS)) {
    if (only && !only.includes(name)) continue;
    try {
      fn(M, F, (msg) => failures.push(`${name}: ${msg}`));
    } catch (e) {
      failures.push(`${name}: check crashed: ${e.stack.split('\n').slice(0, 2).join(' ')}`);
    }
  }
  return failures;
}

// ------------------------------------------------------------------------------------------
// The real binaries: the ConfigMap's file and the compose environment must load

function interpolate(v) {
  return String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
}

function printConfig(stage, env, configText) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocppgw-manifests-'));
  try {
    const e = { PATH: process.env.PATH };
    for (const [k, v] of Object.entries(env)) e[k] = v;
    if (configText !== undefined) {
      fs.writeFileSync(path.join(dir, 'ocppgw.yaml'), configText);
      e.OCPPGW_CONFIG = path.join(dir, 'ocppgw.yaml');
    }
    const r = cp.spawnSync(path.join(BIN, stage), ['--print-config'], { env: e, encoding: 'utf8', timeout: 10000 });
    return { ok: r.status === 0, out: `${r.stdout || ''}${r.stderr || ''}`.trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function checkWithBinaries(M, F) {
  const failures = [];
  const fail = (m) => failures.push(`binaries: ${m}`);
  const sts = find(M, 'StatefulSet');
  const cm = find(M, 'ConfigMap', 'ocppgw-config');
  for (const c of podContainers(sts)) {
    const env = {};
    for (const e of c.env || []) {
      if (e.name === 'OCPPGW_CONFIG') continue;
      if (e.value !== undefined) env[e.name] = String(e.value);
      else if (e.valueFrom && e.valueFrom.fieldRef) env[e.name] = 'ocppgw-0';
      else if (e.valueFrom && e.valueFrom.secretKeyRef) env[e.name] = 'redis://:s3cret@redis.example:6379/0';
    }
    const r = printConfig(c.name, env, cm.data['ocppgw.yaml']);
    if (!r.ok) { fail(`k8s ${c.name} rejects its configuration: ${r.out}`); continue; }
    for (const want of ['pod_id = ocppgw-0', `ipc_dir = ${IPC_DIR}`, 'admin_bind = 0.0.0.0']) {
      if (!r.out.split('\n').includes(want)) fail(`k8s ${c.name}: expected "${want}" in --print-config`);
    }
  }
  for (const pod of COMPOSE_PODS) {
    for (const n of STAGES) {
      const s = (M.compose.services || {})[`${pod}-${n}`];
      if (!s) continue;
      const env = {};
      for (const [k, v] of Object.entries(s.environment || {})) env[k] = interpolate(v);
      const r = printConfig(n, env);
      if (!r.ok) fail(`compose ${pod}-${n} rejects its environment: ${r.out}`);
    }
  }
  return failures;
}

// Unknown fields: the schemas above accept any extra property, so a misspelt field name
// (`readOnlyRootFileSystem`) would pass and silently do nothing. TypeScript's excess-property
// check against the same packages' type definitions catches it: each object becomes a typed
// object literal, compiled with tsc (no output).
function checkFields(M) {
  const e2e = path.join(ROOT, 'tests/e2e');
  const tsc = path.join(e2e, 'node_modules/.bin/tsc');
  if (!fs.existsSync(tsc)) return ['fields: tests/e2e/node_modules/.bin/tsc missing (run make deps)'];
  const dir = fs.mkdtempSync(path.join(e2e, 'node_modules', '.ocppgw-typecheck-'));
  const lines = [];
  const where = [];
  M.objects.forEach(({ file, obj }, i) => {
    const pkg = obj.apiVersion.startsWith('monitoring.coreos.com/')
      ? `@kubernetes-models/prometheus-operator/${obj.apiVersion}` : `kubernetes-models/${obj.apiVersion}`;
    lines.push(`import type { I${obj.kind} as T${i} } from "${pkg}/${obj.kind}";`);
    where.push(null);
  });
  M.objects.forEach(({ file, obj }, i) => {
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(obj)};`);
    where.push(`${file}: ${obj.kind}/${obj.metadata.name}`);
  });
  const src = path.join(dir, 'manifests.ts');
  fs.writeFileSync(src, lines.join('\n') + '\n');
  const r = cp.spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--moduleResolution', 'node',
    '--module', 'commonjs', '--target', 'es2020', src], { cwd: e2e, encoding: 'utf8', timeout: 120000 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status === 0) return [];
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  const failures = [];
  for (const m of out.matchAll(/manifests\.ts\((\d+),\d+\): error TS\d+: (.*)/g)) {
    failures.push(`fields: ${where[Number(m[1]) - 1] || 'import'}: ${m[2].slice(0, 200)}`);
  }
  return failures.length ? failures : [`fields: tsc failed: ${out.slice(0, 500)}`];
}

// The compose health check, run for real against ocpp-core's admin port: passes while it
// serves, fails once it is gone. Proves it needs nothing but bash.
function checkHealthcheck(M) {
  const failures = [];
  const fail = (m) => failures.push(`healthcheck: ${m}`);
  const s = M.compose.services[`${COMPOSE_PODS[0]}-ocpp-core`];
  const test = s.healthcheck.test;
  if (test[0] !== 'CMD' || test[1] !== 'bash' || test[2] !== '-c') return [`healthcheck: expected ["CMD", "bash", "-c", ...]`];
  const port = s.environment.OCPPGW_ADMIN_PORT;
  const free = Number(cp.execSync(`python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'`, { encoding: 'utf8' }));
  const script = test[3].split(`/${port} `).join(`/${free} `);
  const ipc = fs.mkdtempSync(path.join(os.tmpdir(), 'ocppgw-hc-'));
  const env = { PATH: process.env.PATH, OCPPGW_IPC_DIR: ipc, OCPPGW_ADMIN_PORT: String(free), OCPPGW_POD_ID: 'hc' };
  const child = cp.spawn(path.join(BIN, 'ocpp-core'), [], { env, stdio: 'ignore' });
  const run = () => cp.spawnSync('bash', ['-c', script], { timeout: 5000 }).status;
  try {
    let rc = 1;
    for (let i = 0; i < 100 && rc !== 0; i++) {
      rc = run();
      if (rc !== 0) cp.spawnSync('sleep', ['0.1']);
    }
    if (rc !== 0) fail('does not pass against a running ocpp-core');
  } finally {
    child.kill('SIGTERM');
  }
  cp.spawnSync('bash', ['-c', `for i in $(seq 50); do kill -0 ${child.pid} 2>/dev/null || exit 0; sleep 0.1; done; kill -9 ${child.pid}`]);
  if (run() === 0) fail('still passes after ocpp-core stopped');
  fs.rmSync(ipc, { recursive: true, force: true });
  return failures;
}

// ------------------------------------------------------------------------------------------
// Self-test: each breakage must be caught

const sts = (M) => find(M, 'StatefulSet');
const ctr = (M, n) => podContainers(sts(M)).find((c) => c.name === n);
const BREAKAGES = [
  ['edge without readOnlyRootFilesystem', (M) => { delete ctr(M, 'ws-edge').securityContext.readOnlyRootFilesystem; }],
  ['core running as root', (M) => { ctr(M, 'ocpp-core').securityContext.runAsUser = 0; }],
  ['containerPort as a string (schema)', (M) => { ctr(M, 'kafka-bridge').ports[0].containerPort = '9103'; }],
  ['misspelt field value (schema enum)', (M) => { ctr(M, 'ws-edge').imagePullPolicy = 'Sometimes'; }],
  ['misspelt field name (PodSpec)', (M) => { const p = sts(M).spec.template.spec; p.terminationGracePeriodSecond = p.terminationGracePeriodSeconds; }],
  ['misspelt field name (ServiceMonitor)', (M) => { find(M, 'ServiceMonitor').spec.endpoints[0].intervall = '15s'; }],
  ['probe on the wrong port', (M) => { ctr(M, 'ocpp-core').livenessProbe.httpGet.port = 'admin-edge'; }],
  ['readiness probe missing', (M) => { delete ctr(M, 'ws-edge').readinessProbe; }],
  ['registry with a readiness probe', (M) => { ctr(M, 'redis-registry').readinessProbe = { httpGet: { path: '/readyz', port: 'admin-registry' } }; }],
  ['pod id not from the downward API', (M) => { ctr(M, 'kafka-bridge').env[0] = { name: 'OCPPGW_POD_ID', value: 'x' }; }],
  ['sidecar without restartPolicy Always', (M) => { delete ctr(M, 'kafka-bridge').restartPolicy; }],
  ['ipc volume on disk', (M) => { sts(M).spec.template.spec.volumes[0].emptyDir = {}; }],
  ['service account token mounted', (M) => { sts(M).spec.template.spec.automountServiceAccountToken = true; }],
  ['unknown env key', (M) => { ctr(M, 'ocpp-core').env.push({ name: 'OCPPGW_NO_SUCH_KEY', value: '1' }); }],
  ['unknown config key', (M) => {
    const cm = find(M, 'ConfigMap', 'ocppgw-config');
    cm.data['ocppgw.yaml'] = cm.data['ocppgw.yaml'].replace('ocpp-core:\n', 'ocpp-core:\n  no_such_key: 1\n');
  }],
  ['admin bound to loopback', (M) => {
    const cm = find(M, 'ConfigMap', 'ocppgw-config');
    cm.data['ocppgw.yaml'] = cm.data['ocppgw.yaml'].replace('admin_bind: 0.0.0.0', 'admin_bind: 127.0.0.1');
  }],
  ['LoadBalancer loses client addresses', (M) => { find(M, 'Service', 'ocppgw').spec.externalTrafficPolicy = 'Cluster'; }],
  ['HPA on a metric that does not exist', (M) => { find(M, 'HorizontalPodAutoscaler').spec.metrics[0].pods.metric.name = 'ocppgw_edge_conns'; }],
  ['alert on a renamed metric', (M) => {
    const r = find(M, 'PrometheusRule').spec.groups[0].rules.find((x) => x.alert === 'OcppgwRedisDown');
    r.expr = r.expr.replace('ocppgw_registry_redis_up', 'ocppgw_registry_redis_upp');
  }],
  ['alert on a foreign metric', (M) => { find(M, 'PrometheusRule').spec.groups[0].rules[0].expr = 'node_load1{job="x"} > 4'; }],
  ['dashboard query on a missing metric', (M) => {
    const p = M.dashboard.panels.find((x) => x.type !== 'row');
    p.targets[0].expr = p.targets[0].expr.replace(/ocppgw_[a-z_]+/, 'ocppgw_edge_sockets');
  }],
  ['ServiceMonitor on a missing port', (M) => { find(M, 'ServiceMonitor').spec.endpoints[3].port = 'admin-registri'; }],
  ['a Role appears', (M) => { M.objects.push({ file: 'x.yaml', obj: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'x' }, rules: [] } }); }],
  ['runtime stage without libzmq5', (M) => { M.dockerfile = M.dockerfile.replace(' libzmq5 ', ' '); }],
  ['runtime stage without the libuv evlib', (M) => { M.dockerfile = M.dockerfile.replace(/libwebsockets-evlib-uv libuv1 librdkafka1/, 'libuv1 librdkafka1'); }],
  ['build stage without librdkafka-dev', (M) => { M.dockerfile = M.dockerfile.replace('librdkafka-dev ', ''); }],
  ['image runs as root', (M) => { M.dockerfile = M.dockerfile.replace('USER 10001:10001', ''); }],
  ['compose env key unknown to the stage', (M) => { M.compose.services['pod-a-kafka-bridge'].environment.OCPPGW_WS_PORT = '8080'; }],
  ['compose stage writable', (M) => { M.compose.services['pod-b-redis-registry'].read_only = false; }],
  ['compose healthcheck with curl', (M) => { M.compose.services['pod-a-ws-edge'].healthcheck.test = ['CMD', 'curl', '-f', 'http://127.0.0.1:9101/healthz']; }],
  ['compose pod ids differ inside a pod', (M) => { M.compose.services['pod-b-ocpp-core'].environment.OCPPGW_POD_ID = 'other'; }],
  ['compose pods share an ipc volume', (M) => { for (const n of STAGES) M.compose.services[`pod-b-${n}`].volumes = ['ipc-a:/run/ocppgw']; }],
  ['compose edge published past HAProxy', (M) => { M.compose.services['pod-a-ws-edge'].ports.push('8081:8080'); }],
  ['compose misspelt field (schema)', (M) => { M.compose.services.redis.helthcheck = M.compose.services.redis.healthcheck; }],
  ['compose wrong type (schema)', (M) => { M.compose.services.haproxy.ports = '8080:8080'; }],
  ['compose kafka-init with replication 1', (M) => { M.compose.services['kafka-init'].environment.REPLICATION_FACTOR = 1; }],
  ['compose two Kafka nodes', (M) => { delete M.compose.services['kafka-3']; }],
  ['haproxy checks /healthz, not /readyz', (M) => { M.haproxy = M.haproxy.replace('uri /readyz', 'uri /healthz'); }],
  ['haproxy without pod-b', (M) => { M.haproxy = M.haproxy.replace(/^ +server pod-b .*$/m, ''); }],
  ['haproxy in http mode', (M) => { M.haproxy = M.haproxy.replace('mode tcp', 'mode http'); }],
  ['cp-sim with 10 stations', (M) => { M.cpSim['cp-sim'].count = 10; }],
  ['cp-sim on its own network', (M) => { delete M.compose.services['cp-sim'].network_mode; }],
  ['prometheus misses a target', (M) => { M.promConfig.scrape_configs[0].static_configs.pop(); }],
  ['prometheus target with the wrong pod label', (M) => { M.promConfig.scrape_configs[0].static_configs[0].labels.pod = 'compose-pod-b'; }],
  ['compose rules out of date', (M) => { M.composeRules = M.composeRules.replace('for: 2m', 'for: 3m'); }],
  ['grafana without the dashboard', (M) => { M.compose.services.grafana.volumes.splice(1, 1); }],
  ['admin port open to everyone', (M) => { find(M, 'NetworkPolicy').spec.ingress[0].ports.push({ port: 'admin-core', protocol: 'TCP' }); }],
  ['NetworkPolicy without the ws port', (M) => { find(M, 'NetworkPolicy').spec.ingress.shift(); }],
  ['NetworkPolicy rule without ports', (M) => { delete find(M, 'NetworkPolicy').spec.ingress[1].ports; }],
  ['topics Job with 12 partitions for commands-down', (M) => { find(M, 'Job').spec.template.spec.containers[0].env.find((e) => e.name === 'COMMANDS_PARTITIONS').value = '12'; }],
  ['topics Job without min.insync.replicas', (M) => { const c = find(M, 'Job').spec.template.spec.containers[0]; c.env = c.env.filter((e) => e.name !== 'MIN_INSYNC_REPLICAS'); }],
  ['topics Job on other brokers than the bridge', (M) => { find(M, 'Job').spec.template.spec.containers[0].env[0].value = 'kafka:9092'; }],
  ['topics Job script not generated', (M) => { M.kust.configMapGenerator = M.kust.configMapGenerator.filter((g) => g.name !== 'ocppgw-topics-script'); }],
  ['topics Job as root', (M) => { find(M, 'Job').spec.template.spec.securityContext.runAsUser = 0; find(M, 'Job').spec.template.spec.securityContext.runAsNonRoot = false; }],
  ['topics Job misspelt field (schema)', (M) => { find(M, 'Job').spec.backofLimit = 3; }],
  ['adapter rule for another metric', (M) => { M.adapter.rules[0].name.matches = '^ocppgw_core_connections$'; M.adapter.rules[0].name.as = 'ocppgw_core_connections'; }],
  ['metric missing from docs/operations.md', (M) => { M.operations = M.operations.replace(/^\| `ocppgw_edge_pings_total`.*$/m, ''); }],
  ['docs/operations.md documents a metric that does not exist', (M) => { M.operations += '\n| `ocppgw_edge_sockets` | gauge | – | x | y |\n'; }],
  ['alert without a runbook entry', (M) => { M.operations = M.operations.replace('### OcppgwRedisErrors', '### Redis errors'); }],
];

function selfTest(F) {
  const missed = [];
  for (const [what, breakIt] of BREAKAGES) {
    const M = loadFiles();
    breakIt(M);
    let found = runChecks(M, F);
    if (what.startsWith('unknown config key') || what.startsWith('admin bound')) found = found.concat(checkWithBinaries(M, F));
    if (what.startsWith('misspelt field name') || what === 'topics Job misspelt field (schema)') found = found.concat(checkFields(M));
    if (!found.length && what === 'runtime stage without libzmq5' && F.linked.some((l) => l.sanitizer)) {
      console.log(`note: breakage "${what}" not checkable on a sanitizer build`);
      continue;
    }
    if (!found.length) missed.push(what);
    else console.log(`ok: breakage "${what}" caught: ${found[0]}`);
  }
  return missed.map((m) => `self-test: breakage "${m}" went unnoticed`);
}

// ------------------------------------------------------------------------------------------

function main() {
  const F = { keys: configKeys(), metrics: sourceMetrics(), pcPackages: pkgConfigPackages(), linked: linkedPackages() };
  const failures = [];
  for (const s of STAGES) if (!F.keys[s] || !F.keys[s].size) failures.push(`facts: no keys for ${s} in docs/configuration.md`);
  if (F.metrics.size < 20) failures.push(`facts: only ${F.metrics.size} metrics found in the sources`);
  const M = loadFiles();
  console.log(`${M.objects.length} Kubernetes objects, ${Object.keys(M.compose.services).length} compose services, ${F.metrics.size} metrics in the sources`);
  const base = runChecks(M, F).concat(checkFields(M), checkWithBinaries(M, F), checkHealthcheck(M));
  failures.push(...base);
  if (!base.length) {
    for (const name of Object.keys(CHECKS)) console.log(`ok: ${name}`);
    console.log('ok: no unknown fields (TypeScript excess-property check)');
    console.log('ok: binaries accept the ConfigMap and the compose environment');
    console.log('ok: compose healthcheck passes against a live admin port and fails without it');
    failures.push(...selfTest(F));
  }
  failures.forEach((f) => console.log(`FAIL ${f}`));
  console.log(failures.length ? `${failures.length} problem(s)` : 'manifests: all checks passed');
  process.exit(failures.length ? 1 : 0);
}

module.exports = { sourceMetrics };
if (require.main === module) main();
