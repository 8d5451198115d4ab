// Tell RequireJS where this site serves the widget front ends, so the widget manager
// never falls back to a CDN. Loaded after require.js and before the widget manager.
(function () {
  var vendor = document.currentScript.src.replace(/[^/]*$/, ""); // .../_static/course-assets/
  window.requirejs.config({ paths: { anywidget: vendor + "anywidget/index" } });
})();
