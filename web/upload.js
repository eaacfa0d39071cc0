// upload.js — the upload form: sends the chosen or dropped files to
// POST /api/v1/files with progress, and lists the links it gets back.
// Without JavaScript the form posts the same request and shows the JSON.
"use strict";
(function () {
  var form = document.getElementById("upload");
  var input = document.getElementById("file");
  var drop = document.getElementById("drop");
  var results = document.getElementById("results");

  function send(files) {
    if (!files.length) return;
    var data = new FormData();
    for (var i = 0; i < files.length; i++) data.append("file", files[i]);
    var li = document.createElement("li");
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    li.appendChild(bar);
    results.appendChild(li);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/files");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
    };
    xhr.onload = function () {
      li.textContent = "";
      var body;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status !== 201 || !body) {
        li.className = "error";
        li.textContent = (body && body.error) || ("upload failed: " + xhr.status);
        return;
      }
      body.files.forEach(function (f) {
        var a = document.createElement("a");
        a.href = f.url; a.textContent = f.name + " — " + f.url;
        var row = document.createElement("div");
        row.appendChild(a);
        li.appendChild(row);
      });
    };
    xhr.onerror = function () { li.className = "error"; li.textContent = "network error"; };
    xhr.send(data);
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); send(input.files); });
  input.addEventListener("change", function () { send(input.files); });
  ["dragenter", "dragover"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) { send(e.dataTransfer.files); });
})();
