#!/usr/bin/env node
// Writes the Grafana dashboards in dashboards/grafana/*.json from the panel definitions below.
//
//   node dashboards/tools/generate.mjs          rewrite the JSON files
//   node dashboards/tools/generate.mjs --check  exit 1 if a JSON file differs from what this writes
//
// The JSON files are what Grafana loads (provisioning) and what the checks read; this file is where
// panels are edited, so the three dashboards share one style, one datasource variable and one
// set of PromQL fragments. Metric names come from service/src/metrics.rs (checked by lint.mjs).
// No dependencies: plain Node.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'grafana');

// ---------------------------------------------------------------------------------------------
// PromQL fragments shared by the dashboards.

/** Every panel and target uses the datasource template variable: no datasource uid in the JSON. */
const DS = { type: 'prometheus', uid: '${datasource}' };
/** Operational routes, excluded from the user-facing rate and latency panels. */
const OPS = 'route!~"/health|/live|/metrics"';
/** superpower's user-facing requests. */
const USER = `job="superpower", ${OPS}`;
const RI = '$__rate_interval';
const CALLS = 'superpower_powersource_request_duration_seconds';

/**
 * superpower labels its calls with the powersource `instance` it called. Prometheus renames a
 * scraped `instance` label to `exported_instance` unless the job sets honor_labels; this copies
 * the powersource's name into a label of its own, `powersource`, either way, so the panels work
 * with any scrape config. A new label, not `instance` overwritten: with several superpower
 * replicas, their series about one powersource differ only in `instance`, and overwriting it
 * would make them one labelset (Prometheus refuses such a vector).
 */
const byPowersource = (inner) =>
  `label_replace(label_replace(${inner}, "powersource", "$1", "instance", "(.+)"), ` +
  `"powersource", "$1", "exported_instance", "(.+)")`;

const quantile = (q, by, selector) =>
  `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (rate(${selector}[${RI}])))`;

/** A rate that honestly reads 0 (not "no data") while the counter has not moved or been created. */
const rateOrZero = (metric) => `sum(rate(${metric}[${RI}])) or vector(0)`;

// ---------------------------------------------------------------------------------------------
// Panel builders. Field names follow Grafana's current schema (checked by typecheck in lint.mjs).

const target = (refId, expr, legendFormat = '__auto', extra = {}) => ({
  datasource: DS,
  editorMode: 'code',
  expr,
  legendFormat,
  range: true,
  refId,
  ...extra,
});

const targets = (...pairs) =>
  pairs.map(([expr, legend], i) => target(String.fromCharCode(65 + i), expr, legend));

const steps = (...pairs) => ({
  mode: 'absolute',
  steps: pairs.map(([color, value]) => ({ color, value })),
});

const GREEN_ONLY = steps(['green', null]);

function timeseries({ title, description, exprs, unit = 'short', w = 12, h = 8, min, max, thresholds,
  thresholdLine = false, stack = false, bars = false }) {
  const defaults = {
    color: { mode: 'palette-classic' },
    custom: {
      axisBorderShow: false,
      axisPlacement: 'auto',
      drawStyle: bars ? 'bars' : 'line',
      fillOpacity: stack || bars ? 60 : 10,
      gradientMode: 'none',
      lineInterpolation: 'linear',
      lineWidth: 1,
      pointSize: 4,
      showPoints: 'never',
      spanNulls: false,
      stacking: { group: 'A', mode: stack ? 'normal' : 'none' },
      thresholdsStyle: { mode: thresholdLine ? 'dashed' : 'off' },
    },
    thresholds: thresholds ?? GREEN_ONLY,
    unit,
  };
  if (min !== undefined) defaults.min = min;
  if (max !== undefined) defaults.max = max;
  return {
    type: 'timeseries', title, description, datasource: DS, w, h,
    fieldConfig: { defaults, overrides: [] },
    options: {
      legend: { calcs: [], displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: targets(...exprs),
  };
}

function stat({ title, description, exprs, unit = 'short', w = 4, h = 4, thresholds, mappings = [],
  decimals, colorMode = 'background', textMode = 'auto', graph = false }) {
  const defaults = { color: { mode: 'thresholds' }, mappings, thresholds: thresholds ?? GREEN_ONLY, unit };
  if (decimals !== undefined) defaults.decimals = decimals;
  return {
    type: 'stat', title, description, datasource: DS, w, h,
    fieldConfig: { defaults, overrides: [] },
    options: {
      colorMode,
      graphMode: graph ? 'area' : 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      percentChangeColorMode: 'standard',
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      showPercentChange: false,
      textMode,
      wideLayout: true,
    },
    targets: targets(...exprs),
  };
}

function stateTimeline({ title, description, exprs, w = 12, h = 8, mappings, thresholds }) {
  return {
    type: 'state-timeline', title, description, datasource: DS, w, h,
    fieldConfig: {
      defaults: {
        color: { mode: 'thresholds' },
        custom: { fillOpacity: 80, lineWidth: 0 },
        mappings,
        thresholds,
      },
      overrides: [],
    },
    options: {
      alignValue: 'center',
      legend: { calcs: [], displayMode: 'list', placement: 'bottom', showLegend: false },
      mergeValues: true,
      rowHeight: 0.8,
      showValue: 'auto',
      tooltip: { mode: 'single', sort: 'none' },
    },
    targets: targets(...exprs),
  };
}

function bargauge({ title, description, exprs, unit, w = 12, h = 8, min, max, thresholds }) {
  return {
    type: 'bargauge', title, description, datasource: DS, w, h,
    fieldConfig: {
      defaults: { color: { mode: 'thresholds' }, min, max, thresholds, unit },
      overrides: [],
    },
    options: {
      displayMode: 'basic',
      legend: { calcs: [], displayMode: 'list', placement: 'bottom', showLegend: false },
      maxVizHeight: 300,
      minVizHeight: 16,
      minVizWidth: 8,
      namePlacement: 'auto',
      orientation: 'horizontal',
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      showUnfilled: true,
      sizing: 'auto',
      valueMode: 'color',
    },
    targets: targets(...exprs),
  };
}

const row = (title) => ({ type: 'row', title, collapsed: false, panels: [] });

const valueText = (pairs) => [{
  type: 'value',
  options: Object.fromEntries(pairs.map(([value, text, color], index) => [value, { color, index, text }])),
}];

/** Lays panels out left to right on Grafana's 24-column grid; a row starts a new line. */
function layout(items) {
  let x = 0, y = 0, lineHeight = 0, id = 1;
  return items.map((item) => {
    const { w = 24, h = 1, ...panel } = item;
    if (panel.type === 'row' || x + w > 24) { y += lineHeight; x = 0; lineHeight = 0; }
    const gridPos = { h, w, x, y };
    if (panel.type === 'row') { y += 1; } else { x += w; lineHeight = Math.max(lineHeight, h); }
    return { id: id++, gridPos, ...panel };
  });
}

// ---------------------------------------------------------------------------------------------
// Dashboards.

// No `current`: Grafana selects the default Prometheus datasource of whoever loads the dashboard.
const datasourceVariable = {
  description: 'The Prometheus that scrapes the superpower and powersource jobs',
  hide: 0,
  includeAll: false,
  label: 'Prometheus',
  multi: false,
  name: 'datasource',
  options: [],
  query: 'prometheus',
  refresh: 1,
  regex: '',
  type: 'datasource',
};

/**
 * Grafana Explore on the Jaeger datasource (dashboards/grafana/provisioning/datasources/jaeger.yml,
 * docs/traces.md), searching superpower's traces with the attempt tags `tags` (logfmt) in the last
 * 30 minutes.
 */
const JAEGER_UID = 'superpower-jaeger';
const explore = (tags) => '/explore?schemaVersion=1&orgId=1&panes=' + encodeURIComponent(JSON.stringify({
  traces: {
    datasource: JAEGER_UID,
    queries: [{
      refId: 'A', datasource: { type: 'jaeger', uid: JAEGER_UID }, queryType: 'search',
      service: 'superpower', ...(tags ? { tags } : {}),
    }],
    range: { from: 'now-30m', to: 'now' },
  },
}));
const traceLink = (title, tooltip, tags) => ({
  asDropdown: false, icon: 'info', includeVars: false, keepTime: false, tags: [],
  targetBlank: true, title, tooltip, type: 'link', url: explore(tags),
});

const links = [{
  asDropdown: true, icon: 'external link', includeVars: true, keepTime: true, tags: ['superpower'],
  targetBlank: false, title: 'superpower dashboards', tooltip: '', type: 'dashboards', url: '',
},
traceLink('Traces', "superpower's traces in Jaeger (Explore)", ''),
traceLink('Traces: hedges', 'requests where a hedge raced a slow instance', 'superpower.attempt.reason=hedge'),
traceLink('Traces: failovers', 'requests that failed over to the next instance', 'superpower.attempt.reason=failover'),
];

function dashboard({ uid, title, description, panels, variables = [], annotations = [] }) {
  return {
    annotations: { list: annotations },
    description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    links,
    panels: layout(panels),
    refresh: '5s',
    schemaVersion: 39,
    tags: ['superpower', 'chaos-engineering'],
    templating: { list: [datasourceVariable, ...variables] },
    time: { from: 'now-30m', to: 'now' },
    timepicker: { refresh_intervals: ['5s', '10s', '30s', '1m', '5m'] },
    timezone: 'browser',
    title,
    uid,
    version: 1,
    weekStart: '',
  };
}

const promAnnotation = (name, iconColor, expr, titleFormat, tagKeys) => ({
  datasource: DS,
  enable: true,
  iconColor,
  name,
  target: { expr, interval: '2s', refId: 'Anno' },
  tagKeys,
  titleFormat,
  useValueForTime: false,
});

const ONE_SECOND = steps(['green', null], ['red', 1]);
const SLI = steps(['red', null], ['green', 0.99]);
/** Promise 1's SLO: 99.9% of the answers to returning users keep their superpower. */
const IDENTITY_SLI = steps(['red', null], ['green', 0.999]);
const IDENTITY_BUDGET = 0.001;
const CHECKS = 'superpower_identity_checks_total';
const CHANGES = 'superpower_identity_changes_total';

// Each promise has an SLI recorded per window (sli-recording.yml), an error budget, and the same
// three panels built from them: what is left of the budget, how fast it burns, the SLI by window.
const SLI_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'];
const budgetLeft = ({ title, description, sli, budget }) => stat({ title, description, unit: 'percentunit', decimals: 1, w: 6,
  thresholds: steps(['red', null], ['orange', 0.25], ['green', 0.5]),
  exprs: [[`1 - (1 - ${sli}30d) / ${budget}`, 'budget left']] });
const burnRate = ({ title, description, sli, budget }) => timeseries({ title, description, unit: 'x', min: 0,
  thresholds: steps(['green', null], ['orange', 6], ['red', 14.4]), thresholdLine: true,
  exprs: ['5m', '1h', '6h', '3d'].map((w) => [`(1 - ${sli}${w}) / ${budget}`, w]) });
const byWindow = ({ title, description, sli, min, thresholds }) => bargauge({ title, description, unit: 'percentunit',
  min, max: 1, thresholds, w: 24, h: 6, exprs: SLI_WINDOWS.map((w) => [`${sli}${w}`, w]) });
const IDENTITY = { sli: 'superpower:identity_sli:ratio_rate', budget: IDENTITY_BUDGET };
const LATENCY = { sli: 'superpower:latency_sli:ratio_rate', budget: 0.01 };
const ZERO_IS_GOOD = steps(['green', null], ['red', 0.000001]);
const ON_OFF = valueText([['0', 'OFF', 'red'], ['1', 'ON', 'green']]);
const UP_DOWN = valueText([['0', 'down', 'red'], ['1', 'up', 'green']]);

// The main dashboard: the two promises, and what threatens them.
const promises = dashboard({
  uid: 'superpower-promises',
  title: 'superpower: the two promises',
  description: 'Same superpower every time, in under a second: the promises, the fleet behind them, and the switches and faults of a chaos experiment.',
  annotations: [
    promAnnotation('powersource down', 'red', 'up{job="powersource"} == 0', '{{instance}} down', 'instance'),
    promAnnotation('ring below known instances', 'orange',
      'min(superpower_ring_members) < max(superpower_known_instances)', 'instance left the ring', ''),
  ],
  panels: [
    row('The promises, now'),
    stat({ title: 'Promise 1: same superpower (5m)', unit: 'percentunit', decimals: 2, thresholds: IDENTITY_SLI, w: 6,
      description: 'Share of superpower\'s answers to returning users (GET / with a cookie it had answered before) that gave the same character as last time, over the last 5 minutes, as superpower itself counts them (identity SLI). A degraded answer counts as kept. The SLO is 99.9% over 30 days.',
      exprs: [['superpower:identity_sli:ratio_rate5m', 'same superpower']] }),
    budgetLeft({ ...IDENTITY, title: 'Identity budget left (30d)',
      description: 'Share of the 30-day identity error budget (1 answer to a returning user in 1,000 may change their superpower) not yet spent. Below 0: the SLO is broken.' }),
    stat({ title: 'Promise 2: under 1 s (5m)', unit: 'percentunit', decimals: 2, thresholds: SLI, w: 6,
      description: 'Share of GET / answered within 1 s over the last 5 minutes (latency SLI). The SLO is 99% over 30 days.',
      exprs: [['superpower:latency_sli:ratio_rate5m', 'under 1 s']] }),
    budgetLeft({ ...LATENCY, title: 'Latency budget left (30d)',
      description: 'Share of the 30-day error budget (1% of requests may be slower than 1 s) not yet spent. Below 0: the SLO is broken.' }),
    stat({ title: 'Superpower changed (5m)', thresholds: ZERO_IS_GOOD, decimals: 0,
      description: 'Answers to returning users whose character was not the one superpower gave them last time (promise 1 broken), over the last 5 minutes.',
      exprs: [[`sum(increase(${CHANGES}[5m])) or vector(0)`, 'changed']] }),
    stat({ title: 'Returning answers (5m)', decimals: 0, colorMode: 'value',
      description: 'Answers to returning users superpower checked against the character it gave them last time, over the last 5 minutes: what promise 1 is judged on.',
      exprs: [[`sum(increase(${CHECKS}[5m]))`, 'checked']] }),
    stat({ title: 'Available (5m)', unit: 'percentunit', decimals: 2, thresholds: SLI,
      description: 'Share of GET / answered without a 5xx status over the last 5 minutes. Degraded answers count as available.',
      exprs: [['superpower:availability_sli:ratio_rate5m', 'available']] }),
    stat({ title: 'Degraded answers (5m)', thresholds: ZERO_IS_GOOD, decimals: 0,
      description: 'Answers served with the superpower named by the user\'s signed superpower_last cookie, because no powersource answered (identity kept, but at risk).',
      exprs: [['sum(increase(superpower_fallback_responses_total[5m])) or vector(0)', 'degraded']] }),
    stat({ title: 'Powersources down', thresholds: ZERO_IS_GOOD,
      description: 'powersource instances Prometheus cannot scrape right now.',
      exprs: [['count(up{job="powersource"} == 0) or vector(0)', 'down']] }),
    stat({ title: 'Ring: healthy / known', colorMode: 'value', textMode: 'value_and_name',
      description: 'Healthy powersource instances on superpower\'s ring, and all instances it knows of.',
      exprs: [['min(superpower_ring_members)', 'healthy'], ['max(superpower_known_instances)', 'known']] }),

    row('Promise 1: the same superpower every time'),
    timeseries({ title: 'Answers to returning users: checked and changed', unit: 'reqps', min: 0,
      description: 'Per second: answers to returning users superpower checked against the character it gave them last time, and those whose character changed. Changed stays at 0 while the promise holds; with stable assignment off it climbs to nearly every check.',
      exprs: [
        [`sum(rate(${CHECKS}[${RI}]))`, 'checked/s'],
        [rateOrZero(CHANGES), 'changed/s'],
      ] }),
    burnRate({ ...IDENTITY, title: 'Identity budget burn rate',
      description: 'How fast the identity budget (0.1% of answers to returning users) burns; 1x = spent in exactly 30 days. Lines at 6x and 14.4x: the page thresholds of the identity burn-rate alerts.' }),
    byWindow({ ...IDENTITY, title: 'Same superpower, by window', min: 0.99, thresholds: IDENTITY_SLI,
      description: 'Identity SLI over each window the alerts use. Green at 99.9% or more.' }),

    row('Traffic and latency (user-facing routes)'),
    timeseries({ title: 'Request rate by route and status', unit: 'reqps',
      description: 'Requests per second superpower answered, excluding /health, /live and /metrics.',
      exprs: [[`sum by (route, status) (rate(http_server_request_duration_seconds_count{${USER}}[${RI}]))`, '{{route}} {{status}}']] }),
    timeseries({ title: 'Latency p50 / p95 / p99 (promise: 1 s)', unit: 's', min: 0, thresholds: ONE_SECOND,
      thresholdLine: true,
      description: 'Latency quantiles of superpower\'s user-facing answers. The dashed red line is the promise: every answer in under a second.',
      exprs: [
        [quantile(0.5, [], `http_server_request_duration_seconds_bucket{${USER}}`), 'p50'],
        [quantile(0.95, [], `http_server_request_duration_seconds_bucket{${USER}}`), 'p95'],
        [quantile(0.99, [], `http_server_request_duration_seconds_bucket{${USER}}`), 'p99'],
      ] }),
    timeseries({ title: 'Error ratio (5xx / all)', unit: 'percentunit', min: 0,
      description: 'Share of user-facing answers with a 5xx status. 0 while nothing fails.',
      exprs: [[`(sum(rate(http_server_request_duration_seconds_count{${USER}, status=~"5.*"}[${RI}])) or vector(0))\n/\nsum(rate(http_server_request_duration_seconds_count{${USER}}[${RI}]))`, '5xx ratio']] }),
    burnRate({ ...LATENCY, title: 'Latency budget burn rate',
      description: 'How fast the 1 s latency budget burns (1x = spent in exactly 30 days). Lines at 6x and 14.4x: the page thresholds of the burn-rate alerts.' }),
    byWindow({ ...LATENCY, title: 'Under 1 s, by window', min: 0.9, thresholds: SLI,
      description: 'Latency SLI over each window the alerts use. Green at 99% or more.' }),

    row('powersource, as superpower sees it'),
    timeseries({ title: 'powersource p99 latency by instance', unit: 's', min: 0,
      description: 'p99 latency of superpower\'s calls to each powersource instance (all outcomes).',
      exprs: [[`histogram_quantile(0.99, sum by (powersource, le) (${byPowersource(`rate(${CALLS}_bucket[${RI}])`)}))`, '{{powersource}}']] }),
    timeseries({ title: 'powersource calls by instance and outcome', unit: 'reqps', stack: true,
      description: 'Calls per second from superpower to each powersource instance, by outcome: ok, not_found, error, timeout, connect_error, hedge_lost.',
      exprs: [[`sum by (powersource, outcome) (${byPowersource(`rate(${CALLS}_count[${RI}])`)})`, '{{powersource}} {{outcome}}']] }),
    timeseries({ title: 'Ring members vs known instances', min: 0, unit: 'none',
      description: 'Healthy powersource instances on superpower\'s consistent-hash ring, against all instances it knows. A gap is an instance down: its users moved to the others.',
      exprs: [['min(superpower_ring_members)', 'healthy (on the ring)'], ['max(superpower_known_instances)', 'known']] }),
    stateTimeline({ title: 'powersource instances up', mappings: UP_DOWN, thresholds: steps(['red', null], ['green', 1]),
      description: 'Whether Prometheus can scrape each powersource instance.',
      exprs: [['up{job="powersource"}', '{{instance}}']] }),
    timeseries({ title: 'Failovers', unit: 'reqps', w: 8, min: 0,
      description: 'Requests that had to try another instance after the first failed.',
      exprs: [[rateOrZero('superpower_failovers_total'), 'failovers/s']] }),
    timeseries({ title: 'Degraded (fallback) answers', unit: 'reqps', w: 8, min: 0, thresholds: ZERO_IS_GOOD,
      description: 'Answers served with the superpower named by the user\'s signed superpower_last cookie, because no instance answered.',
      exprs: [[rateOrZero('superpower_fallback_responses_total'), 'fallback answers/s']] }),
    timeseries({ title: 'Hedged requests', unit: 'reqps', w: 8, min: 0,
      description: 'Requests sent a second time to the next instance because the first was slow.',
      exprs: [[rateOrZero('superpower_hedged_requests_total'), 'hedged/s']] }),

    row('Teaching: resilience switches and faults in force'),
    stat({ title: 'Resilience switches', mappings: ON_OFF, thresholds: steps(['red', null], ['green', 1]),
      textMode: 'value_and_name', w: 12, h: 5,
      description: 'superpower\'s resilience mechanisms (GET/PUT /admin/switches). OFF shows how the promise breaks without it.',
      exprs: [['min by (mechanism) (superpower_resilience_enabled)', '{{mechanism}}']] }),
    stat({ title: 'Faults in force', thresholds: ZERO_IS_GOOD, mappings: valueText([['0', 'none', 'green']]),
      textMode: 'value_and_name', w: 12, h: 5,
      description: 'Faults injected into each powersource instance (PUT /admin/faults or --fault-* flags), by kind.',
      exprs: [['max by (instance, kind) (powersource_faults_active)', '{{instance}} {{kind}}']] }),
    stateTimeline({ title: 'Switches over time', mappings: ON_OFF, thresholds: steps(['red', null], ['green', 1]),
      description: 'When each resilience mechanism was on or off.',
      exprs: [['min by (mechanism) (superpower_resilience_enabled)', '{{mechanism}}']] }),
    stateTimeline({ title: 'Faults over time', mappings: valueText([['0', 'none', 'transparent']]),
      thresholds: ZERO_IS_GOOD,
      description: 'When a fault was in force on each powersource instance.',
      exprs: [['max by (instance, kind) (powersource_faults_active)', '{{instance}} {{kind}}']] }),
  ],
});

// superpower, the service: every route, calls to powersource, ring and mechanisms.
const superpowerService = dashboard({
  uid: 'superpower-service',
  title: 'superpower: service',
  description: 'The superpower front end: every route, its calls to powersource, its ring and its resilience mechanisms.',
  panels: [
    row('HTTP'),
    timeseries({ title: 'Requests by route', unit: 'reqps',
      description: 'Every route superpower answers, operational ones included.',
      exprs: [[`sum by (route) (rate(http_server_request_duration_seconds_count{job="superpower"}[${RI}]))`, '{{route}}']] }),
    timeseries({ title: 'Requests by status', unit: 'reqps', stack: true,
      description: 'Answers by HTTP status (uncommon codes are grouped as 4xx or 5xx).',
      exprs: [[`sum by (status) (rate(http_server_request_duration_seconds_count{job="superpower"}[${RI}]))`, '{{status}}']] }),
    timeseries({ title: 'p99 latency by route', unit: 's', min: 0, thresholds: ONE_SECOND, thresholdLine: true,
      description: 'p99 latency of each route; dashed line at the 1 s promise.',
      exprs: [[quantile(0.99, ['route'], 'http_server_request_duration_seconds_bucket{job="superpower"}'), '{{route}}']] }),
    timeseries({ title: 'Calls to powersource: p50 / p99', unit: 's', min: 0,
      description: 'Latency of superpower\'s calls to powersource, all instances together.',
      exprs: [
        [quantile(0.5, [], `${CALLS}_bucket{job="superpower"}`), 'p50'],
        [quantile(0.99, [], `${CALLS}_bucket{job="superpower"}`), 'p99'],
      ] }),
    row('Routing and resilience'),
    timeseries({ title: 'Calls to powersource by outcome', unit: 'reqps', stack: true,
      description: 'ok, not_found, error, timeout, connect_error, hedge_lost.',
      exprs: [[`sum by (outcome) (rate(${CALLS}_count{job="superpower"}[${RI}]))`, '{{outcome}}']] }),
    timeseries({ title: 'Ring members and known instances by superpower', unit: 'none', min: 0,
      description: 'Per superpower process: healthy instances on its ring, and instances it knows.',
      exprs: [
        ['superpower_ring_members', 'healthy ({{instance}})'],
        ['superpower_known_instances', 'known ({{instance}})'],
      ] }),
    timeseries({ title: 'Failovers, fallbacks, hedges', unit: 'reqps', min: 0,
      description: 'Rates of the three ways superpower saves a request.',
      exprs: [
        [rateOrZero('superpower_failovers_total'), 'failovers/s'],
        [rateOrZero('superpower_fallback_responses_total'), 'fallback answers/s'],
        [rateOrZero('superpower_hedged_requests_total'), 'hedged/s'],
      ] }),
    stateTimeline({ title: 'Resilience switches', mappings: ON_OFF, thresholds: steps(['red', null], ['green', 1]),
      description: 'superpower_resilience_enabled per mechanism and process.',
      exprs: [['superpower_resilience_enabled', '{{mechanism}} ({{instance}})']] }),
    stateTimeline({ title: 'superpower scrape up', mappings: UP_DOWN, thresholds: steps(['red', null], ['green', 1]), w: 24, h: 5,
      description: 'Whether Prometheus can scrape each superpower process.',
      exprs: [['up{job="superpower"}', '{{instance}}']] }),
  ],
});

// powersource, the back end: one instance or all.
const PS = 'job="powersource", instance=~"$instance"';
const instanceVariable = {
  allValue: '.+',
  current: { text: 'All', value: '$__all' },
  datasource: DS,
  description: 'powersource instances (Prometheus target names, e.g. powersource-1)',
  hide: 0,
  includeAll: true,
  label: 'instance',
  multi: true,
  name: 'instance',
  options: [],
  query: { qryType: 1, query: 'label_values(up{job="powersource"}, instance)', refId: 'PrometheusVariableQueryEditor-VariableQuery' },
  refresh: 2,
  regex: '',
  sort: 1,
  type: 'query',
};

const powersourceService = dashboard({
  uid: 'powersource-service',
  title: 'powersource: service',
  description: 'The powersource back end: traffic, latency, errors, store and faults per instance.',
  variables: [instanceVariable],
  annotations: [
    promAnnotation('powersource down', 'red', `up{${PS}} == 0`, '{{instance}} down', 'instance'),
  ],
  panels: [
    row('Instances'),
    stateTimeline({ title: 'Instances up', mappings: UP_DOWN, thresholds: steps(['red', null], ['green', 1]), w: 12, h: 6,
      description: 'Whether Prometheus can scrape each instance.',
      exprs: [[`up{${PS}}`, '{{instance}}']] }),
    stat({ title: 'Eligible characters', w: 6, h: 6, colorMode: 'value', textMode: 'value_and_name',
      description: 'Characters each instance can serve (eligible ones in its store).',
      exprs: [[`powersource_eligible_characters{${PS}}`, '{{instance}}']] }),
    stat({ title: 'Faults in force', w: 6, h: 6, thresholds: ZERO_IS_GOOD, textMode: 'value_and_name',
      mappings: valueText([['0', 'none', 'green']]),
      description: 'Faults injected into each instance, by kind (latency, error, hang).',
      exprs: [[`powersource_faults_active{${PS}}`, '{{instance}} {{kind}}']] }),
    row('HTTP (excluding /health, /live, /metrics)'),
    timeseries({ title: 'Requests by instance and route', unit: 'reqps', stack: true,
      description: 'Requests per second each instance answered.',
      exprs: [[`sum by (instance, route) (rate(http_server_request_duration_seconds_count{${PS}, ${OPS}}[${RI}]))`, '{{instance}} {{route}}']] }),
    timeseries({ title: 'Requests by status', unit: 'reqps', stack: true,
      description: 'Answers by HTTP status, all selected instances.',
      exprs: [[`sum by (status) (rate(http_server_request_duration_seconds_count{${PS}, ${OPS}}[${RI}]))`, '{{status}}']] }),
    timeseries({ title: 'p99 latency by instance', unit: 's', min: 0, thresholds: ONE_SECOND, thresholdLine: true,
      description: 'p99 latency of each instance\'s answers (a latency fault shows here).',
      exprs: [[quantile(0.99, ['instance'], `http_server_request_duration_seconds_bucket{${PS}, ${OPS}}`), '{{instance}}']] }),
    timeseries({ title: 'p99 latency by route', unit: 's', min: 0,
      description: 'p99 latency of each route, all selected instances.',
      exprs: [[quantile(0.99, ['route'], `http_server_request_duration_seconds_bucket{${PS}, ${OPS}}`), '{{route}}']] }),
    timeseries({ title: 'Error ratio by instance (5xx / all)', unit: 'percentunit', min: 0, w: 24,
      description: 'Share of 5xx answers per instance (an error fault shows here). 0 while nothing fails.',
      exprs: [[`(\n  sum by (instance) (rate(http_server_request_duration_seconds_count{${PS}, ${OPS}, status=~"5.*"}[${RI}]))\n  or\n  0 * sum by (instance) (rate(http_server_request_duration_seconds_count{${PS}, ${OPS}}[${RI}]))\n)\n/\nsum by (instance) (rate(http_server_request_duration_seconds_count{${PS}, ${OPS}}[${RI}]))`, '{{instance}}']] }),
  ],
});

// ---------------------------------------------------------------------------------------------

const files = {
  'superpower.json': promises,
  'superpower-service.json': superpowerService,
  'powersource.json': powersourceService,
};

const check = process.argv.includes('--check');
let stale = 0;
for (const [name, value] of Object.entries(files)) {
  const path = join(OUT, name);
  const text = JSON.stringify(value, null, 2) + '\n';
  if (check) {
    let current = '';
    try { current = readFileSync(path, 'utf8'); } catch { /* missing counts as stale */ }
    if (current !== text) { console.error(`stale: ${path} (run node dashboards/tools/generate.mjs)`); stale++; }
  } else {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
if (check && stale === 0) console.log(`dashboards up to date with generate.mjs (${Object.keys(files).length} files)`);
process.exit(stale ? 1 : 0);
