// superpower control room: switches, fault injection (with a duration after which the instance
// clears them itself), the reset to the baseline, and every replica of the front end with its
// switches; the promises panel is promises.js's. No framework, no external assets.
// The token is typed by the presenter, kept in sessionStorage for this tab only, and sent as a
// bearer token with every call; it never goes into a URL.
"use strict";

const SWITCHES = [
  ["ring", "consistent-hash routing (off: round robin)"],
  ["failover", "failover to the next instance (off: one attempt)"],
  ["fallback", "last-known-good fallback (off: 503 when the fleet is gone)"],
  ["stable_assignment", "stable assignment (off: a random character per visit)"],
  ["deadlines", "tight deadlines (off: 2 s connect / 5 s read, no overall deadline)"],
  ["hedging", "hedged requests to a second instance"],
];

let token = sessionStorage.getItem("superpower-admin-token") || "";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "checked" || k === "disabled") e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
  if (!resp.ok) {
    const err = new Error((data && data.error) || resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function status(msg, isError) {
  const s = document.getElementById("status");
  s.textContent = msg;
  s.className = isError ? "error" : "";
}

// The switches' rows are made once and updated in place on every refresh, so a refresh never
// takes a checkbox away from under the presenter's pointer.
function renderSwitches(state) {
  const body = document.querySelector("#switches tbody");
  for (const [name, label] of SWITCHES) {
    let box = document.getElementById("switch-" + name);
    if (!box) {
      box = el("input", { type: "checkbox", id: "switch-" + name, "data-switch": name });
      box.addEventListener("change", async () => {
        box.disabled = true;
        try {
          const next = await api("PUT", "/admin/switches", { [name]: box.checked });
          box.disabled = false;
          renderSwitches(next);
          status(name + " is now " + (next[name] ? "on" : "off"));
        } catch (e) {
          status("could not change " + name + ": " + e.message, true);
          box.checked = !box.checked;
        } finally {
          box.disabled = false;
        }
      });
      body.append(el("tr", {}, el("td", {}, el("label", { for: "switch-" + name }, label)), el("td", {}, box)));
    }
    if (!box.disabled) box.checked = !!state[name];
  }
}

function describeFaults(f) {
  if (!f) return "unknown (no answer)";
  const parts = [];
  if (f.latency_ms || f.jitter_ms) parts.push("latency " + f.latency_ms + " ms ± " + f.jitter_ms + " ms");
  if (f.error_rate) parts.push("errors " + Math.round(f.error_rate * 100) + "%");
  if (f.hang) parts.push("hang");
  if (parts.length && f.route) parts.push("on " + f.route);
  if (parts.length && f.duration_ms) parts.push("for " + Math.round(f.duration_ms / 1000) + " s");
  return parts.length ? parts.join(", ") : "none";
}

// One row per instance, made when the instance first appears: a refresh rewrites only its
// health and faults cells, so what the presenter is typing into the inject fields stays.
function instanceRow(inst) {
  const latency = el("input", { type: "number", min: "0", max: "60000", value: "0", "aria-label": "latency ms" });
  const errors = el("input", { type: "number", min: "0", max: "100", value: "0", "aria-label": "error %" });
  const hang = el("input", { type: "checkbox", "aria-label": "hang" });
  const seconds = el("input", { type: "number", min: "0", max: "3600", value: "300", "aria-label": "duration s" });
  const apply = el("button", { type: "button" }, "inject");
  const clear = el("button", { type: "button" }, "clear");
  const path = "/admin/instances/" + encodeURIComponent(inst.name) + "/faults";
  apply.addEventListener("click", async () => {
    try {
      await api("PUT", path, {
        latency_ms: Number(latency.value) || 0, jitter_ms: 0,
        error_rate: (Number(errors.value) || 0) / 100, hang: hang.checked, route: null,
        duration_ms: Number(seconds.value) > 0 ? Math.round(Number(seconds.value) * 1000) : null,
      });
      status("faults set on " + inst.name);
      refresh();
    } catch (e) { status("could not set faults on " + inst.name + ": " + e.message, true); }
  });
  clear.addEventListener("click", async () => {
    try { await api("DELETE", path); status("faults cleared on " + inst.name); refresh(); }
    catch (e) { status("could not clear " + inst.name + ": " + e.message, true); }
  });
  return el("tr", { "data-instance": inst.name },
    el("td", {}, inst.name),
    el("td", { class: "health" }),
    el("td", { class: "faults" }),
    el("td", {}, "ms ", latency, " err% ", errors, " hang ", hang, " for s ", seconds, " ", apply, " ", clear));
}

function renderInstances(data) {
  const body = document.querySelector("#instances tbody");
  const rows = new Map([...body.children].map((r) => [r.dataset.instance, r]));
  const listed = new Set();
  for (const inst of data.instances) {
    listed.add(inst.name);
    let row = rows.get(inst.name);
    if (!row) {
      row = instanceRow(inst);
      body.append(row);
    }
    row.querySelector(".health").textContent = inst.healthy ? (inst.on_ring ? "yes" : "yes (off ring)") : "no";
    row.querySelector(".faults").textContent = describeFaults(inst.faults);
  }
  for (const [name, row] of rows) if (!listed.has(name)) row.remove();
}

// Every replica of the front end with its switches: a replica out of step shows (its switches
// differ from the others'), and so does one its peer could not reach.
function renderReplicas(data) {
  const body = document.querySelector("#replicas tbody");
  const off = (sw) => SWITCHES.filter(([name]) => !sw[name]).map(([name]) => name);
  const rows = data.replicas.map((r) => {
    const sw = r.switches && r.switches.switches;
    const state = !r.reachable ? "unreachable: " + (r.error || "no answer")
      : (off(sw).length ? "off: " + off(sw).join(", ") : "all on");
    const version = r.switches ? "v" + r.switches.version.counter : "";
    return el("tr", { "data-replica": r.name, "data-reachable": String(r.reachable) },
      el("td", {}, r.name + (r.this ? " (this page's)" : "")), el("td", { class: "replica-switches" }, state),
      el("td", {}, version));
  });
  body.replaceChildren(...rows);
  const versions = new Set(data.replicas.filter((r) => r.switches).map((r) => JSON.stringify(r.switches.switches)));
  document.getElementById("replicas").dataset.inStep = String(versions.size <= 1);
}

// Connected: the controls show and the login form hides; disconnected, the other way round.
function connected(yes) {
  document.getElementById("controls").hidden = !yes;
  document.getElementById("login").hidden = yes;
}

async function refresh() {
  try {
    const [switches, instances, replicas] = await Promise.all([
      api("GET", "/admin/switches"), api("GET", "/admin/instances"), api("GET", "/admin/replicas")]);
    renderSwitches(switches);
    renderInstances(instances);
    renderReplicas(replicas);
    connected(true);
    document.getElementById("login-error").textContent = "";
    const controls = document.getElementById("controls");
    controls.dataset.refreshes = String(Number(controls.dataset.refreshes || 0) + 1);
    return true;
  } catch (e) {
    if (e.status === 401) {
      sessionStorage.removeItem("superpower-admin-token");
      connected(false);
      document.getElementById("login-error").textContent = "That token was refused.";
    } else {
      status("refresh failed: " + e.message, true);
    }
    return false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    token = document.getElementById("token").value;
    if (await refresh()) sessionStorage.setItem("superpower-admin-token", token);
  });
  document.getElementById("disconnect").addEventListener("click", () => {
    token = "";
    sessionStorage.removeItem("superpower-admin-token");
    document.getElementById("token").value = "";
    connected(false);
  });
  document.getElementById("reset").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/admin/reset");
      const failed = r.instances.filter((i) => !i.cleared).map((i) => i.name + " (" + i.error + ")");
      status(r.complete ? "reset: every switch on, faults cleared on " + r.instances.length + " instances"
        : "reset: switches on, but not cleared on " + failed.join(", "), !r.complete);
      refresh();
    } catch (e) { status("reset failed: " + e.message, true); }
  });
  if (token) refresh();
  setInterval(() => { if (!document.getElementById("controls").hidden) refresh(); }, 1000);
});
