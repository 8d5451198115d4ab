// Front end of the explorers in rnnlib.widgets (an anywidget ES module).
//
// All numbers shown are computed here by gates.js, from the model's synced values, so the
// widget works with a Python kernel (Jupyter) and without one (the static site). Python
// inlines gates.js in place of the import below, which makes one self-contained module.
import { gradientNorms, gruStep, lstmStep } from "./gates.js";

const SVG = "http://www.w3.org/2000/svg";

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// Call fn when any of the named traits changes; returns the function that unsubscribes.
function onChange(model, names, fn) {
  for (const name of names) model.on(`change:${name}`, fn);
  return () => {
    for (const name of names) model.off(`change:${name}`, fn);
  };
}

// Numbers as the explorers show them: a true minus sign (U+2212), no "−0.000", and a
// figure space in place of the sign of a positive number so that columns line up.
function fmt(v, digits = 3) {
  const text = Math.abs(v).toFixed(digits);
  const zero = Number(text) === 0;
  return (v < 0 && !zero ? "\u2212" : "\u2007") + text;
}

// The same without the padding, for numbers inside a sentence or an equation.
function num(v, digits = 3) {
  return fmt(v, digits).replace("\u2007", "");
}

// Decimals that show a slider's step exactly: 1 -> 0, 0.1 -> 1, 0.01 -> 2.
function stepDigits(step) {
  return Math.max(0, Math.ceil(-Math.log10(Number(step)) - 1e-9));
}

// A labelled range input bound to model[name] (or to element k of the list model[name]).
function slider(model, spec, onUserInput) {
  const { name, k, label, min, max, step, describe } = spec;
  // `describe` is the accessible name: what the slider sets, not just its symbol
  const input = h("input", { type: "range", min, max, step, "aria-label": describe || label });
  const shown = h("span", { class: "rnx-num", "aria-hidden": "true" });
  const digits = stepDigits(step);
  const read = () => (k === undefined ? model.get(name) : model.get(name)[k]);
  const sync = () => {
    input.value = String(read());
    shown.textContent = fmt(read(), digits);
    input.setAttribute("aria-valuetext", num(read(), digits));
  };
  input.addEventListener("input", () => {
    const v = Number(input.value);
    if (k === undefined) model.set(name, v);
    else {
      const list = model.get(name).slice();
      list[k] = v;
      model.set(name, list);
    }
    onUserInput(name);
    model.save_changes();
  });
  sync();
  const node = h("label", { class: "rnx-slider", title: describe || label },
    h("span", { class: "rnx-lab", "aria-hidden": "true" }, label), input, shown);
  return { node, sync };
}

// A horizontal bar for a value in [lo, hi]; bars of signed ranges grow from zero.
function bar(label, lo, hi, kind) {
  const fill = h("div", { class: `rnx-fill rnx-k-${kind}` });
  const track = h("div", { class: "rnx-track" }, fill);
  if (lo < 0) track.append(h("div", { class: "rnx-zero" }));
  const shown = h("span", { class: "rnx-num" });
  const pre = h("span", { class: "rnx-pre" });
  const node = h("div", { class: "rnx-bar" }, h("span", { class: "rnx-lab" }, label), track, shown, pre);
  const set = (v, a) => {
    const clamp = (u) => Math.min(hi, Math.max(lo, u));
    const zero = lo < 0 ? (0 - lo) / (hi - lo) : 0;
    const pos = (clamp(v) - lo) / (hi - lo);
    fill.style.left = `${100 * Math.min(zero, pos)}%`;
    fill.style.width = `${100 * Math.abs(pos - zero)}%`;
    shown.textContent = fmt(v);
    pre.textContent = a === undefined ? "" : `a = ${num(a)}`;
  };
  return { node, set };
}

function presetButtons(model, names, apply) {
  const row = h("div", { class: "rnx-presets", role: "group", "aria-label": "presets" },
    h("span", { class: "rnx-lab", "aria-hidden": "true" }, "presets"));
  const buttons = names.map((name) => {
    const b = h("button", { type: "button", "aria-pressed": "false" }, name);
    b.addEventListener("click", () => apply(name));
    row.append(b);
    return [name, b];
  });
  const sync = () => {
    for (const [name, b] of buttons) {
      const active = model.get("preset") === name;
      b.classList.toggle("rnx-active", active);
      b.setAttribute("aria-pressed", String(active));
    }
  };
  return { node: row, sync };
}

// Set the gate parameters of a preset; the inputs (x and the previous state) are kept.
function applyPreset(model, name) {
  const variant = model.get("variant");
  const table = model.get("presets");
  const p = (variant && variant in table ? table[variant] : table)[name];
  model.set("w", p.w.slice());
  model.set("u", p.u.slice());
  model.set("b", p.b.slice());
  model.set("preset", name);
  model.save_changes();
}

// The root of an explorer. It keeps its keyboard events: JupyterLab's command shortcuts
// (arrow keys, which move between cells and collapse headings in command mode) are
// suppressed inside it, and key presses do not reach the notebook.
function explorerRoot(title) {
  const root = h("div", { class: "rnx", role: "group", "aria-label": title, "data-lm-suppress-shortcuts": "true" });
  root.addEventListener("keydown", (event) => event.stopPropagation());
  return root;
}

function gateExplorer(model, el, cfg) {
  const root = explorerRoot(cfg.title);
  const sliders = [];
  const onUser = (name) => {
    if (["w", "u", "b"].includes(name) && model.get("preset") !== "") model.set("preset", "");
  };
  const presets = presetButtons(model, Object.keys(cfg.presetNames(model)), (n) => applyPreset(model, n));
  root.append(h("div", { class: "rnx-title" }, cfg.title), presets.node);
  if (cfg.variants) {
    const select = h("select", { "aria-label": "GRU convention" });
    for (const v of cfg.variants) select.append(h("option", { value: v }, v));
    select.addEventListener("change", () => {
      model.set("variant", select.value);
      const name = model.get("preset");
      if (name) applyPreset(model, name); // same behaviour, parameters of the other convention
      model.save_changes();
    });
    cfg.syncVariant = () => {
      select.value = model.get("variant");
    };
    root.append(h("label", { class: "rnx-variant" }, h("span", { class: "rnx-lab" }, "convention"), select));
  }
  const cols = h("div", { class: "rnx-cols" });
  const left = h("div", { class: "rnx-col" });
  const right = h("div", { class: "rnx-col" });
  cols.append(left, right);
  root.append(cols);

  left.append(h("div", { class: "rnx-head" }, "inputs"));
  for (const s of cfg.inputs) {
    const sl = slider(model, s, onUser);
    sliders.push(sl);
    left.append(sl.node);
  }
  left.append(h("div", { class: "rnx-head" }, "gate parameters: a = w\u00b7x + u\u00b7h\u208b + b"));
  cfg.gates.forEach(([gate, gateName], k) => {
    const row = h("div", { class: "rnx-gate" }, h("span", { class: "rnx-gname", title: gateName }, gate));
    for (const [name, min, max, what] of [
      ["w", -10, 10, "input weight"], ["u", -10, 10, "recurrent weight"], ["b", -10, 10, "bias"],
    ]) {
      const describe = `${gateName} ${gate}: ${what} ${name}`;
      const sl = slider(model, { name, k, label: name, min, max, step: 0.1, describe }, onUser);
      sliders.push(sl);
      row.append(sl.node);
    }
    left.append(row);
  });

  right.append(h("div", { class: "rnx-head" }, "outputs"));
  const bars = {};
  for (const [key, label, lo, hi, kind] of cfg.outputs) {
    bars[key] = bar(label, lo, hi, kind);
    right.append(bars[key].node);
  }
  // The equation line sums up the step; screen readers hear it when it changes.
  const eq = h("div", { class: "rnx-eq", "aria-live": "polite" });
  right.append(eq);

  const update = () => {
    for (const s of sliders) s.sync();
    presets.sync();
    if (cfg.syncVariant) cfg.syncVariant();
    const v = cfg.compute(model);
    for (const [key] of cfg.outputs) bars[key].set(v[key], cfg.preact(v, key));
    eq.textContent = cfg.equation(model, v);
  };
  const off = onChange(model, ["x", "h_prev", "c_prev", "w", "u", "b", "preset", "variant"], update);
  update();
  el.append(root);
  return off;
}

const P = { p: (m) => ({ w: m.get("w"), u: m.get("u"), b: m.get("b") }) };

const LSTM = {
  title: "LSTM gate explorer (one unit)",
  presetNames: (m) => m.get("presets"),
  inputs: [
    { name: "x", label: "x", min: -2, max: 2, step: 0.01, describe: "input x" },
    { name: "h_prev", label: "h\u208b", min: -1, max: 1, step: 0.01, describe: "previous hidden state h\u208b" },
    { name: "c_prev", label: "c\u208b", min: -2, max: 2, step: 0.01, describe: "previous cell state c\u208b" },
  ],
  gates: [["i", "input gate"], ["f", "forget gate"], ["g", "candidate"], ["o", "output gate"]],
  outputs: [
    ["f", "f forget", 0, 1, "gate"],
    ["i", "i input", 0, 1, "gate"],
    ["g", "g candidate", -1, 1, "content"],
    ["o", "o output", 0, 1, "gate"],
    ["c", "c new cell", -3, 3, "state"],
    ["h", "h new hidden", -1, 1, "state"],
  ],
  compute: (m) => lstmStep(m.get("x"), m.get("h_prev"), m.get("c_prev"), P.p(m)),
  preact: (v, key) => ({ i: v.a[0], f: v.a[1], g: v.a[2], o: v.a[3] })[key],
  equation: (m, v) =>
    `c = f\u00b7c\u208b + i\u00b7g = ${num(v.f)}\u00b7${num(m.get("c_prev"), 2)} + ` +
    `${num(v.i)}\u00b7${num(v.g)} = ${num(v.c)};\u2003h = o\u00b7tanh(c) = ${num(v.h)}`,
};

const GRU = {
  title: "GRU gate explorer (one unit)",
  presetNames: (m) => m.get("presets")[m.get("variant")],
  variants: ["pytorch", "textbook"],
  inputs: [
    { name: "x", label: "x", min: -2, max: 2, step: 0.01, describe: "input x" },
    { name: "h_prev", label: "h\u208b", min: -1, max: 1, step: 0.01, describe: "previous hidden state h\u208b" },
  ],
  gates: [["r", "reset gate"], ["z", "update gate"], ["n", "candidate"]],
  outputs: [
    ["r", "r reset", 0, 1, "gate"],
    ["z", "z update", 0, 1, "gate"],
    ["n", "n candidate", -1, 1, "content"],
    ["h", "h new hidden", -1, 1, "state"],
  ],
  compute: (m) => gruStep(m.get("x"), m.get("h_prev"), P.p(m), m.get("variant")),
  preact: (v, key) => ({ r: v.a[0], z: v.a[1], n: v.a[2] })[key],
  equation: (m, v) =>
    m.get("variant") === "pytorch"
      ? `h = (1\u2212z)\u00b7n + z\u00b7h\u208b = ${num(1 - v.z)}\u00b7${num(v.n)} + ` +
        `${num(v.z)}\u00b7${num(m.get("h_prev"), 2)} = ${num(v.h)}`
      : `h = (1\u2212z)\u00b7h\u208b + z\u00b7n = ${num(1 - v.z)}\u00b7${num(m.get("h_prev"), 2)} + ` +
        `${num(v.z)}\u00b7${num(v.n)} = ${num(v.h)}`,
};

function vanishingExplorer(model, el) {
  const title = "Vanishing-gradient explorer (two-unit tanh RNN)";
  const root = explorerRoot(title);
  root.append(h("div", { class: "rnx-title" }, title));
  const specs = [
    { name: "rho", label: "\u03c1(W)", min: 0.3, max: 1.6, step: 0.01, describe: "spectral radius \u03c1 of W" },
    { name: "T", label: "T", min: 2, max: 100, step: 1, describe: "sequence length T" },
    { name: "amplitude", label: "|x|", min: 0, max: 2, step: 0.01, describe: "input amplitude |x|" },
  ];
  const sliders = specs.map((s) => slider(model, s, () => {}));
  for (const s of sliders) root.append(s.node);
  const W = 460;
  const Ht = 240;
  const pad = { l: 48, r: 10, t: 10, b: 34 };
  const [yLo, yHi] = [-12, 6];
  const xMax = 100;
  const sx = (k) => pad.l + ((k - 1) / (xMax - 1)) * (W - pad.l - pad.r);
  const sy = (v) => {
    const y = Math.min(yHi, Math.max(yLo, Math.log10(Math.max(v, 1e-300))));
    return pad.t + ((yHi - y) / (yHi - yLo)) * (Ht - pad.t - pad.b);
  };
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${Ht}`);
  svg.setAttribute("class", "rnx-plot");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "gradient norm against the lag k, log scale, for the tanh RNN and for \u03c1^k");
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  for (let e = yLo; e <= yHi; e += 3) {
    add("line", { x1: pad.l, x2: W - pad.r, y1: sy(10 ** e), y2: sy(10 ** e), class: "rnx-grid" });
    add("text", { x: pad.l - 4, y: sy(10 ** e) + 4, "text-anchor": "end", class: "rnx-tick" }, `1e${num(e, 0)}`);
  }
  for (const k of [1, 25, 50, 75, 100]) {
    add("text", { x: sx(k), y: Ht - pad.b + 14, "text-anchor": "middle", class: "rnx-tick" }, String(k));
  }
  add("text", { x: (W + pad.l) / 2, y: Ht - 4, "text-anchor": "middle", class: "rnx-tick" }, "lag k (steps back from T)");
  const lin = add("polyline", { class: "rnx-lin" });
  const tnh = add("polyline", { class: "rnx-tanh" });
  add("text", { x: W - pad.r - 4, y: pad.t + 12, "text-anchor": "end", class: "rnx-key-tanh" }, "\u2016\u2202h_T/\u2202h_{T\u2212k}\u2016, tanh RNN");
  add("text", { x: W - pad.r - 4, y: pad.t + 26, "text-anchor": "end", class: "rnx-key-lin" }, "\u03c1^k (linear RNN)");
  root.append(svg);
  const note = h("div", { class: "rnx-eq", "aria-live": "polite" });
  root.append(note);
  const update = () => {
    for (const s of sliders) s.sync();
    const rho = model.get("rho");
    const T = model.get("T");
    const norms = gradientNorms(rho, model.get("theta"), T, model.get("amplitude"));
    tnh.setAttribute("points", norms.map((v, i) => `${sx(i + 1)},${sy(v)}`).join(" "));
    lin.setAttribute("points", norms.map((_, i) => `${sx(i + 1)},${sy(rho ** (i + 1))}`).join(" "));
    note.textContent = `gradient norm after ${T} steps back: ${norms[T - 1].toExponential(2).replace("-", "\u2212")}`;
  };
  const off = onChange(model, ["rho", "T", "amplitude", "theta"], update);
  update();
  el.append(root);
  return off;
}

function render({ model, el }) {
  const kind = model.get("_kind");
  if (kind === "lstm") return gateExplorer(model, el, LSTM);
  if (kind === "gru") return gateExplorer(model, el, GRU);
  if (kind === "vanishing") return vanishingExplorer(model, el);
  el.textContent = `unknown explorer kind ${kind}`;
  return undefined;
}

export default { render };
