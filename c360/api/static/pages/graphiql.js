// GraphiQL on the app's own /graphql, with the assets served by c360 itself.
(function () {
  "use strict";
  var page = document.getElementById("graphiql");
  var PLACEHOLDER = "PASTE-AN-API-KEY-HERE";
  var KEY_TEMPLATE = '{\n  "Authorization": "Bearer ' + PLACEHOLDER + '"\n}';
  var NO_KEY =
    "No API key yet: paste one into the Headers tab below (make run prints one per role), " +
    "then run the query. The schema (documentation, completion) is read with the key: " +
    "fetch it again with Shift-Ctrl-R once the key is in.";
  var send = GraphiQL.createFetcher({ url: page.dataset.endpoint });
  // Without a key every request would be refused: say what to do instead of sending it (the
  // page's own schema request comes first, before anybody could paste one).
  var fetcher = function (params, options) {
    var headers = (options && options.headers) || {};
    var given = String(headers.Authorization || headers.authorization || "");
    if (!given.trim() || given.indexOf(PLACEHOLDER) !== -1) {
      return Promise.resolve({
        errors: [{ message: NO_KEY, extensions: { code: "Unauthenticated" } }],
      });
    }
    return send(params, options);
  };
  // GraphiQL's editors are CodeMirror text areas without a name: a screen reader heard "edit
  // text" four times. Each is named for what it holds, as GraphiQL draws (and redraws) them;
  // and which of Variables and Headers is shown, said by a class only, is said as pressed.
  var nameEditors = function () {
    page.querySelectorAll(".graphiql-editor-tools button[data-name]").forEach(function (tab) {
      var pressed = String(tab.classList.contains("active"));
      if (tab.getAttribute("aria-pressed") !== pressed) tab.setAttribute("aria-pressed", pressed);
    });
    var named = [
      [".graphiql-query-editor .CodeMirror textarea", ["Query"]],
      [".graphiql-editor-tool .CodeMirror textarea", ["Variables", "Headers"]],
      [".result-window .CodeMirror textarea", ["Response"]],
    ];
    named.forEach(function (pair) {
      page.querySelectorAll(pair[0]).forEach(function (area, i) {
        var name = pair[1][i];
        if (name && area.getAttribute("aria-label") !== name) area.setAttribute("aria-label", name);
      });
    });
  };
  new MutationObserver(nameEditors).observe(page, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["class"],
  });
  var root = ReactDOM.createRoot(page);
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: page.dataset.defaultQuery,
      defaultHeaders: KEY_TEMPLATE,
      // Every request needs a key: show the headers editor from the start.
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    })
  );
})();
