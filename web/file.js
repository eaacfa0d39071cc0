// file.js — the download button of a file page (and of a folder page).
// Tiers that wait before a download (anonymous, free) get a ticket from
// the server, a countdown shown as a progress bar with its reason and the
// premium offer, and then the button with the ticket in its link; the
// server checks the ticket, so the countdown is a courtesy, not the
// enforcement.  Without JavaScript the <noscript> form gets the ticket
// page instead.  A click on Download says that the download started.
"use strict";
(function () {
  var box = document.getElementById("download-box");
  var link = document.getElementById("download");
  var countdown = document.getElementById("countdown");
  var bar = document.getElementById("countdown-bar");
  var text = document.getElementById("countdown-text");
  var started = document.getElementById("download-started");
  var wait = parseInt(box.getAttribute("data-wait"), 10) || 0;

  link.addEventListener("click", function () {
    if (!started) return;
    started.textContent = _("Your download has started: your browser shows its progress in its downloads.");
    started.hidden = false;
  });
  if (wait <= 0) return;
  link.hidden = true;
  countdown.hidden = false;
  text.textContent = _("Preparing your download…");
  fetch(box.getAttribute("data-ticket-url"), {
    method: "POST", headers: { "Accept": "application/json" }, credentials: "same-origin"
  }).then(function (r) {
    if (!r.ok) throw new Error(String(r.status));
    return r.json();
  }).then(function (t) {
    var total = Math.max(1, t.wait), left = t.wait;
    bar.max = total;
    function tick() {
      bar.value = total - Math.max(0, left);
      if (left <= 0) {
        text.textContent = _("Your download is ready.");
        link.href = t.url + (t.url.indexOf("?") < 0 ? "?" : "&") +
          (box.getAttribute("data-query") || "") + "download=1";
        link.hidden = false;
        return;
      }
      text.textContent = _n("Your download is ready in %d second.", "Your download is ready in %d seconds.", left, left);
      left -= 1;
      setTimeout(tick, 1000);
    }
    tick();
  }).catch(function (e) {
    text.className = "error";
    text.textContent = _("Cannot get a download ticket (%s); reload the page.", e.message);
  });
})();
