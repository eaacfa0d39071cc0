// files.js — the file manager (/files?folder=ID): the folders and files of
// the logged-in user, one folder at a time, with breadcrumbs, sorting and
// pages (GET /api/v1/me/files?folder=), and the changes: new folder,
// upload here, rename, move, delete, share/unshare a folder, copy a link.
// Every name is put in the page with textContent.
//
// Issue 17: each row has a checkbox ("Select all" above the table); the
// selection is moved (the move dialog) or deleted at once, one API call
// per entry, and what failed is named.  Rows drag onto a folder's row or a
// breadcrumb to move there (the dragged row's selection with it); the Move
// buttons are the same without a mouse.  The search box filters the rows
// loaded (this page of the folder: the list API has no name filter), by
// name, ignoring case and accents.  A file shows its thumbnail_url when
// its JSON has one, else its type icon (nav.js).
"use strict";
(function () {
  var P = window.partage;
  var PER_PAGE = 50;
  var params = new URLSearchParams(location.search);
  var here = params.get("folder") || "";            // "" = the top level
  var sort = params.get("sort") || "created";
  var order = params.get("order") || (sort === "created" || sort === "downloads" ? "desc" : "asc");
  var page = Math.max(1, parseInt(params.get("page"), 10) || 1);
  var folders = [];                                 // all of the user's
  var byId = {};
  var shown = [];                                   // {kind, obj, tr, box} of the rows
  var dragged = null;                               // the rows being dragged
  var $ = function (id) { return document.getElementById(id); };

  function status(text, isError) {
    $("status").textContent = text;
    $("status").className = "status" + (isError ? " error" : "");
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function button(text, onclick, label) {
    var b = el("button", text, "secondary small");
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onclick);
    return b;
  }

  function filesUrl(folder) {
    return folder ? "/files?folder=" + encodeURIComponent(folder) : "/files";
  }

  // "A / B / C": the path of a folder from the top.
  function pathOf(id) {
    var names = [], seen = {};
    while (id && byId[id] && !seen[id]) {
      seen[id] = true;
      names.unshift(byId[id].name);
      id = byId[id].parent;
    }
    return names.join(" / ");
  }

  function isBelow(id, ancestor) {
    var seen = {};
    while (id && byId[id] && !seen[id]) {
      if (id === ancestor) return true;
      seen[id] = true;
      id = byId[id].parent;
    }
    return false;
  }

  function fail(r) {
    if (r.status === 401) { P.toLogin(); return true; }
    status(r.error, true);
    return false;
  }

  // ---- the dialog (rename, move) ----
  var dlg = $("dialog"), dlgAction = null;
  function ask(title, opts, action) {
    $("dialog-title").textContent = title;
    $("dialog-error").textContent = "";
    var input = $("dialog-input"), select = $("dialog-select");
    input.hidden = $("dialog-input-label").hidden = !("value" in opts);
    select.hidden = $("dialog-select-label").hidden = !opts.choices;
    input.required = "value" in opts;
    if ("value" in opts) input.value = opts.value;
    if (opts.choices) {
      select.textContent = "";
      opts.choices.forEach(function (c) {
        var o = el("option", c.label);
        o.value = c.value;
        select.appendChild(o);
      });
    }
    $("dialog-ok").textContent = opts.ok;
    dlgAction = action;
    dlg.showModal();
    if ("value" in opts) { input.focus(); input.select(); } else select.focus();
  }
  $("dialog-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var value = $("dialog-input").hidden ? $("dialog-select").value : $("dialog-input").value;
    $("dialog-ok").disabled = true;
    dlgAction(value).then(function (r) {
      $("dialog-ok").disabled = false;
      if (r.ok) {
        dlg.close();
        load();
      } else if (r.status === 401) {
        P.toLogin();
      } else {
        $("dialog-error").textContent = r.error;
      }
    });
  });
  $("dialog-cancel").addEventListener("click", function () { dlg.close(); });

  function moveChoices(skip) {
    var list = [{ value: "", label: _("My files (top level)") }];
    folders.map(function (f) { return { value: f.id, label: pathOf(f.id) }; })
      .filter(function (c) { return !skip || !isBelow(c.value, skip); })
      .sort(function (a, b) { return a.label < b.label ? -1 : a.label > b.label ? 1 : 0; })
      .forEach(function (c) { list.push(c); });
    return list;
  }

  // ---- actions ----
  function renameFile(f) {
    ask(_("Rename %s", f.name), { value: f.name, ok: _("Rename") }, function (v) {
      return P.api("PATCH", "/api/v1/files/" + f.id, { name: v });
    });
  }
  function renameFolder(d) {
    ask(_("Rename folder %s", d.name), { value: d.name, ok: _("Rename") }, function (v) {
      return P.api("PATCH", "/api/v1/folders/" + d.id, { name: v });
    });
  }
  function moveFile(f) {
    ask(_("Move %s", f.name), { choices: moveChoices(null), ok: _("Move") }, function (v) {
      return P.api("PATCH", "/api/v1/files/" + f.id, { folder: v || null });
    });
    $("dialog-select").value = f.folder || "";
  }
  function moveFolder(d) {
    ask(_("Move folder %s", d.name), { choices: moveChoices(d.id), ok: _("Move") }, function (v) {
      return P.api("PATCH", "/api/v1/folders/" + d.id, { parent: v || null });
    });
    $("dialog-select").value = d.parent || "";
  }
  function deleteFile(f) {
    if (!confirm(_("Delete \u201c%s\u201d? Its link stops working for everyone.", f.name)))
      return;
    P.api("DELETE", "/" + f.id).then(function (r) {
      if (!r.ok) return fail(r);
      status(_("Deleted %s.", f.name));
      load();
    });
  }
  function deleteFolder(d) {
    if (!confirm(_("Delete the folder \u201c%s\u201d?", d.name))) return;
    P.api("DELETE", "/api/v1/folders/" + d.id).then(function (r) {
      if (r.status === 409) {
        if (!confirm(_("The folder \u201c%s\u201d is not empty.", d.name) + "\n\n" +
            _("Delete it together with EVERY folder and file inside it? Their links stop working for everyone. This cannot be undone.")))
          return status(_("Nothing was deleted."));
        return P.api("DELETE", "/api/v1/folders/" + d.id + "?recursive=1").then(function (r2) {
          if (!r2.ok) return fail(r2);
          status(_("Deleted the folder %s and everything in it.", d.name));
          load();
        });
      }
      if (!r.ok) return fail(r);
      status(_("Deleted the folder %s.", d.name));
      load();
    });
  }
  function setShared(d, on) {
    return P.api("PATCH", "/api/v1/folders/" + d.id, { shared: on }).then(function (r) {
      if (!r.ok) return fail(r);
      status(on ? _("The folder %s is shared: anyone with its link sees it.", d.name)
        : _("The folder %s is private again.", d.name));
      load();
    });
  }
  function copy(url) {
    var done = function () { status(_("Link copied: %s", url)); };
    var manual = function () { status(_("Copy this link: %s", url)); };
    if (navigator.clipboard && navigator.clipboard.writeText)
      navigator.clipboard.writeText(url).then(done, manual);
    else
      manual();
  }

  // ---- rendering ----
  function folderRow(d) {
    var tr = el("tr", null, "folder");
    tr.setAttribute("data-id", d.id);
    var name = el("td", null, "name");
    var a = el("a", d.name + "/");
    a.href = filesUrl(d.id);
    name.appendChild(P.icon(null, true));
    name.appendChild(a);
    if (d.shared) {
      var s = el("a", _("shared"), "badge");
      s.href = d.url;
      s.setAttribute("aria-label", _("shared: public page of %s", d.name));
      name.appendChild(document.createTextNode(" "));
      name.appendChild(s);
    }
    tr.appendChild(name);
    tr.appendChild(el("td", _("folder"), "muted"));
    tr.appendChild(el("td", ""));
    tr.appendChild(el("td", P.localTime(d.created)));
    tr.appendChild(el("td", ""));
    var act = el("td", null, "actions");
    act.appendChild(button(d.shared ? _("Unshare") : _("Share"), function () { setShared(d, !d.shared); },
      d.shared ? _("Unshare %s", d.name) : _("Share %s", d.name)));
    if (d.shared) act.appendChild(button(_("Copy link"), function () { copy(d.url); }, _("Copy link of %s", d.name)));
    act.appendChild(button(_("Rename"), function () { renameFolder(d); }, _("Rename %s", d.name)));
    act.appendChild(button(_("Move"), function () { moveFolder(d); }, _("Move %s", d.name)));
    act.appendChild(button(_("Delete"), function () { deleteFolder(d); }, _("Delete %s", d.name)));
    tr.appendChild(act);
    return tr;
  }

  function fileRow(f) {
    var tr = el("tr", null, "file");
    tr.setAttribute("data-id", f.id);
    var name = el("td", null, "name");
    var a = el("a", f.name);
    a.href = f.url;
    if (f.thumbnail_url) {
      var img = el("img", null, "thumb");
      img.src = f.thumbnail_url;
      img.alt = "";               // the name beside it says what it is
      img.loading = "lazy";
      img.width = img.height = 40;
      name.appendChild(img);
    } else {
      name.appendChild(P.icon(f.mime));
    }
    name.appendChild(a);
    if (f.password_protected) {
      name.appendChild(document.createTextNode(" "));
      name.appendChild(el("span", _("password"), "badge"));
    }
    tr.appendChild(name);
    var size = el("td", P.size(f.size));
    size.title = _n("%s byte", "%s bytes", f.size, f.size);
    tr.appendChild(size);
    tr.appendChild(el("td", String(f.downloads)));
    tr.appendChild(el("td", P.localTime(f.created)));
    var limits = [];
    if (f.expires) limits.push(_("expires %s", P.localTime(f.expires)));
    if (f.max_downloads) limits.push(_n("%d of %d download", "%d of %d downloads", f.max_downloads, f.downloads, f.max_downloads));
    tr.appendChild(el("td", limits.join(", "), "limits"));
    var act = el("td", null, "actions");
    act.appendChild(button(_("Copy link"), function () { copy(f.url); }, _("Copy link of %s", f.name)));
    act.appendChild(button(_("Rename"), function () { renameFile(f); }, _("Rename %s", f.name)));
    act.appendChild(button(_("Move"), function () { moveFile(f); }, _("Move %s", f.name)));
    act.appendChild(button(_("Delete"), function () { deleteFile(f); }, _("Delete %s", f.name)));
    tr.appendChild(act);
    return tr;
  }

  function renderCrumbs() {
    var ol = $("crumbs");
    ol.textContent = "";
    var chain = [], id = here, seen = {};
    while (id && byId[id] && !seen[id]) { seen[id] = true; chain.unshift(byId[id]); id = byId[id].parent; }
    var top = el("li");
    var ta = el("a", _("My files"));
    ta.href = "/files";
    ta.setAttribute("data-folder", "");
    top.appendChild(ta);
    ol.appendChild(top);
    chain.forEach(function (d, i) {
      var li = el("li");
      var a = el("a", d.name);
      a.href = filesUrl(d.id);
      a.setAttribute("data-folder", d.id);
      if (i === chain.length - 1) a.setAttribute("aria-current", "page");
      li.appendChild(a);
      ol.appendChild(li);
    });
    if (!here) ta.setAttribute("aria-current", "page");
    var cur = byId[here];
    $("title").textContent = cur ? cur.name : _("My files");
    document.title = (cur ? cur.name : _("My files")) + " — partage";
  }

  function renderFolderBar() {
    var cur = byId[here];
    $("folder-bar").hidden = !cur;
    if (!cur) return;
    $("share-state").textContent = cur.shared ? _("Shared: anyone with the link sees this folder.")
      : _("Private: only you see this folder.");
    $("share-link").hidden = $("share-copy").hidden = !cur.shared;
    $("share-link").value = cur.shared ? cur.url : "";
    $("share-toggle").textContent = cur.shared ? _("Unshare") : _("Share");
  }
  $("share-toggle").addEventListener("click", function () {
    var cur = byId[here];
    if (cur) setShared(cur, !cur.shared);
  });
  $("share-copy").addEventListener("click", function () {
    var cur = byId[here];
    if (cur) copy(cur.url);
  });
  $("share-link").addEventListener("focus", function () { this.select(); });

  function keepState() {
    var q = new URLSearchParams();
    if (here) q.set("folder", here);
    if (sort !== "created") q.set("sort", sort);
    if (order !== (sort === "created" || sort === "downloads" ? "desc" : "asc")) q.set("order", order);
    if (page > 1) q.set("page", String(page));
    var s = q.toString();
    history.replaceState(null, "", "/files" + (s ? "?" + s : ""));
  }

  function load() {
    var q = "?folder=" + encodeURIComponent(here) + "&sort=" + sort + "&order=" + order +
      "&page=" + page + "&per_page=" + PER_PAGE;
    return Promise.all([
      P.api("GET", "/api/v1/folders"),
      P.api("GET", "/api/v1/me/files" + q)
    ]).then(function (rs) {
      var fr = rs[0], lr = rs[1];
      if (!fr.ok) return fail(fr);
      folders = fr.data.folders;
      byId = {};
      folders.forEach(function (d) { byId[d.id] = d; });
      if (here && !byId[here]) {
        $("rows").textContent = "";
        status(_("There is no folder %s in your account (it was deleted or moved away).", here), true);
        return;
      }
      if (!lr.ok) return fail(lr);
      var total = lr.data.total, pages = Math.max(1, Math.ceil(total / PER_PAGE));
      if (page > pages) { page = pages; keepState(); return load(); }
      renderCrumbs();
      renderFolderBar();
      var rows = $("rows");
      rows.textContent = "";
      var subs = folders.filter(function (d) { return (d.parent || "") === here; });
      shown = [];
      if (page === 1) subs.forEach(function (d) { rows.appendChild(decorate("folder", d, folderRow(d))); });
      lr.data.files.forEach(function (f) { rows.appendChild(decorate("file", f, fileRow(f))); });
      $("empty").hidden = rows.children.length > 0;
      selectionChanged();
      filter();
      $("page-info").textContent = _n("%d file", "%d files", total, total) +
        (pages > 1 ? " — " + _("page %d of %d", page, pages) : "");
      $("prev").disabled = page <= 1;
      $("next").disabled = page >= pages;
      keepState();
    });
  }

  // ---- selection, search, drag and drop (issue 17) ----
  function apiPath(e) {
    return e.kind === "file" ? "/api/v1/files/" + e.obj.id : "/api/v1/folders/" + e.obj.id;
  }

  // A row's checkbox, drag handlers and drop target (folders).
  function decorate(kind, obj, tr) {
    var e = { kind: kind, obj: obj, tr: tr };
    var td = el("td", null, "sel");
    var box = el("input");
    box.type = "checkbox";
    box.setAttribute("aria-label", _("Select %s", obj.name));
    box.addEventListener("change", selectionChanged);
    td.appendChild(box);
    tr.insertBefore(td, tr.firstChild);
    e.box = box;
    tr.draggable = true;
    tr.addEventListener("dragstart", function (ev) {
      dragged = box.checked ? selected() : [e];
      dragged.forEach(function (x) { x.tr.classList.add("dragging"); });
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", obj.name);
    });
    tr.addEventListener("dragend", function () {
      shown.forEach(function (x) { x.tr.classList.remove("dragging"); });
      dragged = null;
    });
    if (kind === "folder") dropTarget(tr, function () { return obj.id; });
    shown.push(e);
    return tr;
  }

  // el takes dragged rows: they move into the folder target() names
  // ("" = the top level).
  function dropTarget(node, target) {
    node.addEventListener("dragover", function (ev) {
      if (!dragged || !canMove(dragged, target())) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "move";
      node.classList.add("drop-target");
    });
    node.addEventListener("dragleave", function () { node.classList.remove("drop-target"); });
    node.addEventListener("drop", function (ev) {
      ev.preventDefault();
      node.classList.remove("drop-target");
      var list = dragged;
      dragged = null;
      if (list && canMove(list, target())) moveAll(list, target());
    });
  }

  // Not into itself nor below itself, nor where it already is.
  function canMove(list, to) {
    return list.every(function (x) {
      if (x.kind === "folder") return x.obj.id !== to && !(to && isBelow(to, x.obj.id)) && (x.obj.parent || "") !== to;
      return (x.obj.folder || "") !== to;
    });
  }

  function selected() {
    return shown.filter(function (x) { return x.box.checked && !x.tr.hidden; });
  }

  function selectionChanged() {
    var n = selected().length, visible = shown.filter(function (x) { return !x.tr.hidden; });
    $("sel-count").textContent = n ? _n("%d selected", "%d selected", n, n) : _("Nothing selected");
    $("bulk-move").disabled = $("bulk-delete").disabled = !n;
    $("select-all").checked = n > 0 && n === visible.length;
    $("select-all").indeterminate = n > 0 && n < visible.length;
    $("select-all").disabled = !visible.length;
  }
  $("select-all").addEventListener("change", function () {
    var on = this.checked;
    shown.forEach(function (x) { if (!x.tr.hidden) x.box.checked = on; });
    selectionChanged();
  });

  // One request per entry, in turn; then one line on what happened.
  function eachOf(list, fn, done) {
    var bad = [];
    return list.reduce(function (p, x) {
      return p.then(function () {
        return fn(x).then(function (r) {
          if (r.status === 401) P.toLogin();
          if (!r.ok) bad.push(_("%s: %s", x.obj.name, r.error));
        });
      });
    }, Promise.resolve()).then(function () {
      if (bad.length) status(done(list.length - bad.length) + " " + bad.join("; "), true);
      else status(done(list.length));
      return load();
    });
  }

  function moveAll(list, to) {
    return eachOf(list, function (x) {
      return P.api("PATCH", apiPath(x), x.kind === "file" ? { folder: to || null } : { parent: to || null });
    }, function (n) {
      return _n("Moved %d item to %s.", "Moved %d items to %s.", n, n, to ? pathOf(to) : _("My files"));
    });
  }

  $("bulk-move").addEventListener("click", function () {
    var list = selected();
    if (!list.length) return;
    var choices = moveChoices(null).filter(function (c) { return canMove(list, c.value); });
    if (!choices.length) return status(_("There is no other folder to move them to."), true);
    ask(_n("Move %d item", "Move %d items", list.length, list.length), { choices: choices, ok: _("Move") },
      function (v) {
        return moveAll(list, v).then(function () { return { ok: true }; });
      });
  });

  $("bulk-delete").addEventListener("click", function () {
    var list = selected();
    if (!list.length) return;
    var folderIn = list.some(function (x) { return x.kind === "folder"; });
    if (!confirm(_n("Delete %d item? Its link stops working for everyone.",
        "Delete %d items? Their links stop working for everyone.", list.length, list.length) +
        (folderIn ? "\n\n" + _("Selected folders are deleted with every folder and file inside them.") : "")))
      return status(_("Nothing was deleted."));
    eachOf(list, function (x) {
      return P.api("DELETE", x.kind === "file" ? "/" + x.obj.id : "/api/v1/folders/" + x.obj.id + "?recursive=1");
    }, function (n) { return _n("Deleted %d item.", "Deleted %d items.", n, n); });
  });

  // The search box: rows whose name has the text, ignoring case and
  // accents; the rows loaded only (see the top).
  function fold(t) {
    return t.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function filter() {
    var q = fold($("search").value.trim()), n = 0;
    shown.forEach(function (x) {
      x.tr.hidden = q !== "" && fold(x.obj.name).indexOf(q) < 0;
      if (x.tr.hidden) x.box.checked = false;
      else n++;
    });
    $("no-match").hidden = !q || n > 0 || !shown.length;
    selectionChanged();
  }
  $("search").addEventListener("input", filter);
  $("search-form").addEventListener("submit", function (e) { e.preventDefault(); filter(); });

  // the breadcrumbs take drops too: onto a folder above this one
  $("crumbs").addEventListener("dragover", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-folder]");
    if (!a || !dragged || !canMove(dragged, a.getAttribute("data-folder"))) return;
    ev.preventDefault();
    a.classList.add("drop-target");
  });
  $("crumbs").addEventListener("dragleave", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-folder]");
    if (a) a.classList.remove("drop-target");
  });
  $("crumbs").addEventListener("drop", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-folder]");
    if (!a || !dragged) return;
    ev.preventDefault();
    a.classList.remove("drop-target");
    var list = dragged, to = a.getAttribute("data-folder");
    dragged = null;
    if (canMove(list, to)) moveAll(list, to);
  });

  // ---- controls ----
  $("sort").value = sort;
  $("order").value = order;
  $("sort").addEventListener("change", function () {
    sort = this.value;
    order = sort === "created" || sort === "downloads" ? "desc" : "asc";
    $("order").value = order;
    page = 1;
    load();
  });
  $("order").addEventListener("change", function () { order = this.value; page = 1; load(); });
  $("prev").addEventListener("click", function () { if (page > 1) { page--; load(); } });
  $("next").addEventListener("click", function () { page++; load(); });

  $("new-folder").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("new-folder-name");
    var body = { name: input.value };
    if (here) body.parent = here;
    P.api("POST", "/api/v1/folders", body).then(function (r) {
      if (!r.ok) return fail(r);
      input.value = "";
      status(_("Created the folder %s.", r.data.name));
      load();
    });
  });

  $("upload-here").addEventListener("submit", function (e) {
    e.preventDefault();
    var files = $("upload-files").files;
    if (!files.length) return;
    var data = new FormData();
    for (var i = 0; i < files.length; i++) data.append("file", files[i]);
    status(_n("Uploading %d file…", "Uploading %d files…", files.length, files.length));
    var url = "/api/v1/files" + (here ? "?folder=" + encodeURIComponent(here) : "");
    P.api("POST", url, data).then(function (r) {
      if (!r.ok) return fail(r);
      $("upload-files").value = "";
      status(_("Uploaded %s.", r.data.files.map(function (f) { return f.name; }).join(", ")));
      load();
    });
  });

  P.ready.then(function (me) {
    if (!me) return P.toLogin();
    load();
  });
})();
