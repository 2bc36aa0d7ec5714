// Fill a receive/transfer/count form from a GS1 scan: the server parses it (biip).
(function () {
  "use strict";
  function fill(form, data) {
    var map = { item: data.sku, lot: data.lot, serial: data.serial, expiry_date: data.expiry_date };
    Object.keys(map).forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      if (input && map[name] && !input.value) { input.value = map[name]; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-scan-form]").forEach(function (form) {
      var scan = form.querySelector('[data-scan]');
      if (!scan) { return; }
      scan.addEventListener("change", function () {
        if (!scan.value) { return; }
        var url = form.getAttribute("data-scan-url") + "?code=" + encodeURIComponent(scan.value);
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (data) { if (!data.error) { fill(form, data); } })
          .catch(function () { /* the server fills the fields on submit anyway */ });
      });
      // A scanner ends with Enter: do not submit before the scan is parsed.
      scan.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); scan.dispatchEvent(new Event("change")); }
      });
    });
  });
})();
