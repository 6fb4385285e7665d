// ReDoc over the app's OpenAPI document, from assets served by c360 itself (no web fonts).
(function () {
  "use strict";
  var page = document.getElementById("redoc");
  // ReDoc's default colours for inline code (3.9:1) and error responses' tabs on the dark panel
  // (3.5:1) are under WCAG 1.4.3's 4.5:1: these reach it (its muted headings: redoc.css).
  var theme = {
    colors: { responses: { error: { tabTextColor: "#ff6b61" } } },
    typography: { code: { color: "#b71c1c" } },
  };
  Redoc.init(page.dataset.openapi, { hideDownloadButton: false, theme: theme }, page);
  // Its drop-downs (a body's media type, which of several schemas) have no name: a screen
  // reader said "combo box" only. Each is named for what it chooses, as ReDoc draws them.
  var nameChoices = function () {
    page.querySelectorAll("select:not([aria-label])").forEach(function (choice) {
      var types = Array.prototype.every.call(choice.options, function (option) {
        return option.value.indexOf("/") !== -1;
      });
      choice.setAttribute("aria-label", types ? "Media type" : "Schema");
    });
  };
  new MutationObserver(nameChoices).observe(page, { childList: true, subtree: true });
})();
