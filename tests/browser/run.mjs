// run.mjs — partage's browser tests: Debian's chromium driven by
// playwright-core against the real partaged binary.
//
//     node tests/browser/run.mjs --bin bin [--shots DIR] [-k SUBSTRING]
//
// Starts partaged on a free loopback port with a temporary data dir, then
// uses the upload page and the file page as a person would.  Prints one line
// per test ("browser: ok   NAME 0.4s" or "browser: FAIL NAME: why") and ends
// with exactly "browser: N passed, N failed".  Exit status 0 only when
// nothing failed.  The server and the browser are stopped at the end, also
// on failure, timeout or a signal.  Screenshots go to --shots DIR (default
// $TMPDIR/partage-browser-shots, overwritten on each run).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TEST_TIMEOUT_MS = 45_000;
const RUN_TIMEOUT_MS = 600_000;

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
function opt(name, dflt) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
}
const binDir = path.resolve(ROOT, opt("--bin", process.env.BIN || "bin"));
const partaged = path.join(binDir, "partaged");
const shotsDir = path.resolve(opt("--shots", path.join(os.tmpdir(), "partage-browser-shots")));
const filter = opt("-k", "");

// ------------------------------------------------------------------ helpers
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Fail extends Error {}
function check(cond, msg) {
  if (!cond) throw new Fail(msg);
}
function eq(got, want, what) {
  if (got !== want)
    throw new Fail(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Fail(`${what} timed out after ${ms / 1000}s`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// Chromium's download name sanitising (base::i18n::ReplaceIllegalCharactersInPath
// and friends) may replace characters that are illegal on some file systems.
// A suggested name is accepted if it is the name itself or the name with some
// of those characters replaced by '_' or '-'.
function sameDownloadName(got, want) {
  if (got === want) return true;
  if (got.length !== want.length) return false;
  const illegal = new Set([..."\"*/:<>?\\|~"]);
  for (let i = 0; i < want.length; i++)
    if (got[i] !== want[i] && !(illegal.has(want[i]) && (got[i] === "_" || got[i] === "-")))
      return false;
  return true;
}

// ------------------------------------------------------------------- server
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "partage-browser-"));
let server = null; // ChildProcess
let serverLog = path.join(tmpRoot, "server.log");
let base = "";
let context = null; // playwright BrowserContext
const onStop = []; // async cleanups of test sections, run by stopAll

async function startServer() {
  const data = path.join(tmpRoot, "data");
  fs.mkdirSync(data, { recursive: true });
  const conf = path.join(tmpRoot, "c.ini");
  fs.writeFileSync(
    conf,
    // max_upload_bytes: the upload page's refusal test sends a bigger file;
    // no cooldown between downloads: the tests fetch many files in a row
    "[tier.anonymous]\nwait_seconds = 0\nspeed_bytes_per_second = 0\nparallel_downloads = 0\n" +
      "connections_per_download = 0\ncooldown_seconds = 0\nmax_upload_bytes = 40M\n" +
      "[tier.free]\ncooldown_seconds = 0\n",
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const log = fs.openSync(serverLog, "a");
  server = spawn(
    partaged,
    ["--config", conf, "--listen", `127.0.0.1:${port}`, "--data", data, "--public-url", base],
    { stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  let exited = null;
  server.on("exit", (code, sig) => (exited = sig || String(code)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited !== null)
      throw new Error(`partaged exited (${exited}) at start: ${tail(serverLog)}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`partaged did not answer /healthz: ${tail(serverLog)}`);
    await sleep(100);
  }
}

function tail(file, n = 5) {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-n).join(" | ");
  } catch {
    return "(no log)";
  }
}

let stopping = null;
let shutdownError = null; // set by stopAll when partaged did not stop cleanly
function stopAll() {
  if (stopping) return stopping;
  stopping = (async () => {
    if (context) {
      try {
        await withTimeout(context.close(), 10_000, "browser close");
      } catch {
        /* killed below with the process group anyway */
      }
      context = null;
    }
    for (const f of onStop.splice(0)) await withTimeout(f(), 10_000, "cleanup").catch(() => {});
    if (server && server.exitCode === null && server.signalCode === null) {
      const done = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      const t = setTimeout(() => {
        shutdownError = "did not stop within 5s of SIGTERM";
        server.kill("SIGKILL");
      }, 5_000);
      await done;
      clearTimeout(t);
      // A clean stop is exit 0; anything else (a sanitizer report, a crash
      // while shutting down) is a failure.
      if (!shutdownError && server.exitCode !== 0)
        shutdownError = `exited with ${server.exitCode ?? server.signalCode} on SIGTERM`;
      if (shutdownError) shutdownError += `: ${tail(serverLog, 10)}`;
    }
    try {
      fs.rmSync(tmpRoot, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  })();
  return stopping;
}
// A synchronous last resort: never leave a server behind.
process.on("exit", () => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"])
  process.on(sig, async () => {
    console.log(`browser: interrupted by ${sig}`);
    await stopAll();
    process.exit(130);
  });

// -------------------------------------------------------------- server API
async function putFile(name, body) {
  const r = await fetch(`${base}/${encodeURIComponent(name)}`, {
    method: "PUT",
    body,
    headers: { Accept: "application/json" },
  });
  eq(r.status, 201, `PUT /${name} status`);
  const f = await r.json();
  check(f.id && f.delete_token, `PUT reply lacks id/delete_token: ${JSON.stringify(f)}`);
  return f;
}

async function fileObject(id, password) {
  const q = password === undefined ? "" : `?password=${encodeURIComponent(password)}`;
  const r = await fetch(`${base}/api/v1/files/${id}${q}`, { headers: { Accept: "application/json" } });
  eq(r.status, 200, `GET /api/v1/files/${id} status`);
  return r.json();
}

// ------------------------------------------------------------------ browser
async function launch() {
  const { chromium } = await import("playwright-core");
  const userData = fs.mkdtempSync(path.join(tmpRoot, "chromium-"));
  context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1000, height: 720 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 30_000,
  });
  context.setDefaultTimeout(15_000);
}

// A fresh page that records script errors and console errors.
async function newPage() {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    // A failed load is reported by the "response" handler with its URL.
    if (m.type() === "error" && !/^Failed to load resource/.test(m.text()))
      page.errors.push(`console: ${m.text()}`);
  });
  page.on("response", (r) => {
    // Error pages that a test visits on purpose are checked by that test;
    // the browser's own /favicon.ico probe is not the site's concern.
    // The upload page's GET /api/v1/me (who is logged in) is a 401 for
    // anonymous visitors by design.
    const u = new URL(r.url());
    const probe = u.pathname === "/api/v1/me" && r.status() === 401;
    if (r.status() >= 400 && r.request().resourceType() !== "document" && u.pathname !== "/favicon.ico" && !probe)
      page.errors.push(`${r.status()} for ${r.request().resourceType()} ${r.url()}`);
  });
  return page;
}

// Uploads files through the upload page's <input type=file> (one row per
// file, each a tus upload); returns the links the page lists for them as
// [{href, text}], in the files' order.
async function uploadViaPage(page, files, url = `${base}/`) {
  const resp = await page.goto(url);
  eq(resp.status(), 200, "GET / status");
  const before = await page.locator("#results li").count();
  await page.setInputFiles("#file", files);
  await waitRows(page, before, files.length);
  const links = [];
  for (const row of (await page.locator("#results li").all()).slice(before, before + files.length)) {
    const cls = (await row.getAttribute("class")) || "";
    check(/\bdone\b/.test(cls), `upload failed: ${await row.textContent()}`);
    const a = row.locator(".up-done a");
    links.push({ href: await a.getAttribute("href"), text: await a.textContent() });
  }
  return links;
}

// Waits until the upload rows [from, from + n) are done or failed.
async function waitRows(page, from, n, timeout = 30_000) {
  await page.waitForFunction(
    ([b, k]) => {
      const l = document.querySelectorAll("#results li");
      if (l.length < b + k) return false;
      for (let i = b; i < b + k; i++) if (!/\b(done|error|cancelled)\b/.test(l[i].className)) return false;
      return true;
    },
    [from, n],
    { timeout },
  );
}

const ID_URL = () => new RegExp(`^${base.replace(/[.]/g, "\\.")}/([0-9A-Za-z]{12})$`);

async function checkFilePage(page, want) {
  eq((await page.locator("#name").textContent()).trim(), want.name, "#name");
  const size = (await page.locator("#size").textContent()).trim();
  check(size.includes(`(${want.size} bytes)`), `#size: "${size}" lacks "(${want.size} bytes)"`);
  eq((await page.locator("#sha256").textContent()).trim(), want.sha256, "#sha256");
  const mime = (await page.locator("#mime").textContent()).trim();
  check(mime.length > 0, "#mime is empty");
  const dl = await page.locator("a#download").getAttribute("href");
  check(/[?&]download=1$/.test(dl), `a#download href "${dl}" lacks ?download=1`);
  const direct = (await page.locator("#direct").textContent()).trim();
  check(direct.startsWith(`${base}/`), `#direct "${direct}" is not under ${base}`);
}

// ------------------------------------------------------------------- tests
const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const state = {}; // shared between tests: the first upload

test("upload page loads and a file upload gives a link to its page", async () => {
  const page = await newPage();
  const resp = await page.goto(`${base}/`);
  eq(resp.status(), 200, "GET / status");
  check((await page.title()).includes("partage"), `title "${await page.title()}"`);
  for (const sel of ["form#upload", "input#file[type=file][multiple]", "#drop", "#results"])
    check((await page.locator(sel).count()) === 1, `upload page lacks ${sel}`);
  const css = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
  check(css, "no stylesheet applied");

  const body = Buffer.alloc(100_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
  const name = "report-2024.bin";
  const links = await uploadViaPage(page, [{ name, mimeType: "application/octet-stream", buffer: body }]);
  eq(links.length, 1, "links listed");
  const m = ID_URL().exec(links[0].href);
  check(m, `link href "${links[0].href}" is not ${base}/ID`);
  check(links[0].text.includes(name), `link text "${links[0].text}" lacks the name`);
  state.first = { id: m[1], name, size: body.length, sha256: sha256(body), body };
  check(page.errors.length === 0, page.errors.join("; "));

  await Promise.all([page.waitForURL(links[0].href), page.locator("#results a").first().click()]);
  await checkFilePage(page, state.first);
  eq((await page.locator("#downloads").textContent()).trim(), "0", "#downloads before any download");
  check((await page.title()).includes(name), `file page title "${await page.title()}"`);
  await page.close();
});

test("the Download link downloads the exact bytes", async () => {
  check(state.first, "needs the first test's upload");
  const page = await newPage();
  const resp = await page.goto(`${base}/${state.first.id}`);
  eq(resp.status(), 200, "file page status");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a#download")]);
  const saved = path.join(tmpRoot, "dl-1");
  await download.saveAs(saved);
  eq(await download.failure(), null, "download failure");
  const got = fs.readFileSync(saved);
  eq(got.length, state.first.size, "downloaded size");
  eq(sha256(got), state.first.sha256, "downloaded sha256");
  eq(download.suggestedFilename(), state.first.name, "suggested file name");
  // The download counter counts it (on completion; allow a moment).
  let n = "";
  for (let i = 0; i < 30; i++) {
    await page.goto(`${base}/${state.first.id}`);
    n = (await page.locator("#downloads").textContent()).trim();
    if (n === "1") break;
    await sleep(100);
  }
  eq(n, "1", "#downloads after one download");
  await page.close();
});

test("a shared folder's page lists its content and downloads it as one zip", async () => {
  const json = { "Content-Type": "application/json" };
  const who = JSON.stringify({ name: "browser_" + Date.now(), password: "folder page password" });
  eq((await fetch(`${base}/api/v1/users`, { method: "POST", body: who, headers: json })).status, 201, "register");
  const tok = await (await fetch(`${base}/api/v1/tokens`, { method: "POST", body: who, headers: json })).json();
  const auth = { Authorization: `Bearer ${tok.token}` };
  const mk = async (o) => {
    const r = await fetch(`${base}/api/v1/folders`, { method: "POST", body: JSON.stringify(o), headers: { ...auth, ...json } });
    eq(r.status, 201, "POST /api/v1/folders");
    return r.json();
  };
  const top = await mk({ name: "Été 2026", shared: true });
  const sub = await mk({ name: "day <1>", parent: top.id });
  for (const [name, body] of [["notes.txt", "hello folder\n"], ["data.bin", Buffer.alloc(200_000, 7)]]) {
    const r = await fetch(`${base}/${encodeURIComponent(name)}`, {
      method: "PUT", body, headers: { ...auth, "X-Partage-Folder": top.id, Accept: "application/json" },
    });
    eq(r.status, 201, `PUT ${name} into the folder`);
  }
  const page = await newPage();
  eq((await page.goto(`${base}/folder/${top.id}`)).status(), 200, "folder page status");
  eq((await page.locator("h1#name").textContent()).trim(), "Été 2026", "folder name");
  const items = await page.locator("#listing li").allTextContents();
  check(items.some((t) => t.includes("day <1>/")), `subfolder listed: ${items}`);
  check(items.some((t) => t.includes("notes.txt")) && items.some((t) => t.includes("data.bin")), `files: ${items}`);
  await page.click(`a[href="/folder/${sub.id}"]`);
  await page.waitForURL(`${base}/folder/${sub.id}`);
  eq((await page.locator("h1#name").textContent()).trim(), "day <1>", "subfolder page");
  await page.goBack();
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a#download")]);
  const saved = path.join(tmpRoot, "folder.zip");
  await download.saveAs(saved);
  eq(await download.failure(), null, "zip download failure");
  eq(download.suggestedFilename(), "Été 2026.zip", "zip file name");
  const want = Buffer.from(await (await fetch(top.zip_url)).arrayBuffer());
  const got = fs.readFileSync(saved);
  eq(sha256(got), sha256(want), "zip bytes");
  check(got.subarray(0, 4).equals(Buffer.from("PK\x03\x04", "latin1")), "a zip");
  check(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.close();
});

test("a multi-file upload lists every file", async () => {
  const page = await newPage();
  const files = [
    { name: "a.txt", mimeType: "text/plain", buffer: Buffer.from("alpha\n") },
    { name: "b.json", mimeType: "application/json", buffer: Buffer.from('{"b":2}\n') },
    { name: "c.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(4096, 0xc3) },
  ];
  const links = await uploadViaPage(page, files);
  eq(links.length, files.length, "links listed");
  const ids = new Set();
  for (const f of files) {
    const l = links.find((x) => x.text.startsWith(`${f.name} — `));
    check(l, `no link for ${f.name} in ${JSON.stringify(links.map((x) => x.text))}`);
    const m = ID_URL().exec(l.href);
    check(m, `link href "${l.href}" is not ${base}/ID`);
    ids.add(m[1]);
    const o = await fileObject(m[1]);
    eq(o.name, f.name, `name of ${m[1]}`);
    eq(o.size, f.buffer.length, `size of ${f.name}`);
    eq(o.sha256, sha256(f.buffer), `sha256 of ${f.name}`);
  }
  eq(ids.size, files.length, "distinct ids");
  // The last one's page shows it.
  const last = links.find((x) => x.text.startsWith("c.bin"));
  await page.goto(last.href);
  await checkFilePage(page, { name: "c.bin", size: 4096, sha256: sha256(files[2].buffer) });
  check(page.errors.length === 0, page.errors.join("; "));
  await page.close();
});

test("unknown id shows the 404 page, a deleted file the 410 page", async () => {
  const page = await newPage();
  let resp = await page.goto(`${base}/AAAAAAAAAAAA`);
  eq(resp.status(), 404, "unknown id status");
  check(/^text\/html/.test(resp.headers()["content-type"] || ""), "404 page is not text/html");
  let text = await page.locator("body").innerText();
  check(/not found/i.test(text), `404 page text "${text}" lacks "not found"`);
  check(text.includes("AAAAAAAAAAAA"), `404 page text "${text}" does not name the id`);
  check((await page.locator('a[href="/"]').count()) >= 1, "404 page has no link home");
  // A link that lost a character on the way is a 404 page too.
  resp = await page.goto(`${base}/AAAAAAAAAAA`);
  eq(resp.status(), 404, "truncated id status");
  text = await page.locator("body").innerText();
  check(/not found/i.test(text), `truncated id page text "${text}" lacks "not found"`);

  const f = await putFile("to-delete.txt", "short-lived\n");
  resp = await page.goto(`${base}/${f.id}`);
  eq(resp.status(), 200, "file page before delete");
  const r = await fetch(`${base}/${f.id}`, {
    method: "DELETE",
    headers: { "X-Delete-Token": f.delete_token },
  });
  eq(r.status, 204, "DELETE status");
  resp = await page.goto(`${base}/${f.id}`);
  eq(resp.status(), 410, "deleted file page status");
  check(/^text\/html/.test(resp.headers()["content-type"] || ""), "410 page is not text/html");
  text = await page.locator("body").innerText();
  check(/gone|deleted|removed/i.test(text), `410 page text "${text}" says nothing of deletion`);
  // The direct link too.
  resp = await page.goto(f.download_url);
  eq(resp.status(), 410, "deleted file's direct link status");
  await page.close();
});

test("HTML special characters and UTF-8 in names are escaped and kept", async () => {
  const page = await newPage();
  const name = '<b>&"x" résumé.txt';
  const body = Buffer.from("special name ✓\n");
  // Through the upload page: tus Upload-Metadata carries the name in
  // base64, so it arrives exactly (a multipart form would send '"' as %22).
  const links = await uploadViaPage(page, [{ name, mimeType: "text/plain", buffer: body }]);
  eq(links.length, 1, "links listed");
  check((await page.locator("#results b").count()) === 0, "the name injected a <b> into #results");
  const m = ID_URL().exec(links[0].href);
  check(m, `link href "${links[0].href}" is not ${base}/ID`);
  const mpName = (await fileObject(m[1])).name;
  eq(mpName, name, "the upload page's stored name");
  await page.goto(links[0].href);
  eq((await page.locator("#name").textContent()).trim(), mpName, "#name (form upload)");
  check((await page.locator("main b, h1 b").count()) === 0, "the name injected a <b> into the page");

  // Through PUT /{name}, where the name is unambiguous; and a name that
  // would run script if it were not escaped.
  for (const n of [name, '<img src=x onerror="window.pwned=1">é.txt']) {
    const f = await putFile(n, body);
    eq(f.name, n, "PUT stored name");
    const resp = await page.goto(`${base}/${f.id}`);
    eq(resp.status(), 200, "file page status");
    await checkFilePage(page, { name: n, size: body.length, sha256: sha256(body) });
    eq(await page.title(), `${n} — partage`, "title");
    // (the one image of the page is its QR code, /qr/ID)
    check((await page.locator("main b, main img:not(#qr img), head b, head img").count()) === 0,
      "the name injected an element into the page");
    eq(await page.evaluate(() => window.pwned), undefined, "window.pwned (script ran)");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("a#download")]);
    const saved = path.join(tmpRoot, "dl-special");
    await download.saveAs(saved);
    eq(sha256(fs.readFileSync(saved)), sha256(body), "downloaded sha256");
    const sug = download.suggestedFilename();
    check(sameDownloadName(sug, n), `suggested file name ${JSON.stringify(sug)} for ${JSON.stringify(n)}`);
    check(sug.endsWith("é.txt"), `suggested file name ${JSON.stringify(sug)} lost the UTF-8`);
    if (sug !== n) console.log(`browser: note: chromium saves ${JSON.stringify(n)} as ${JSON.stringify(sug)}`);
  }
  check(page.errors.length === 0, page.errors.join("; "));
  await page.close();
});

test("screenshots of the upload page and the file page", async () => {
  check(state.first, "needs the first test's upload");
  fs.mkdirSync(shotsDir, { recursive: true });
  const page = await newPage();
  const notes = Buffer.from("Day 1: arrived in Lyon, rain.\nDay 2: Fourvière, then the traboules.\n".repeat(20_000));
  await uploadViaPage(page, [{ name: "holiday notes – été 2024.txt", mimeType: "text/plain", buffer: notes }]);
  const shots = {
    upload: path.join(shotsDir, "upload-page.png"),
    file: path.join(shotsDir, "file-page.png"),
    notfound: path.join(shotsDir, "404-page.png"),
  };
  await page.screenshot({ path: shots.upload, fullPage: true });
  await page.locator("#results a").last().click();
  await page.locator("#name").waitFor();
  await page.screenshot({ path: shots.file, fullPage: true });
  await page.goto(`${base}/AAAAAAAAAAAA`);
  await page.screenshot({ path: shots.notfound, fullPage: true });
  for (const p of Object.values(shots)) {
    const png = fs.readFileSync(p);
    check(png.subarray(1, 4).toString() === "PNG", `${p} is not a PNG`);
    const w = png.readUInt32BE(16), h = png.readUInt32BE(20);
    check(w >= 800 && h >= 300, `${p} is ${w}x${h}`);
    check(png.length > 5_000, `${p} is only ${png.length} bytes (blank page?)`);
  }
  // The file page has laid out: the name, the table and the button are visible
  // and do not overflow the viewport's width.
  await page.goto(`${base}/${state.first.id}`);
  for (const sel of ["#name", "#size", "#sha256", "a#download"]) {
    const box = await page.locator(sel).boundingBox();
    check(box && box.width > 0 && box.height > 0, `${sel} is not visible`);
    check(box.x >= 0 && box.x + box.width <= 1000, `${sel} overflows: ${JSON.stringify(box)}`);
  }
  console.log(`browser: screenshots in ${shotsDir}`);
  await page.close();
});

// ------------------------------------------- account pages (login, /files, /account)
// Each of these tests runs in browser contexts of its own, from a second,
// non-persistent chromium: sessions never leak into the other tests, and a
// "fresh" context is a visitor who is not logged in.
let accountBrowser = null;
// A file request (issue 18): its page (/r/ID) sends files by tus into the
// owner's folder and says what was received, never a link.
test("a file request's page sends files into the owner's folder, without a link", async () => {
  const name = uniqueName("rq");
  let r = await context.request.post(`${base}/api/v1/users`, { data: { name, password: ACCOUNT_PW } });
  eq(r.status(), 201, "register");
  r = await context.request.post(`${base}/api/v1/tokens`, { data: { name, password: ACCOUNT_PW } });
  eq(r.status(), 201, "token");
  const auth = { Authorization: `Bearer ${(await r.json()).token}`, Accept: "application/json" };
  r = await context.request.post(`${base}/api/v1/folders`, { headers: auth, data: { name: "drop box" } });
  eq(r.status(), 201, "folder");
  const fid = (await r.json()).id;
  r = await context.request.post(`${base}/api/v1/requests`, {
    headers: auth, data: { folder: fid, password: "pw for the page", max_files: 5 } });
  eq(r.status(), 201, "file request");
  const rq = await r.json();
  const page = await newPage();
  const resp = await page.goto(`${base}/r/${rq.id}`);
  eq(resp.status(), 200, "GET /r/ID");
  const folder = (await page.locator("#request-folder").textContent()).trim();
  eq(folder, "drop box", "#request-folder");
  check((await page.locator("#request-limits").textContent()).includes("At most 5 files"), "the limits");
  await page.fill("#request-password", "pw for the page");
  await page.setInputFiles("#file", [{ name: "hello.txt", mimeType: "text/plain", buffer: Buffer.from("hello, request") }]);
  await waitRows(page, 0, 1);
  const row = page.locator("#results li").first();
  check(/\bdone\b/.test((await row.getAttribute("class")) || ""), `upload failed: ${await row.textContent()}`);
  const said = (await row.locator(".up-done").textContent()).trim();
  check(said.startsWith("received: hello.txt"), `the row says "${said}"`);
  eq(await row.locator(".up-done a").count(), 0, "links in the row");
  r = await context.request.get(`${base}/api/v1/me/files?folder=${fid}`, { headers: auth });
  const files = (await r.json()).files;
  eq(files.length, 1, "files in the owner's folder");
  eq(files[0].name, "hello.txt", "the file's name");
  check(page.errors.length === 0, page.errors.join("; "));
  await page.close();
});

async function freshContext() {
  if (!accountBrowser) {
    const { chromium } = await import("playwright-core");
    accountBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
      timeout: 30_000,
    });
    onStop.push(() => accountBrowser.close());
  }
  const ctx = await accountBrowser.newContext({ viewport: { width: 1100, height: 760 } });
  ctx.setDefaultTimeout(15_000);
  return ctx;
}

// A page that records script errors (statuses are the tests' business: the
// account pages show 401s, 404s and 409s on purpose) and native dialogs.
async function accountPage(ctx) {
  const page = await ctx.newPage();
  page.errors = [];
  page.dialogs = [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/^Failed to load resource/.test(m.text()))
      page.errors.push(`console: ${m.text()}`);
  });
  return page;
}

const ACCOUNT_PW = "correct horse battery";
const uniqueName = (p) => `${p}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

// Register and log in through the API of ctx (its cookies are the page's);
// returns {name, csrf}.
async function apiUser(ctx, name = uniqueName("u")) {
  let r = await ctx.request.post(`${base}/api/v1/users`, { data: { name, password: ACCOUNT_PW } });
  eq(r.status(), 201, "register");
  r = await ctx.request.post(`${base}/api/v1/sessions`, { data: { name, password: ACCOUNT_PW } });
  eq(r.status(), 201, "log in");
  return { name, csrf: (await r.json()).csrf };
}

// Upload through the multipart API with the session's cookie + CSRF token.
async function apiUpload(ctx, user, name, body, folder) {
  const r = await ctx.request.post(`${base}/api/v1/files${folder ? `?folder=${folder}` : ""}`, {
    headers: { "X-CSRF-Token": user.csrf, Accept: "application/json" },
    multipart: { file: { name, mimeType: "text/plain", buffer: Buffer.from(body) } },
  });
  eq(r.status(), 201, `upload ${name}`);
  return (await r.json()).files[0];
}

async function loginForm(page, name, password) {
  await page.fill("#login-name", name);
  await page.fill("#login-password", password);
  await page.click("#login-form button[type=submit]");
}

const row = (page, id) => page.locator(`#rows tr[data-id="${id}"]`);
const rowButton = (page, id, text) => row(page, id).locator("button", { hasText: new RegExp(`^${text}$`) });

test("account: register through /login, header, log out, log in, errors", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    const name = uniqueName("reg");
    eq((await page.goto(`${base}/login`)).status(), 200, "GET /login");
    eq((await page.locator("#account-nav a").textContent()).trim(), "Log in", "header when logged out");
    // the server's reasons: a weak password (400)
    await page.fill("#register-name", name);
    await page.fill("#register-password", "short");
    await page.fill("#register-password2", "short");
    await page.click("#register-form button[type=submit]");
    await page.locator("#register-error", { hasText: "at least 8 characters" }).waitFor();
    // registered and logged in: on to /files, the name in the header
    await page.fill("#register-password", ACCOUNT_PW);
    await page.fill("#register-password2", ACCOUNT_PW);
    await Promise.all([page.waitForURL(`${base}/files`), page.click("#register-form button[type=submit]")]);
    eq((await page.locator("#nav-user").textContent()).trim(), name, "header name on /files");
    await page.locator("#empty").waitFor();
    // every page's header: the upload page and a file page
    for (const p of ["/", `/${(await putFile("nav.txt", "nav\n")).id}`]) {
      await page.goto(`${base}${p}`);
      eq((await page.locator("#nav-user").textContent()).trim(), name, `header name on ${p}`);
      check(await page.locator('#account-nav a[href="/files"]').isVisible(), `no My files link on ${p}`);
      check(await page.locator('#account-nav a[href="/account"]').isVisible(), `no Account link on ${p}`);
    }
    // log out: the session is gone on the server too
    await Promise.all([page.waitForURL(`${base}/`), page.click("#logout")]);
    await page.locator('#account-nav a[href="/login"]').waitFor();
    eq((await ctx.request.get(`${base}/api/v1/me`)).status(), 401, "GET /api/v1/me after log out");
    // the name is taken now (409)
    await page.goto(`${base}/login`);
    await page.fill("#register-name", name);
    await page.fill("#register-password", ACCOUNT_PW);
    await page.fill("#register-password2", ACCOUNT_PW);
    await page.click("#register-form button[type=submit]");
    await page.locator("#register-error", { hasText: "taken" }).waitFor();
    // a wrong password (401) says so and stays
    await loginForm(page, name, "not the password");
    await page.locator("#login-error", { hasText: "name and password do not match" }).waitFor();
    eq(new URL(page.url()).pathname, "/login", "still on /login");
    await Promise.all([page.waitForURL(`${base}/files`), loginForm(page, name, ACCOUNT_PW)]);
    eq((await page.locator("#nav-user").textContent()).trim(), name, "header name after log in");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

test("account: /files without a session goes to /login and back; ?next= stays local", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    const u = await apiUser(ctx);
    await ctx.clearCookies(); // logged out, but the account exists
    const resp = await page.goto(`${base}/files`);
    eq(new URL(page.url()).pathname + new URL(page.url()).search, "/login?next=%2Ffiles", "redirected to");
    eq(resp.status(), 200, "login page status after the redirect");
    const first = resp.request().redirectedFrom();
    check(first, "GET /files was not redirected");
    eq((await first.response()).status(), 302, "/files status without a session");
    await page.locator("#notice", { hasText: "Log in to continue" }).waitFor();
    await Promise.all([page.waitForURL(`${base}/files`), loginForm(page, u.name, ACCOUNT_PW)]);
    await page.locator("#empty").waitFor();
    // /account too; and a ?next= to another site is not followed
    await ctx.clearCookies();
    await page.goto(`${base}/account`);
    eq(new URL(page.url()).search, "?next=%2Faccount", "/account redirect");
    for (const evil of ["//evil.example/x", "/\\evil.example", "https://evil.example/"]) {
      await ctx.clearCookies();
      await page.goto(`${base}/login?next=${encodeURIComponent(evil)}`);
      await Promise.all([page.waitForURL(`${base}/files`), loginForm(page, u.name, ACCOUNT_PW)]);
    }
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

test("account: the file manager makes, moves, renames, shares and deletes", async () => {
  const ctx = await freshContext();
  const visitor = await freshContext();
  try {
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const page = await accountPage(ctx);
    const u = await apiUser(ctx);
    const a = await apiUpload(ctx, u, "alpha.txt", "alpha file\n");
    const b = await apiUpload(ctx, u, "beta.txt", "beta file, longer\n");
    await page.goto(`${base}/files`);
    await row(page, a.id).waitFor();
    await row(page, b.id).waitFor();
    check((await row(page, b.id).textContent()).includes("beta.txt"), "beta row");
    // sorting by name, ascending
    await page.selectOption("#sort", "name");
    await page.selectOption("#order", "asc");
    await page.waitForFunction(() => document.querySelector("#rows tr.file .name a")?.textContent === "alpha.txt");
    // a new folder
    await page.fill("#new-folder-name", "Trip <2026>");
    await page.click("#new-folder button[type=submit]");
    const folderRow = page.locator("#rows tr.folder", { hasText: "Trip <2026>/" });
    await folderRow.waitFor();
    const fid = await folderRow.getAttribute("data-id");
    // move alpha into it: the dialog offers the folders by path
    await rowButton(page, a.id, "Move").click();
    await page.selectOption("#dialog-select", { label: "Trip <2026>" });
    await page.click("#dialog-ok");
    await row(page, a.id).waitFor({ state: "detached" });
    eq((await (await ctx.request.get(`${base}/api/v1/files/${a.id}`)).json()).folder, fid, "alpha's folder");
    // open the folder: breadcrumbs, the file, a rename
    await Promise.all([page.waitForURL(`${base}/files?folder=${fid}`), folderRow.locator("a").first().click()]);
    await page.locator("#title", { hasText: "Trip <2026>" }).waitFor(); // rendered from the API
    const crumbs = await page.locator("#crumbs li").allTextContents();
    eq(JSON.stringify(crumbs), JSON.stringify(["My files", "Trip <2026>"]), "breadcrumbs");
    await rowButton(page, a.id, "Rename").click();
    await page.fill("#dialog-input", "renamed alpha.txt");
    await page.press("#dialog-input", "Enter");
    await row(page, a.id).locator("a", { hasText: "renamed alpha.txt" }).waitFor();
    eq((await (await ctx.request.get(`${base}/api/v1/files/${a.id}`)).json()).name, "renamed alpha.txt", "renamed");
    // upload into this folder from the page
    await page.setInputFiles("#upload-files", [{ name: "gamma.txt", mimeType: "text/plain", buffer: Buffer.from("gamma\n") }]);
    await page.click("#upload-here button[type=submit]");
    await page.locator("#rows tr.file", { hasText: "gamma.txt" }).waitFor();
    // share: the public link, seen by a visitor who is not logged in
    await page.click("#share-toggle");
    await page.locator("#share-link").waitFor();
    const link = await page.locator("#share-link").inputValue();
    eq(link, `${base}/folder/${fid}`, "public link");
    const vp = await accountPage(visitor);
    eq((await vp.goto(link)).status(), 200, "shared folder page for a visitor");
    const items = await vp.locator("#listing li").allTextContents();
    check(items.some((t) => t.includes("renamed alpha.txt")), `visitor sees the file: ${items}`);
    // copy the link of a file
    await rowButton(page, a.id, "Copy link").click();
    await page.locator("#status", { hasText: `${base}/${a.id}` }).waitFor();
    // unshare: the visitor gets a 404
    await page.click("#share-toggle");
    await page.locator("#share-state", { hasText: "Private" }).waitFor();
    eq((await vp.goto(link)).status(), 404, "unshared folder page for a visitor");
    // back to the top; delete beta after the confirm dialog
    await Promise.all([page.waitForURL(`${base}/files`), page.locator("#crumbs a", { hasText: "My files" }).click()]);
    const msgs = [];
    const accept = (d) => { msgs.push(d.message()); d.accept(); };
    page.on("dialog", accept);
    await rowButton(page, b.id, "Delete").click();
    await row(page, b.id).waitFor({ state: "detached" });
    check(/beta\.txt/.test(msgs[0] || ""), `confirm message: ${msgs}`);
    const gone = await fetch(b.url, { headers: { Accept: "application/json" } });
    check(gone.status === 410 || gone.status === 404, `deleted file's link answers ${gone.status}`);
    // a folder that is not empty: a second, explicit confirm, then recursive
    msgs.length = 0;
    await folderRow.locator("button", { hasText: /^Delete$/ }).click();
    await folderRow.waitFor({ state: "detached" });
    eq(msgs.length, 2, "two confirms for a folder that is not empty");
    check(/not empty/.test(msgs[1]) && /EVERY folder and file/.test(msgs[1]), `second confirm: ${msgs[1]}`);
    page.off("dialog", accept);
    eq((await fetch(a.url, { headers: { Accept: "application/json" } })).status, 410, "file of the deleted folder");
    await page.locator("#empty").waitFor();
    check(page.errors.length === 0 && vp.errors.length === 0, [...page.errors, ...vp.errors].join("; "));
  } finally {
    await ctx.close();
    await visitor.close();
  }
});

test("account: the file manager shows names as text", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    page.on("dialog", (d) => { page.dialogs.push(d.message()); d.dismiss(); });
    const u = await apiUser(ctx);
    const name = "<img src=x onerror=alert(1)>.txt";
    const f = await apiUpload(ctx, u, name, "xss\n");
    eq(f.name, name, "stored name");
    let r = await ctx.request.post(`${base}/api/v1/folders`, {
      headers: { "X-CSRF-Token": u.csrf }, data: { name: "<b onclick=alert(2)>bold & co" } });
    eq(r.status(), 201, "folder");
    await page.goto(`${base}/files`);
    await row(page, f.id).waitFor();
    eq((await row(page, f.id).locator("td.name a").textContent()), name, "file name shown as text");
    await page.locator("#rows tr.folder", { hasText: "<b onclick=alert(2)>bold & co/" }).waitFor();
    eq(await page.locator("#rows img, #rows b, #crumbs b").count(), 0, "elements injected by names");
    await rowButton(page, f.id, "Rename").click();
    eq((await page.locator("#dialog-title").textContent()), `Rename ${name}`, "dialog title");
    eq(await page.locator("#dialog img").count(), 0, "element injected into the dialog");
    await page.click("#dialog-cancel");
    eq(page.dialogs.length, 0, `alert ran: ${page.dialogs}`);
    fs.mkdirSync(shotsDir, { recursive: true });
    await page.screenshot({ path: path.join(shotsDir, "files-page.png"), fullPage: true });
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

test("account: voucher, direct downloads, API tokens and the password", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    page.on("dialog", (d) => d.accept());
    const u = await apiUser(ctx);
    const made = spawnSync(partaged, ["admin", "--config", path.join(tmpRoot, "c.ini"), "--data",
      path.join(tmpRoot, "data"), "voucher", "create", "--days", "3"], { encoding: "utf8" });
    eq(made.status, 0, `voucher create (${made.stderr.trim()})`);
    const code = made.stdout.trim();
    check(/^\S+$/.test(code), `voucher code ${JSON.stringify(made.stdout)}`);
    await page.goto(`${base}/account`);
    await page.locator("#acct-name", { hasText: u.name }).waitFor();
    eq((await page.locator("#acct-tier").textContent()).trim(), "free", "tier before");
    eq((await page.locator("#acct-premium").textContent()).trim(), "—", "premium before");
    check(/ of /.test(await page.locator("#acct-storage").textContent()), "storage shows the quota");
    // a voucher: premium; twice: the refusal
    await page.fill("#voucher-code", code);
    await page.click("#redeem-form button[type=submit]");
    await page.locator("#redeem-result", { hasText: "3 premium days added" }).waitFor();
    // _n fills %d with the count and what follows from the next arguments
    const redeemed = (await page.locator("#redeem-result").textContent()).trim();
    check(/premium until .*\b\d{4}\b/.test(redeemed), `the voucher's result: "${redeemed}"`);
    await page.locator("#acct-tier", { hasText: "premium" }).waitFor();
    const until = (await page.locator("#acct-premium").textContent()).trim();
    check(/\b\d{4}\b.*\d{1,2}:\d\d/.test(until), `premium until "${until}"`);
    await page.fill("#voucher-code", code);
    await page.click("#redeem-form button[type=submit]");
    await page.locator("#redeem-result.error", { hasText: "unknown or already used" }).waitFor();
    // direct downloads: kept on the server, shown after a reload
    await page.check("#direct-downloads");
    await page.locator("#settings-result", { hasText: "on" }).waitFor();
    eq((await (await ctx.request.get(`${base}/api/v1/me`)).json()).direct_downloads, true, "direct_downloads");
    await page.reload();
    await page.locator("#acct-name", { hasText: u.name }).waitFor();
    check(await page.locator("#direct-downloads").isChecked(), "the setting after a reload");
    // an API token with a label: shown once, works as a Bearer, listed
    // with its label and last use, deleted
    await page.fill("#token-label", "nightly backup");
    await page.click("#token-create");
    await page.locator("#token-new").waitFor();
    const token = await page.locator("#token-value").inputValue();
    check(token.length >= 32, `token "${token}"`);
    // the list is reloaded after the secret is shown
    await page.locator("#tokens-rows tr").first().waitFor();
    eq(await page.locator("#tokens-rows tr").count(), 1, "tokens listed");
    eq((await page.locator("#tokens-rows tr td").nth(0).textContent()).trim(), "nightly backup", "the label");
    eq((await page.locator("#tokens-rows tr td").nth(3).textContent()).trim(), "never", "last used before a use");
    eq(await page.locator("#token-label").inputValue(), "", "the label field after creation");
    let r = await fetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    eq(r.status, 200, "GET /api/v1/me with the token");
    eq((await r.json()).name, u.name, "the token's user");
    await page.reload();
    await page.locator("#tokens-rows tr").first().waitFor();
    check(/\b\d{4}\b.*\d{1,2}:\d\d/.test((await page.locator("#tokens-rows tr td").nth(3).textContent()).trim()),
      "last used after a use");
    check(await page.locator("#token-new").isHidden(), "the token is shown again after a reload");
    check(!(await page.content()).includes(token), "the token's secret is in the page after a reload");
    await page.locator("#tokens-rows button", { hasText: "Delete" }).click();
    await page.locator("#tokens-empty").waitFor();
    r = await fetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    eq(r.status, 401, "the deleted token");
    // the password: changed, then the log in with the new one
    const pw2 = "a brand new password";
    await page.fill("#pw-old", ACCOUNT_PW);
    await page.fill("#pw-new", pw2);
    await page.fill("#pw-new2", pw2);
    await Promise.all([page.waitForURL(/\/login\?changed=1/), page.click("#password-form button[type=submit]")]);
    await page.locator("#notice", { hasText: "password was changed" }).waitFor();
    await Promise.all([page.waitForURL(`${base}/account`), loginForm(page, u.name, pw2)]);
    await page.locator("#acct-name", { hasText: u.name }).waitFor();
    await page.screenshot({ path: path.join(shotsDir, "account-page.png"), fullPage: true });
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

// ------------------------------------------- upload page: tus, resume (webup)
// The upload page sends each file as a tus upload (web/upload.js); ?chunk=N
// makes its PATCHes small so a small file takes several.

const TUS = { "Tus-Resumable": "1.0.0" };

function pattern(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

// Records the page's tus requests: [{method, path, offset, csrf, t}].
function recordTus(page) {
  const log = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith("/api/v1/uploads") && u.pathname !== "/api/v1/files") return;
    const h = r.headers();
    log.push({
      method: r.method(),
      path: u.pathname,
      offset: h["upload-offset"] === undefined ? null : Number(h["upload-offset"]),
      csrf: h["x-csrf-token"] || null,
    });
  });
  return log;
}

// The rows' state after an upload: [{cls, href, token, status, bar}].
function rowsOf(page) {
  return page.locator("#results li").evaluateAll((lis) =>
    lis.map((li) => {
      const a = li.querySelector(".up-done a");
      const code = li.querySelector(".up-token code");
      const bar = li.querySelector("progress");
      return {
        cls: li.className,
        href: a ? a.getAttribute("href") : null,
        token: code ? code.textContent : null,
        status: (li.querySelector(".up-status") || {}).textContent || "",
        bar: bar ? { value: bar.value, text: bar.textContent, label: bar.getAttribute("aria-labelledby") } : null,
        pct: (li.querySelector(".up-pct") || {}).textContent || "",
      };
    }),
  );
}

// The bytes the server has for a page link, and its file object.
async function served(href) {
  const id = ID_URL().exec(href);
  check(id, `link "${href}" is not ${base}/ID`);
  const o = await fileObject(id[1]);
  const r = await fetch(o.download_url);
  eq(r.status, 200, `GET ${o.download_url}`);
  return { o, bytes: Buffer.from(await r.arrayBuffer()) };
}

// The page's remembered unfinished uploads of files with these names.
function storedUploads(page, names) {
  return page.evaluate((names) => {
    const out = {};
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (!k.startsWith("partage.upload:")) continue;
      if (names.includes(JSON.parse(k.slice("partage.upload:".length))[0]))
        out[k] = JSON.parse(localStorage.getItem(k));
    }
    return out;
  }, names);
}

test("upload page: each file is its own tus upload with its own row, link and delete token", async () => {
  const page = await newPage();
  const log = recordTus(page);
  // at most two uploads have a request in flight at once
  const inflight = new Map();
  let most = 0;
  const track = (r, d) => {
    const m = /^\/api\/v1\/uploads\/([^/]+)$/.exec(new URL(r.url()).pathname);
    if (!m) return;
    inflight.set(m[1], (inflight.get(m[1]) || 0) + d);
    most = Math.max(most, [...inflight.values()].filter((n) => n > 0).length);
  };
  page.on("request", (r) => track(r, 1));
  page.on("requestfinished", (r) => track(r, -1));
  page.on("requestfailed", (r) => track(r, -1));
  const files = [
    { name: "big one.bin", mimeType: "application/octet-stream", buffer: pattern(300_000, 1) },
    { name: "small.txt", mimeType: "text/plain", buffer: Buffer.from("small file\n") },
    { name: "empty.dat", mimeType: "application/octet-stream", buffer: Buffer.alloc(0) },
    { name: "third é.bin", mimeType: "application/x-thing", buffer: pattern(150_000, 2) },
  ];
  const links = await uploadViaPage(page, files, `${base}/?chunk=65536`);
  eq(links.length, files.length, "links listed");
  const rows = await rowsOf(page);
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    check(links[i].text.startsWith(`${f.name} — `), `row ${i} link text "${links[i].text}"`);
    const { o, bytes } = await served(links[i].href);
    eq(o.name, f.name, `stored name of ${f.name}`);
    eq(o.size, f.buffer.length, `size of ${f.name}`);
    eq(sha256(bytes), sha256(f.buffer), `downloaded sha256 of ${f.name}`);
    if (f.buffer.length) eq(o.mime, f.mimeType, `type of ${f.name} (Upload-Metadata filetype)`);
    check(rows[i].token && rows[i].token.length >= 32, `row ${i} shows no delete token: ${JSON.stringify(rows[i])}`);
    eq(rows[i].bar.value, 100, `row ${i} progress value`);
    check(rows[i].bar.text.includes("100 %") && rows[i].pct.includes("100 %"), `row ${i} progress text ${JSON.stringify(rows[i])}`);
    check(rows[i].bar.label, `row ${i} progress has no label`);
  }
  // the protocol: one POST per file, PATCHes of at most 64 KiB, no multipart
  eq(log.filter((x) => x.path === "/api/v1/files").length, 0, "multipart POSTs");
  eq(log.filter((x) => x.method === "POST").length, files.length, "tus POSTs");
  const patches = log.filter((x) => x.method === "PATCH");
  eq(patches.length, 5 + 1 + 0 + 3, "PATCHes (300000, 11, 0, 150000 bytes in 64 KiB chunks)");
  check(most >= 1 && most <= 2, `${most} uploads in flight at once`);
  // the delete token shown is the file's
  const id = ID_URL().exec(links[1].href)[1];
  const r = await fetch(`${base}/${id}`, { method: "DELETE", headers: { "X-Delete-Token": rows[1].token } });
  eq(r.status, 204, "DELETE with the row's token");
  eq(Object.keys(await storedUploads(page, files.map((f) => f.name))).length, 0, "localStorage entries left after completion");
  check(page.errors.length === 0, page.errors.join("; "));
  await page.close();
});

test("upload page: a PATCH lost mid-upload is retried from the offset a HEAD gives", async () => {
  const page = await newPage();
  const log = recordTus(page);
  let n = 0;
  await page.route("**/api/v1/uploads/*", (route) => {
    if (route.request().method() === "PATCH") {
      n++;
      if (n === 4) return route.abort("connectionreset"); // the network drops
      if (n === 7) return route.fulfill({ status: 503, body: "service unavailable: try again\n" });
    }
    return route.continue();
  });
  const body = pattern(1 << 20, 3);
  const links = await uploadViaPage(page, [{ name: "resumed.bin", mimeType: "application/octet-stream", buffer: body }],
    `${base}/?chunk=131072`);
  const { bytes } = await served(links[0].href);
  eq(sha256(bytes), sha256(body), "server's bytes");
  const seq = log.filter((x) => x.path.startsWith("/api/v1/uploads/")).map((x) => `${x.method}@${x.offset ?? ""}`);
  const K = 131072;
  // PATCH 4 (at 3K) is lost: HEAD, then again at 3K; PATCH 7 (at 5K) gets a 503: HEAD, again at 5K
  const want = [
    `PATCH@0`, `PATCH@${K}`, `PATCH@${2 * K}`, `PATCH@${3 * K}`, "HEAD@", `PATCH@${3 * K}`,
    `PATCH@${4 * K}`, `PATCH@${5 * K}`, "HEAD@", `PATCH@${5 * K}`, `PATCH@${6 * K}`, `PATCH@${7 * K}`, "GET@",
  ];
  eq(seq.join(" "), want.join(" "), "tus requests");
  check(page.errors.every((e) => e.startsWith("503 ")), page.errors.join("; "));
  await page.close();
});

test("upload page: after a reload, the same file continues from the server's offset", async () => {
  const file = path.join(tmpRoot, "resume-after-reload.bin");
  const body = pattern(2 << 20, 4);
  fs.writeFileSync(file, body);
  const K = 262144;
  const url = `${base}/?chunk=${K}`;
  const page = await newPage();
  let n = 0;
  await page.route("**/api/v1/uploads/*", (route) =>
    route.request().method() === "PATCH" && ++n > 3 ? route.abort("connectionreset") : route.continue());
  await page.goto(url);
  await page.setInputFiles("#file", file);
  // three chunks in, then the connection is gone and the page retries
  await page.waitForFunction(() => /retrying in/.test(document.querySelector("#results li .up-status").textContent));
  const kept = Object.values(await storedUploads(page, ["resume-after-reload.bin"]));
  eq(kept.length, 1, "localStorage entries while unfinished");
  const uploadUrl = kept[0].url;
  const h = await fetch(`${base}${uploadUrl}`, { method: "HEAD", headers: TUS });
  eq(h.status, 200, "HEAD of the unfinished upload");
  eq(h.headers.get("upload-offset"), String(3 * K), "server's offset before the reload");

  // the reload ends the retries (the old route still drops every PATCH)
  eq((await page.reload()).status(), 200, "reload status");
  await page.unroute("**/api/v1/uploads/*");
  const log = recordTus(page);
  // hold the first PATCH after the reload a moment so the row's note can be read
  let held = false;
  await page.route("**/api/v1/uploads/*", async (route) => {
    if (route.request().method() === "PATCH" && !held) {
      held = true;
      await sleep(700);
    }
    return route.continue();
  });
  await page.setInputFiles("#file", file);
  const li = page.locator("#results li").first();
  await page.waitForFunction(() => /resuming at 37 %/.test(document.querySelector("#results li .up-status").textContent));
  await waitRows(page, 0, 1);
  const rows = await rowsOf(page);
  check(/\bdone\b/.test(rows[0].cls), `row after the reload: ${await li.textContent()}`);
  const { bytes } = await served(rows[0].href);
  eq(sha256(bytes), sha256(body), "server's bytes");
  eq(log.filter((x) => x.method === "POST").length, 0, "POSTs after the reload (a new upload)");
  const first = log.find((x) => x.method === "PATCH");
  eq(first.offset, 3 * K, "Upload-Offset of the first PATCH after the reload");
  eq(first.path, uploadUrl, "the PATCHed upload is the remembered one");
  eq(log[0].method, "HEAD", "first request after the reload");
  eq(Object.keys(await storedUploads(page, ["resume-after-reload.bin"])).length, 0, "localStorage entries after completion");
  check(rows[0].token === kept[0].token && rows[0].token.length >= 32, "the delete token from before the reload is shown");
  await page.close();
});

test("upload page: a connection cut in the middle of a chunk resumes from the bytes the server kept", async () => {
  // The page goes through a TCP proxy that cuts the connection 3 MiB into
  // the second 8 MiB PATCH of a 24 MiB file (default chunk size): the server
  // keeps the bytes it got, and the page must continue from there.
  const file = path.join(tmpRoot, "cut-mid-chunk.bin");
  const body = pattern(24 << 20, 10);
  fs.writeFileSync(file, body);
  const M8 = 8 << 20;
  const target = new URL(base);
  let armed = false, seen = 0, cuts = 0;
  const socks = new Set();
  const proxy = net.createServer((c) => {
    const s = net.connect(Number(target.port), target.hostname);
    socks.add(c).add(s);
    c.on("data", (d) => {
      if (armed && (seen += d.length) > 3 << 20) {
        // an RST to both sides, as when a NAT box or a Wi-Fi link drops
        armed = false;
        cuts++;
        c.resetAndDestroy();
        s.resetAndDestroy();
        return;
      }
      s.write(d);
    });
    s.pipe(c);
    for (const x of [c, s]) {
      x.on("error", () => {});
      x.on("close", () => { c.destroy(); s.destroy(); socks.delete(x); });
    }
  });
  await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
  const via = `http://127.0.0.1:${proxy.address().port}`;
  const page = await newPage();
  try {
    const log = recordTus(page);
    const heads = []; // the offsets HEAD replies gave
    page.on("response", (r) => {
      if (r.request().method() === "HEAD") heads.push(Number(r.headers()["upload-offset"]));
    });
    let patches = 0;
    page.on("request", (r) => {
      if (r.method() === "PATCH" && ++patches === 2) { armed = true; seen = 0; }
    });
    eq((await page.goto(`${via}/`)).status(), 200, "GET / through the proxy");
    await page.setInputFiles("#file", file);
    await waitRows(page, 0, 1, 40_000);
    const rows = await rowsOf(page);
    check(/\bdone\b/.test(rows[0].cls), `row: ${JSON.stringify(rows[0])}`);
    eq(cuts, 1, "connections cut");
    const { bytes } = await served(rows[0].href);
    eq(sha256(bytes), sha256(body), "server's bytes");
    const offs = log.filter((x) => x.method === "PATCH").map((x) => x.offset);
    eq(offs.slice(0, 2).join(","), `0,${M8}`, "the first PATCHes");
    // After the cut the page HEADs and PATCHes from the offset it learns:
    // the bytes of the cut chunk the server kept (it saves what it got when
    // it notices the closed connection), or the chunk's start when another
    // PATCH took the upload over first (tus.c: takeover after 2 s idle).
    check(heads.length >= 1, "no HEAD after the cut");
    const i = log.findIndex((x) => x.method === "HEAD");
    const after = log.slice(i).find((x) => x.method === "PATCH");
    eq(after.offset, heads[0], "the first PATCH after the cut starts at the HEAD's offset");
    check(after.offset >= M8 && after.offset < 2 * M8, `the PATCH after the cut: ${offs}`);
    if (after.offset === M8)
      console.log("browser: note: the server had not noticed the cut yet: resumed at the chunk's start");
  } finally {
    await page.close();
    for (const x of socks) x.destroy();
    await new Promise((r) => proxy.close(r));
  }
});

test("upload page: pause and resume by keyboard, and cancel terminates the upload", async () => {
  const page = await newPage();
  const log = recordTus(page);
  // slow PATCHes, so there is time to press the buttons
  // (a request the page aborts meanwhile cannot be continued: ignored)
  await page.route("**/api/v1/uploads/*", async (route) => {
    if (route.request().method() === "PATCH") await sleep(80);
    return route.continue().catch(() => {});
  });
  eq((await page.goto(`${base}/?chunk=32768`)).status(), 200, "GET /?chunk");
  const a = pattern(640_000, 5), b = pattern(640_000, 6);
  await page.setInputFiles("#file", [
    { name: "pause-me.bin", mimeType: "application/octet-stream", buffer: a },
    { name: "cancel-me.bin", mimeType: "application/octet-stream", buffer: b },
  ]);
  const rowA = page.locator("#results li").nth(0), rowB = page.locator("#results li").nth(1);
  const patchesOf = (p) => log.filter((x) => x.method === "PATCH" && x.path === p);
  const uploadPath = async (i) => {
    for (let k = 0; k < 100; k++) {
      const paths = [...new Set(log.filter((x) => x.method === "PATCH").map((x) => x.path))];
      if (paths[i]) return paths[i];
      await sleep(50);
    }
    throw new Fail(`upload ${i} sent no PATCH`);
  };
  await uploadPath(0);
  await uploadPath(1);
  const stored = async (n) => Object.values(await storedUploads(page, [n]))[0].url;
  const pa = await stored("pause-me.bin"), pb = await stored("cancel-me.bin");
  await page.waitForFunction(() => document.querySelector("#results li progress").value >= 10);
  // pause A with the keyboard
  await rowA.locator("button.up-pause").focus();
  await page.keyboard.press("Enter");
  eq(await rowA.getAttribute("data-state"), "paused", "A's state after Pause");
  eq((await rowA.locator("button.up-pause").textContent()).trim(), "Resume", "A's button after Pause");
  const sent = patchesOf(pa).length;
  // cancel B
  await rowB.locator("button.up-cancel").click();
  await page.waitForFunction(() => /cancelled/.test(document.querySelectorAll("#results li")[1].className));
  for (let k = 0; k < 50 && !log.some((x) => x.method === "DELETE"); k++) await sleep(50);
  const del = log.filter((x) => x.method === "DELETE");
  eq(del.length, 1, "DELETE requests");
  eq(del[0].path, pb, "the DELETEd upload");
  let gone = 0;
  for (let k = 0; k < 50; k++) {
    gone = (await fetch(`${base}${pb}`, { method: "HEAD", headers: TUS })).status;
    if (gone === 404 || gone === 410) break;
    await sleep(50);
  }
  check(gone === 404 || gone === 410, `HEAD of the cancelled upload: ${gone}`);
  check((await page.locator("#results li").nth(1).locator("button").count()) === 0, "the cancelled row still has buttons");
  await sleep(400);
  eq(patchesOf(pa).length, sent, "PATCHes of A while paused");
  const offA = Number((await fetch(`${base}${pa}`, { method: "HEAD", headers: TUS })).headers.get("upload-offset"));
  check(offA > 0 && offA < a.length, `A's offset while paused: ${offA}`);
  // resume A with the keyboard: it continues where the server is
  await rowA.locator("button.up-pause").focus();
  await page.keyboard.press(" ");
  await waitRows(page, 0, 1);
  const rows = await rowsOf(page);
  check(/\bdone\b/.test(rows[0].cls), `A after Resume: ${JSON.stringify(rows[0])}`);
  const after = patchesOf(pa).slice(sent);
  check(after.length > 0 && after[0].offset === offA, `A's first PATCH after Resume at ${after[0] && after[0].offset}, server had ${offA}`);
  const { bytes } = await served(rows[0].href);
  eq(sha256(bytes), sha256(a), "A's bytes");
  eq(Object.keys(await storedUploads(page, ["pause-me.bin", "cancel-me.bin"])).length, 0, "localStorage entries after complete + cancel");
  await page.close();
});

test("upload page: a refused upload shows the server's reason", async () => {
  const page = await newPage();
  const log = recordTus(page);
  // over the anonymous max_upload_bytes (40M in this suite's config): 413 at creation
  const big = path.join(tmpRoot, "too-big.bin");
  fs.writeFileSync(big, "");
  fs.truncateSync(big, 41 << 20);
  // blocked content (a content takedown): 451 when the last byte is in
  const blocked = pattern(50_000, 7);
  const f = await putFile("blocked.bin", blocked);
  const adm = spawn(partaged, ["admin", "--config", path.join(tmpRoot, "c.ini"), "--data", path.join(tmpRoot, "data"),
    "takedown", f.id, "--content", "--reason", "browser test"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  adm.stdout.on("data", (d) => (out += d));
  adm.stderr.on("data", (d) => (out += d));
  eq(await new Promise((r) => adm.on("exit", r)), 0, `partaged admin takedown (${out.trim()})`);
  const blockedFile = path.join(tmpRoot, "blocked-again.bin");
  fs.writeFileSync(blockedFile, blocked);

  eq((await page.goto(`${base}/?chunk=16384`)).status(), 200, "GET /");
  await page.setInputFiles("#file", [big, blockedFile]);
  await waitRows(page, 0, 2);
  const rows = await rowsOf(page);
  check(/\berror\b/.test(rows[0].cls), `too big row: ${JSON.stringify(rows[0])}`);
  check(/^payload too large: Upload-Length 42991616 exceeds the limit of 41943040 bytes$/.test(rows[0].status.trim()),
    `too big row's reason: "${rows[0].status}"`);
  check(/\berror\b/.test(rows[1].cls), `blocked row: ${JSON.stringify(rows[1])}`);
  check(/^unavailable for legal reasons/.test(rows[1].status.trim()), `blocked row's reason: "${rows[1].status}"`);
  eq(log.filter((x) => x.method === "PATCH" && x.offset === 0).length, 1, "PATCHes at 0 (none for the refused creation)");
  eq(rows.filter((r) => r.href).length, 0, "links shown");
  eq(Object.keys(await storedUploads(page, ["too-big.bin", "blocked-again.bin"])).length, 0, "localStorage entries after refusals");
  check((await page.locator("#results button").count()) === 0, "refused rows still have buttons");
  await page.close();
});

test("upload page: without JavaScript the form posts multipart to /api/v1/files", async () => {
  const page = await newPage();
  await page.route("**/static/upload.js", (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: "" }));
  eq((await page.goto(`${base}/`)).status(), 200, "GET /");
  const text = await page.locator("main").innerText();
  check(text.includes(`curl -T file.bin ${base}/`), "the curl examples are on the page");
  check(await page.locator("#upload button[type=submit]").isVisible(), "the Upload button is visible without JS");
  const body = pattern(20_000, 8);
  await page.setInputFiles("#file", { name: "no-js.bin", mimeType: "application/octet-stream", buffer: body });
  const [resp] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/files"),
    page.click("#upload button[type=submit]"),
  ]);
  eq(resp.request().method(), "POST", "the form's method");
  eq(resp.status(), 201, "multipart POST status");
  const got = JSON.parse(await resp.text());
  eq(got.files.length, 1, "files in the reply");
  const { bytes } = await served(got.files[0].url);
  eq(sha256(bytes), sha256(body), "server's bytes");
  await page.close();
});

test("upload page: the options set an expiry, a download limit and a link password", async () => {
  const page = await newPage();
  try {
    const pw = "pàss wörd 1";
    const check1 = async (o, how) => {
      eq(o.password_protected, true, `${how}: password_protected`);
      eq(o.max_downloads, 2, `${how}: max_downloads`);
      const days = (o.expires - Date.now() / 1000) / 86400;
      check(days > 2.9 && days <= 3.01, `${how}: expires in ${days.toFixed(3)} days, want 3`);
      eq((await fetch(o.download_url)).status, 401, `${how}: the bytes without the password`);
      const r = await fetch(`${o.download_url}?password=${encodeURIComponent(pw)}`);
      eq(r.status, 200, `${how}: the bytes with the password`);
      return Buffer.from(await r.arrayBuffer());
    };
    // with JavaScript: the options go in the tus creation's metadata
    eq((await page.goto(`${base}/`)).status(), 200, "GET /");
    await page.click("#options summary");
    await page.fill("#max-days", "3");
    await page.fill("#max-downloads", "2");
    await page.fill("#link-password", pw);
    const body = pattern(30_000, 11);
    const before = await page.locator("#results li").count();
    await page.setInputFiles("#file", { name: "options.bin", mimeType: "application/octet-stream", buffer: body });
    await waitRows(page, before, 1);
    const href = await page.locator("#results li .up-done a").last().getAttribute("href");
    const id = ID_URL().exec(href);
    check(id, `link "${href}"`);
        // a password-protected file object shows its details with the password only
    const hidden = await fileObject(id[1]);
    eq(hidden.password_protected, true, "tus: password_protected without the password");
    eq(hidden.max_downloads, undefined, "tus: max_downloads without the password");
    eq(sha256(await check1(await fileObject(id[1], pw), "tus")), sha256(body), "bytes (tus)");
    // without JavaScript: the same fields in the multipart form
    await page.route("**/static/upload.js", (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: "" }));
    eq((await page.goto(`${base}/`)).status(), 200, "GET / without JS");
    await page.click("#options summary");
    await page.fill("#max-days", "3");
    await page.fill("#max-downloads", "2");
    await page.fill("#link-password", pw);
    const body2 = pattern(20_000, 12);
    await page.setInputFiles("#file", { name: "options-nojs.bin", mimeType: "application/octet-stream", buffer: body2 });
    const [resp] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/files"),
      page.click("#upload button[type=submit]"),
    ]);
    eq(resp.status(), 201, "multipart POST with options");
    const f = JSON.parse(await resp.text()).files[0];
    eq(sha256(await check1(await fileObject(f.id, pw), "multipart")), sha256(body2), "bytes (multipart)");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

test("upload page: a logged-in browser without JavaScript uploads into the account", async () => {
  const json = { "Content-Type": "application/json" };
  const name = "nojs_" + Date.now();
  const creds = JSON.stringify({ name, password: "no-js page password" });
  eq((await fetch(`${base}/api/v1/users`, { method: "POST", body: creds, headers: json })).status, 201, "register");
  const page = await newPage();
  const context = page.context();
  try {
    eq((await page.goto(`${base}/`)).status(), 200, "GET /");
    const login = await page.evaluate(async (b) => {
      const r = await fetch("/api/v1/sessions", { method: "POST", body: b, headers: { "Content-Type": "application/json" } });
      return r.status;
    }, creds);
    eq(login, 201, "login status");
    await page.route("**/static/upload.js", (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: "" }));
    eq((await page.goto(`${base}/`)).status(), 200, "GET / without JS");
    const body = pattern(10_000, 13);
    await page.setInputFiles("#file", { name: "nojs-mine.bin", mimeType: "application/octet-stream", buffer: body });
    const [resp] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/files"),
      page.click("#upload button[type=submit]"),
    ]);
    eq(resp.status(), 201, "the form POST with a session (same-origin, no token)");
    const f = JSON.parse(await resp.text()).files[0];
    const mine = await page.evaluate(async () => (await fetch("/api/v1/me/files")).json());
    check(mine.files.some((x) => x.id === f.id), "the form's file is not in the account's files");
  } finally {
    await context.clearCookies();
    await page.close();
  }
});

test("upload page: a logged-in browser's upload belongs to the account", async () => {
  const json = { "Content-Type": "application/json" };
  const name = "uploader_" + Date.now();
  const creds = JSON.stringify({ name, password: "upload page password" });
  eq((await fetch(`${base}/api/v1/users`, { method: "POST", body: creds, headers: json })).status, 201, "register");
  const page = await newPage();
  try {
    eq((await page.goto(`${base}/`)).status(), 200, "GET /");
    check(await page.locator("#who").isHidden(), "#who shown before login");
    const login = await page.evaluate(async (b) => {
      const r = await fetch("/api/v1/sessions", { method: "POST", body: b, headers: { "Content-Type": "application/json" } });
      return r.status;
    }, creds);
    eq(login, 201, "login status");
    const log = recordTus(page);
    const body = pattern(200_000, 9);
    const links = await uploadViaPage(page, [{ name: "mine.bin", mimeType: "application/octet-stream", buffer: body }],
      `${base}/?chunk=65536`);
    check((await page.locator("#who").textContent()).includes(name), "#who does not name the user");
    const id = ID_URL().exec(links[0].href)[1];
    const writes = log.filter((x) => x.method === "POST" || x.method === "PATCH");
    check(writes.length === 5 && writes.every((x) => x.csrf), `X-CSRF-Token on every write: ${JSON.stringify(writes)}`);
    const mine = await page.evaluate(async () => (await fetch("/api/v1/me/files")).json());
    const ids = (mine.files || []).map((x) => x.id);
    check(ids.includes(id), `GET /api/v1/me/files lacks ${id}: ${JSON.stringify(mine)}`);
    check(!ids.includes(state.first && state.first.id), "an anonymous upload is in the account's files");
    const { bytes } = await served(links[0].href);
    eq(sha256(bytes), sha256(body), "server's bytes");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await context.clearCookies();
    await page.close();
  }
});

// ---- media (issue 16)
// Chromium plays an MP4 on its file page (the player streams /stream/{id}
// by Range), seeks to the middle, and currentTime goes on from there; the
// server saw a 206 for the stream.
test("media: Chromium plays the MP4 on the file page and seeks to the middle", async () => {
  const dir = fs.mkdtempSync(path.join(tmpRoot, "media-"));
  const mp4 = path.join(dir, "clip.mp4");
  const ff = spawnSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "10",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", mp4]);
  check(ff.status === 0, `ffmpeg: ${ff.stderr}`);
  const body = fs.readFileSync(mp4);
  const f = await putFile("clip.mp4", body);
  let o = await fileObject(f.id);
  for (let i = 0; i < 200 && o.media.probe === "pending"; i++) {
    await sleep(100);
    o = await fileObject(f.id);
  }
  eq(o.media.probe, "done", "probe");
  eq(o.media.kind, "video", "media kind");
  const page = await newPage();
  const seen = [];
  page.on("response", (r) => {
    if (new URL(r.url()).pathname === `/stream/${f.id}`) seen.push(r.status());
  });
  try {
    eq((await page.goto(`${base}/${f.id}`)).status(), 200, "file page status");
    check((await page.locator("#media-summary").textContent()).includes("H.264/AAC"), "no media summary");
    await page.locator("video#player").waitFor();
    await page.evaluate(() => {
      const v = document.getElementById("player");
      v.muted = true;
      return v.play();
    });
    await page.waitForFunction(() => document.getElementById("player").currentTime > 0.5, null, { timeout: 20_000 });
    const mid = await page.evaluate(() => {
      const v = document.getElementById("player");
      v.currentTime = v.duration / 2;
      return v.duration / 2;
    });
    check(mid > 4 && mid < 6, `duration/2 = ${mid}`);
    await page.waitForFunction((m) => document.getElementById("player").currentTime > m + 0.5, mid, { timeout: 20_000 });
    check(seen.includes(206), `stream responses ${JSON.stringify(seen)} have no 206`);
    const log = fs.readFileSync(serverLog, "utf8");
    check(new RegExp(`"GET /stream/${f.id}" 206 `).test(log), "the server log has no 206 for the stream");
    fs.mkdirSync(shotsDir, { recursive: true });
    await page.screenshot({ path: path.join(shotsDir, "media-player.png"), fullPage: true });
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

// A partaged of its own with a one-minute quota (and a minute's wait),
// holding a 2-minute MP4 of 30 kbit/s probed: { qbase, qlog, id, bitrate,
// stop }.  stop is also run by stopAll.
async function quotaServer() {
  const dir = fs.mkdtempSync(path.join(tmpRoot, "quota-"));
  const mp4 = path.join(dir, "long.mp4");
  const ff = spawnSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "testsrc=size=160x120:rate=5", "-t", "120", "-c:v", "libx264", "-preset", "ultrafast",
    "-pix_fmt", "yuv420p", "-b:v", "30k", "-movflags", "+faststart", mp4]);
  check(ff.status === 0, `ffmpeg: ${ff.stderr}`);
  const conf = path.join(dir, "c.ini");
  fs.writeFileSync(conf, "[tier.anonymous]\nwait_seconds = 0\nstream_minutes = 1\nstream_wait_minutes = 1\n");
  const port = await freePort();
  const qbase = `http://127.0.0.1:${port}`;
  const qlog = path.join(dir, "server.log");
  const fd = fs.openSync(qlog, "a");
  const q = spawn(partaged, ["--config", conf, "--listen", `127.0.0.1:${port}`, "--data", path.join(dir, "data"),
    "--public-url", qbase], { stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  const stop = async () => {
    if (q.exitCode !== null || q.signalCode !== null) return;
    const done = new Promise((r) => q.once("exit", r));
    q.kill("SIGTERM");
    await done;
  };
  onStop.push(stop);
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${qbase}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      check(i < 100, `quota server did not start: ${tail(qlog)}`);
      await sleep(100);
    }
    const body = fs.readFileSync(mp4);
    const put = await fetch(`${qbase}/long.mp4`, { method: "PUT", body, headers: { Accept: "application/json" } });
    eq(put.status, 201, "PUT status");
    const { id } = await put.json();
    let o;
    for (let i = 0; i < 200; i++) {
      o = await (await fetch(`${qbase}/api/v1/files/${id}`, { headers: { Accept: "application/json" } })).json();
      if (o.media.probe !== "pending") break;
      await sleep(100);
    }
    eq(o.media.probe, "done", "probe");
    return { qbase, qlog, id, bitrate: o.media.bitrate, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// With a one-minute quota used up (by ranges fetched here), the player
// shows the wait with its countdown and the premium offer, and the server
// refused its range with 429; also when that refusal came before the
// page's player.js had run.  A second partaged of its own, stopped at
// the end of the test.
test("media: past a one-minute quota the player shows the wait and the premium offer", async () => {
  const { qbase, qlog, id, bitrate, stop } = await quotaServer();
  const page = await newPage();
  try {
    // use the minute up: 9 s ranges until the server refuses
    const nine = Math.floor((bitrate / 8) * 9);
    let refused = null;
    for (let i = 0; i < 12 && !refused; i++) {
      const r = await fetch(`${qbase}/stream/${id}`, { headers: { Range: `bytes=${i * nine}-${(i + 1) * nine - 1}` } });
      await r.arrayBuffer();
      if (r.status === 429) refused = r;
      else eq(r.status, 206, `range ${i}`);
    }
    check(refused, "the quota never ran out");
    check(Number(refused.headers.get("retry-after")) > 0, "429 without Retry-After");
    eq((await page.goto(`${qbase}/${id}`)).status(), 200, "file page status");
    const note = page.locator("#media-quota");
    await note.waitFor({ state: "visible", timeout: 15_000 });
    const t1 = await note.textContent();
    check(/resumes in [01]:\d\d/.test(t1) && /premium/.test(t1), `quota note: "${t1}"`);
    check((await note.locator("a").getAttribute("href")) === "/account", "no premium link");
    await sleep(2200);
    const t2 = await note.textContent();
    check(t2 !== t1, `the countdown does not move: "${t1}"`);
    check(/"GET \/stream\/\S+" 429 /.test(fs.readFileSync(qlog, "utf8")), "the server did not refuse the player's range");
    fs.mkdirSync(shotsDir, { recursive: true });
    await page.screenshot({ path: path.join(shotsDir, "media-quota.png"), fullPage: true });
    // the player's refused range is the test's own doing
    page.errors = page.errors.filter((e) => !/^429 for media/.test(e));
    check(page.errors.length === 0, page.errors.join("; "));
    // The element loads as soon as it is parsed, so its range may be
    // refused before player.js has run (a slow network, a busy machine):
    // here the script arrives only after the element's error event has
    // gone by, and the wait shows all the same.
    const late = await newPage();
    try {
      await late.clock.install();
      await late.addInitScript(() => {
        window.addEventListener("error", (e) => {
          if (e.target && e.target.id === "player") window.playerFailed = true;
        }, true);
      });
      await late.route("**/static/player.js", async (route) => {
        await late.waitForFunction(() => window.playerFailed === true, null, { timeout: 10_000 });
        await route.continue();
      });
      eq((await late.goto(`${qbase}/${id}`)).status(), 200, "file page status (script after the refusal)");
      const lateNote = late.locator("#media-quota");
      await lateNote.waitFor({ state: "visible", timeout: 15_000 }).catch((e) => {
        throw new Fail(`no quota note when player.js ran after the refusal: ${e.message.split("\n")[0]}`);
      });
      const t3 = await lateNote.textContent();
      check(/resumes in [01]:\d\d/.test(t3) && /premium/.test(t3), `quota note (script after the refusal): "${t3}"`);
      // when the countdown ends the element is loaded again (after an
      // error, play() alone is refused): here the page's clock runs ahead
      // of the server's, so that range is refused again
      const again = late.waitForRequest((q) => new URL(q.url()).pathname === `/stream/${id}`, { timeout: 15_000 });
      await late.clock.runFor("01:05");
      await again;
      late.errors = late.errors.filter((e) => !/^429 for media/.test(e));
      check(late.errors.length === 0, late.errors.join("; "));
    } finally {
      await late.close();
    }
  } finally {
    await page.close();
    await stop();
  }
});

// A range refused while the minute is only reserved by another response
// still in flight (Retry-After: 2, the JSON's retry_after 0) is not the
// end: once that response is dropped and settled (it pays for what it was
// sent), the player loads again by itself, without the quota note, and
// does not start playing when the viewer had not pressed play.
test("media: a refusal for time held in flight is retried, without playing unasked", async () => {
  const { qbase, qlog, id, stop } = await quotaServer();
  const page = await newPage();
  let held = null;
  try {
    // the whole file: its range reserves the minute, cut to it
    const head = await new Promise((resolve, reject) => {
      held = http.get(`${qbase}/stream/${id}`, { headers: { Range: "bytes=0-" } }, resolve);
      held.on("error", reject);
    });
    eq(head.statusCode, 206, "the held range");
    head.pause();
    head.on("error", () => {});
    const q = (await (await fetch(`${qbase}/api/v1/files/${id}`, { headers: { Accept: "application/json" } })).json())
      .stream.quota;
    check(q.left_seconds === 0 && q.retry_after === 0, `quota while the range is held: ${JSON.stringify(q)}`);
    const statuses = [];
    page.on("response", (r) => {
      if (new URL(r.url()).pathname !== `/stream/${id}`) return;
      statuses.push(r.status() === 429 ? `429 Retry-After: ${r.headers()["retry-after"]}` : r.status());
      if (r.status() === 429) held.destroy(); // the viewer's other response ends: it settles
    });
    eq((await page.goto(`${qbase}/${id}`)).status(), 200, "file page status");
    await page.waitForFunction(() => {
      const v = document.getElementById("player");
      return v.readyState >= 1 && !v.error;
    }, null, { timeout: 20_000 });
    check(statuses[0] === "429 Retry-After: 2" && statuses.includes(206), `the player's ranges: ${JSON.stringify(statuses)}`);
    check(await page.locator("#media-quota").isHidden(), "the quota note shows for a refusal in flight");
    await sleep(500);
    check(await page.evaluate(() => document.getElementById("player").paused), "the player started playing by itself");
    check(/"GET \/stream\/\S+" 429 /.test(fs.readFileSync(qlog, "utf8")), "the server did not refuse the player's range");
    page.errors = page.errors.filter((e) => !/^429 for media/.test(e));
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    if (held) held.destroy();
    await page.close();
    await stop();
  }
});

// ---- pages (issue 17)
// Every page at a phone's and a laptop's width, light and dark, French and
// English (also a file request's page, a video's file page with its
// player and summary, and its embed page): no sideways scrolling, <html
// lang> right, no English left on
// the French pages (a text or a label that is an English message of
// po/fr.po, or common English words), the dark theme applied; the
// switches remembered; the report form.  Screenshots of the main pages in
// SHOTS/pages/.
const I18N_EN = (() => {
  // the English msgids whose French differs: none may show on a French page
  const po = fs.readFileSync(path.join(ROOT, "po", "fr.po"), "utf8");
  const out = new Set();
  for (const m of po.matchAll(/^msgid "((?:[^"\\]|\\.)*)"\n(?:msgid_plural "(?:[^"\\]|\\.)*"\n)?msgstr(?:\[0\])? "((?:[^"\\]|\\.)*)"/gm)) {
    const id = JSON.parse(`"${m[1]}"`), str = JSON.parse(`"${m[2]}"`);
    if (id && str && id !== str && /[A-Za-z]{2}/.test(id) && !/%/.test(id)) out.add(id.trim());
  }
  return out;
})();

// A context of the account browser with these options (language, width,
// colour scheme), of its own: no cookie leaks between the tests.
async function pagesContext(opts) {
  await (await freshContext()).close(); // starts the account browser
  const ctx = await accountBrowser.newContext(opts);
  ctx.setDefaultTimeout(15_000);
  return ctx;
}

// axe-core (tests/browser/node_modules/axe-core) in the page: its
// violations of WCAG 2 A and AA as "rule: target" strings.  The contexts
// that run it bypass the pages' CSP (it is injected inline).
const AXE = (() => {
  try {
    return fs.readFileSync(path.join(HERE, "node_modules", "axe-core", "axe.min.js"), "utf8");
  } catch {
    return null;
  }
})();
async function axeViolations(page) {
  // a check that cannot run must not pass
  if (!AXE) throw new Error("axe-core is not installed (scripts/install-browser.sh)");
  await page.addScriptTag({ content: AXE });
  const v = await page.evaluate(async () =>
    (await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })).violations);
  return v.flatMap((x) => x.nodes.map((n) => `${x.id}: ${n.target.join(" ")}`));
}

let pagesSetup = null;
async function pagesData() {
  if (pagesSetup) return pagesSetup;
  const ctx = await freshContext();
  const user = await apiUser(ctx, uniqueName("pages"));
  const file = await apiUpload(ctx, user, "vacances-lyon.txt", "Jour 1 : Lyon.\n".repeat(3000));
  let r = await ctx.request.post(`${base}/api/v1/folders`, {
    headers: { "X-CSRF-Token": user.csrf }, data: { name: "Photos 2026", shared: true } });
  eq(r.status(), 201, "folder");
  const folder = await r.json();
  await apiUpload(ctx, user, "photo-1.txt", "photo\n", folder.id);
  // a long name without a space: nothing may push a page sideways
  await apiUpload(ctx, user, `rapport_${"annuel".repeat(20)}.txt`, "long\n", folder.id);
  await apiUpload(ctx, user, `notes_${"x".repeat(90)}.txt`, "long\n");
  r = await ctx.request.post(`${base}/api/v1/tokens`, {
    headers: { "X-CSRF-Token": user.csrf }, data: { label: "sauvegarde-" + "z".repeat(80) } });
  check(r.status() === 201, `token: ${r.status()}`);
  r = await fetch(`${base}/secret-doc.txt`, { method: "PUT", body: "secret\n", headers: { "X-Partage-Password": "motdepasse1", Accept: "application/json" } });
  eq(r.status, 201, "password upload");
  const locked = await r.json();
  // a file request with every limit and a password (its page, /r/ID)
  r = await ctx.request.post(`${base}/api/v1/folders`, {
    headers: { "X-CSRF-Token": user.csrf }, data: { name: "Dépôt des devoirs" } });
  eq(r.status(), 201, "request folder");
  r = await ctx.request.post(`${base}/api/v1/requests`, {
    headers: { "X-CSRF-Token": user.csrf },
    data: { folder: (await r.json()).id, password: "mot de passe", max_files: 3, max_bytes: 20000000, max_days: 7 } });
  eq(r.status(), 201, "file request");
  const request = await r.json();
  // a probed video (its file page has the summary and the player; the
  // embed page); scanning is off, so the scan block is there but hidden
  const mp4 = path.join(tmpRoot, "pages-clip.mp4");
  const ff = spawnSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "4",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", mp4]);
  check(ff.status === 0, `ffmpeg: ${ff.stderr}`);
  const video = await putFile("extrait.mp4", fs.readFileSync(mp4));
  let o = await fileObject(video.id);
  for (let i = 0; i < 200 && o.media.probe === "pending"; i++) {
    await sleep(100);
    o = await fileObject(video.id);
  }
  eq(o.media.probe, "done", "probe");
  const cookies = await ctx.cookies();
  await ctx.close();
  pagesSetup = { file, folder, locked, request, video, cookies, web3Image: (await web3Data()).image };
  return pagesSetup;
}

const PAGE_LIST = (d) => [
  { name: "upload", url: "/", shot: true },
  { name: "login", url: "/login" },
  { name: "file", url: `/${d.file.id}`, shot: true },
  { name: "report", url: `/report/${d.file.id}` },
  { name: "folder", url: `/folder/${d.folder.id}` },
  { name: "password", url: `/${d.locked.id}` },
  { name: "request", url: `/r/${d.request.id}`, shot: true },
  { name: "video", url: `/${d.video.id}`, shot: true },
  // the embed page has no header, theme or site stylesheet: a player
  { name: "embed", url: `/embed/${d.video.id}`, bare: true },
  { name: "files", url: "/files", auth: true, shot: true },
  { name: "account", url: "/account", auth: true },
  { name: "404", url: "/AAAAAAAAAAAA", status: 404, shot: true },
  // the no-JavaScript download ticket's countdown page: a form's POST
  { name: "wait", url: "/", post: `/api/v1/files/${d.file.id}/ticket`, shot: true },
  ...WEB3_PAGES(d),
];

// What a French page still says in English: texts and labels, outside
// code, user content ([lang=en], file names) and scripts.
async function englishLeft(page) {
  return page.evaluate((ids) => {
    const en = new Set(ids);
    const words = /\b(the|your|and|with|files?|downloads?|password|folder|upload|log in|account)\b/i;
    const bad = [];
    const skip = (el) => el.closest("script, style, noscript, code, pre, [lang]:not(html), #name, .up-name, td.name, #listing, #report-file, #nav-user, #request-folder, .crumbs");
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const t = n.nodeValue.trim();
      if (!t || skip(n.parentElement)) continue;
      // a message may also be one part of a " · " list (a media summary)
      if (en.has(t) || words.test(t) || t.split(" · ").some((x) => en.has(x))) bad.push(t);
    }
    for (const el of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
      if (skip(el)) continue;
      for (const a of ["aria-label", "placeholder", "title"]) {
        const v = (el.getAttribute(a) || "").trim();
        if (v && en.has(v)) bad.push(`${a}=${v}`);
      }
    }
    if (en.has(document.title.replace(/ — partage$/, ""))) bad.push(`title: ${document.title}`);
    return bad;
  }, [...I18N_EN]);
}

for (const lang of ["en", "fr"])
  for (const width of [390, 1366])
    for (const scheme of ["light", "dark"])
    test(`pages (issue 17): ${lang} at ${width} px, ${scheme}: lang, no sideways scrolling, axe-core${lang === "fr" ? ", no English left" : ""}`, async () => {
      const d = await pagesData();
      const shots = path.join(shotsDir, "pages");
      fs.mkdirSync(shots, { recursive: true });
      {
        const ctx = await pagesContext({
          viewport: { width, height: width < 500 ? 844 : 900 }, colorScheme: scheme, bypassCSP: true,
          extraHTTPHeaders: { "Accept-Language": lang === "fr" ? "fr-FR,fr;q=0.9" : "en-GB,en;q=0.8" } });
        try {
          await ctx.addCookies(d.cookies);
          // the wait page goes on to its ticketed URL at once, which the
          // server holds for the wait: a 204 leaves the page where it is
          await ctx.route((u) => u.searchParams.has("ticket"), (rt) => rt.fulfill({ status: 204, body: "" }));
          const page = await accountPage(ctx);
          for (const p of PAGE_LIST(d)) {
            let resp = await page.goto(`${base}${p.url}`);
            if (p.post)
              [resp] = await Promise.all([page.waitForNavigation(), page.evaluate((u) => {
                const f = document.createElement("form");
                f.method = "post";
                f.action = u;
                document.body.append(f);
                f.submit();
              }, p.post)]);
            eq(resp.status(), p.status || (p.name === "password" ? 401 : 200), `${p.name} status`);
            await page.waitForLoadState("networkidle");
            const what = `${lang} ${width} ${scheme} ${p.name}`;
            eq(await page.getAttribute("html", "lang"), lang, `${what}: <html lang>`);
            const w = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
            check(w[0] <= w[1], `${what}: the page is ${w[0]} px wide in a ${w[1]} px window`);
            check(await page.locator('meta[name="viewport"]').count() === 1, `${what}: no viewport tag`);
            const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
            if (p.bare) { /* no theme */ }
            else if (scheme === "light") eq(bg, "rgb(245, 246, 248)", `${what}: the light background`);
            else check(bg !== "rgb(245, 246, 248)", `${what}: the dark theme is not applied (${bg})`);
            if (lang === "fr") {
              const left = await englishLeft(page);
              check(left.length === 0, `${what}: English left: ${JSON.stringify(left.slice(0, 8))}`);
            }
            if (p.shot) await page.screenshot({ path: path.join(shots, `${p.name}-${lang}-${scheme}-${width}.png`), fullPage: true });
            const axe = await axeViolations(page);
            check(axe.length === 0, `${what}: axe-core: ${JSON.stringify(axe.slice(0, 6))}`);
          }
          check(page.errors.length === 0, page.errors.join("; "));
        } finally {
          await ctx.close();
        }
      }
    });

test("pages (issue 17): the language and theme switches are remembered across a reload", async () => {
  const ctx = await pagesContext({
    viewport: { width: 390, height: 844 }, colorScheme: "light", extraHTTPHeaders: { "Accept-Language": "en" } });
  try {
    const page = await accountPage(ctx);
    await page.goto(`${base}/`);
    eq(await page.getAttribute("html", "lang"), "en", "lang before the switch");
    await Promise.all([page.waitForNavigation(), page.click("#lang-switch")]);
    eq(await page.getAttribute("html", "lang"), "fr", "lang after the switch");
    eq((await page.locator("h1").textContent()).trim(), "Partager un fichier", "the French heading");
    await page.reload();
    eq(await page.getAttribute("html", "lang"), "fr", "lang after a reload");
    eq(await page.getAttribute("#theme-switch", "aria-pressed"), "false", "theme switch before");
    await page.click("#theme-switch");
    eq(await page.getAttribute("html", "data-theme"), "dark", "data-theme after the switch");
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(dark !== "rgb(245, 246, 248)", `the page is not dark: ${dark}`);
    await page.goto(`${base}/login`);
    eq(await page.getAttribute("html", "data-theme"), "dark", "data-theme on the next page (server-rendered)");
    eq(await page.getAttribute("html", "lang"), "fr", "lang on the next page");
    eq(await page.getAttribute("#theme-switch", "aria-pressed"), "true", "theme switch pressed");
    await Promise.all([page.waitForNavigation(), page.click("#lang-switch")]);
    eq(await page.getAttribute("html", "lang"), "en", "back to English");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

// What the scripts of the webhooks block, the URL fetch, the file request
// and the player write, in French.  The request's upload is real; the
// other answers are stubbed in the browser (page.route), since this
// server fetches no URLs, has no webhook target and no viewing quota: their
// real flows are the media quota test's and tests/e2e/test_82's.
test("pages (issue 17): in French, the webhooks' list and log, a URL fetch's progress, a request's received file and the player's quota note", async () => {
  const d = await pagesData();
  const ctx = await pagesContext({ viewport: { width: 390, height: 844 }, bypassCSP: true,
    extraHTTPHeaders: { "Accept-Language": "fr-FR,fr;q=0.9" } });
  try {
    await ctx.addCookies(d.cookies);
    const page = await accountPage(ctx);
    const json = (body) => ({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
    // the webhooks block: one hook, its log with a failed delivery
    await page.route("**/api/v1/webhooks", (r) => r.request().method() === "GET" ? r.fulfill(json({ webhooks: [
      { id: "hook1", url: "https://hooks.example/partage", events: ["upload", "download"] }] })) : r.continue());
    await page.route("**/api/v1/webhooks/hook1/deliveries", (r) => r.fulfill(json({ webhook: {}, deliveries: [
      { id: 1, event: "upload", state: "failed", created: 1796650000, attempts: 3, last_error: "HTTP 500" }] })));
    eq((await page.goto(`${base}/account`)).status(), 200, "/account");
    const hook = page.locator("#hook-list > li").first();
    await hook.waitFor();
    await hook.locator("button", { hasText: "Livraisons" }).click();
    const log = hook.locator("ul li").first();
    await log.waitFor();
    const said = (await log.textContent()).trim();
    check(/upload: échouée, 3 tentatives \(HTTP 500\)$/.test(said), `the delivery log says "${said}"`);
    eq(await hook.locator("code").count(), 4, "code: the URL, the two events, the delivery's event");
    let left = await englishLeft(page);
    check(left.length === 0, `/account: English left: ${JSON.stringify(left)}`);
    // the upload page's URL fetch: its progress
    await page.route("**/api/v1/files/remote", (r) => r.fulfill({ status: 202, contentType: "application/json",
      body: JSON.stringify({ url: "/api/v1/files/remote/job1", delete_token: "t" }) }));
    await page.route("**/api/v1/files/remote/job1", (r) => r.fulfill(json({ state: "fetching", bytes: 1500000, total: 3000000 })));
    eq((await page.goto(`${base}/`)).status(), 200, "/");
    await page.fill("#remote-url", "https://example.com/gros-fichier.zip");
    await page.click("#remote button[type=submit]");
    await page.waitForFunction(() => /Récupération/.test(document.getElementById("remote-status").textContent));
    eq((await page.locator("#remote-status").textContent()).trim(), "Récupération… 1,5 Mo sur 3,0 Mo", "the fetch's progress");
    left = await englishLeft(page);
    check(left.length === 0, `/: English left: ${JSON.stringify(left)}`);
    // the file request's page: a real upload, the row in French
    eq((await page.goto(`${base}/r/${d.request.id}`)).status(), 200, "/r/ID");
    const limits = (await page.locator("#request-limits").textContent()).trim();
    check(/^Au plus 3 fichiers \(encore \d\)\. Au plus 20,0 Mo en tout \(encore [\d,]+ Mo\)\. Ouverte jusqu’au /.test(limits),
      `the request's limits: "${limits}"`);
    await page.fill("#request-password", "mot de passe");
    await page.setInputFiles("#file", [{ name: "devoir.txt", mimeType: "text/plain", buffer: Buffer.from("mon devoir") }]);
    await waitRows(page, 0, 1);
    const got = (await page.locator("#results li .up-done").first().textContent()).trim();
    eq(got, "reçu : devoir.txt (10 o)", "the request's row");
    // the embed page's player past its quota
    await page.route(`**/stream/${d.video.id}`, (r) => r.fulfill({ status: 429, headers: { "Retry-After": "75" }, body: "" }));
    await page.route(`**/api/v1/files/${d.video.id}`, (r) => r.fulfill(json({ stream: { quota: { minutes: 1, retry_after: 75 } } })));
    eq((await page.goto(`${base}/embed/${d.video.id}`)).status(), 200, "/embed/ID");
    const note = page.locator("#media-quota");
    await note.waitFor({ state: "visible" });
    const t = (await note.textContent()).trim();
    check(/^Vous avez épuisé votre crédit de 1 minute gratuite\. La lecture reprend dans 1:1\d, ou passez à premium pour regarder sans limite\.$/.test(t),
      `the quota note: "${t}"`);
    left = await englishLeft(page);
    check(left.length === 0, `/embed: English left: ${JSON.stringify(left)}`);
    page.errors = page.errors.filter((e) => !/429/.test(e));
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

test("pages (issue 17): the report form posts to /api/v1/reports and shows the answer", async () => {
  const d = await pagesData();
  const ctx = await pagesContext({
    viewport: { width: 390, height: 844 }, extraHTTPHeaders: { "Accept-Language": "fr" } });
  try {
    const page = await accountPage(ctx);
    await page.goto(`${base}/${d.file.id}`);
    await Promise.all([page.waitForNavigation(), page.click("#report-link")]);
    eq(new URL(page.url()).pathname, `/report/${d.file.id}`, "the report link");
    eq((await page.locator("#report-file").textContent()).trim(), "vacances-lyon.txt", "the file reported");
    // no reason: said before anything is sent
    await page.click("#report-form button[type=submit]");
    check(/motif/.test(await page.locator("#report-result").textContent()), "no reason: no message");
    await page.selectOption("#report-category", "copyright");
    await page.fill("#report-text", "Ce fichier est une copie de mon livre.");
    await page.fill("#report-contact", "auteur@example.org");
    const [resp] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/reports"),
      page.click("#report-form button[type=submit]"),
    ]);
    eq(resp.status(), 201, "POST /api/v1/reports");
    const rep = await resp.json();
    await page.waitForFunction(() => /Merci/.test(document.getElementById("report-result").textContent));
    check((await page.locator("#report-result").textContent()).includes(rep.id), "the answer names the report");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

test("pages (issue 17): upload cards show the options applied, copy their link, and copy all links", async () => {
  const ctx = await pagesContext({ viewport: { width: 390, height: 844 }, extraHTTPHeaders: { "Accept-Language": "fr" } });
  try {
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const page = await accountPage(ctx);
    await page.goto(`${base}/`);
    await page.click("#options summary");
    await page.fill("#max-downloads", "3");
    await page.fill("#link-password", "motdepasse2");
    await page.setInputFiles("#file", [
      { name: "un.txt", mimeType: "text/plain", buffer: Buffer.from("un\n") },
      { name: "deux.txt", mimeType: "text/plain", buffer: Buffer.from("deux\n") },
    ]);
    await page.waitForFunction(() => document.querySelectorAll("#results li.done").length === 2);
    const applied = await page.locator("#results li .up-applied").allTextContents();
    eq(applied.length, 2, "an Applied line per card");
    for (const a of applied) {
      check(/supprimé après 3 téléchargements/.test(a), `the download limit applied: "${a}"`);
      check(/protégé par un mot de passe/.test(a), `the password applied: "${a}"`);
    }
    const links = await page.locator("#results li .up-done a").evaluateAll((as) => as.map((a) => a.href));
    await page.locator("#results li").nth(0).locator("button.copy").click();
    await page.waitForFunction(() => /Copié/.test(document.querySelector("#results li button.copy").textContent));
    eq(await page.evaluate(() => navigator.clipboard.readText()), links[0], "the card's Copy link");
    check(await page.locator("#copy-all").isVisible(), "no Copy all links button");
    await page.click("#copy-all");
    eq(await page.evaluate(() => navigator.clipboard.readText()), links.join("\n"), "Copy all links");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

test("pages (issue 17): files dropped anywhere on the upload page are uploaded", async () => {
  const page = await newPage();
  try {
    await page.goto(`${base}/`);
    // a drop on the heading, far from the drop box
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["dropped on the page\n"], "page-drop.txt", { type: "text/plain" }));
      const h1 = document.querySelector("main h1");
      h1.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
      h1.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.waitForFunction(() => document.querySelectorAll("#results li.done").length === 1);
    eq(await page.locator("#results li").count(), 1, "one row for one dropped file");
    const href = await page.locator("#results li .up-done > a").getAttribute("href");
    const { bytes } = await served(href);
    eq(bytes.toString(), "dropped on the page\n", "the dropped file's bytes");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

test("pages (issue 17): the file page's countdown is a progress bar with its reason; Download says it started", async () => {
  const d = await pagesData();
  // a free account waits (25 s by default): the countdown
  const ctx = await pagesContext({ viewport: { width: 390, height: 844 }, extraHTTPHeaders: { "Accept-Language": "fr" } });
  try {
    await ctx.addCookies(d.cookies);
    const page = await accountPage(ctx);
    await page.goto(`${base}/${d.file.id}`);
    await page.waitForFunction(() => document.getElementById("countdown-bar").max > 1);
    check(await page.locator("#countdown").isVisible(), "no countdown");
    check(await page.locator("a#download").isHidden(), "the button shows before the wait");
    const max = await page.locator("#countdown-bar").evaluate((b) => b.max);
    check(max >= 20 && max <= 25, `the bar's length is the wait: ${max}`);
    check(/Votre téléchargement est prêt dans \d+ secondes/.test(await page.locator("#countdown-text").textContent()),
      "the countdown's sentence");
    check(/comptes gratuits attendent/.test(await page.locator("#wait-reason").textContent()), "the reason");
    check(await page.locator('#wait-reason a[href="/login"]').isVisible(), "the premium offer");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
  // anonymous visitors do not wait here: Download, then the note
  const page = await newPage();
  try {
    await page.goto(`${base}/${d.file.id}`);
    check(await page.locator("#countdown").isHidden(), "a countdown without a wait");
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("a#download")]);
    await dl.cancel();
    check(await page.locator("#download-started").isVisible(), "no note once the download started");
    check(/download has started/.test(await page.locator("#download-started").textContent()), "the note's text");
  } finally {
    await page.close();
  }
});

test("pages (issue 17): after Pause the bar and the text give the same percentage; a row shows its ETA", async () => {
  const page = await newPage();
  try {
    // slow PATCHes: the upload is in the middle when paused
    await page.route("**/api/v1/uploads/*", async (route) => {
      if (route.request().method() === "PATCH") await sleep(150);
      await route.continue();
    });
    await page.goto(`${base}/?chunk=65536`);
    await page.setInputFiles("#file", [{ name: "slow.bin", mimeType: "application/octet-stream", buffer: pattern(1_500_000, 5) }]);
    await page.waitForFunction(() => /left/.test(document.querySelector("#results li .up-pct").textContent), null, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector("#results li progress").value >= 20);
    await page.click("#results li button.up-pause");
    const got = await page.evaluate(() => ({
      bar: document.querySelector("#results li progress").value,
      status: document.querySelector("#results li .up-status").textContent,
    }));
    const m = /paused at (\d+) %/.exec(got.status);
    check(m, `status after Pause: ${JSON.stringify(got)}`);
    eq(got.bar, Number(m[1]), "the bar after Pause (the text says " + m[1] + " %)");
    await page.click("#results li button.up-pause"); // Resume
    await page.waitForFunction(() => document.querySelectorAll("#results li.done").length === 1, null, { timeout: 30_000 });
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

// ---- web3 (issue 17)
// QR codes of the links (upload cards, the file page), file-type icons
// (file and folder pages, /files, upload cards) and thumbnails on /files,
// folder upload (the picker, and folders dropped on the page), the file
// manager's selection (select all, move, delete; drag and drop onto a
// folder; search by name), and the keyboard-only flows: upload with the
// picker, download from the file page, select/move/delete on /files, with
// a visible focus on every control reached.  WEB3_PAGES adds the pages
// and states of these to the sweep above (both languages, themes, widths).
const WEB3_PAGES = (d) => [
  { name: "files-folder", url: `/files?folder=${d.folder.id}`, auth: true },
  { name: "image-file", url: `/${d.web3Image.id}` },
];
let web3Setup = null;
async function web3Data() {
  if (web3Setup) return web3Setup;
  const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082", "hex");
  web3Setup = { image: await putFile("pixel.png", png) };
  return web3Setup;
}

// Presses Tab (Shift+Tab when back) until pred(activeElement) holds; every
// element focused on the way must show a visible focus ring (an outline of
// 2 px or more, or a box-shadow).  Returns what was focused, as strings.
async function tabTo(page, pred, { back = false, max = 80 } = {}) {
  const seen = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    const st = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const cs = getComputedStyle(e);
      const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) || cs.boxShadow !== "none";
      return { what: `${e.tagName.toLowerCase()}#${e.id}.${e.className}[${e.getAttribute("aria-label") || e.textContent.trim().slice(0, 30)}]`, ring };
    });
    if (!st) continue;
    seen.push(st.what);
    check(st.ring, `no visible focus on ${st.what}`);
    if (await page.evaluate(pred)) return seen;
  }
  throw new Fail(`not reached with ${back ? "Shift+Tab" : "Tab"} after ${max} presses: ${seen.slice(-6).join(" > ")}`);
}

test("web3 (issue 17): an upload card has the type icon and the link's QR code", async () => {
  const page = await newPage();
  try {
    const [link] = await uploadViaPage(page, [{ name: "qr-card.txt", mimeType: "text/plain", buffer: Buffer.from("qr\n") }]);
    const li = page.locator("#results li").last();
    eq(await li.locator(".up-name svg.icon use").getAttribute("href"), "#i-text", "the card's icon");
    eq(await li.locator(".up-name svg.icon").getAttribute("aria-label"), "Text", "the icon's text");
    const id = ID_URL().exec(link.href)[1];
    const img = li.locator(".up-qr img");
    check(await img.isHidden(), "the QR code is folded away until asked for");
    await li.locator(".up-qr summary").click();
    await img.waitFor();
    eq(await img.getAttribute("src"), `/qr/${id}`, "the QR's source");
    check(/qr-card\.txt/.test(await img.getAttribute("alt")), "the QR's text alternative names the file");
    await page.waitForFunction(() => document.querySelector("#results li:last-child .up-qr img").naturalWidth > 0);
    // the page's QR is the server's for this link
    const r = await fetch(`${base}/qr/${id}`);
    eq(r.headers.get("content-type"), "image/svg+xml", "the QR's type");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

// ---- faststart (issue 16)
// An MP4 with its index (moov) at the end gets a fast-start copy in the
// background; the file page's player streams that copy (the stream's ETag
// is the copy's, not the original's) and plays: currentTime advances.
test("faststart: the moov-at-end MP4 plays on the file page from its fast-start copy", async () => {
  const dir = fs.mkdtempSync(path.join(tmpRoot, "faststart-"));
  const mp4 = path.join(dir, "end.mp4");
  const ff = spawnSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=330", "-t", "8",
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", mp4]);
  check(ff.status === 0, `ffmpeg: ${ff.stderr}`);
  const body = fs.readFileSync(mp4);
  check(body.indexOf("moov") > body.indexOf("mdat"), "ffmpeg wrote the moov first");
  const original = createHash("sha256").update(body).digest("hex");
  const f = await putFile("end.mp4", body);
  let o = await fileObject(f.id);
  for (let i = 0; i < 300 && (o.media.probe === "pending" || (o.stream && o.stream.fast_start === "pending")); i++) {
    await sleep(100);
    o = await fileObject(f.id);
  }
  eq(o.media.probe, "done", "probe");
  eq(o.stream && o.stream.fast_start, "done", "fast-start copy");
  const page = await newPage();
  const etags = [];
  page.on("response", (r) => {
    if (new URL(r.url()).pathname === `/stream/${f.id}`) etags.push(r.headers().etag);
  });
  try {
    eq((await page.goto(`${base}/${f.id}`)).status(), 200, "file page status");
    await page.locator("video#player").waitFor();
    await page.evaluate(() => {
      const v = document.getElementById("player");
      v.muted = true;
      return v.play();
    });
    await page.waitForFunction(() => document.getElementById("player").currentTime > 1, null, { timeout: 20_000 });
    check(etags.length > 0, "the player fetched no stream");
    check(etags.every((e) => e && e !== `"${original}"`), `stream ETags ${JSON.stringify(etags)}: the original's`);
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

// ---- thumbs (issue 16)
// The file page of a video shows its poster (the thumbnail made by the
// media queue), an image's page the image, both decoded by Chromium
// (naturalWidth > 0); a text file's page shows its first bytes as text:
// a <script> in it is not run and reads as written.
async function thumbnailed(id) {
  let o = await fileObject(id);
  for (let i = 0; i < 300 && (o.media.probe === "pending" || o.media.thumbnail === "pending"); i++) {
    await sleep(100);
    o = await fileObject(id);
  }
  eq(o.media.thumbnail, "done", `thumbnail of ${id}`);
  eq(o.thumbnail_url, `${base}/thumb/${id}`, "thumbnail_url");
  return o;
}

test("thumbs: the poster, the image and an escaped text preview on the file pages", async () => {
  const dir = fs.mkdtempSync(path.join(tmpRoot, "thumbs-"));
  const mp4 = path.join(dir, "poster.mp4"), png = path.join(dir, "pic.png");
  let ff = spawnSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "testsrc=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", mp4]);
  check(ff.status === 0, `ffmpeg: ${ff.stderr}`);
  ff = spawnSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "testsrc=size=200x100", "-frames:v", "1", png]);
  check(ff.status === 0, `ffmpeg: ${ff.stderr}`);
  const v = await putFile("poster.mp4", fs.readFileSync(mp4));
  const i = await putFile("pic.png", fs.readFileSync(png));
  await thumbnailed(v.id);
  await thumbnailed(i.id);
  const t = await putFile("evil.txt", Buffer.from("<script>window.pwned = 1</script>\nsecond <b>line</b>\n"));
  const page = await newPage();
  try {
    eq((await page.goto(`${base}/${v.id}`)).status(), 200, "video page status");
    eq(await page.locator("video#player").getAttribute("poster"), `/thumb/${v.id}`, "poster");
    const poster = await page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    }, `/thumb/${v.id}`);
    eq(JSON.stringify(poster), "[320,240]", "the poster's size");
    eq((await page.goto(`${base}/${i.id}`)).status(), 200, "image page status");
    await page.waitForFunction(() => {
      const img = document.getElementById("thumb");
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 10_000 });
    eq(await page.evaluate(() => document.getElementById("thumb").naturalWidth), 200, "image naturalWidth");
    eq((await page.goto(`${base}/${t.id}`)).status(), 200, "text page status");
    const pre = await page.locator("#text-preview").textContent();
    check(pre.startsWith("<script>window.pwned = 1</script>\nsecond <b>line</b>"), `preview text: ${pre}`);
    eq(await page.evaluate(() => window.pwned === undefined), true, "the preview's script ran");
    eq(await page.locator("#text-preview b").count(), 0, "markup in the preview");
    fs.mkdirSync(shotsDir, { recursive: true });
    await page.goto(`${base}/${v.id}`);
    await page.screenshot({ path: path.join(shotsDir, "thumbs-poster.png"), fullPage: true });
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

test("web3 (issue 17): the file page shows its QR code and type icon; the sprite draws in both themes", async () => {
  const w = await web3Data();
  for (const scheme of ["light", "dark"]) {
    const ctx = await pagesContext({ viewport: { width: 390, height: 844 }, colorScheme: scheme });
    try {
      const page = await accountPage(ctx);
      await page.goto(`${base}/${w.image.id}`);
      const icon = page.locator(".title-row svg.icon");
      eq(await icon.getAttribute("aria-label"), "Image", "the icon's text alternative");
      eq(await icon.locator("use").getAttribute("href"), "#i-image", "the image icon");
      const box = await icon.boundingBox();
      check(box && box.width >= 30 && box.height >= 30, `the icon is drawn: ${JSON.stringify(box)}`);
      // its colour is the theme's accent, not the background
      const [fg, bg] = await page.evaluate(() => [getComputedStyle(document.querySelector(".title-row svg.icon")).color,
        getComputedStyle(document.body).backgroundColor]);
      check(fg !== bg, `the icon's colour ${fg} is the background's`);
      await page.waitForFunction(() => document.querySelector("#qr img").naturalWidth > 0);
      eq(await page.locator("#qr img").getAttribute("src"), `/qr/${w.image.id}`, "the QR on the file page");
      check(page.errors.length === 0, page.errors.join("; "));
    } finally {
      await ctx.close();
    }
  }
});

test("web3 (issue 17): /files shows type icons, and the thumbnail when the file JSON has one", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    const u = await apiUser(ctx);
    const a = await apiUpload(ctx, u, "plain.txt", "plain\n");
    const b = await apiUpload(ctx, u, "with-thumb.txt", "thumb\n");
    // the thumbs helper adds thumbnail_url to the file JSON: here the
    // list carries one (a real image of this server: b's QR code)
    await page.route((url) => url.pathname === "/api/v1/me/files", async (route) => {
      const resp = await route.fetch();
      const j = await resp.json();
      for (const f of j.files) if (f.id === b.id) f.thumbnail_url = `/qr/${b.id}`;
      await route.fulfill({ response: resp, json: j });
    });
    await page.goto(`${base}/files`);
    await row(page, a.id).waitFor();
    eq(await row(page, a.id).locator("td.name svg.icon use").getAttribute("href"), "#i-text", "a's icon");
    eq(await row(page, a.id).locator("td.name img.thumb").count(), 0, "no thumbnail without thumbnail_url");
    const th = row(page, b.id).locator("td.name img.thumb");
    eq(await th.getAttribute("src"), `/qr/${b.id}`, "b's thumbnail");
    eq(await row(page, b.id).locator("td.name svg.icon").count(), 0, "the thumbnail replaces the icon");
    await page.waitForFunction((id) => document.querySelector(`#rows tr[data-id="${id}"] img.thumb`).naturalWidth > 0, b.id);
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

// A folder tree on disk for the folder picker: album/{a.txt,b.txt,sub/c.txt}.
function albumDir() {
  const top = fs.mkdtempSync(path.join(tmpRoot, "pick-"));
  const dir = path.join(top, "album");
  fs.mkdirSync(path.join(dir, "sub"), { recursive: true });
  fs.writeFileSync(path.join(dir, "a.txt"), "file a\n");
  fs.writeFileSync(path.join(dir, "b.txt"), "file b, longer\n");
  fs.writeFileSync(path.join(dir, "sub", "c.txt"), "file c in sub\n");
  return dir;
}

// The account's folder tree below the folder named name: {path: [file names]}.
async function treeOf(ctx, name) {
  const folders = (await (await ctx.request.get(`${base}/api/v1/folders`)).json()).folders;
  const top = folders.find((f) => f.name === name && !f.parent);
  check(top, `no top folder ${name}: ${JSON.stringify(folders.map((f) => f.name))}`);
  const out = {};
  const walk = async (f, p) => {
    const files = (await (await ctx.request.get(`${base}/api/v1/me/files?folder=${f.id}`)).json()).files;
    out[p] = files.map((x) => x.name).sort();
    for (const s of folders.filter((x) => x.parent === f.id)) await walk(s, `${p}/${s.name}`);
  };
  await walk(top, name);
  return { top, tree: out };
}

test("web3 (issue 17): a folder chosen with the folder picker becomes a folder tree with one link", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    await apiUser(ctx);
    await page.goto(`${base}/`);
    await page.locator("#folder-pick").waitFor();
    await page.setInputFiles("#folder-input", albumDir());
    await page.locator("#folder-result a").waitFor({ timeout: 30_000 });
    const { top, tree } = await treeOf(ctx, "album");
    eq(JSON.stringify(tree), JSON.stringify({ album: ["a.txt", "b.txt"], "album/sub": ["c.txt"] }), "the tree");
    eq(await page.locator("#folder-result a").getAttribute("href"), top.url, "the folder's link");
    check(/Done: 3 files/.test(await page.locator("li.folder-up .up-status").textContent()), "the folder row's count");
    // the link works for anyone
    const r = await fetch(top.url, { headers: { Accept: "text/html" } });
    eq(r.status, 200, "the folder's page");
    const html = await r.text();
    check(html.includes("a.txt") && html.includes("sub/"), "the folder's page lists its content");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

// Drops a directory on the page as Chromium hands one over: a DataTransfer
// whose item's webkitGetAsEntry() is a directory entry (reader in batches).
// A drop from the desktop cannot be made by a test, so the entries are
// built here with the File System API's shape, around real File objects.
async function dropFolder(page, target) {
  await page.evaluate((sel) => {
    const file = (name, text) => ({ isFile: true, isDirectory: false, name,
      file: (ok) => setTimeout(() => ok(new File([text], name, { type: "text/plain" })), 0) });
    // callbacks come later, as the browser's do
    const dir = (name, kids) => ({ isFile: false, isDirectory: true, name,
      createReader: () => {
        let i = 0;
        return { readEntries: (ok) => { const batch = kids.slice(i, i + 2); i += 2; setTimeout(() => ok(batch), 0); } };
      } });
    const tree = dir("dropped", [file("x.txt", "x\n"), file("y.txt", "y y\n"),
      dir("deep", [file("z.txt", "zzz\n")])]);
    const dt = { files: [], items: [{ kind: "file", webkitGetAsEntry: () => tree, getAsFile: () => null }], types: ["Files"] };
    const ev = new Event("drop", { bubbles: true, cancelable: true });
    Object.defineProperty(ev, "dataTransfer", { value: dt });
    document.querySelector(sel).dispatchEvent(ev);
  }, target);
}

test("web3 (issue 17): a folder dropped on the page: a tree for an account, a link a file for a visitor", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    await apiUser(ctx);
    await page.goto(`${base}/`);
    await page.locator("#folder-pick").waitFor();
    await dropFolder(page, "main h2");
    await page.locator("#folder-result a").waitFor({ timeout: 30_000 });
    const { tree } = await treeOf(ctx, "dropped");
    eq(JSON.stringify(tree), JSON.stringify({ dropped: ["x.txt", "y.txt"], "dropped/deep": ["z.txt"] }), "the dropped tree");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
  const page = await newPage();
  try {
    await page.goto(`${base}/`);
    await dropFolder(page, "main h1");
    await page.waitForFunction(() => document.querySelectorAll("#results li.upload.done").length === 3);
    check(/Done: 3 files/.test(await page.locator("li.folder-up .up-status").textContent()), "the count");
    check(/need an account/.test(await page.locator("li.folder-up").textContent()), "the visitor is told why");
    eq(await page.locator("#folder-result").count(), 0, "no folder link without an account");
    const names = await page.locator("#results li.done .up-done > a").allTextContents();
    const want = ["dropped - x.txt", "dropped - y.txt", "dropped - deep - z.txt"];
    for (const n of want) check(names.some((t) => t.startsWith(`${n} — `)), `no link for ${n}: ${names}`);
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await page.close();
  }
});

test("web3 (issue 17): /files selects several, moves them (dialog, drag and drop), deletes them, searches", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    const u = await apiUser(ctx);
    const f = [];
    for (const n of ["écureuil.txt", "beta.txt", "gamma.txt", "delta.txt"]) f.push(await apiUpload(ctx, u, n, `${n}\n`));
    let r = await ctx.request.post(`${base}/api/v1/folders`, { headers: { "X-CSRF-Token": u.csrf }, data: { name: "Box" } });
    const box = await r.json();
    r = await ctx.request.post(`${base}/api/v1/folders`, { headers: { "X-CSRF-Token": u.csrf }, data: { name: "Crate" } });
    const crate = await r.json();
    const folderOf = async (id) => (await (await ctx.request.get(`${base}/api/v1/files/${id}`)).json()).folder;
    await page.goto(`${base}/files`);
    await row(page, f[3].id).waitFor();
    check(await page.locator("#bulk-move").isDisabled(), "Move selected without a selection");
    // search: server-side there is no filter; the rows loaded are filtered,
    // without case or accents
    await page.fill("#search", "ECUREUIL");
    await page.waitForFunction(() => [...document.querySelectorAll("#rows tr")].filter((t) => !t.hidden).length === 1);
    check(await row(page, f[0].id).isVisible(), "the accented name matches");
    await page.fill("#search", "nothing-like-it");
    await page.locator("#no-match").waitFor();
    await page.fill("#search", "");
    // select all, then one off: 5 of 6 rows
    await page.check("#select-all");
    eq((await page.locator("#sel-count").textContent()).trim(), "6 selected", "select all");
    await row(page, f[3].id).locator("td.sel input").uncheck();
    await row(page, box.id).locator("td.sel input").uncheck();
    await row(page, crate.id).locator("td.sel input").uncheck();
    eq((await page.locator("#sel-count").textContent()).trim(), "3 selected", "three files");
    check(await page.evaluate(() => document.getElementById("select-all").indeterminate), "select all shows a part");
    // move the three into Box with the dialog
    await page.click("#bulk-move");
    await page.selectOption("#dialog-select", { label: "Box" });
    await page.click("#dialog-ok");
    await row(page, f[0].id).waitFor({ state: "detached" });
    for (const x of f.slice(0, 3)) eq(await folderOf(x.id), box.id, `${x.name} in Box`);
    await page.locator("#status", { hasText: "Moved 3 items to Box." }).waitFor();
    // drag and drop: delta onto Crate's row, then Crate onto Box's row
    await page.dragAndDrop(`#rows tr[data-id="${f[3].id}"] td.name`, `#rows tr[data-id="${crate.id}"] td.name`);
    await row(page, f[3].id).waitFor({ state: "detached" });
    eq(await folderOf(f[3].id), crate.id, "delta dropped into Crate");
    await page.dragAndDrop(`#rows tr[data-id="${crate.id}"] td.name`, `#rows tr[data-id="${box.id}"] td.name`);
    await row(page, crate.id).waitFor({ state: "detached" });
    const folders = (await (await ctx.request.get(`${base}/api/v1/folders`)).json()).folders;
    eq(folders.find((x) => x.id === crate.id).parent, box.id, "Crate dropped into Box");
    // in Box: drag beta onto the breadcrumb "My files" (back to the top)
    await page.goto(`${base}/files?folder=${box.id}`);
    await row(page, f[1].id).waitFor();
    await page.dragAndDrop(`#rows tr[data-id="${f[1].id}"] td.name`, '#crumbs a[data-folder=""]');
    await row(page, f[1].id).waitFor({ state: "detached" });
    eq(await folderOf(f[1].id), null, "beta back at the top");
    // delete the selection: gamma and Crate (with delta in it)
    const msgs = [];
    const accept = (dg) => { msgs.push(dg.message()); dg.accept(); };
    page.on("dialog", accept);
    await row(page, f[2].id).locator("td.sel input").check();
    await row(page, crate.id).locator("td.sel input").check();
    await page.click("#bulk-delete");
    await row(page, crate.id).waitFor({ state: "detached" });
    page.off("dialog", accept);
    check(/Delete 2 items/.test(msgs[0]) && /folders are deleted with every/.test(msgs[0]), `the confirm: ${msgs}`);
    for (const x of [f[2], f[3]]) eq((await fetch(x.url, { headers: { Accept: "application/json" } })).status, 410, `${x.name} deleted`);
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

// The file chooser a key opens.  Listening turns the browser's chooser
// interception on, but without waiting for it: a round trip through the
// page after it makes sure it is on before the key (on a loaded machine
// the chooser came first and was never seen).
async function chooserAfterKey(page, key) {
  const got = page.waitForEvent("filechooser");
  await page.evaluate(() => 0);
  await page.keyboard.press(key);
  return got;
}

test("web3 (issue 17): keyboard only: upload with the picker, download from the file page, select/move/delete on /files", async () => {
  const ctx = await freshContext();
  try {
    const page = await accountPage(ctx);
    const u = await apiUser(ctx);
    // upload: Tab to the picker, Enter opens it
    await page.goto(`${base}/`);
    await page.locator("#folder-pick").waitFor(); // the scripts have run
    await tabTo(page, () => document.activeElement.id === "file");
    const chooser = await chooserAfterKey(page, "Enter");
    await chooser.setFiles([{ name: "keys.txt", mimeType: "text/plain", buffer: Buffer.from("typed, not clicked\n") }]);
    await page.waitForFunction(() => document.querySelectorAll("#results li.done").length === 1, null, { timeout: 30_000 });
    // the folder picker: Space opens it
    await tabTo(page, () => document.activeElement.id === "folder-input");
    const chooser2 = await chooserAfterKey(page, "Space");
    check(chooser2.isMultiple(), "the folder picker takes many files");
    await chooser2.setFiles(albumDir());
    await page.locator("#folder-result a").waitFor({ timeout: 30_000 });
    // the card's link and its QR code, by keyboard
    await tabTo(page, () => document.activeElement.matches("#results li.done .up-qr summary"));
    await page.keyboard.press("Enter");
    await page.locator("#results li.done .up-qr img").first().waitFor();
    const href = await page.locator("#results li.done .up-done > a").first().getAttribute("href");
    const id = ID_URL().exec(href)[1];
    // download from the file page: Tab to Download, Enter (a visitor:
    // no wait before the button)
    const anon = await newPage();
    try {
      await anon.goto(href);
      await tabTo(anon, () => document.activeElement.id === "download");
      const [dl] = await Promise.all([anon.waitForEvent("download"), anon.keyboard.press("Enter")]);
      eq(fs.readFileSync(await dl.path(), "utf8"), "typed, not clicked\n", "the downloaded bytes");
      await anon.locator("#download-started").waitFor();
      check(anon.errors.length === 0, anon.errors.join("; "));
    } finally {
      await anon.close();
    }
    // /files: select keys.txt with Space, Move selected… into album, then
    // select another and delete it
    const other = await apiUpload(ctx, u, "other.txt", "other\n");
    await page.goto(`${base}/files`);
    await row(page, id).waitFor();
    await tabTo(page, (i) => document.activeElement.getAttribute("aria-label") === "Select keys.txt");
    await page.keyboard.press("Space");
    await tabTo(page, () => document.activeElement.id === "bulk-move", { back: true });
    await page.keyboard.press("Enter");
    await page.locator("#dialog[open]").waitFor();
    check(await page.evaluate(() => document.activeElement.id === "dialog-select"), "the dialog's list has the focus");
    for (let i = 0; i < 5 && (await page.locator("#dialog-select").evaluate((s) => s.selectedOptions[0].text)) !== "album"; i++)
      await page.keyboard.press("ArrowDown");
    eq(await page.locator("#dialog-select").evaluate((s) => s.selectedOptions[0].text), "album", "album chosen by arrows");
    await tabTo(page, () => document.activeElement.id === "dialog-ok");
    await page.keyboard.press("Enter");
    await row(page, id).waitFor({ state: "detached" });
    const folders = (await (await ctx.request.get(`${base}/api/v1/folders`)).json()).folders;
    eq((await (await ctx.request.get(`${base}/api/v1/files/${id}`)).json()).folder,
      folders.find((x) => x.name === "album").id, "keys.txt moved into album");
    page.once("dialog", (dg) => dg.accept());
    await tabTo(page, () => document.activeElement.getAttribute("aria-label") === "Select other.txt");
    await page.keyboard.press("Space");
    await tabTo(page, () => document.activeElement.id === "bulk-delete", { back: true });
    await page.keyboard.press("Enter");
    await row(page, other.id).waitFor({ state: "detached" });
    eq((await fetch(other.url, { headers: { Accept: "application/json" } })).status, 410, "other.txt deleted");
    check(page.errors.length === 0, page.errors.join("; "));
  } finally {
    await ctx.close();
  }
});

// The upload page's new states (a finished card with its QR code open, a
// folder's row with its link) in both languages, themes and widths: no
// sideways scrolling, zero axe-core violations, no English left in French.
for (const lang of ["en", "fr"])
  for (const width of [390, 1366])
    for (const scheme of ["light", "dark"])
      test(`web3 (issue 17): upload cards with a QR code and a folder's row: ${lang} at ${width} px, ${scheme}`, async () => {
        fs.mkdirSync(path.join(shotsDir, "pages"), { recursive: true });
        const ctx = await pagesContext({
          viewport: { width, height: width < 500 ? 844 : 900 }, colorScheme: scheme, bypassCSP: true,
          extraHTTPHeaders: { "Accept-Language": lang === "fr" ? "fr-FR,fr;q=0.9" : "en-GB,en;q=0.8" } });
        const what = `${lang} ${width} ${scheme}`;
        try {
          const page = await accountPage(ctx);
          await apiUser(ctx);
          await page.goto(`${base}/`);
          await page.locator("#folder-pick").waitFor();
          await page.setInputFiles("#file", [{ name: `carte_${"x".repeat(60)}.pdf`, mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n") }]);
          await page.setInputFiles("#folder-input", albumDir());
          await page.locator("#folder-result a").waitFor({ timeout: 30_000 });
          await page.waitForFunction(() => document.querySelectorAll("#results li.done").length === 4, null, { timeout: 30_000 });
          for (const s of await page.locator("#results li.done .up-qr summary").all()) await s.click();
          await page.waitForFunction(() => [...document.querySelectorAll(".up-qr img")].every((i) => i.naturalWidth > 0));
          const w = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
          check(w[0] <= w[1], `${what}: the page is ${w[0]} px wide in a ${w[1]} px window`);
          if (lang === "fr") {
            const left = await englishLeft(page);
            check(left.length === 0, `${what}: English left: ${JSON.stringify(left.slice(0, 8))}`);
          }
          if (width === 390 && scheme === "light")
            await page.screenshot({ path: path.join(shotsDir, "pages", `upload-done-${lang}-${scheme}-${width}.png`), fullPage: true });
          const axe = await axeViolations(page);
          check(axe.length === 0, `${what}: axe-core: ${JSON.stringify(axe.slice(0, 6))}`);
          check(page.errors.length === 0, page.errors.join("; "));
        } finally {
          await ctx.close();
        }
      });

// -------------------------------------------------------------------- main
async function main() {
  let passed = 0;
  let failed = 0;
  const guard = setTimeout(async () => {
    console.log(`browser: FAIL run timed out after ${RUN_TIMEOUT_MS / 1000}s`);
    console.log(`browser: ${passed} passed, ${failed + 1} failed`);
    await stopAll();
    process.exit(1);
  }, RUN_TIMEOUT_MS);

  try {
    check(fs.existsSync(partaged), `${partaged} not found (run make)`);
    await startServer();
    await launch();
  } catch (e) {
    console.log(`browser: FAIL setup: ${e.message.split("\n")[0]}`);
    failed++;
  }
  if (failed === 0) {
    for (const t of tests) {
      if (filter && !t.name.includes(filter)) continue;
      const t0 = Date.now();
      try {
        await withTimeout(t.fn(), TEST_TIMEOUT_MS, "test");
        passed++;
        console.log(`browser: ok   ${t.name} ${((Date.now() - t0) / 1000).toFixed(2)}s`);
      } catch (e) {
        failed++;
        const why = e instanceof Fail ? e.message : (e.stack || String(e)).split("\n").slice(0, 2).join(" ");
        console.log(`browser: FAIL ${t.name}: ${why.replace(/\s+/g, " ")}`);
      }
      if (server.exitCode !== null || server.signalCode !== null) {
        failed++;
        console.log(`browser: FAIL partaged died (${server.exitCode ?? server.signalCode}): ${tail(serverLog)}`);
        break;
      }
    }
  }
  if (failed) console.log(`browser: server log: ${tail(serverLog, 10)}`);
  clearTimeout(guard);
  await stopAll();
  if (shutdownError) {
    failed++;
    console.log(`browser: FAIL partaged shutdown: ${shutdownError}`);
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch(async (e) => {
  console.log(`browser: FAIL runner: ${e.stack || e}`);
  await stopAll();
  console.log("browser: 0 passed, 1 failed");
  process.exit(1);
});
