#!/usr/bin/env node
// Static checks of the Grafana dashboards and Prometheus rules (run by dashboards/check.sh):
//
//  1. datasource: a `datasource` template variable (type datasource, Prometheus); every panel,
//     target and annotation uses `${datasource}`; no datasource uid anywhere else in the JSON.
//  2. PromQL: every expression of every panel, annotation and rule parses (Prometheus's grammar,
//     template variables substituted), and every metric it reads is a const of
//     service/src/metrics.rs, a Prometheus builtin (`up`) or a recording rule of rules/*.yml.
//  3. alert tests: every alert of rules/*.yml has a promtool test (tests/*.yml) where it fires
//     and one where it does not.
//  4. schema: each dashboard is type-checked with TypeScript against @grafana/schema: the
//     dashboard, each panel's options and field config against its plugin's types, and each target
//     and annotation against the Prometheus query shape Grafana saves.
//
// Exit 1 with a list of problems, or 0 with a summary of what was checked.

import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  NODE_DIR, PROMETHEUS_BUILTINS, ROOT, load, codeMetrics, dashboardQueries, dashboards, parsePromql, rules, substitute,
} from './exprs.mjs';

const problems = [];
const fail = (msg) => problems.push(msg);
const DS_VAR = '${datasource}';

const boards = dashboards();
const ruleList = rules();
const recorded = new Set(ruleList.filter((r) => r.rule.record).map((r) => r.rule.record));
const known = new Set([...codeMetrics(), ...PROMETHEUS_BUILTINS, ...recorded]);

// 1. datasource -------------------------------------------------------------------------------
let dsRefs = 0;
for (const { file, json } of boards) {
  if (!(json.schemaVersion >= 39)) fail(`${file}: schemaVersion ${json.schemaVersion} < 39`);
  const v = (json.templating?.list ?? []).find((x) => x.name === 'datasource');
  if (!v || v.type !== 'datasource' || v.query !== 'prometheus') {
    fail(`${file}: no template variable "datasource" of type datasource with query "prometheus"`);
  }
  // Every object under a `datasource` key, anywhere in the JSON, must point at the variable.
  const walk = (node, path) => {
    if (Array.isArray(node)) return node.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (node === null || typeof node !== 'object') return;
    for (const [k, val] of Object.entries(node)) {
      if (k === 'datasource') {
        dsRefs++;
        const uid = typeof val === 'string' ? val : val?.uid;
        if (uid !== DS_VAR && uid !== '$datasource') fail(`${file}${path}.datasource: ${JSON.stringify(val)} is not ${DS_VAR}`);
      }
      walk(val, `${path}.${k}`);
    }
  };
  walk(json, '');
  const check = (obj, where) => {
    if (obj.datasource?.uid !== DS_VAR) fail(`${file}: ${where} has no datasource ${DS_VAR}`);
  };
  const panels = (json.panels ?? []).flatMap((p) => (p.type === 'row' ? p.panels ?? [] : [p]));
  for (const p of panels) {
    check(p, `panel "${p.title}"`);
    if (!(p.targets ?? []).length) fail(`${file}: panel "${p.title}" has no targets`);
    for (const t of p.targets ?? []) check(t, `panel "${p.title}" target ${t.refId}`);
  }
  for (const a of json.annotations?.list ?? []) check(a, `annotation "${a.name}"`);
}
console.log(`datasource: ${boards.length} dashboards, ${dsRefs} datasource references, all ${DS_VAR}`);

// 2. PromQL -----------------------------------------------------------------------------------
let exprCount = 0;
const used = new Set();
const checkExpr = (where, expr) => {
  exprCount++;
  if (typeof expr !== 'string' || !expr.trim()) return fail(`${where}: empty expression`);
  const { errors, metrics } = parsePromql(expr);
  for (const e of errors) fail(`${where}: PromQL syntax error ${e}`);
  for (const m of metrics) {
    used.add(m);
    if (!known.has(m)) fail(`${where}: metric "${m}" is not in service/src/metrics.rs, not a Prometheus builtin, not a recording rule`);
  }
};
for (const board of boards) {
  for (const q of dashboardQueries(board)) checkExpr(`${q.dashboard}: ${q.panel} ${q.refId}`, substitute(q.expr, board.json));
}
for (const { file, rule } of ruleList) checkExpr(`rules/${file}: ${rule.record ?? rule.alert}`, rule.expr);
console.log(`promql: ${exprCount} expressions parse; metrics they read: ${[...used].sort().join(', ')}`);
const unused = [...codeMetrics()].filter((m) => !/_(bucket|count|sum)$/.test(m) && ![...used].some((u) => u.startsWith(m)));
if (unused.length) console.log(`promql: note: metrics in the code but on no dashboard: ${unused.join(', ')}`);

// 3. alert tests: every alert has a promtool test where it fires and one where it does not ----
{
  const YAML = load('yaml');
  const testsDir = join(ROOT, 'dashboards', 'prometheus', 'tests');
  const fires = new Set();
  const silent = new Set();
  for (const f of readdirSync(testsDir).filter((x) => /\.ya?ml$/.test(x))) {
    const doc = YAML.parse(readFileSync(join(testsDir, f), 'utf8'));
    for (const t of doc.tests ?? []) {
      for (const a of t.alert_rule_test ?? []) (a.exp_alerts?.length ? fires : silent).add(a.alertname);
    }
  }
  const alerts = ruleList.filter((r) => r.rule.alert).map((r) => r.rule.alert);
  for (const a of alerts) {
    if (!fires.has(a)) fail(`tests: no promtool test where alert ${a} fires`);
    if (!silent.has(a)) fail(`tests: no promtool test where alert ${a} does not fire`);
  }
  console.log(`alert tests: ${alerts.length} alerts, each tested firing and not firing: ${alerts.join(', ')}`);
}

// 4. schema -----------------------------------------------------------------------------------
// Panel plugin → its generated types, and whether it has custom field config (stat, bargauge: no).
const PANEL_TYPES = {
  timeseries: ['timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen', true],
  stat: ['stat/panelcfg/x/StatPanelCfg_types.gen', false],
  'state-timeline': ['statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen', true],
  bargauge: ['bargauge/panelcfg/x/BarGaugePanelCfg_types.gen', false],
};
const PRELUDE = `
import type { Dashboard, Panel, RowPanel, FieldConfigSource, AnnotationQuery } from '@grafana/schema';
${Object.entries(PANEL_TYPES).map(([t, [p]]) => `import type * as ${ident(t)} from '@grafana/schema/dist/esm/raw/composable/${p}';`).join('\n')}

// JSON holds strings where the schema has string enums: accept each enum's values as literals.
type Loose<T> = T extends string ? \`\${T}\` : T extends readonly (infer E)[] ? Loose<E>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;
type Ds = { type: 'prometheus'; uid: '\${datasource}' };
// What Grafana's Prometheus query editor saves for a target.
interface PromTarget {
  datasource: Ds; refId: string; expr: string; legendFormat?: string; editorMode?: 'code' | 'builder';
  range?: boolean; instant?: boolean; format?: 'time_series' | 'table' | 'heatmap'; interval?: string;
  exemplar?: boolean; hide?: boolean; intervalFactor?: number;
}
// A Prometheus annotation: the query in target, formats beside it (Grafana's prepareAnnotation).
type PromAnnotation = Omit<Loose<AnnotationQuery>, 'target' | 'datasource'> & {
  datasource: Ds; target: { expr: string; refId: string; interval?: string };
  titleFormat?: string; textFormat?: string; tagKeys?: string; useValueForTime?: boolean;
};
type Checked<O, C> = Omit<Loose<Panel>, 'options' | 'fieldConfig' | 'targets' | 'datasource'> & {
  datasource: Ds; targets: PromTarget[]; options: Loose<O>; fieldConfig: Loose<FieldConfigSource<C>>;
};
type Board = Omit<Loose<Dashboard>, 'annotations' | 'panels'> & {
  annotations: { list: PromAnnotation[] }; panels: unknown[]; // each panel is checked on its own
};
`;
function ident(t) { return t.replace(/-/g, '_'); }

const checkDir = join(NODE_DIR, 'check');
rmSync(checkDir, { recursive: true, force: true });
mkdirSync(checkDir, { recursive: true });
const files = [];
let typedPanels = 0;
for (const { file, json } of boards) {
  const lines = [PRELUDE];
  const names = [];
  (json.panels ?? []).forEach((p, i) => {
    const name = `panel_${i}`;
    names.push(name);
    if (p.type === 'row') {
      lines.push(`const ${name}: Loose<RowPanel> = ${JSON.stringify(p, null, 2)};`);
    } else if (PANEL_TYPES[p.type]) {
      const m = ident(p.type);
      const custom = PANEL_TYPES[p.type][1] ? `${m}.FieldConfig` : 'Record<string, never>';
      lines.push(`const ${name}: Checked<${m}.Options, ${custom}> = ${JSON.stringify(p, null, 2)};`);
    } else {
      fail(`${file}: panel "${p.title}" has type ${p.type}, which lint.mjs cannot type-check (add it to PANEL_TYPES)`);
      lines.push(`const ${name}: Loose<Panel> = ${JSON.stringify(p, null, 2)};`);
    }
    typedPanels++;
  });
  const { panels, ...rest } = json;
  lines.push(`export const dashboard: Board = { ...${JSON.stringify(rest, null, 2)}, panels: [${names.join(', ')}] };`);
  const ts = join(checkDir, file.replace(/\.json$/, '.ts'));
  writeFileSync(ts, lines.join('\n') + '\n');
  files.push(ts);
}
writeFileSync(join(checkDir, 'tsconfig.json'), JSON.stringify({
  compilerOptions: {
    strict: true, noEmit: true, module: 'esnext', moduleResolution: 'bundler', target: 'es2022',
    skipLibCheck: true, types: [],
  },
  files: files.map((f) => f.slice(checkDir.length + 1)),
}, null, 2));
try {
  execFileSync(join(NODE_DIR, 'node_modules', '.bin', 'tsc'), ['-p', join(checkDir, 'tsconfig.json')], { stdio: 'pipe' });
  console.log(`schema: ${boards.length} dashboards, ${typedPanels} panels type-check against @grafana/schema (files in var/node/check)`);
} catch (e) {
  fail(`schema: tsc found errors (generated files in var/node/check):\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
}

if (problems.length) {
  console.error(`\n${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log('lint: ok');
