// The API page (api.html): Swagger UI, vendored (vendor/swagger-ui, scripts/vendor-swagger-ui.sh),
// on GET /openapi.json. A classic script, not a module: the bundle defines the global
// SwaggerUIBundle. Not api.js, which is the viewer's HTTP client.

(function () {
  "use strict";

  function fail(message) {
    const note = document.getElementById("api-loading") || document.createElement("p");
    note.className = "api-note";
    note.textContent = message;
    if (!note.isConnected) document.getElementById("swagger-ui").append(note);
  }

  if (typeof window.SwaggerUIBundle !== "function") {
    fail("Swagger UI did not load (/ui/vendor/swagger-ui/swagger-ui-bundle.js). The API description is at /openapi.json.");
    return;
  }

  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    // The standard presets of the bundle (OpenAPI 2, 3.0 and 3.1); its BaseLayout, without the
    // standalone preset's top bar, which is not in this bundle.
    presets: [window.SwaggerUIBundle.presets.apis],
    plugins: [window.SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
    deepLinking: true,
    // No call to validator.swagger.io: the page talks to this server only (connect-src 'self').
    validatorUrl: null,
    // "Try it out" runs real requests (a chat costs tokens): one click per operation first.
    tryItOutEnabled: false,
    // The spec is always ours: no `?url=` or `?configUrl=` from the address bar.
    queryConfigEnabled: false,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    filter: true,
  });
})();
