/* Entitle's GraphiQL page: GraphiQL 3 with the explorer plugin, talking to this page's own URL.
 * Served by the service with everything else the page needs: no request leaves the host. */
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# Entitle GraphiQL",
    "#",
    "# Every request needs a token: put a management API key (printed by `entitle serve` on first",
    "# start, or `entitle create-api-key`) or a tenant JWT in the Headers tab below, replacing the",
    "# example, then run this query (Ctrl-Enter). The schema (docs, completion) loads once the",
    "# header is valid: press the refresh button in the left bar (Shift-Ctrl-R) after setting it.",
    "",
    "{",
    "  viewer {",
    "    kind",
    "  }",
    "}",
    "",
  ].join("\n");

  var DEFAULT_HEADERS = JSON.stringify({ Authorization: "Bearer <your API key or JWT>" }, null, 2);

  var parameters = new URLSearchParams(window.location.search);
  var fetchURL = window.location.href.split("#")[0].split("?")[0];

  function updateURL(query) {
    // Only the query travels in the URL (shareable); headers and variables never do.
    var search = new URLSearchParams(window.location.search);
    if (query) {
      search.set("q", query);
    } else {
      search.delete("q");
    }
    history.replaceState(null, "", "?" + search.toString());
  }

  var fetcher = GraphiQL.createFetcher({ url: fetchURL });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function EntitleGraphiQL() {
    var state = React.useState(parameters.get("q") || DEFAULT_QUERY);
    var query = state[0];
    var setQuery = state[1];

    function onEditQuery(newQuery) {
      setQuery(newQuery);
      updateURL(newQuery);
    }

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      query: query,
      onEditQuery: onEditQuery,
      defaultHeaders: DEFAULT_HEADERS,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(EntitleGraphiQL));
})();
