// Fill a receive/transfer/count form from a scan: the server parses and resolves it
// (GET data-scan-url?code=...). A location label fills the form's location fields in
// the order data-scan-locations lists them (transfer: From, then To); an item, lot or
// serial label fills item, lot, serial and expiry. The scan field is emptied after
// each scan so the next one (a keyboard-wedge scanner types into it) starts clean.
(function () {
  "use strict";
  function input(form, name) { return form.querySelector('[name="' + name + '"]'); }

  function fill(form, data) {
    var filled = [];
    if (data.location) {
      var names = (form.getAttribute("data-scan-locations") || "").split(",").filter(Boolean);
      var target = names.map(function (n) { return input(form, n); })
        .filter(function (el) { return el && !el.value; })[0];
      if (!target) { return { text: "Location " + data.location + " scanned, but the location fields are filled.", bad: true }; }
      target.value = data.location;
      filled.push((target.closest("label") || target).textContent.trim() + " " + data.location);
    }
    var map = { item: data.sku, lot: data.lot, serial: data.serial, expiry_date: data.expiry_date };
    Object.keys(map).forEach(function (name) {
      var el = input(form, name);
      if (el && map[name] && !el.value) { el.value = map[name]; filled.push(name + " " + map[name]); }
    });
    return { text: filled.length ? "Filled " + filled.join(", ") + "." : "Nothing left to fill from that scan.", bad: false };
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-scan-form]").forEach(function (form) {
      var scan = form.querySelector("[data-scan]");
      var status = form.querySelector("[data-scan-status]");
      if (!scan) { return; }
      function say(text, bad) {
        if (status) { status.textContent = text; status.classList.toggle("error", !!bad); }
      }
      scan.addEventListener("change", function () {
        var code = scan.value;
        if (!code) { return; }
        var url = form.getAttribute("data-scan-url") + "?code=" + encodeURIComponent(code);
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (data) {
            if (data.error) { say(data.error, true); scan.select(); return; }
            var outcome = fill(form, data);
            say(outcome.text, outcome.bad);
            if (scan.value === code) { scan.value = ""; }
            scan.focus();
          })
          .catch(function () { /* the server fills the fields on submit anyway */ });
      });
      // A scanner ends with Enter: do not submit before the scan is parsed.
      scan.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); scan.dispatchEvent(new Event("change")); }
      });
    });
  });
})();
