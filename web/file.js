// file.js — the download button of a file page.  Tiers that wait before a
// download (anonymous, free) get a ticket from the server, a countdown,
// and then the button with the ticket in its link; the server checks the
// ticket, so the countdown is a courtesy, not the enforcement.
"use strict";
(function () {
  var box = document.getElementById("download-box");
  var link = document.getElementById("download");
  var countdown = document.getElementById("countdown");
  var wait = parseInt(box.getAttribute("data-wait"), 10) || 0;
  if (wait <= 0) return;
  link.hidden = true;
  countdown.textContent = "Preparing your download…";
  fetch(box.getAttribute("data-ticket-url"), {
    method: "POST", headers: { "Accept": "application/json" }, credentials: "same-origin"
  }).then(function (r) {
    if (!r.ok) throw new Error("ticket: " + r.status);
    return r.json();
  }).then(function (t) {
    var left = t.wait;
    function tick() {
      if (left <= 0) {
        countdown.textContent = "";
        link.href = t.url + (t.url.indexOf("?") < 0 ? "?" : "&") +
          (box.getAttribute("data-query") || "") + "download=1";
        link.hidden = false;
        return;
      }
      countdown.textContent = "Your download is ready in " + left + " s";
      left -= 1;
      setTimeout(tick, 1000);
    }
    tick();
  }).catch(function (e) {
    countdown.className = "error";
    countdown.textContent = "Cannot get a download ticket (" + e.message + "); reload the page.";
  });
})();
