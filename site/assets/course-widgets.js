// Renders the widgets stored in a page, without a kernel and without the 3.6 MB Jupyter
// widget manager. site/course_site.py puts this script, inline, right after the stored
// widget state on every page whose stored widgets are all of the kinds below (it keeps the
// full manager on any other page):
//
// - anywidget models (rnnlib's gate explorers and knowledge checks): the stored front end
//   (`_esm`, an ES module) is imported and its render({model, el}) called with a small
//   model offering what anywidget's does (get, set, on, off, save_changes, send);
//   `_css` is added to the page once;
// - the finished progress bars of tqdm.notebook (an HBox of HTML, FloatProgress, HTML);
// - layout and style models, which need no view of their own.
//
// Each view is drawn where the page stores it (a <script type="...widget-view+json">), as
// the Jupyter widget manager does.
(function () {
  "use strict";

  const STATE = "application/vnd.jupyter.widget-state+json";
  const VIEW = "application/vnd.jupyter.widget-view+json";
  const REF = "IPY_MODEL_";

  class Model {
    constructor(id, state) {
      this.id = id;
      this.state = { ...state };
      this.listeners = new Map();
    }
    get(name) {
      return this.state[name];
    }
    set(name, value) {
      const old = this.state[name];
      this.state[name] = value;
      if (JSON.stringify(old) !== JSON.stringify(value)) {
        this.emit(`change:${name}`, value);
        this.emit("change");
      }
    }
    on(event, fn) {
      for (const name of event.split(/\s+/)) {
        if (!this.listeners.has(name)) this.listeners.set(name, new Set());
        this.listeners.get(name).add(fn);
      }
    }
    off(event, fn) {
      for (const name of (event || "").split(/\s+/)) {
        const set = this.listeners.get(name);
        if (set && fn) set.delete(fn);
        else if (set) set.clear();
      }
    }
    emit(name, ...args) {
      for (const fn of Array.from(this.listeners.get(name) || [])) fn(...args);
    }
    save_changes() {} // no kernel to tell
    send() {}
  }

  const styles = new Set();
  const modules = new Map();

  function addStyle(css) {
    if (!css || styles.has(css)) return;
    styles.add(css);
    const style = document.createElement("style");
    style.textContent = css;
    document.head.append(style);
  }

  function importModule(source) {
    if (!modules.has(source)) {
      const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      modules.set(source, import(url));
    }
    return modules.get(source);
  }

  async function renderAnyWidget(model, el) {
    addStyle(model.get("_css"));
    const mod = await importModule(model.get("_esm"));
    const widget = mod.default && typeof mod.default === "object" ? mod.default : mod;
    if (widget.initialize) await widget.initialize({ model });
    if (widget.render) await widget.render({ model, el });
  }

  function text(el, html) {
    // tqdm writes its description and counts as escaped HTML; read them as text
    const tmp = document.createElement("template");
    tmp.innerHTML = html;
    el.textContent = tmp.content.textContent;
  }

  function renderControl(models, model, el) {
    const name = model.get("_model_name");
    if (name === "HBoxModel" || name === "VBoxModel") {
      el.className = `course-widget-box course-widget-${name === "HBoxModel" ? "row" : "column"}`;
      for (const ref of model.get("children") || []) {
        const child = document.createElement("div");
        el.append(child);
        renderModel(models, ref.slice(REF.length), child);
      }
      const bar = el.querySelector("progress");
      if (bar) bar.setAttribute("aria-label", el.textContent.trim() || "progress");
    } else if (name === "HTMLModel" || name === "LabelModel") {
      el.className = "course-widget-text";
      text(el, model.get("value") || "");
    } else if (name === "FloatProgressModel" || name === "IntProgressModel") {
      el.className = "course-widget-progress";
      const bar = document.createElement("progress");
      bar.max = model.get("max") - model.get("min");
      bar.value = model.get("value") - model.get("min");
      bar.dataset.style = model.get("bar_style") || "";
      el.append(bar);
    } else {
      el.textContent = `(${name}: this widget is shown only in Jupyter)`;
    }
  }

  function renderModel(models, id, el) {
    const model = models.get(id);
    if (!model) {
      el.textContent = "(a widget whose state was not saved with the notebook)";
      return Promise.resolve();
    }
    if (model.get("_model_module") === "anywidget") {
      return renderAnyWidget(model, el).catch((err) => {
        el.textContent = `This widget could not be shown: ${err}`;
        console.error(err);
      });
    }
    renderControl(models, model, el);
    return Promise.resolve();
  }

  // The stored state, as models by id (null when the page stores none).
  function readModels() {
    const stateScript = document.querySelector(`script[type="${STATE}"]`);
    if (!stateScript) return null;
    const stored = JSON.parse(stateScript.textContent).state;
    const models = new Map();
    for (const [id, m] of Object.entries(stored)) {
      models.set(id, new Model(id, { _model_module: m.model_module, _model_name: m.model_name, ...m.state }));
    }
    return models;
  }

  function renderAll(models) {
    if (!models) return;
    for (const view of document.querySelectorAll(`script[type="${VIEW}"]`)) {
      const el = document.createElement("div");
      el.className = "course-widget";
      view.before(el);
      renderModel(models, JSON.parse(view.textContent).model_id, el);
    }
  }

  // The state is stored in the page's head, before this script's tag: read it now and
  // start compiling the widgets' front ends while the rest of the page is parsed. When the
  // page is parsed (readyState "interactive", before the deferred scripts such as MathJax
  // run and before DOMContentLoaded), drawing them is then only building their elements,
  // and does not queue behind MathJax's start-up.
  const models = readModels();
  if (models) {
    for (const model of models.values()) {
      if (model.get("_model_module") === "anywidget" && model.get("_esm")) {
        importModule(model.get("_esm")).catch(() => {}); // a failure is reported when drawn
      }
    }
  }
  const draw = () => renderAll(models);

  // Run while the page is parsed: draw as soon as parsing ends, without waiting for the
  // deferred scripts (MathJax, the theme), DOMContentLoaded or load.
  if (document.readyState !== "loading") draw();
  else {
    document.addEventListener("readystatechange", function once() {
      document.removeEventListener("readystatechange", once);
      draw();
    });
  }
})();
