// superpower's promises, live: fetches /promises.json every second and draws both promises
// (status, figures, small SVG charts) into #promises. Used by /promises (read-only, no token)
// and /admin. No framework, no external assets; SVG presentation attributes only (the CSP
// allows no inline style).
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 300, H = 70, SLOTS = 60;

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  }

  // x of the i-th of n seconds, the newest at the right edge
  const x = (i, n) => ((SLOTS - n + i + 0.5) / SLOTS) * W;

  function frame(title) {
    const s = svg("svg", { viewBox: `0 0 ${W} ${H + 12}`, role: "img", "aria-label": title, class: "spark" });
    s.append(svg("rect", { x: 0, y: 0, width: W, height: H, class: "spark-bg" }));
    const t = svg("text", { x: 2, y: H + 10, class: "spark-label" });
    t.textContent = title;
    s.append(t);
    return s;
  }

  function polyline(points, cls) {
    if (points.length === 0) return null;
    return svg("polyline", { points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "), class: cls });
  }

  function bars(s, values, max, cls) {
    const n = values.length, bw = W / SLOTS;
    values.forEach((v, i) => {
      if (!v) return;
      const h = Math.max(2, (v / max) * H);
      s.append(svg("rect", { x: x(i, n) - bw / 2, y: H - h, width: Math.max(1, bw - 1), height: h, class: cls }));
    });
  }

  function keptChart(seconds) {
    const s = frame("identity kept per second (red: changed)");
    const n = seconds.length;
    const pts = [];
    seconds.forEach((sec, i) => { if (sec.checks > 0) pts.push([x(i, n), H - ((sec.checks - sec.changes) / sec.checks) * (H - 4)]); });
    bars(s, seconds.map((sec) => (sec.changes > 0 ? 1 : 0)), 1, "bar-bad");
    const l = polyline(pts, "line-ok");
    if (l) s.append(l);
    return s;
  }

  // latency on a log scale from 0.1 ms to 10 s, with the promise's limit (limit_ms of
  // /promises.json, defined once in service/src/promise.rs) as a line
  const ly = (ms) => H - ((Math.log10(Math.min(Math.max(ms, 0.1), 10000)) + 1) / 5) * H;
  // the limit as the promise says it: "1 s"
  const limitText = (ms) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

  function latencyChart(seconds, limitMs) {
    const s = frame(`p50 (blue) / p99 (amber) per second, log scale; dashed: ${limitText(limitMs)}`);
    const n = seconds.length;
    s.append(svg("line", { x1: 0, x2: W, y1: ly(limitMs), y2: ly(limitMs), class: "limit" }));
    for (const [key, cls] of [["p50_ms", "line-p50"], ["p99_ms", "line-p99"]]) {
      const pts = [];
      seconds.forEach((sec, i) => { if (sec[key] != null) pts.push([x(i, n), ly(sec[key])]); });
      const l = polyline(pts, cls);
      if (l) s.append(l);
    }
    return s;
  }

  function answersChart(seconds) {
    const s = frame("answers per second (amber: degraded, red: failed)");
    const n = seconds.length;
    const max = Math.max(1, ...seconds.map((sec) => sec.answers));
    bars(s, seconds.map((sec) => sec.degraded), max, "bar-warn");
    bars(s, seconds.map((sec) => sec.failed), max, "bar-bad");
    const l = polyline(seconds.map((sec, i) => [x(i, n), H - (sec.answers / max) * (H - 4)]), "line-p50");
    if (l) s.append(l);
    return s;
  }

  function ringChart(seconds, known) {
    const s = frame("ring members");
    const n = seconds.length;
    const max = Math.max(1, known, ...seconds.map((sec) => sec.ring_members));
    const pts = [];
    seconds.forEach((sec, i) => {
      const py = H - (sec.ring_members / max) * (H - 4);
      pts.push([x(i, n) - W / SLOTS / 2, py], [x(i, n) + W / SLOTS / 2, py]);
    });
    const l = polyline(pts, "line-ok");
    if (l) s.append(l);
    return s;
  }

  const pct = (r) => (r == null ? "–" : (Math.floor(r * 10000) / 100).toFixed(2) + "%");
  const ms = (v) => (v == null ? "–" : v < 10 ? v.toFixed(2) + " ms" : v < 1000 ? v.toFixed(0) + " ms" : (v / 1000).toFixed(2) + " s");

  function setCard(id, status, verdict, figures) {
    const card = document.getElementById(id);
    if (!card) return null;
    card.dataset.status = status;
    for (const [sel, text] of [[".verdict", verdict], [".figures", figures]]) {
      const e = card.querySelector(sel);
      if (e) e.textContent = text;
    }
    return card;
  }

  function chart(card, name, node) {
    const slot = card && card.querySelector(`[data-chart="${name}"]`);
    if (slot) slot.replaceChildren(node);
  }

  function render(v) {
    const id = v.identity, lat = v.latency;
    const idVerdict = {
      kept: "KEPT: every returning visitor got the same superpower",
      broken: `BROKEN: ${id.now_changes} of ${id.now_checks} returning visits got another superpower in the last ${v.now_seconds} s`,
      idle: v.tracking ? "no returning visitors right now" : "not measured (--no-promise-tracking)",
    }[id.status];
    const c1 = setCard("promise-identity", id.status, idVerdict,
      `${pct(id.kept_ratio)} kept over the last minute (${id.checks - id.changes} of ${id.checks}); ${id.changes} changed`);
    chart(c1, "kept", keptChart(v.seconds));

    const limit = limitText(lat.limit_ms);
    const latVerdict = {
      kept: `KEPT: ${pct(lat.now_good_ratio)} answered within ${limit} in the last ${v.now_seconds} s`,
      broken: `BROKEN: only ${pct(lat.now_good_ratio)} answered within ${limit} in the last ${v.now_seconds} s (needs ${pct(lat.objective)})`,
      idle: v.tracking ? "no visitors right now" : "not measured (--no-promise-tracking)",
    }[lat.status];
    const c2 = setCard("promise-latency", lat.status, latVerdict,
      `p50 ${ms(lat.p50_ms)} · p99 ${ms(lat.p99_ms)} over the last minute · ${lat.slow} over ${limit} · ${lat.failed} failed`);
    chart(c2, "latency", latencyChart(v.seconds, lat.limit_ms));

    const c3 = setCard("traffic", "info", "",
      `${v.answers_per_second.toFixed(1)} answers/s · ${v.degraded} degraded in the last minute · ring ${v.ring_members}/${v.known_instances} · stable assignment ${v.stable_assignment ? "on" : "OFF"}`);
    chart(c3, "answers", answersChart(v.seconds));
    chart(c3, "ring", ringChart(v.seconds, v.known_instances));
    renderReplicas(v.replicas || []);
  }

  // Each replica of the front end on its own line (the figures above are their sum); one that
  // did not answer its peer is shown as such, not left out.
  function renderReplicas(lines) {
    const list = document.getElementById("replica-lines");
    if (!list) return;
    list.hidden = lines.length === 0;
    list.replaceChildren(...lines.map((r) => {
      const li = document.createElement("li");
      li.dataset.replica = r.name;
      li.dataset.reachable = String(r.reachable);
      li.textContent = r.reachable
        ? `${r.name}${r.this ? " (answering this page)" : ""}: ${r.answers_per_second.toFixed(1)} answers/s · promise 1 ${r.identity} · promise 2 ${r.latency}`
        : `${r.name}: unreachable (${r.error}) — not in the figures above`;
      return li;
    }));
  }

  async function poll() {
    try {
      const resp = await fetch("/promises.json", { cache: "no-store" });
      if (!resp.ok) throw new Error(resp.statusText);
      render(await resp.json());
    } catch (e) {
      for (const id of ["promise-identity", "promise-latency"]) {
        const card = document.getElementById(id);
        if (card) { card.dataset.status = "idle"; card.querySelector(".verdict").textContent = "superpower does not answer: " + e.message; }
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.getElementById("promises")) return;
    poll();
    setInterval(poll, 1000);
  });
})();
