// Headless Chromium against a real superpower in front of real powersources (started by run.sh):
// the character page renders with its image, the control room flips a switch, and two replicas
// act as one front end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE = process.env.SUPERPOWER_URL;
const PEER = process.env.PEER_URL;
const TOKEN = process.env.ADMIN_TOKEN;
const ARTIFACTS = process.env.ARTIFACTS;
assert.ok(BASE && TOKEN && ARTIFACTS, "run through run.sh");
mkdirSync(ARTIFACTS, { recursive: true });

async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic",
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
    ],
  });
}

test("the page shows the character with its image", async () => {
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1024, height: 768 } });
    const external = [];
    page.on("request", (r) => { if (!r.url().startsWith(BASE)) external.push(r.url()); });
    const cspErrors = [];
    page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    const resp = await page.goto(BASE + "/", { waitUntil: "load" });
    assert.equal(resp.status(), 200);
    // the same user (cookie) asks for JSON: the page must show that character
    const api = await page.evaluate(async () => (await fetch("/", { headers: { Accept: "application/json" } })).json());
    const h1 = await page.textContent("h1");
    assert.equal(h1.trim(), `You are ${api.name}!`);
    const img = await page.$("img.portrait");
    assert.ok(img, "portrait present");
    const loaded = await page.evaluate((el) => el.complete && el.naturalWidth > 0 && el.naturalHeight > 0, img);
    assert.ok(loaded, "the portrait image loaded");
    assert.equal(await img.getAttribute("src"), api.image_url);
    const bg = await page.evaluate(() => {
      const e = document.querySelector("img.background");
      return e && e.complete && e.naturalWidth > 0;
    });
    assert.ok(bg, "the background image loaded");
    const color = await page.evaluate(() => getComputedStyle(document.querySelector("h1 .name")).color);
    assert.equal(color, "rgb(255, 210, 63)", "the stylesheet applied");
    assert.deepEqual(external, [], "no external requests");
    assert.deepEqual(cspErrors, [], "no CSP violations");
    await page.screenshot({ path: `${ARTIFACTS}/superpower-page.png`, fullPage: true });
  } finally {
    await b.close();
  }
});

test("the control room flips a switch and the JSON reflects it", async () => {
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(BASE + "/admin", { waitUntil: "load" });
    assert.ok(!page.url().includes(TOKEN), "the token is never in the URL");
    // a wrong token is refused and shows nothing
    await page.fill("#token", "wrong-token");
    await page.click("button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#login-error").textContent.length > 0);
    assert.ok(await page.$eval("#controls", (e) => e.hidden));
    // the right one shows switches and instances
    await page.fill("#token", TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector("#switch-failover", { state: "visible" });
    assert.ok(await page.isChecked("#switch-failover"));
    assert.ok(await page.$eval("#login", (e) => e.hidden), "connected: the login form hides");
    await page.waitForSelector("#instances tbody tr");
    const rows = await page.$$eval("#instances tbody tr", (rs) => rs.map((r) => r.dataset.instance));
    assert.ok(rows.length >= 1, "instances listed");
    await page.click("#switch-failover");
    await page.waitForFunction(() => /failover is now off/.test(document.querySelector("#status").textContent));
    const state = await (await fetch(BASE + "/admin/switches", { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    assert.equal(state.failover, false, "the JSON reflects the flip");
    assert.equal(state.ring, true, "only that switch changed");
    // inject latency into the first instance through the page, then clear it
    const first = rows[0];
    const row = `#instances tr[data-instance="${first}"]`;
    await page.fill(`${row} input[aria-label="latency ms"]`, "250");
    // the page refreshes every 3 s: what the presenter is typing survives a refresh
    const refreshes = await page.$eval("#controls", (e) => Number(e.dataset.refreshes));
    await page.waitForFunction((n) => Number(document.querySelector("#controls").dataset.refreshes) > n,
      refreshes, { timeout: 10000 });
    assert.equal(await page.inputValue(`${row} input[aria-label="latency ms"]`), "250", "a refresh keeps typed values");
    await page.click(`${row} button:has-text("inject")`);
    await page.waitForFunction((sel) => /latency 250 ms/.test(document.querySelector(sel + " .faults").textContent), row);
    await page.screenshot({ path: `${ARTIFACTS}/superpower-admin.png`, fullPage: true });
    await page.click(`${row} button:has-text("clear")`);
    await page.waitForFunction((sel) => document.querySelector(sel + " .faults").textContent === "none", row);
    await page.click("#switch-failover");
    await page.waitForFunction(() => /failover is now on/.test(document.querySelector("#status").textContent));
    // disconnecting forgets the token: the login form is back, the controls are gone
    await page.click("#disconnect");
    assert.ok(await page.$eval("#controls", (e) => e.hidden));
    assert.ok(!(await page.$eval("#login", (e) => e.hidden)));
    assert.equal(await page.evaluate(() => sessionStorage.getItem("superpower-admin-token")), null);
  } finally {
    await b.close();
  }
});

// Returning visitors driven by the test itself (bounded: `users` people, one visit every
// `everyMs` each, until stopped or `maxMs`): each keeps its cookie and counts the visits whose
// character changed (promise 1, as the Locust visitors judge it).
function visitors(users, everyMs, maxMs) {
  const stats = { visits: 0, changed: 0, failed: 0 };
  let running = true;
  const until = Date.now() + maxMs;
  const one = async () => {
    const jar = new Map(); // as a browser keeps them: superpower_id, superpower_last
    let last = null;
    while (running && Date.now() < until) {
      const t0 = Date.now();
      try {
        const headers = { Accept: "application/json" };
        if (jar.size) headers.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
        const resp = await fetch(BASE + "/", { headers });
        for (const set of resp.headers.getSetCookie()) {
          const [name, ...value] = set.split(";")[0].split("=");
          jar.set(name.trim(), value.join("="));
        }
        if (resp.status !== 200) stats.failed++;
        else {
          const body = await resp.json();
          if (last !== null && body.id !== last) stats.changed++;
          last = body.id;
        }
        stats.visits++;
      } catch (_) { stats.failed++; }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - t0))));
    }
  };
  const done = Promise.all(Array.from({ length: users }, one));
  return { stats, stop: async () => { running = false; await done; } };
}

// "superpower changed" failures of the Locust visitors so far (run.sh starts them).
async function locustChanged() {
  if (!process.env.LOCUST_URL) throw new Error("LOCUST_URL is not set: run the tests with run.sh");
  const s = await (await fetch(process.env.LOCUST_URL + "/stats/requests")).json();
  return (s.errors || []).filter((e) => /superpower changed/.test(e.error)).reduce((n, e) => n + e.occurrences, 0);
}

async function waitStatus(page, id, status, timeoutMs) {
  try {
    await page.waitForFunction(([sel, want]) => document.querySelector(sel).dataset.status === want,
      [`#${id}`, status], { timeout: timeoutMs, polling: 100 });
  } catch (e) {
    await page.screenshot({ path: `${ARTIFACTS}/promises-failed-${id}-${status}.png`, fullPage: true });
    const shown = await page.$eval(`#${id}`, (c) => c.dataset.status + ": " + c.textContent);
    const json = await (await fetch(BASE + "/promises.json")).text();
    throw new Error(`#${id} not ${status} within ${timeoutMs} ms; shows ${shown}; /promises.json: ${json.slice(0, 1500)}`);
  }
}

test("the promises, live: green on a healthy fleet, promise 1 red within 5 s without stable assignment, reset brings it back", async () => {
  const crowd = visitors(10, 200, 150_000);
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 1000 } });
    const external = [], cspErrors = [];
    page.on("request", (r) => { if (!r.url().startsWith(BASE)) external.push(r.url()); });
    page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    await page.goto(BASE + "/admin", { waitUntil: "load" });
    await page.fill("#token", TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector("#switch-stable_assignment", { state: "visible" });
    // a healthy fleet with returning visitors: both promises green, three ring members, charts drawn
    await waitStatus(page, "promise-identity", "kept", 30_000);
    await waitStatus(page, "promise-latency", "kept", 30_000);
    // (a health check that times out on a loaded machine takes an instance off for a second)
    await page.waitForFunction(() => /ring 3\/3/.test(document.querySelector("#traffic .figures").textContent),
      null, { timeout: 30_000 });
    assert.ok(await page.$$eval("#promises svg polyline", (ls) => ls.length) >= 3, "the charts are drawn");
    await page.screenshot({ path: `${ARTIFACTS}/promises-1-green.png`, fullPage: true });
    const before = { ...crowd.stats };
    const locustBefore = await locustChanged();

    // stable assignment off: promise 1 turns red within 5 s
    const t0 = Date.now();
    await page.click("#switch-stable_assignment");
    await waitStatus(page, "promise-identity", "broken", 5_000);
    const redAfter = Date.now() - t0;
    assert.ok(redAfter < 5_000, `red after ${redAfter} ms`);
    await page.waitForFunction(() => /stable assignment OFF/.test(document.querySelector("#traffic .figures").textContent));
    await page.screenshot({ path: `${ARTIFACTS}/promises-2-identity-red.png`, fullPage: true });
    assert.ok(crowd.stats.changed > before.changed, "the visitors saw their superpower change");
    const deadline = Date.now() + 10_000;
    while ((await locustChanged()) <= locustBefore) {
      assert.ok(Date.now() < deadline, "the Locust visitors' 'superpower changed' failures did not climb");
      await new Promise((r) => setTimeout(r, 250));
    }

    // one button puts everything back: switches on, faults cleared; promise 1 green again
    const rows = await page.$$eval("#instances tbody tr", (rs) => rs.map((r) => r.dataset.instance));
    const row = `#instances tr[data-instance="${rows[0]}"]`;
    await page.fill(`${row} input[aria-label="latency ms"]`, "50");
    await page.fill(`${row} input[aria-label="duration s"]`, "600");
    await page.click(`${row} button:has-text("inject")`);
    await page.waitForFunction((sel) => /latency 50 ms.*for 600 s/.test(document.querySelector(sel + " .faults").textContent), row);
    await page.click("#reset");
    await page.waitForFunction(() => /reset: every switch on, faults cleared on 3 instances/.test(document.querySelector("#status").textContent));
    await page.waitForFunction((sel) => document.querySelector(sel + " .faults").textContent === "none", row);
    assert.ok(await page.isChecked("#switch-stable_assignment"));
    const state = await (await fetch(BASE + "/admin/switches", { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    assert.ok(Object.values(state).every((v) => v === true), JSON.stringify(state));
    await waitStatus(page, "promise-identity", "kept", 30_000);
    await waitStatus(page, "promise-latency", "kept", 5_000);
    await page.screenshot({ path: `${ARTIFACTS}/promises-3-reset-green.png`, fullPage: true });

    // the audience's screen: the same promises, read-only, no token
    const audience = await b.newPage({ viewport: { width: 1280, height: 800 } });
    audience.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    await audience.goto(BASE + "/promises", { waitUntil: "load" });
    await waitStatus(audience, "promise-identity", "kept", 10_000);
    assert.equal(await audience.$("#token"), null, "no login, no controls");
    await audience.screenshot({ path: `${ARTIFACTS}/promises-4-audience.png`, fullPage: true });
    assert.deepEqual(external, [], "no external requests");
    assert.deepEqual(cspErrors, [], "no CSP violations");
  } finally {
    await b.close();
    await crowd.stop();
  }
  assert.ok(crowd.stats.visits > 100, `visits: ${JSON.stringify(crowd.stats)}`);
  assert.equal(crowd.stats.failed, 0, `failed visits: ${JSON.stringify(crowd.stats)}`);
});

async function switchesOf(base) {
  return (await fetch(base + "/admin/switches", { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
}

// Polls until `f()` holds; returns the milliseconds it took, or fails after `timeoutMs`.
async function within(timeoutMs, what, f) {
  const t0 = Date.now();
  while (!(await f())) {
    assert.ok(Date.now() - t0 < timeoutMs, `${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

test("two replicas are one front end: a switch flipped on either page is on both within a second, and either shows the promises of both", async () => {
  assert.ok(PEER, "run through run.sh (PEER_URL)");
  const b = await browser();
  try {
    const pages = [];
    for (const base of [BASE, PEER]) {
      const page = await b.newPage({ viewport: { width: 1200, height: 1000 } });
      await page.goto(base + "/admin", { waitUntil: "load" });
      await page.fill("#token", TOKEN);
      await page.click("button[type=submit]");
      await page.waitForSelector("#switch-hedging", { state: "visible" });
      // both replicas listed, reachable, in step
      await page.waitForFunction(() => document.querySelectorAll('#replicas tbody tr[data-reachable="true"]').length === 2
        && document.querySelector("#replicas").dataset.inStep === "true", null, { timeout: 10_000 });
      pages.push(page);
    }
    // off on replica 1's page: on replica 2 within a second, and its page shows it
    await pages[0].click("#switch-hedging");
    await pages[0].waitForFunction(() => /hedging is now off/.test(document.querySelector("#status").textContent));
    const took = await within(1000, "the change on replica 2", async () => (await switchesOf(PEER)).hedging === false);
    console.log(`a switch flipped on replica 1 was on replica 2 after ${took} ms`);
    await pages[1].waitForFunction(() => !document.querySelector("#switch-hedging").checked, null, { timeout: 3000 });
    await pages[1].screenshot({ path: `${ARTIFACTS}/replicas-1-switch-on-both.png`, fullPage: true });
    // and back on from replica 2's page
    await pages[1].click("#switch-hedging");
    await within(1000, "the change back on replica 1", async () => (await switchesOf(BASE)).hedging === true);
    await pages[0].waitForFunction(() => document.querySelector("#switch-hedging").checked, null, { timeout: 3000 });

    // the audience's screen through either replica: the same front end, both replicas' lines
    const views = [];
    for (const base of [BASE, PEER]) {
      const audience = await b.newPage({ viewport: { width: 1280, height: 900 } });
      await audience.goto(base + "/promises", { waitUntil: "load" });
      await audience.waitForFunction(() => document.querySelectorAll('#replica-lines li[data-reachable="true"]').length === 2,
        null, { timeout: 10_000 });
      const names = await audience.$$eval("#replica-lines li", (ls) => ls.map((l) => l.dataset.replica).sort());
      assert.deepEqual(names, ["replica-1", "replica-2"]);
      views.push(await (await fetch(base + "/promises.json")).json());
      await audience.screenshot({ path: `${ARTIFACTS}/replicas-2-promises-${views.length}.png`, fullPage: true });
    }
    // either one's figures are the sum of both replicas' answers over the same minute
    const [one, two] = views.map((v) => v.latency.answers);
    assert.ok(one > 0 && Math.abs(one - two) <= Math.max(5, 0.2 * one), `answers through replica 1: ${one}, through 2: ${two}`);
  } finally {
    await b.close();
  }
});
