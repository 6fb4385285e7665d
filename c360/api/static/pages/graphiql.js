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
