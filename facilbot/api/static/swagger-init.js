// Starts Swagger UI on /docs (facilbot/api/docs.py). It is a file, not an inline script, so
// that the page's Content-Security-Policy can allow scripts of this origin only; the page
// passes the settings (OpenAPI URL, OAuth2 redirect, FastAPI's Swagger UI parameters) as JSON
// in the data-config attribute of #swagger-ui.
"use strict";

(function () {
  var element = document.getElementById("swagger-ui");
  var config = JSON.parse(element.getAttribute("data-config"));
  var initOAuth = config.initOAuth;
  delete config.initOAuth;
  config.oauth2RedirectUrl = window.location.origin + config.oauth2RedirectUrl;
  config.presets = [SwaggerUIBundle.presets.apis];
  var ui = SwaggerUIBundle(config);
  if (initOAuth) {
    ui.initOAuth(initOAuth);
  }
  window.ui = ui;
})();
