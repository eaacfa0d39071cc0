// account.js — /account: the account (GET /api/v1/me), rewards per file
// and their conversion into premium days, vouchers, the direct-downloads
// setting, the password, and API tokens (shown once at creation).
"use strict";
(function () {
  var P = window.partage;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, text) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  // Show a call's outcome next to its form: the server's reason on failure.
  function result(id, r, okText) {
    if (r.status === 401) return P.toLogin();
    $(id).textContent = r.ok ? okText : r.error;
    $(id).className = "result" + (r.ok ? " ok" : " error");
  }

  function showMe(me) {
    $("acct-name").textContent = me.name;
    var tiers = { anonymous: _("anonymous"), free: _("free"), premium: _("premium") };
    $("acct-tier").textContent = (tiers[me.tier] || me.tier) + (me.role && me.role !== "user" ? " (" + me.role + ")" : "");
    $("acct-premium").textContent = me.premium_until ? P.localTime(me.premium_until) : "—";
    var quota = me.quota_bytes;
    $("acct-storage").textContent = quota ? _("%s of %s", P.human(me.used_bytes), P.human(quota)) : _("%s (no quota)", P.human(me.used_bytes));
    $("acct-meter").value = quota ? Math.min(1, me.used_bytes / quota) : 0;
    $("acct-meter").hidden = !quota;
    $("acct-points").textContent = String(me.points);
    $("direct-downloads").checked = !!me.direct_downloads;
  }

  function reloadMe() {
    return P.api("GET", "/api/v1/me").then(function (r) {
      if (r.status === 401) return P.toLogin();
      if (r.ok) showMe(r.data);
    });
  }

  function loadRewards() {
    return Promise.all([
      P.api("GET", "/api/v1/me/rewards"),
      P.api("GET", "/api/v1/me/files?per_page=1000")
    ]).then(function (rs) {
      var r = rs[0];
      if (!r.ok) return result("convert-result", r, "");
      var names = {};
      if (rs[1].ok) rs[1].data.files.forEach(function (f) { names[f.id] = f; });
      $("rewards-rate").textContent = _n("%d point buys one premium day.", "%d points buy one premium day.", r.data.points_per_premium_day, r.data.points_per_premium_day);
      var rows = $("rewards-rows");
      rows.textContent = "";
      r.data.files.forEach(function (x) {
        var tr = el("tr"), td = el("td"), a = el("a", names[x.id] ? names[x.id].name : x.id);
        a.href = "/" + x.id;
        td.appendChild(a);
        tr.appendChild(td);
        tr.appendChild(el("td", String(x.downloads)));
        tr.appendChild(el("td", String(x.points)));
        rows.appendChild(tr);
      });
      $("rewards").hidden = !r.data.files.length;
      $("rewards-empty").hidden = !!r.data.files.length;
    });
  }

  function loadTokens() {
    return P.api("GET", "/api/v1/tokens").then(function (r) {
      if (!r.ok) return result("tokens-result", r, "");
      var rows = $("tokens-rows");
      rows.textContent = "";
      r.data.tokens.forEach(function (t) {
        var tr = el("tr");
        var name = t.label || t.id;
        tr.setAttribute("data-id", t.id);
        tr.appendChild(el("td", t.label || "—"));
        var code = el("code", t.id);
        var td = el("td");
        td.appendChild(code);
        tr.appendChild(td);
        tr.appendChild(el("td", P.localTime(t.created)));
        // the server records a use at most once a minute
        tr.appendChild(el("td", t.last_used ? P.localTime(t.last_used) : _("never")));
        var act = el("td"), b = el("button", _("Delete"));
        b.type = "button";
        b.className = "secondary small";
        b.setAttribute("aria-label", _("Delete %s", name));
        b.addEventListener("click", function () {
          if (!confirm(_("Delete the token %s? Programs that use it stop working.", name))) return;
          P.api("DELETE", "/api/v1/tokens/" + encodeURIComponent(t.id)).then(function (d) {
            result("tokens-result", d, _("Deleted the token %s.", name));
            if (d.ok) loadTokens();
          });
        });
        act.appendChild(b);
        tr.appendChild(act);
        rows.appendChild(tr);
      });
      $("tokens").hidden = !r.data.tokens.length;
      $("tokens-empty").hidden = !!r.data.tokens.length;
    });
  }

  $("convert-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var days = parseInt($("convert-days").value, 10);
    P.api("POST", "/api/v1/me/rewards/convert", { days: days }).then(function (r) {
      result("convert-result", r, r.ok ? _("Premium until %s.", P.localTime(r.data.premium_until)) : "");
      if (r.ok) { reloadMe(); loadRewards(); }
    });
  });

  $("redeem-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var code = $("voucher-code").value.trim();
    P.api("POST", "/api/v1/me/redeem", { code: code }).then(function (r) {
      result("redeem-result", r, r.ok ? _n("%d premium day added: premium until %s.", "%d premium days added: premium until %s.",
        r.data.days, r.data.days, P.localTime(r.data.premium_until)) : "");
      if (r.ok) { $("voucher-code").value = ""; reloadMe(); }
    });
  });

  $("direct-downloads").addEventListener("change", function () {
    var box = this, want = box.checked;
    box.disabled = true;
    P.api("PATCH", "/api/v1/me", { direct_downloads: want }).then(function (r) {
      box.disabled = false;
      if (!r.ok) box.checked = !want;
      result("settings-result", r, want ? _("Direct downloads are on.") : _("Direct downloads are off."));
    });
  });

  $("password-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var nw = $("pw-new").value;
    if (nw !== $("pw-new2").value) {
      $("password-result").textContent = _("The two new passwords differ.");
      $("password-result").className = "result error";
      return;
    }
    P.api("POST", "/api/v1/me/password", { old: $("pw-old").value, "new": nw }).then(function (r) {
      if (r.ok) {
        // the server ended every session, this one too
        P.setHint(false);
        location.href = "/login?changed=1&next=%2Faccount";
        return;
      }
      // a wrong current password is a 401 here, not a lost session
      $("password-result").textContent = r.error;
      $("password-result").className = "result error";
    });
  });

  $("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var label = $("token-label").value.trim();
    P.api("POST", "/api/v1/tokens", { label: label }).then(function (r) {
      result("tokens-result", r, r.ok ? _("Created the token %s.", label || r.data.id) : "");
      if (!r.ok) return;
      $("token-label").value = "";
      $("token-new").hidden = false;
      $("token-value").value = r.data.token;
      $("token-value").focus();
      $("token-value").select();
      loadTokens();
    });
  });

  P.ready.then(function (me) {
    if (!me) return P.toLogin();
    showMe(me);
    loadRewards();
    loadTokens();
  });
})();
