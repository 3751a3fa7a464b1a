// Starts Swagger UI on /docs. Opened as /docs?token=..., the page sends that token as a bearer
// header with every request it makes (the spec download and "Try it out") unless the user
// authorized with another one.
(function () {
  "use strict";
  var token = new URLSearchParams(window.location.search).get("token");

  function withToken(request) {
    if (token && !request.headers.Authorization) {
      request.headers.Authorization = "Bearer " + token;
    }
    return request;
  }

  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: withToken,
    onComplete: function () {
      if (token) {
        window.ui.preauthorizeApiKey("bearerAuth", token);
      }
    },
  });
})();
