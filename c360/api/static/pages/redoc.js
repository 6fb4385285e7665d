// ReDoc over the app's OpenAPI document, from assets served by c360 itself (no web fonts).
(function () {
  "use strict";
  var page = document.getElementById("redoc");
  Redoc.init(page.dataset.openapi, { hideDownloadButton: false }, page);
})();
