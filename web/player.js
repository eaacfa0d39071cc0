// player.js — the media player of file and embed pages (issue 16).  The
// <video>/<audio> element plays /stream/{id}, seeking by Range; past the
// viewer's quota the server answers 429 and the element stops with an
// error: then this asks the file's JSON for the quota and shows the wait
// with its countdown and the premium offer.  The server enforces the
// quota; this only explains it.
//
// The element starts loading (preload="metadata") as soon as it is
// parsed, before this script has run: its first range may already have
// failed, its "error" event gone by with nobody listening.  So an error
// already there when this runs is handled like one that comes later.
"use strict";
(function () {
  var box = document.getElementById("media");
  if (!box) return;
  var player = document.getElementById("player");
  var note = document.getElementById("media-quota");
  if (!player || !note) return;
  var timer = null;
  var checking = false;

  // Load the element again and go back to at (s); play when the viewer
  // was playing.  After an error only load() brings the element back:
  // play() alone is refused.
  function reload(at, play) {
    player.addEventListener("loadedmetadata", function () {
      if (at > 0) player.currentTime = at;
      if (play) player.play().catch(function () {});
    }, { once: true });
    player.load();
  }

  function show(q, at) {
    var left = q.retry_after;
    note.hidden = false;
    function tick() {
      if (left <= 0) {
        // ready for the viewer's play; preload none asks the browser to
        // fetch nothing before it (Chromium may still fetch the start)
        note.textContent = _("You can watch again: press play.");
        timer = null;
        player.preload = "none";
        reload(at, false);
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

  // A range refused while the quota is taken by the viewer's responses
  // still in flight (the server's Retry-After is then 2 s, and the JSON's
  // retry_after 0: a range the player dropped settles when its connection
  // ends) is not the end: load again where it stopped, a few times.  The
  // next refusal, if the quota is really used up, shows the wait.
  var retries = 0;
  function failed() {
    if (checking) return;
    checking = true;
    var at = player.currentTime, play = !player.paused;
    fetch(box.getAttribute("data-file"), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (r) { return r.json(); }).then(function (f) {
      checking = false;
      var q = f.stream && f.stream.quota;
      if (!q) return; // unlimited: not the quota
      if (q.retry_after > 0) {
        show(q, at);
      } else if (retries < 5) {
        retries += 1;
        setTimeout(function () { reload(at, play); }, 2000);
      }
    }).catch(function () { checking = false; });
  }
  player.addEventListener("error", failed);
  player.addEventListener("playing", function () { retries = 0; });
  if (player.error) failed(); // it failed before this script ran
})();
