// player.js — the media player of file and embed pages (issue 16).  The
// <video>/<audio> element plays /stream/{id}, seeking by Range; past the
// viewer's quota the server answers 429 and the element stops with an
// error: then this asks the file's JSON for the quota and shows the wait
// with its countdown and the premium offer.  The server enforces the
// quota; this only explains it.
"use strict";
(function () {
  var box = document.getElementById("media");
  if (!box) return;
  var player = document.getElementById("player");
  var note = document.getElementById("media-quota");
  if (!player || !note) return;
  var timer = null;
  function show(q) {
    var left = q && q.retry_after ? q.retry_after : 0;
    if (!left) return;
    note.hidden = false;
    function tick() {
      if (left <= 0) {
        note.textContent = _("You can watch again: press play.");
        timer = null;
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      note.textContent = "";
      note.appendChild(document.createTextNode(_n(
        "You have watched your %d free minute. Playback resumes in %s, or ",
        "You have watched your %d free minutes. Playback resumes in %s, or ",
        q.minutes, q.minutes, m + ":" + (s < 10 ? "0" : "") + s)));
      var a = document.createElement("a");
      a.href = "/account";
      a.textContent = _("get premium for unlimited streaming");
      note.appendChild(a);
      note.appendChild(document.createTextNode("."));
      left -= 1;
      timer = setTimeout(tick, 1000);
    }
    if (timer) clearTimeout(timer);
    tick();
  }
  // A range refused while the quota is taken by responses still in
  // flight (a range the browser dropped is settled a second or two later)
  // is not the end: load again where it stopped, a few times.
  var retries = 0;
  function resume() {
    var at = player.currentTime;
    retries += 1;
    setTimeout(function () {
      player.load();
      player.addEventListener("loadedmetadata", function once() {
        player.removeEventListener("loadedmetadata", once);
        player.currentTime = at;
        player.play().catch(function () {});
      });
    }, 2000);
  }
  player.addEventListener("error", function () {
    fetch(box.getAttribute("data-file"), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (r) { return r.json(); }).then(function (f) {
      var q = f.stream && f.stream.quota;
      if (!q) return;
      if (q.retry_after > 0) show(q);
      else if (retries < 5) resume();
    }).catch(function () {});
  });
  player.addEventListener("playing", function () { retries = 0; });
})();
