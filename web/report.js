// report.js — the report form of /report/ID: posts {id, category, text,
// contact} to /api/v1/reports and says what came of it, in words for
// people: received (201, with the report's id), a missing reason (400),
// too long (413), too many reports from this address (429, with the wait).
"use strict";
(function () {
  var P = window.partage;
  var form = document.getElementById("report-form");
  var out = document.getElementById("report-result");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var cat = form.elements.category.value;
    out.className = "result";
    if (!cat) {
      out.className = "result error";
      out.textContent = _("Choose a reason first.");
      form.elements.category.focus();
      return;
    }
    var button = form.querySelector("button");
    button.disabled = true;
    P.api("POST", "/api/v1/reports", {
      id: form.getAttribute("data-id"), category: cat,
      text: form.elements.text.value, contact: form.elements.contact.value
    }).then(function (r) {
      button.disabled = false;
      if (r.ok) {
        out.className = "result ok";
        out.textContent = _("Thank you: your report %s was received. A moderator will look at it.", r.data.id);
        form.elements.text.value = "";
        return;
      }
      out.className = "result error";
      if (r.status === 429)
        out.textContent = _("This address sent too many reports. Try again later.") +
          " " + (r.error.match(/wait \d+ s/) ? r.error.replace(/^.*?(wait (\d+)).*$/, function (m, w, n) {
            return _("(wait %s s)", n);
          }) : "");
      else if (r.status === 413)
        out.textContent = _("Too long: the details take up to 10000 characters, the contact up to 500.");
      else if (r.status === 400)
        out.textContent = _("The report was refused: choose a reason from the list.");
      else
        out.textContent = _("The report could not be sent (%s). Try again in a moment.", r.error);
    });
  });
})();
