// nav.js — the account corner of every page's header, and the little API
// client the account pages (login.js, files.js, account.js) share.
//
// The pages stay static and cacheable: who is logged in is asked here, with
// GET /api/v1/me.  The session cookie is HttpOnly, so a script cannot see
// it; the server sets a harmless hint cookie (partage_user=1, no secret)
// next to it, and only then is /api/v1/me asked, so anonymous visitors cost no
// request and no 401.  A stale hint (an expired session) is dropped on the
// first 401.  Everything shown comes from the server through textContent.
//
// Languages: the page loads /static/i18n-LANG.js first (generated from
// po/LANG.po by scripts/i18n.py); _() of an English text and _n() of its
// singular, plural and count translate, with %s and %d filled from the
// next arguments.  The header's switches set the partage_lang cookie (then
// reload: the server renders the page in it) and partage_theme (applied at
// once; the server renders <html data-theme> from it on the next page).
"use strict";
var I18N = window.partageI18n || { lang: "en", plural: 0, msgs: {} };
function fmtI18n(s, args) {
  var i = 0;
  return s.replace(/%(%|l{0,2}[sdu])/g, function (m, c) {
    if (c === "%") return "%";
    return String(args[i++]);
  });
}
function _(s) {
  var t = I18N.msgs[s];
  return fmtI18n(typeof t === "string" && t ? t : s, Array.prototype.slice.call(arguments, 1));
}
function _n(one, many, n) {
  var t = I18N.msgs[one], pl = I18N.plural === 1 ? n > 1 : n !== 1;
  var s = Array.isArray(t) ? t[pl ? 1 : 0] : (pl ? many : one);
  return fmtI18n(s, Array.prototype.slice.call(arguments, 3));
}
window.partage = (function () {
  var HINT = "partage_user";
  var csrf = "";
  var mePromise = null;

  function hinted() {
    return document.cookie.split(/;\s*/).indexOf(HINT + "=1") >= 0;
  }

  function setHint(on) {
    document.cookie = HINT + "=" + (on ? "1; Max-Age=2592000" : "; Max-Age=0") +
      "; Path=/; SameSite=Lax";
  }

  // One request to the JSON API: resolves (never rejects) to {status, ok,
  // data, error}, error being the server's one-line reason.  Bodies that
  // are not FormData go as JSON; every request but a GET carries the
  // session's CSRF token.
  function api(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    return fetch(url, {
      method: method, headers: headers, body: body, credentials: "same-origin"
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        var error = "";
        if (!r.ok) {
          error = (data && data.error) || text.trim() || ("error " + r.status);
          var wait = r.headers.get("Retry-After");
          if (r.status === 429 && wait && error.indexOf("wait") < 0)
            error += " " + _("(wait %s s)", wait);
        }
        return { status: r.status, ok: r.ok, data: data, error: error };
      });
    }, function (e) {
      return { status: 0, ok: false, data: null, error: _("Network error: %s", e.message) };
    });
  }

  // The logged-in user (GET /api/v1/me) or null.  force: ask even without
  // the hint (the account pages, which the server only serves to a
  // session).
  function me(force) {
    if (mePromise && !force) return mePromise;
    if (!force && !hinted()) return (mePromise = Promise.resolve(null));
    mePromise = api("GET", "/api/v1/me").then(function (r) {
      if (!r.ok) {
        if (r.status === 401) setHint(false);
        return null;
      }
      csrf = r.data.csrf || "";
      setHint(true);
      return r.data;
    });
    return mePromise;
  }

  function logout() {
    return api("DELETE", "/api/v1/sessions").then(function (r) {
      setHint(false);
      csrf = "";
      mePromise = null;
      return r;
    });
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function render(user) {
    var nav = document.getElementById("account-nav");
    if (!nav) return;
    nav.textContent = "";
    if (!user) {
      nav.appendChild(link("/login", _("Log in")));
      return;
    }
    var who = document.createElement("span");
    who.className = "who";
    who.id = "nav-user";
    who.textContent = user.name;
    var out = document.createElement("button");
    out.type = "button";
    out.id = "logout";
    out.className = "link";
    out.textContent = _("Log out");
    out.addEventListener("click", function () {
      out.disabled = true;
      logout().then(function () { location.href = "/"; });
    });
    nav.appendChild(who);
    nav.appendChild(link("/files", _("My files")));
    nav.appendChild(link("/account", _("Account")));
    nav.appendChild(out);
  }

  // A local path to go to after logging in: "/x…" only, never "//host" or
  // "/\host" (which browsers read as another site).
  function localPath(p, dflt) {
    if (typeof p !== "string" || !/^\/(?![\/\\])/.test(p) || /[\\\x00-\x1f]/.test(p))
      return dflt;
    try {
      var u = new URL(p, location.origin);
      if (u.origin !== location.origin) return dflt;
      return u.pathname + u.search + u.hash;
    } catch (e) {
      return dflt;
    }
  }

  function human(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
    return u ? n.toFixed(1) + " " + units[u] : n + " B";
  }

  // A size in decimal units as the page's language writes it: "4.2 MB",
  // "4,2 Mo" (the same as the server's).
  function size(n) {
    var units = [_("B"), _("kB"), _("MB"), _("GB"), _("TB")], u = 0;
    while (n >= 1000 && u < units.length - 1) { n /= 1000; u++; }
    var num = u ? n.toFixed(1).replace(".", _(".")) : String(n);
    return num + " " + units[u];
  }

  // A time (seconds, or an ISO string) in the visitor's zone and the
  // page's language.
  function localTime(t) {
    var d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
    if (isNaN(d.getTime())) return "";
    try {
      return new Intl.DateTimeFormat(I18N.lang, { dateStyle: "medium", timeStyle: "short" }).format(d);
    } catch (e) {
      return d.toLocaleString();
    }
  }

  // <time datetime="ISO"> elements: the server's UTC text becomes local.
  function localTimes(root) {
    var ts = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < ts.length; i++) {
      var iso = ts[i].getAttribute("datetime");
      var text = iso ? localTime(iso) : "";
      if (text) {
        ts[i].title = ts[i].textContent;
        ts[i].textContent = text;
      }
    }
  }

  // The type icon of a MIME type (folder: a folder's), with its kind as
  // its text alternative: an <svg> using the page's sprite (web/icons.svg,
  // {{&icons}}).  The same rules as pages.c's page_kinds.
  var KINDS = [
    ["image/", "Image", "image"], ["video/", "Video", "video"], ["audio/", "Audio", "audio"],
    ["text/", "Text", "text"], ["application/pdf", "PDF document", "document"],
    ["application/msword", "Document", "document"],
    ["application/vnd.openxmlformats-officedocument", "Document", "document"],
    ["application/vnd.oasis.opendocument", "Document", "document"],
    ["application/rtf", "Document", "document"], ["application/epub", "Document", "document"],
    ["application/zip", "Archive", "archive"], ["application/x-tar", "Archive", "archive"],
    ["application/gzip", "Archive", "archive"], ["application/x-7z", "Archive", "archive"],
    ["application/x-rar", "Archive", "archive"], ["application/vnd.rar", "Archive", "archive"],
    ["application/x-bzip2", "Archive", "archive"], ["application/x-xz", "Archive", "archive"],
    ["application/zstd", "Archive", "archive"], ["application/json", "Text", "text"],
    ["application/xml", "Text", "text"], ["application/javascript", "Text", "text"],
    ["application/x-sh", "Text", "text"]
  ];
  // the kinds' names, for scripts/i18n.py: _("Image") _("Video") _("Audio")
  // _("Text") _("PDF document") _("Document") _("Archive") _("File") _("Folder")
  function kindOf(mime) {
    for (var i = 0; i < KINDS.length; i++)
      if (mime && mime.indexOf(KINDS[i][0]) === 0) return KINDS[i];
    return [null, "File", "file"];
  }
  function icon(mime, folder) {
    var NS = "http://www.w3.org/2000/svg";
    var k = folder ? [null, "Folder", "folder"] : kindOf(mime);
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", _(k[1]));
    var use = document.createElementNS(NS, "use");
    use.setAttribute("href", "#i-" + k[2]);
    svg.appendChild(use);
    return svg;
  }

  function setCookie(name, value) {
    document.cookie = name + "=" + value + "; Max-Age=31536000; Path=/; SameSite=Lax";
  }

  // The theme in use: the cookie's, else the browser's preference.
  function theme() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t === "light" || t === "dark") return t;
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function switches() {
    var ls = document.getElementById("lang-switch");
    if (ls) ls.addEventListener("click", function (e) {
      e.preventDefault(); // the link (/prefs) is for pages without JavaScript
      setCookie("partage_lang", ls.getAttribute("data-lang"));
      location.reload();
    });
    var ts = document.getElementById("theme-switch");
    if (!ts) return;
    ts.hidden = false;
    ts.setAttribute("aria-pressed", theme() === "dark" ? "true" : "false");
    ts.addEventListener("click", function () {
      var next = theme() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      setCookie("partage_theme", next);
      ts.setAttribute("aria-pressed", next === "dark" ? "true" : "false");
    });
  }
  switches();
  localTimes();

  // Tables that become cards on phones: each cell gets its column's name
  // (data-label, shown before it by the stylesheet), now and as rows come.
  function labelCells(table) {
    var heads = table.querySelectorAll("thead th");
    var rows = table.querySelectorAll("tbody tr");
    for (var i = 0; i < rows.length; i++)
      for (var j = 0; j < rows[i].cells.length && j < heads.length; j++)
        if (!rows[i].cells[j].hasAttribute("data-label"))
          rows[i].cells[j].setAttribute("data-label", heads[j].textContent.trim());
  }
  var cardTables = document.querySelectorAll("table.cards");
  for (var ci = 0; ci < cardTables.length; ci++) {
    labelCells(cardTables[ci]);
    if (window.MutationObserver)
      new MutationObserver(function (ms) { labelCells(ms[0].target.closest("table")); })
        .observe(cardTables[ci].tBodies[0], { childList: true });
  }

  function date(sec) {
    if (!sec) return "";
    return new Date(sec * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  // A lost session on an account page goes back to the login page.
  function toLogin() {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  }

  // Account pages (<body data-account>) always ask: the server served them
  // to a session, and their scripts need its CSRF token.
  var ready = me(document.body.hasAttribute("data-account"));
  ready.then(render);

  return {
    api: api, me: me, ready: ready, setHint: setHint, logout: logout,
    localPath: localPath, human: human, date: date, toLogin: toLogin,
    size: size, localTime: localTime, localTimes: localTimes, lang: I18N.lang,
    icon: icon, kind: function (mime) { return _(kindOf(mime)[1]); }
  };
})();
