// remote.js — the "from a URL" block of the upload page (issue 18): the
// server fetches the URL itself (POST /api/v1/files/remote) and this
// script follows the job (GET on it once a second) until the file is
// made or the server gives up, showing bytes, the total when known, and
// the server's one-line reason on failure.  Uses nav.js's api(), which
// adds the session's CSRF token, so a logged-in user's file is theirs.
"use strict";
(function () {
  var form = document.getElementById("remote");
  var input = document.getElementById("remote-url");
  var status = document.getElementById("remote-status");
  if (!form || !input || !status || !window.partage) return;
  var P = window.partage;

  function show(text) { status.textContent = text; }

  function follow(job, token) {
    P.api("GET", job).then(function (r) {
      if (!r.ok) { show(_("Cannot follow the fetch: %s", r.error)); return; }
      var j = r.data;
      if (j.state === "failed") { show(_("Not fetched: %s", j.error)); return; }
      if (j.state === "done") {
        status.textContent = "";
        var a = document.createElement("a");
        a.href = j.file.url;
        a.textContent = j.file.url;
        status.appendChild(document.createTextNode(j.file.name + " (" + P.size(j.file.size) + "): "));
        status.appendChild(a);
        status.appendChild(document.createTextNode(" — " + _("delete token: %s", token)));
        return;
      }
      var got = j.total ? _("%s of %s", P.size(j.bytes), P.size(j.total)) : P.size(j.bytes);
      show(j.state === "queued" ? _("Waiting… %s", got) : _("Fetching… %s", got));
      setTimeout(function () { follow(job, token); }, 1000);
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var url = input.value.trim();
    if (!url) return;
    show(_("Asking the server to fetch it…"));
    P.ready.then(function () {
      return P.api("POST", "/api/v1/files/remote", { url: url });
    }).then(function (r) {
      if (!r.ok) { show(_("Not fetched: %s", r.error)); return; }
      follow(r.data.url, r.data.delete_token);
    });
  });
})();
