// The book's own front-end fixes, loaded on every page by site/course_site.py.
//
// Sidebar toggles. pydata-sphinx-theme 0.17 renders a .primary-toggle and a
// .secondary-toggle in its header, and sphinx-book-theme 1.3 renders another pair in the
// article header. Both themes' scripts bind only the first of each
// (document.querySelector): the header pair, which this layout never shows. The buttons a
// reader sees therefore did nothing: on a phone neither the table of contents nor the
// page contents could be opened, and on a wide screen the sidebar did not collapse.
// Each other toggle forwards its click to the bound one, which then does what the themes
// intend (a dialog on narrow screens, collapsing the sidebar on wide ones).
(function () {
  "use strict";

  function forwardToggles(selector) {
    const toggles = Array.from(document.querySelectorAll(selector));
    const bound = toggles[0];
    for (const toggle of toggles.slice(1)) {
      toggle.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }

  // A link chosen in a sidebar dialog closes it, so the reader sees where it leads
  // (the theme leaves the dialog open over the page when the link is on the same page).
  function closeDialogOnLink(event) {
    const link = event.target.closest("dialog[open] a[href]");
    if (link) link.closest("dialog").close();
  }

  function setup() {
    forwardToggles(".primary-toggle");
    forwardToggles(".secondary-toggle");
    document.addEventListener("click", closeDialogOnLink);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
