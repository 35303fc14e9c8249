// extract_rules.js: the groups of k8s/prometheusrule.yaml as a plain Prometheus rules file, which
// promtool (check rules, test rules) and a Prometheus without the Operator (docker compose) read.
//
//   NODE_PATH=tests/e2e/node_modules node tests/deploy/extract_rules.js [out-file]
//
// Writes to out-file, or to stdout. compose/prometheus/ocppgw-rules.yml is this output, committed;
// tests/deploy/check_manifests.js fails when it differs from a fresh extraction.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const ROOT = path.resolve(__dirname, '../..');

function extractRules() {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'k8s/prometheusrule.yaml'), 'utf8'));
  const rule = docs.map((d) => d.toJS()).find((o) => o && o.kind === 'PrometheusRule');
  if (!rule) throw new Error('k8s/prometheusrule.yaml holds no PrometheusRule');
  const head = '# GENERATED from k8s/prometheusrule.yaml by tests/deploy/extract_rules.js: do not edit.\n' +
    '# The groups of the PrometheusRule as a plain rules file (Prometheus without the Operator).\n';
  return head + YAML.stringify({ groups: rule.spec.groups }, { lineWidth: 0 });
}

module.exports = { extractRules };

if (require.main === module) {
  const text = extractRules();
  if (process.argv[2]) fs.writeFileSync(process.argv[2], text);
  else process.stdout.write(text);
}
