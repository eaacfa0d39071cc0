// nav.js — the account corner of every page's header, and the little API
// client the account pages (login.js, files.js, account.js) share.
//
// The pages stay static and cacheable: who is logged in is asked here, with
// GET /api/v1/me.  The session cookie is HttpOnly, so a script cannot see
// it; the server sets a harmless hint cookie (partage_user=1, no secret)
// next to it, and only then is /api/v1/me asked, so anonymous visitors cost no
// request and no 401.  A stale hint (an expired session) is dropped on the
// first 401.  Everything shown comes from the server through textContent.
"use strict";
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
            error += " (wait " + wait + " s)";
        }
        return { status: r.status, ok: r.ok, data: data, error: error };
      });
    }, function (e) {
      return { status: 0, ok: false, data: null, error: "network error: " + e.message };
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
      nav.appendChild(link("/login", "Log in"));
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
    out.textContent = "Log out";
    out.addEventListener("click", function () {
      out.disabled = true;
      logout().then(function () { location.href = "/"; });
    });
    nav.appendChild(who);
    nav.appendChild(link("/files", "My files"));
    nav.appendChild(link("/account", "Account"));
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
    localPath: localPath, human: human, date: date, toLogin: toLogin
  };
})();
