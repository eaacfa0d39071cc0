// webhooks.js — the Webhooks block of /account (issue 18): the account's
// hooks (GET /api/v1/webhooks), adding one (its signing secret is shown
// once), deleting one, and its delivery log with every attempt
// (GET /api/v1/webhooks/{id}/deliveries).  Everything shown comes from
// the server through textContent; event names stay as the API spells
// them (in <code>), delivery states are translated.
"use strict";
(function () {
  var P = window.partage;
  var list = document.getElementById("hook-list");
  var form = document.getElementById("hook-form");
  var out = document.getElementById("hook-result");
  if (!P || !list || !form || !out) return;

  function el(tag, text) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // the API's delivery states, as the page's language says them
  var STATES = { pending: _("pending"), delivered: _("delivered"), failed: _("failed") };

  function showLog(id, box) {
    P.api("GET", "/api/v1/webhooks/" + encodeURIComponent(id) + "/deliveries").then(function (r) {
      box.textContent = "";
      if (!r.ok) { box.appendChild(el("li", r.error)); return; }
      if (!r.data.deliveries.length) box.appendChild(el("li", _("No deliveries yet.")));
      r.data.deliveries.forEach(function (d) {
        var li = el("li", P.date(d.created) + " ");
        li.appendChild(el("code", d.event));
        li.appendChild(document.createTextNode(": " + (STATES[d.state] || d.state) + ", " +
          _n("%d attempt", "%d attempts", d.attempts, d.attempts) +
          (d.last_error ? " (" + d.last_error + ")" : "")));
        box.appendChild(li);
      });
    });
  }

  function load() {
    return P.api("GET", "/api/v1/webhooks").then(function (r) {
      list.textContent = "";
      if (!r.ok) { out.textContent = r.error; return; }
      if (!r.data.webhooks.length) list.appendChild(el("li", _("No webhooks.")));
      r.data.webhooks.forEach(function (h) {
        var li = el("li");
        li.appendChild(el("code", h.url));
        li.appendChild(document.createTextNode(" — "));
        h.events.forEach(function (ev, i) {
          if (i) li.appendChild(document.createTextNode(", "));
          li.appendChild(el("code", ev));
        });
        li.appendChild(document.createTextNode(" "));
        var log = el("button", _("Deliveries"));
        log.type = "button";
        var del = el("button", _("Delete"));
        del.type = "button";
        var box = el("ul");
        log.addEventListener("click", function () { showLog(h.id, box); });
        del.addEventListener("click", function () {
          P.api("DELETE", "/api/v1/webhooks/" + encodeURIComponent(h.id)).then(function (d) {
            out.textContent = d.ok ? _("Deleted.") : d.error;
            load();
          });
        });
        li.appendChild(log);
        li.appendChild(del);
        li.appendChild(box);
        list.appendChild(li);
      });
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var url = document.getElementById("hook-url").value.trim();
    P.api("POST", "/api/v1/webhooks", { url: url }).then(function (r) {
      out.textContent = r.ok ? _("Signing secret (shown only now): %s", r.data.secret) : r.error;
      if (r.ok) load();
    });
  });

  P.ready.then(function (me) { if (me) load(); });
})();
