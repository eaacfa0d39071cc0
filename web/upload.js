// upload.js — the upload page.  Every chosen or dropped file is its own tus
// 1.0 upload: POST /api/v1/uploads (Upload-Length, Upload-Metadata filename
// and filetype), then PATCHes of at most CHUNK bytes, so a lost connection
// costs at most one chunk.  Two files upload at a time; each has a row with
// its name, size, a progress bar with percent and speed, then the link and
// the delete token, or the server's one-line reason when it refuses.
//
// Resume: a network error or a 5xx/409/423/429 is retried with backoff,
// each time from the offset a HEAD reports.  Unfinished uploads are kept in
// localStorage under a fingerprint of the file (name, size, lastModified,
// server) with their upload URL and delete token, so picking the same file
// after a reload continues where it stopped; the entry goes when the upload
// completes or the server no longer knows it (404/410).  Pause aborts the
// chunk in flight and Resume continues from the server's offset; Cancel
// terminates the upload (DELETE).
//
// A logged-in browser (cookie session: GET /api/v1/me gives a "csrf") sends
// X-CSRF-Token on the tus requests so the files belong to the account.
// Without JavaScript the form posts multipart to /api/v1/files instead.
//
// Folders (issue 17): the folder picker (input webkitdirectory) and folders
// dropped anywhere on the page (DataTransfer items' webkitGetAsEntry, read
// recursively) upload a whole tree.  Logged in, the tree is rebuilt with
// the folders API (POST /api/v1/folders, shared, a sub-folder per
// directory) and each file's tus upload names its folder in its metadata;
// a row for the folder counts its files and ends with the folder's link.
// Anonymous (folders belong to accounts), each file gets its own link and
// its relative path in its name ("a - b - c.txt": file names are one path
// segment).  At most FOLDER_MAX files per folder.
// Each row shows the file-type icon (nav.js), and a finished one its QR
// code (GET /qr/ID, opened on demand).
// ?chunk=BYTES on the page URL sets the PATCH size (the tests use small ones).
"use strict";
(function () {
  var ENDPOINT = "/api/v1/uploads";
  var CHUNK = 8 << 20;
  var PARALLEL = 2;
  var BACKOFF = [1000, 3000, 5000, 10000, 20000, 30000];
  var STORE = "partage.upload:";
  var FOLDER_MAX = 1000;

  var form = document.getElementById("upload");
  var input = document.getElementById("file");
  var drop = document.getElementById("drop");
  var results = document.getElementById("results");
  var who = document.getElementById("who");
  // a file request's page (/r/ID): uploads go to the request, and what
  // comes back names the file received, not a link
  var fileRequest = document.getElementById("file-request");
  var REQUEST = fileRequest ? fileRequest.getAttribute("data-request") : "";

  var q = parseInt(new URLSearchParams(location.search).get("chunk"), 10);
  if (q >= 1024) CHUNK = q;

  var csrf = null;      // the session's CSRF token, when logged in by cookie
  var queue = [];       // items waiting for a slot
  var items = [];       // every item of this page
  var active = 0;       // items running
  var ready = probe();  // uploads start once we know who we are

  // ---------------------------------------------------------------- session

  // nav.js knows whether there may be a session (its hint cookie) and asks
  // GET /api/v1/me only then; force (after a 403 naming the CSRF token)
  // asks in any case.
  function probe(force) {
    var ask = window.partage && !force ? window.partage.ready :
      fetch("/api/v1/me", { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; });
    return ask
      .then(function (me) {
        csrf = (me && me.csrf) || null;
        if (who && me && me.name) {
          who.textContent = _("Logged in as %s: your uploads go to your account.", me.name);
          who.hidden = false;
        }
      })
      .catch(function () { csrf = null; });
  }

  // ----------------------------------------------------------------- helpers

  // sizes as every page writes them ("4.2 MB", "4,2 Mo"; nav.js)
  function human(n) {
    if (window.partage) return window.partage.size(n);
    var u = ["B", "kB", "MB", "GB", "TB"], i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }

  function pct(item) {
    return item.size ? Math.floor(100 * item.offset / item.size) : 100;
  }

  function b64(s) {
    var bytes = new TextEncoder().encode(s), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // The server's one-line reason: {"error"} with Accept: application/json,
  // else the first line of the text.
  function reason(r) {
    if (!r.status) return _("network error: the server could not be reached");
    var t = r.text || "";
    try { var o = JSON.parse(t); if (o && o.error) return o.error; } catch (e) { /* text */ }
    t = t.split("\n")[0].trim();
    return t || _("the server answered %s", r.status);
  }

  function retryable(status) {
    return status === 0 || status === 409 || status === 423 || status === 429 ||
      status === 500 || status === 502 || status === 503 || status === 504;
  }

  // ------------------------------------------------------------ localStorage

  function fingerprint(file, extra) {
    var k = [file.name, file.size, file.lastModified, location.origin + ENDPOINT];
    if (extra && (extra.name || extra.folder)) k.push(extra.name || "", extra.folder || "");
    return STORE + JSON.stringify(k);
  }

  function remember(item) {
    try {
      localStorage.setItem(item.key, JSON.stringify({ url: item.url, token: item.token, expires: item.expires }));
    } catch (e) { /* private mode or full: resume within the page still works */ }
  }

  function recall(key) {
    try {
      var v = JSON.parse(localStorage.getItem(key));
      return v && typeof v.url === "string" ? v : null;
    } catch (e) { return null; }
  }

  function forget(item) {
    try { localStorage.removeItem(item.key); } catch (e) { /* nothing kept */ }
  }

  // Entries of uploads past their Upload-Expires are of no use.
  (function prune() {
    try {
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var k = localStorage.key(i);
        if (k.indexOf(STORE) !== 0) continue;
        var v = recall(k);
        if (!v || (v.expires && v.expires < Date.now())) localStorage.removeItem(k);
      }
    } catch (e) { /* no storage */ }
  })();

  // ---------------------------------------------------------------- requests

  // One tus request; resolves with {status, text, header(name)}, status 0 for
  // a network error or an abort (item.xhr.abort() by pause and cancel).
  function send(item, method, url, headers, body) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      var start = item.offset;
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("Accept", "application/json");
      if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
      Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (body) xhr.upload.onprogress = function (e) { progress(item, start + e.loaded); };
      function done() {
        if (item.xhr === xhr) item.xhr = null;
        resolve({
          status: xhr.status,
          text: xhr.status ? xhr.responseText : "",
          header: function (n) { return xhr.status ? xhr.getResponseHeader(n) : null; },
        });
      }
      xhr.onload = xhr.onerror = xhr.onabort = xhr.ontimeout = done;
      item.xhr = xhr;
      xhr.send(body || null);
    });
  }

  // Waits ms, or less when the item is paused or cancelled meanwhile.
  function sleep(item, ms) {
    return new Promise(function (resolve) {
      var t = setTimeout(function () { item.wake = null; resolve(); }, ms);
      item.wake = function () { clearTimeout(t); item.wake = null; resolve(); };
    });
  }

  // The form's options when a file is chosen: Max-Days, Max-Downloads and
  // a link password, sent in the creation's metadata (the server keeps the
  // password's hash and never echoes it).
  function options() {
    var o = {};
    [["max_days", "max-days"], ["max_downloads", "max-downloads"],
     ["password", "link-password"]].forEach(function (kv) {
      var el = document.getElementById(kv[1]);
      if (el && el.value !== "") o[kv[0]] = el.value;
    });
    return o;
  }

  // POST: a new upload, remembered before any byte is sent.
  function create(item) {
    var meta = "filename " + b64(item.name);
    if (item.file.type) meta += ",filetype " + b64(item.file.type);
    Object.keys(item.opts).forEach(function (k) { meta += "," + k + " " + b64(item.opts[k]); });
    var h = { "Upload-Length": String(item.size), "Upload-Metadata": meta };
    if (REQUEST) {
      h["X-Partage-Request"] = REQUEST;
      var pw = document.getElementById("request-password");
      if (pw && pw.value) h["X-Partage-Request-Password"] = pw.value;
    }
    return send(item, "POST", ENDPOINT, h).then(function (r) {
      if (r.status !== 201) return r;
      var loc = r.header("Location") || "";
      // the uid under this page's origin, whatever public_url says
      item.url = ENDPOINT + "/" + loc.slice(loc.lastIndexOf("/") + 1);
      item.token = r.header("X-Delete-Token") || "";
      var exp = Date.parse(r.header("Upload-Expires") || "");
      item.expires = isNaN(exp) ? 0 : exp;
      item.offset = 0;
      if (r.header("X-Partage-Id")) item.offset = item.size; // empty file: done
      else remember(item);
      return null;
    });
  }

  // HEAD: where the server is.  404/410 start over (once): the stored upload
  // expired or was cancelled.
  function head(item) {
    return send(item, "HEAD", item.url, {}).then(function (r) {
      var len = parseInt(r.header("Upload-Length"), 10);
      if (r.status === 404 || r.status === 410 || (r.status === 200 && len !== item.size)) {
        // gone (expired, cancelled) or not this file's upload
        forget(item);
        if (item.restarts++ > 0) return { status: r.status, text: _("the server no longer has this upload (expired or cancelled)") };
        item.url = null;
        item.offset = 0;
        note(item, _("starting over: the server no longer had the earlier upload"));
        return null;
      }
      if (r.status !== 200) return r;
      var off = parseInt(r.header("Upload-Offset"), 10);
      if (isNaN(off) || off < 0 || off > item.size)
        return { status: 0, text: "", bad: _("the server reports an offset this file cannot have") };
      item.offset = off;
      item.needHead = false;
      item.speedT = 0; // a jump, not speed
      progress(item, off);
      if (item.resuming && !item.saidResume) note(item, "");
      return null;
    });
  }

  // PATCH: the next chunk from item.offset.
  function patch(item) {
    var end = Math.min(item.size, item.offset + CHUNK);
    return send(item, "PATCH", item.url, {
      "Upload-Offset": String(item.offset),
      "Content-Type": "application/offset+octet-stream",
    }, item.file.slice(item.offset, end)).then(function (r) {
      if (r.status !== 204) return r;
      var off = parseInt(r.header("Upload-Offset"), 10);
      if (isNaN(off) || off <= item.offset || off > item.size) {
        item.needHead = true;
        return { status: 0, text: "" };
      }
      item.offset = off;
      item.tries = 0; // progress: the backoff starts again
      progress(item, off);
      return null;
    });
  }

  // GET the upload URL: the file object of the completed upload.
  function finish(item) {
    return send(item, "GET", item.url, {}).then(function (r) {
      if (r.status !== 200) {
        if (r.status === 409) item.needHead = true;
        return r;
      }
      var f;
      try { f = JSON.parse(r.text); } catch (e) { f = null; }
      if (!f || !(f.url || (REQUEST && f.request))) return { status: 200, text: "", bad: _("the server's reply is not a file object") };
      forget(item);
      item.done = f;
      return null;
    });
  }

  // ------------------------------------------------------------------- queue

  function pump() {
    while (active < PARALLEL && queue.length) {
      var item = queue.shift();
      active++;
      run(item).then(function () { active--; pump(); });
    }
  }

  async function run(item) {
    var gen = ++item.gen;
    await ready;
    if (item.stop || gen !== item.gen) return;
    setState(item, "uploading");
    progress(item, item.offset);
    for (;;) {
      var r;
      if (!item.url) r = await create(item);
      else if (item.needHead) r = await head(item);
      else if (item.offset < item.size) r = await patch(item);
      else r = await finish(item);
      if (item.stop || gen !== item.gen) return; // paused or cancelled
      if (item.done) return complete(item);
      if (!r) continue;
      if (r.bad) {
        forget(item);
        return fail(item, r.bad);
      }
      if (r.status === 403 && !item.reprobed && /csrf/i.test(r.text)) {
        // logged in or out in another tab since this page loaded
        item.reprobed = true;
        await probe(true);
        continue;
      }
      if (!retryable(r.status)) {
        forget(item); // refused: choosing the file again starts afresh
        return fail(item, reason(r));
      }
      if (item.tries >= BACKOFF.length)
        return fail(item, reason(r) + " " + _n("(gave up after %d retry; choose the file again to resume)", "(gave up after %d retries; choose the file again to resume)", item.tries, item.tries));
      var wait = BACKOFF[item.tries++];
      note(item, reason(r) + "; " + _("retrying in %s s", wait / 1000));
      await sleep(item, wait);
      if (item.stop || gen !== item.gen) return;
      note(item, "");
      if (item.url) item.needHead = true;
    }
  }

  // ---------------------------------------------------------------- the rows

  function add(file, extra) {
    extra = extra || {};
    var key = fingerprint(file, extra);
    for (var i = 0; i < items.length; i++) {
      var o = items[i];
      if (o.key === key && !o.done && !o.failed && o.stop !== "cancelled") {
        if (o.stop === "paused") resume(o);
        o.row.focus();
        return;
      }
    }
    var item = {
      file: file, key: key, size: file.size, offset: 0, url: null, token: "", expires: 0,
      opts: options(), name: extra.name || file.name, group: extra.group || null,
      needHead: false, tries: 0, restarts: 0, gen: 0, stop: null, done: null, failed: false,
      xhr: null, wake: null, speedT: 0, speedB: 0,
    };
    if (extra.folder) item.opts.folder = extra.folder;
    var stored = recall(key);
    if (stored) {
      item.url = stored.url;
      item.token = stored.token || "";
      item.expires = stored.expires || 0;
      item.needHead = true;
      item.resuming = true;
    }
    build(item);
    items.push(item);
    queue.push(item);
    pump();
  }

  function build(item) {
    var row = el("li", "upload");
    row.tabIndex = -1;
    var id = "up-" + items.length;
    var headl = el("div", "up-head");
    var name = el("span", "up-name");
    if (window.partage && window.partage.icon) name.appendChild(window.partage.icon(item.file.type));
    name.appendChild(el("span", "", item.name));
    name.id = id + "-name";
    headl.appendChild(name);
    headl.appendChild(el("span", "up-size", human(item.size)));
    row.appendChild(headl);

    var line = el("div", "up-line");
    var bar = el("progress", "", "0 %");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-labelledby", id + "-name");
    line.appendChild(bar);
    var pc = el("span", "up-pct", _("waiting"));
    line.appendChild(pc);
    var pause = el("button", "up-pause");
    pause.type = "button";
    label(pause, _("Pause"), item);
    pause.addEventListener("click", function () {
      if (item.stop === "paused") resume(item); else halt(item);
    });
    var cancel = el("button", "up-cancel");
    cancel.type = "button";
    label(cancel, _("Cancel"), item);
    cancel.addEventListener("click", function () { abandon(item); });
    line.appendChild(pause);
    line.appendChild(cancel);
    row.appendChild(line);

    var status = el("div", "up-status");
    status.setAttribute("role", "status");
    row.appendChild(status);
    setState({ row: row }, "queued");
    results.appendChild(row);
    item.row = row; item.bar = bar; item.pct = pc; item.status = status;
    item.pause = pause; item.cancel = cancel;
    if (item.resuming) note(item, _("checking the earlier upload of this file…"));
  }

  // A button's text, and its accessible name with the file's.
  function label(button, text, item) {
    button.textContent = text;
    button.setAttribute("aria-label", _("%s %s", text, item.name));
  }

  function note(item, text) {
    item.status.textContent = text;
  }

  function setState(item, state) {
    item.row.setAttribute("data-state", state);
  }

  function progress(item, bytes) {
    var p = item.size ? Math.floor(100 * bytes / item.size) : 100;
    item.bar.value = p;
    item.bar.textContent = p + " %";
    var now = Date.now();
    if (!item.speedT) { item.speedT = now; item.speedB = bytes; }
    if (now - item.speedT >= 1000) {
      item.speed = (bytes - item.speedB) * 1000 / (now - item.speedT);
      item.speedT = now;
      item.speedB = bytes;
    }
    var text = p + " %";
    if (item.speed > 0) {
      text += " · " + human(Math.round(item.speed)) + "/s";
      var left = Math.ceil((item.size - bytes) / item.speed);
      if (left > 0)
        text += " · " + (left < 90 ? _n("%d second left", "%d seconds left", left, left)
          : _n("%d minute left", "%d minutes left", Math.round(left / 60), Math.round(left / 60)));
    }
    item.pct.textContent = text;
    if (item.resuming && item.offset > 0 && !item.saidResume) {
      item.saidResume = true;
      note(item, _("resuming at %s %%", pct(item)));
    }
  }

  function halt(item) {
    item.stop = "paused";
    item.gen++;
    if (item.xhr) item.xhr.abort();
    if (item.wake) item.wake();
    var i = queue.indexOf(item);
    if (i >= 0) queue.splice(i, 1);
    label(item.pause, _("Resume"), item);
    setState(item, "paused");
    // the bar goes back to what the server has: the chunk in flight is
    // dropped, and the bar and the text say the same
    item.speedT = 0;
    item.speed = 0;
    progress(item, item.offset);
    note(item, _("paused at %s %%", pct(item)));
  }

  function resume(item) {
    item.stop = null;
    item.tries = 0;
    if (item.url) item.needHead = true;
    label(item.pause, _("Pause"), item);
    setState(item, "queued");
    note(item, "");
    queue.unshift(item);
    pump();
  }

  function abandon(item) {
    var url = item.url;
    item.stop = "cancelled";
    item.gen++;
    if (item.xhr) item.xhr.abort();
    if (item.wake) item.wake();
    var i = queue.indexOf(item);
    if (i >= 0) queue.splice(i, 1);
    forget(item);
    item.pause.remove();
    item.cancel.remove();
    setState(item, "cancelled");
    item.row.className = "upload cancelled";
    groupStep(item.group, false);
    note(item, _("cancelled"));
    if (url)
      send(item, "DELETE", url, {}).then(function (r) {
        if (r.status !== 204 && r.status !== 404 && r.status !== 410)
          note(item, _("cancelled here, but the server kept the partial upload:") + " " + reason(r));
      });
  }

  function complete(item) {
    var f = item.done;
    item.pause.remove();
    item.cancel.remove();
    progress(item, item.size);
    setState(item, "done");
    item.row.className = "upload done";
    note(item, "");
    var out = el("div", "up-done");
    groupStep(item.group, true);
    if (REQUEST) {
      out.textContent = _("received: %s (%s)", f.name, human(f.size));
      item.row.appendChild(out);
      return;
    }
    var a = el("a", "", f.name + " — " + f.url);
    a.href = f.url;
    out.appendChild(a);
    var copyBtn = el("button", "copy secondary small", _("Copy link"));
    copyBtn.type = "button";
    copyBtn.setAttribute("aria-label", _("Copy link of %s", f.name));
    copyBtn.addEventListener("click", function () {
      copyText(f.url, copyBtn);
    });
    out.appendChild(copyBtn);
    // what the server applied: the options as it keeps them
    var applied = [];
    if (f.expires) applied.push(_("deleted on %s", window.partage ? window.partage.localTime(f.expires) : new Date(f.expires * 1000).toLocaleString()));
    if (f.max_downloads) applied.push(_n("deleted after %d download", "deleted after %d downloads", f.max_downloads, f.max_downloads));
    if (f.password_protected || item.opts.password) applied.push(_("password-protected"));
    if (applied.length) out.appendChild(el("div", "up-applied", _("Applied: %s", applied.join(", "))));
    copyAll.hidden = false;
    if (item.token) {
      var tok = el("div", "up-token", _("delete token (keep it to delete the file later):") + " ");
      tok.appendChild(el("code", "", item.token));
      out.appendChild(tok);
    }
    // the link's QR code, drawn by the server when opened
    if (f.id) {
      var qr = el("details", "up-qr");
      qr.appendChild(el("summary", "", _("QR code")));
      var img = el("img");
      img.alt = _("QR code of the link to %s", f.name);
      img.width = img.height = 144;
      img.loading = "lazy";
      img.src = "/qr/" + encodeURIComponent(f.id);
      qr.appendChild(img);
      out.appendChild(qr);
    }
    item.row.appendChild(out);
  }

  // Copies text and says so on the button for a moment; without the
  // clipboard API (an insecure origin), selects a field to copy by hand.
  function copyText(text, button) {
    var label = button.textContent;
    function said(t) {
      button.textContent = t;
      setTimeout(function () { button.textContent = label; }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { said(_("Copied")); },
        function () { prompt(_("Copy this:"), text); });
    } else {
      prompt(_("Copy this:"), text);
    }
  }

  // "Copy all links": every finished upload's link, one per line, in the
  // list's order.
  var copyAll = document.createElement("button");
  copyAll.type = "button";
  copyAll.id = "copy-all";
  copyAll.className = "secondary";
  copyAll.hidden = true;
  copyAll.textContent = _("Copy all links");
  copyAll.addEventListener("click", function () {
    var as = results.querySelectorAll("li.done .up-done > a"), links = [];
    for (var i = 0; i < as.length; i++) links.push(as[i].href);
    copyText(links.join("\n"), copyAll);
  });
  results.parentNode.insertBefore(copyAll, results.nextSibling);

  function fail(item, why) {
    item.failed = true;
    groupStep(item.group, false);
    item.pause.remove();
    item.cancel.remove();
    setState(item, "error");
    item.row.className = "upload error";
    note(item, why);
  }

  // ------------------------------------------------------------------ inputs

  function addAll(files) {
    for (var i = 0; i < files.length; i++) add(files[i]);
  }

  var submit = form.querySelector("button[type=submit]");
  if (submit) submit.hidden = true; // files start as soon as they are chosen
  form.addEventListener("submit", function (e) { e.preventDefault(); addAll(input.files); input.value = ""; });
  input.addEventListener("change", function () {
    addAll(input.files);
    input.value = ""; // the same file may be chosen again (to resume it)
  });
  // the whole page takes drops; the drop box lights up while files are
  // dragged over it
  ["dragenter", "dragover"].forEach(function (t) {
    document.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  document.addEventListener("dragleave", function (e) {
    if (!e.relatedTarget) drop.classList.remove("over"); // left the window
  });
  document.addEventListener("drop", function (e) {
    e.preventDefault();
    drop.classList.remove("over");
    var dt = e.dataTransfer;
    if (!dt) return;
    // folders: their entries must be taken now, while the event lasts
    var entries = [], loose = [];
    if (dt.items && dt.items.length && dt.items[0].webkitGetAsEntry) {
      for (var i = 0; i < dt.items.length; i++) {
        var en = dt.items[i].kind === "file" ? dt.items[i].webkitGetAsEntry() : null;
        if (en && en.isDirectory) entries.push(en);
        else if (dt.items[i].kind === "file") loose.push(dt.items[i].getAsFile());
      }
    }
    if (!entries.length) {
      if (dt.files.length) addAll(dt.files);
      return;
    }
    loose.forEach(function (f) { if (f) add(f); });
    entries.forEach(function (en) {
      var list = [];
      walk(en, "", list).then(function () { uploadFolder(en.name, list); });
    });
  });

  // ----------------------------------------------------------------- folders

  // Every file below a dropped directory entry, with its path from the
  // entry's parent ("Photos/2026/a.jpg"), into out.
  function walk(entry, prefix, out) {
    return new Promise(function (resolve) {
      if (out.length > FOLDER_MAX) return resolve();
      if (entry.isFile) {
        entry.file(function (f) { out.push({ file: f, path: prefix + entry.name }); resolve(); },
          function () { resolve(); });
        return;
      }
      if (!entry.isDirectory) return resolve();
      var reader = entry.createReader(), all = [];
      (function more() {
        reader.readEntries(function (ents) {
          if (ents.length) { all = all.concat(Array.prototype.slice.call(ents)); return more(); }
          all.reduce(function (p, c) {
            return p.then(function () { return walk(c, prefix + entry.name + "/", out); });
          }, Promise.resolve()).then(resolve);
        }, function () { resolve(); });
      })();
    });
  }

  var folderPick = document.getElementById("folder-pick");
  var folderInput = document.getElementById("folder-input");
  if (folderPick && folderInput && "webkitdirectory" in folderInput) {
    folderPick.hidden = false;
    folderInput.addEventListener("change", function () {
      var list = [], top = "";
      for (var i = 0; i < folderInput.files.length; i++) {
        var f = folderInput.files[i], p = f.webkitRelativePath || f.name;
        if (!top) top = p.split("/")[0];
        list.push({ file: f, path: p });
      }
      folderInput.value = "";
      if (list.length) uploadFolder(top, list);
    });
  }

  // The row of a folder upload: its name, then how many files are done,
  // then its link.
  function groupStep(g, ok) {
    if (!g) return;
    if (ok) g.done++; else g.failed++;
    groupShow(g);
  }
  function groupShow(g) {
    var left = g.total - g.done - g.failed;
    g.state.textContent = left ? _n("%d of %d file uploaded", "%d of %d files uploaded", g.total, g.done, g.total)
      : g.failed ? _n("%d file could not be uploaded; the others are in the folder.",
        "%d files could not be uploaded; the others are in the folder.", g.failed, g.failed)
      : _n("Done: %d file.", "Done: %d files.", g.total, g.total);
    if (!left && g.url && !g.shown) {
      g.shown = true;
      g.row.setAttribute("data-state", "done");
      var out = el("div", "up-done");
      out.id = "folder-result";
      var a = el("a");
      a.appendChild(el("code", "", g.url)); // a URL, in no language
      a.href = g.url;
      out.appendChild(document.createTextNode(_("Folder link:") + " "));
      out.appendChild(a);
      var c = el("button", "copy secondary small", _("Copy link"));
      c.type = "button";
      c.setAttribute("aria-label", _("Copy link of %s", g.name));
      c.addEventListener("click", function () { copyText(g.url, c); });
      out.appendChild(c);
      g.row.appendChild(out);
    }
  }

  // A folder's files: a folder tree in the account, or (anonymous) one
  // link per file with the path in its name.
  async function uploadFolder(top, list) {
    var P = window.partage;
    var row = el("li", "upload folder-up");
    row.tabIndex = -1;
    var headl = el("div", "up-head");
    var name = el("span", "up-name");
    if (P && P.icon) name.appendChild(P.icon(null, true));
    name.appendChild(el("span", "", top));
    headl.appendChild(name);
    row.appendChild(headl);
    var state = el("div", "up-status");
    state.setAttribute("role", "status");
    row.appendChild(state);
    results.appendChild(row);
    if (list.length > FOLDER_MAX) {
      row.className = "upload error";
      state.textContent = _("This folder has more than %d files: upload it in parts.", FOLDER_MAX);
      return;
    }
    await ready;
    var g = { name: top, total: list.length, done: 0, failed: 0, row: row, state: state, url: "" };
    if (!csrf || !P || REQUEST) {
      row.appendChild(el("div", "hint", REQUEST ? _("The files go to this request one by one.")
        : _("Folders need an account: each file gets its own link, its folder in its name.")));
      g.url = "";
      groupShow(g);
      list.forEach(function (e) { add(e.file, { name: e.path.split("/").join(" - "), group: g }); });
      return;
    }
    state.textContent = _("Creating the folder…");
    var ids = {};
    async function dir(path) {
      if (ids[path]) return ids[path];
      var i = path.lastIndexOf("/");
      var parent = i < 0 ? null : await dir(path.slice(0, i));
      var r = await P.api("POST", "/api/v1/folders", { name: path.slice(i + 1), parent: parent, shared: true });
      if (!r.ok) throw new Error(r.error);
      if (i < 0) g.url = r.data.url;
      ids[path] = r.data.id;
      return r.data.id;
    }
    var where = [];
    try {
      for (var k = 0; k < list.length; k++) {
        var p = list[k].path, cut = p.lastIndexOf("/");
        where.push(await dir(cut < 0 ? top : p.slice(0, cut)));
      }
    } catch (e) {
      row.className = "upload error";
      state.textContent = _("The folder could not be created: %s", e.message);
      return;
    }
    groupShow(g);
    list.forEach(function (e, j) { add(e.file, { folder: where[j], group: g }); });
  }
})();
