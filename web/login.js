// login.js — the log in and register forms of /login.  On success the
// browser goes to ?next= (a local path only) or /files.  The server's
// refusals are said for people: wrong name or password (401), too many
// attempts (429); registering shows the server's reason (name taken,
// rules).
"use strict";
(function () {
  var P = window.partage;
  var params = new URLSearchParams(location.search);
  var next = P.localPath(params.get("next"), "/files");
  var notice = document.getElementById("notice");

  function say(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  if (params.get("changed") === "1")
    say(_("Your password was changed: log in with the new one."));
  else if (params.get("next"))
    say(_("Log in to continue."));

  P.ready.then(function (me) {
    if (!me) return;
    // already logged in: say so, with the way on
    notice.textContent = _("You are logged in as") + " ";
    var b = document.createElement("strong");
    b.textContent = me.name;
    notice.appendChild(b);
    notice.appendChild(document.createTextNode(". "));
    var a = document.createElement("a");
    a.href = next;
    a.textContent = _("Continue");
    notice.appendChild(a);
    notice.hidden = false;
  });

  function login(name, password) {
    return P.api("POST", "/api/v1/sessions", { name: name, password: password }).then(function (r) {
      if (r.ok) {
        P.setHint(true);
        location.href = next;
      }
      return r;
    });
  }

  function busy(form, on) {
    form.querySelector("button").disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  // The login's refusal, for people: the API's reasons are for programs.
  function loginError(r) {
    if (r.status === 401) return _("That name and password do not match. Check them and try again.");
    if (r.status === 429) return _("Too many attempts. Wait a moment, then try again.");
    if (r.status === 0) return r.error;
    return _("Logging in failed (%s). Try again in a moment.", r.error);
  }

  var lf = document.getElementById("login-form");
  var lerr = document.getElementById("login-error");
  lf.addEventListener("submit", function (e) {
    e.preventDefault();
    lerr.textContent = "";
    busy(lf, true);
    login(lf.elements.name.value, lf.elements.password.value).then(function (r) {
      busy(lf, false);
      if (!r.ok) {
        lerr.textContent = loginError(r);
        lf.elements.password.select();
      }
    });
  });

  var rf = document.getElementById("register-form");
  var rerr = document.getElementById("register-error");
  rf.addEventListener("submit", function (e) {
    e.preventDefault();
    rerr.textContent = "";
    var name = rf.elements.name.value, pw = rf.elements.password.value;
    if (pw !== rf.elements.password2.value) {
      rerr.textContent = _("The two passwords differ.");
      rf.elements.password2.focus();
      return;
    }
    busy(rf, true);
    P.api("POST", "/api/v1/users", { name: name, password: pw }).then(function (r) {
      if (!r.ok) return r;
      return login(name, pw);
    }).then(function (r) {
      busy(rf, false);
      if (!r.ok) rerr.textContent = r.error;
    });
  });
})();
