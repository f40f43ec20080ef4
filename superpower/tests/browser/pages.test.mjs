// Headless Chromium against a real superpower in front of a real powersource (started by
// run.sh): the character page renders with its image, and the control room flips a switch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE = process.env.SUPERPOWER_URL;
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
    await page.click(`${row} button:has-text("inject")`);
    await page.waitForFunction((sel) => /latency 250 ms/.test(document.querySelector(sel + " .faults").textContent), row);
    await page.screenshot({ path: `${ARTIFACTS}/superpower-admin.png`, fullPage: true });
    await page.click(`${row} button:has-text("clear")`);
    await page.waitForFunction((sel) => document.querySelector(sel + " .faults").textContent === "none", row);
    await page.click("#switch-failover");
    await page.waitForFunction(() => /failover is now on/.test(document.querySelector("#status").textContent));
  } finally {
    await b.close();
  }
});
