// Tell RequireJS and the widget manager where this site serves the widget front ends and
// their fonts, so nothing falls back to a CDN. Loaded after require.js and before the
// widget manager.
(function () {
  var assets = document.currentScript.src.replace(/[^/]*$/, ""); // .../_static/course-assets/
  window.__jupyter_widgets_assets_path__ = assets + "html-manager/";
  window.requirejs.config({
    paths: {
      anywidget: assets + "anywidget/index",
      "@jupyter-widgets/html-manager/dist": assets + "html-manager",
    },
  });
})();
