#!/usr/bin/env node
// Runs every query of every dashboard against a live Prometheus and fails on any empty result.
//
//   node dashboards/tools/e2e-queries.mjs --prometheus http://127.0.0.1:9090 --start EPOCH [--end EPOCH]
//
// Panel targets: instant queries at --end (default now), with Grafana's variables substituted
// (`$__rate_interval` → 1m, `$__range` → the test window rounded up to minutes, dashboard
// variables → their "All" value). Annotation queries: range queries over [--start, --end] with a
// 2 s step, as Grafana runs them; they must have marked something in the window (dashboards/e2e.sh
// kills an instance to make sure they do). Query variables (label_values) must list values.
// And every metric the dashboards read must have a sample newer than --start.
// Prints one line per query with its series count; exits 1 listing the empty or failed ones.

import { dashboardQueries, dashboards, parsePromql, substitute } from './exprs.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const PROM = (args.prometheus ?? 'http://127.0.0.1:9090').replace(/\/$/, '');
const end = Number(args.end ?? Date.now() / 1000);
const start = Number(args.start ?? end - 600);
if (!(start < end)) { console.error('e2e-queries: --start must be before --end'); process.exit(2); }
const range = `${Math.ceil((end - start) / 60) + 1}m`;

// Queries go as POST forms (long expressions); the label values endpoint only takes GET.
async function api(path, params, method = 'POST') {
  const form = new URLSearchParams(params);
  const res = method === 'GET'
    ? await fetch(`${PROM}${path}?${form}`, { signal: AbortSignal.timeout(10_000) })
    : await fetch(`${PROM}${path}`, {
      method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form,
      signal: AbortSignal.timeout(10_000),
    });
  const body = await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}, not JSON` }));
  if (body.status !== 'success') throw new Error(body.error ?? `HTTP ${res.status}`);
  return body.data;
}

/** Number of series (or 1 for a scalar) a query result holds. */
function seriesCount(data) {
  if (data.resultType === 'scalar' || data.resultType === 'string') return 1;
  return data.result.length;
}

const rows = [];
for (const board of dashboards()) {
  for (const q of dashboardQueries(board)) {
    const expr = substitute(q.expr, board.json, range);
    let count = 0;
    let error = '';
    try {
      const data = q.kind === 'annotation'
        ? await api('/api/v1/query_range', { query: expr, start, end, step: 2 })
        : await api('/api/v1/query', { query: expr, time: end });
      count = seriesCount(data);
    } catch (e) {
      error = e.message;
    }
    rows.push({ where: `${board.file} | ${q.panel} | ${q.refId}`, count, error, expr });
  }
  for (const v of board.json.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const text = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(text ?? '');
    let count = 0;
    let error = '';
    if (!m) {
      error = `cannot evaluate variable query ${JSON.stringify(text)}`;
    } else {
      try {
        count = (await api(`/api/v1/label/${m[2]}/values`, { 'match[]': m[1], start, end }, 'GET')).length;
      } catch (e) {
        error = e.message;
      }
    }
    rows.push({ where: `${board.file} | variable $${v.name} | label_values`, count, error, expr: text });
  }
}

// Freshness: every metric the dashboards read must have a sample from this test run, so data left
// in Prometheus by an earlier run (gauges stay visible for 5 minutes) cannot pass for it. No
// exception: superpower creates its event counters (failovers, fallbacks, hedges, identity
// changes) at 0 when it starts, so a counter with no sample is one the code no longer exports.
const metrics = new Set(); // every metric a dashboard reads
for (const board of dashboards()) {
  for (const q of dashboardQueries(board)) {
    const expr = substitute(q.expr, board.json, range);
    for (const m of parsePromql(expr).metrics) metrics.add(m);
  }
}
for (const name of [...metrics].sort()) {
  const expr = `count(timestamp(${name}) >= ${start})`;
  let count = 0;
  let error = '';
  try {
    count = seriesCount(await api('/api/v1/query', { query: expr, time: end }));
    if (count === 0) {
      const ever = seriesCount(await api('/api/v1/query', { query: `count(${name})`, time: end }));
      if (ever > 0) error = 'only samples older than this run (stale data from an earlier run)';
    }
  } catch (e) {
    error = e.message;
  }
  rows.push({ where: `fresh sample since start | ${name}`, count, error, expr });
}

const width = Math.max(...rows.map((r) => r.where.length));
console.log(`${'dashboard | panel | query'.padEnd(width)}  series`);
for (const r of rows) console.log(`${r.where.padEnd(width)}  ${r.error ? 'ERROR' : r.count}`);
const bad = rows.filter((r) => r.error || r.count === 0);
console.log(`\n${rows.length - bad.length} of ${rows.length} queries returned data (window ${range}, Prometheus ${PROM})`);
if (bad.length) {
  console.error(`\n${bad.length} quer${bad.length === 1 ? 'y' : 'ies'} returned nothing:`);
  for (const r of bad) console.error(`  - ${r.where}: ${r.error || 'empty result'}\n      ${r.expr.replace(/\n/g, '\n      ')}`);
  process.exit(1);
}
