// check_alerts.js: the alert rules of k8s/prometheusrule.yaml, checked and unit-tested by promtool.
//
//   NODE_PATH=tests/e2e/node_modules node tests/deploy/check_alerts.js
//
// 1. The PrometheusRule's groups, extracted into a plain rules file (extract_rules.js), pass
//    `promtool check rules`.
// 2. `promtool test rules tests/alerts/*_test.yaml` passes against them.
// 3. Coverage: every alert has a test named "<Alert> fires ..." and one named "<Alert> silent ...",
//    and no test names an alert that does not exist.
// 4. The tests really test: for each alert, its expression is replaced once by one that never
//    fires and once by one that fires whenever the real one is silent ((expr) or on() vector(1));
//    each breakage must make `promtool test rules` fail. So every alert has a case that fires and
//    a case that stays silent, both checked.
// Exit 0 when all holds; problems are printed as "FAIL ...".
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const cp = require('child_process');
const YAML = require('yaml');
const { extractRules } = require('./extract_rules');

const ROOT = path.resolve(__dirname, '../..');
const TESTS = path.join(ROOT, 'tests/alerts');
const failures = [];
const fail = (m) => failures.push(m);

function promtool(args, cwd) {
  const r = cp.spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 120000 });
  return { ok: r.status === 0, out: `${r.stdout || ''}${r.stderr || ''}` };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocppgw-alerts-'));
try {
  const rulesText = extractRules();
  const rules = YAML.parse(rulesText);
  const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => r.alert));
  const testFiles = fs.readdirSync(TESTS).filter((f) => f.endsWith('_test.yaml')).sort();
  for (const f of testFiles) fs.copyFileSync(path.join(TESTS, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'ocppgw-rules.yml'), rulesText);

  // 1 + 2
  let r = promtool(['check', 'rules', 'ocppgw-rules.yml'], dir);
  if (!r.ok) fail(`promtool check rules:\n${r.out}`);
  else console.log(`ok: promtool check rules: ${alerts.length} alerts (${r.out.match(/SUCCESS: .*/)[0]})`);
  r = promtool(['test', 'rules', ...testFiles], dir);
  if (!r.ok) fail(`promtool test rules:\n${r.out}`);
  else console.log(`ok: promtool test rules ${testFiles.join(' ')}`);

  // 3
  const names = testFiles.flatMap((f) => (YAML.parse(fs.readFileSync(path.join(TESTS, f), 'utf8')).tests || []).map((t) => t.name || ''));
  for (const a of alerts) {
    for (const kind of ['fires', 'silent']) {
      if (!names.some((n) => n.startsWith(`${a} ${kind} `))) fail(`${a}: no test named "${a} ${kind} ..."`);
    }
  }
  for (const n of names) {
    const a = n.split(' ')[0];
    if (!alerts.includes(a)) fail(`test "${n}" is about no existing alert`);
  }
  if (!failures.length) console.log(`ok: every alert has a "fires" and a "silent" test (${names.length} tests)`);

  // 4
  if (!failures.length) {
    for (const a of alerts) {
      for (const [what, mutate] of [
        ['never fires', () => 'vector(0) > 1'],
        ['fires whenever it should be silent', (e) => `(${e}) or on() vector(1)`],
      ]) {
        const broken = YAML.parse(rulesText);
        for (const g of broken.groups) for (const x of g.rules) if (x.alert === a) x.expr = mutate(String(x.expr).trim());
        fs.writeFileSync(path.join(dir, 'ocppgw-rules.yml'), YAML.stringify(broken, { lineWidth: 0 }));
        const mine = testFiles.filter((f) => fs.readFileSync(path.join(TESTS, f), 'utf8').includes(`alertname: ${a}\n`));
        const m = promtool(['test', 'rules', ...mine], dir);
        if (m.ok) fail(`${a}: the tests still pass when it ${what}`);
      }
    }
    if (!failures.length) console.log(`ok: breaking any alert either way fails its tests (${alerts.length * 2} breakages)`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
failures.forEach((f) => console.log(`FAIL ${f}`));
console.log(failures.length ? `${failures.length} problem(s)` : 'alerts: all checks passed');
process.exit(failures.length ? 1 : 0);
