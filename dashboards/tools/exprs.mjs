// Shared by lint.mjs and e2e-queries.mjs: find the dashboards, rules and metric names, pull every
// PromQL expression out of them, substitute Grafana's template variables, parse PromQL.
//
// Third-party packages (the PromQL parser, a YAML reader) are installed by dashboards/check.sh
// into var/node from dashboards/tools/package.json; they are loaded from there.

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DASHBOARDS = join(ROOT, 'dashboards', 'grafana');
export const RULES = join(ROOT, 'dashboards', 'prometheus', 'rules');
export const NODE_DIR = join(ROOT, 'var', 'node');

const requireFromVar = createRequire(join(NODE_DIR, 'package.json'));
export const load = (name) => requireFromVar(name);

/** Dashboard JSON files: [{ file, json }]. */
export function dashboards() {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) }));
}

/** Rule groups of every rules/*.yml: [{ file, rule }] where rule has record|alert and expr. */
export function rules() {
  const YAML = load('yaml');
  return readdirSync(RULES)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .flatMap((file) => {
      const doc = YAML.parse(readFileSync(join(RULES, file), 'utf8'));
      return (doc.groups ?? []).flatMap((g) => (g.rules ?? []).map((rule) => ({ file, group: g.name, rule })));
    });
}

/**
 * Metric names the code emits: the string consts of service/src/metrics.rs. Names ending in
 * `_seconds` are histograms (the recorder gives them buckets), so they also expose `_bucket`,
 * `_count` and `_sum`.
 */
export function codeMetrics() {
  const src = readFileSync(join(ROOT, 'service', 'src', 'metrics.rs'), 'utf8');
  const names = new Set();
  for (const m of src.matchAll(/pub const [A-Z0-9_]+: &str\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"/g)) {
    const name = m[1];
    names.add(name);
    if (name.endsWith('_seconds')) for (const s of ['_bucket', '_count', '_sum']) names.add(name + s);
  }
  return names;
}

/** Series Prometheus makes itself for every target. */
export const PROMETHEUS_BUILTINS = new Set([
  'up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling',
  'scrape_series_added', 'ALERTS', 'ALERTS_FOR_STATE',
]);

/**
 * Every query of a dashboard: panel targets and annotation queries.
 * [{ dashboard, panel, kind: 'target'|'annotation', refId, expr }]
 */
export function dashboardQueries({ file, json }) {
  const out = [];
  const visit = (panels) => {
    for (const p of panels ?? []) {
      if (p.type === 'row') { visit(p.panels); continue; }
      for (const t of p.targets ?? []) {
        out.push({ dashboard: file, panel: p.title, panelObj: p, kind: 'target', refId: t.refId, expr: t.expr, target: t });
      }
    }
  };
  visit(json.panels);
  for (const a of json.annotations?.list ?? []) {
    const expr = a.target?.expr ?? a.expr;
    if (expr !== undefined) out.push({ dashboard: file, panel: `annotation: ${a.name}`, kind: 'annotation', refId: 'Anno', expr, target: a });
  }
  return out;
}

/**
 * Replaces Grafana's variables the way Grafana would for a whole-fleet view: `$__rate_interval`
 * by 1m (4 scrapes of 2 s with margin), `$__interval` by 15s, `$__range` by `range`, and each
 * dashboard variable by its "All" value (`allValue` or `.+`) or its current value.
 */
export function substitute(expr, json, range = '1h') {
  const values = {
    __rate_interval: '1m',
    __interval: '15s',
    __interval_ms: '15000',
    __range: range,
    __range_s: String(durationSeconds(range)),
    __range_ms: String(durationSeconds(range) * 1000),
  };
  for (const v of json.templating?.list ?? []) {
    if (v.type === 'datasource') continue;
    if (v.includeAll) values[v.name] = v.allValue ?? '.+';
    else if (v.current?.value !== undefined) values[v.name] = [].concat(v.current.value).join('|');
  }
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (match, a, b, c) => {
    const name = a ?? b ?? c;
    return Object.hasOwn(values, name) ? values[name] : match;
  });
}

export function durationSeconds(d) {
  const units = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const m = /^(\d+)([smhdw])$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * units[m[2]];
}

/**
 * Parses PromQL with Prometheus's own grammar (@prometheus-io/lezer-promql).
 * Returns { errors: [text near each syntax error], metrics: [names of vector selectors] }.
 */
export function parsePromql(expr) {
  const { parser } = load('@prometheus-io/lezer-promql');
  const tree = parser.parse(expr);
  const errors = [];
  const metrics = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: "${expr.slice(Math.max(0, node.from - 15), node.to + 15)}"`);
      if (node.name === 'VectorSelector') {
        const first = node.node.firstChild;
        if (first && first.name === 'Identifier') metrics.push(expr.slice(first.from, first.to));
        // {__name__="x"} selectors name their metric in a matcher.
        const m = /__name__\s*=\s*"([^"]+)"/.exec(expr.slice(node.from, node.to));
        if (m) metrics.push(m[1]);
      }
    },
  });
  return { errors, metrics };
}
