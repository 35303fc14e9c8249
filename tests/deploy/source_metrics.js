// source_metrics.js: every metric family the sources register (services/, common/, tools/), as a
// Prometheus exposition with one sample each, so that `promtool check metrics` also judges the
// names of families no test traffic creates (tests/integration/test_metrics_lint.sh).
//
//   NODE_PATH=tests/e2e/node_modules node tests/deploy/source_metrics.js
//
// Names and types come from check_manifests.js's reading of the sources (metrics_counter/gauge/
// histogram/count calls and metrics_def_t rows); help texts are placeholders (the running pod's
// own help texts are checked on its real /metrics).
'use strict';
const { sourceMetrics } = require('./check_manifests');

const out = [];
const metrics = sourceMetrics();
const all = [...[...metrics].map(([n, t]) => [`ocppgw_${n}`, t]),
  ...[...metrics.unprefixed].map((n) => [n, n.endsWith('_total') ? 'counter' : 'gauge'])];
for (const [name, type] of all.sort()) {
  out.push(`# HELP ${name} (from the sources)`, `# TYPE ${name} ${type}`);
  if (type === 'histogram') {
    out.push(`${name}_bucket{le="1"} 0`, `${name}_bucket{le="+Inf"} 0`, `${name}_sum 0`, `${name}_count 0`);
  } else {
    out.push(`${name} 0`);
  }
}
process.stdout.write(out.join('\n') + '\n');
