// The desk's keyboard path: code + Enter → the booking with the check-in button focused → Enter → the exam slip,
// and the code field focused (and emptied) for the next patient. No inline scripts: the CSP allows files only.
(function () {
  "use strict";
  var REFUSED = { 404: true, 409: true, 422: true };

  function codeField() {
    return document.getElementById("desk-code");
  }

  // Show the desk's refusals (unknown code, cancelled, another day, a bad phone) in the panel: htmx swaps only
  // 2xx answers by default.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (REFUSED[event.detail.xhr.status] && event.detail.target && event.detail.target.id === "desk-panel") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Where the focus goes once the panel shows its answer.
  function settle(panel) {
    var code = codeField();
    if (!panel || !code) {
      return;
    }
    if (panel.querySelector("[data-slip]")) {
      code.value = "";
      code.focus();
      return;
    }
    if (panel.querySelector("[data-desk-error]")) {
      code.focus();
      code.select();
      return;
    }
    var next = panel.querySelector("[data-focus]");
    if (next) {
      next.focus();
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "desk-panel") {
      settle(event.detail.target);
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) {
      window.print();
    }
  });

  // A page rendered whole (no JavaScript round trip, or a reload) gets the same focus.
  function ready() {
    settle(document.getElementById("desk-panel"));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
