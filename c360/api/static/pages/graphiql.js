// GraphiQL on the app's own /graphql, with the assets served by c360 itself.
(function () {
  "use strict";
  var page = document.getElementById("graphiql");
  var KEY_TEMPLATE = '{\n  "Authorization": "Bearer PASTE-AN-API-KEY-HERE"\n}';
  var fetcher = GraphiQL.createFetcher({ url: page.dataset.endpoint });
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
