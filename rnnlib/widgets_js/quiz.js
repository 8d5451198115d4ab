// Knowledge-check quiz: renders the questions, checks answers and remembers progress in
// localStorage. Needs no kernel: everything it shows comes from the widget's state.

const STORE_PREFIX = "rnn-course:quiz:";

function loadProgress(id) {
  try {
    return JSON.parse(window.localStorage.getItem(STORE_PREFIX + id) || "{}");
  } catch (e) {
    return {};
  }
}

function saveProgress(id, progress) {
  try {
    window.localStorage.setItem(STORE_PREFIX + id, JSON.stringify(progress));
  } catch (e) {
    // Storage may be disabled (private mode); the quiz still works for this visit.
  }
}

// Maths in the quiz texts. The texts write formulas in the book's plain notation:
// c_{t−1}, ∂h_i/∂h_{i−1}, W_hh, v^T, h⁽ˡ⁾_t, y_<t. A symbol (one Latin or Greek letter or ℓ,
// with an optional accent, primes, * and superscript characters) followed by _ and up to four
// letters or digits, or by _{...}, gets that subscript, and by ^x or ^{...} that superscript; code names such as bias_ih or
// clip_grad_norm, whose part before the underscore is a whole word, are left as they are.
// This renders the same in the book and in JupyterLab, with or without MathJax.
const SCRIPT = /(?<![A-Za-z0-9_])([A-Za-z\u0370-\u03ff\u2113][\u0300-\u036f]?['*\u00b2\u00b3\u00b9\u02b0-\u02ff\u1d43-\u1dbf\u2070-\u209f]*)([_^])(\{([^{}]*)\}|([<\u2264]?[A-Za-z0-9\u0370-\u03ff\u2113]{1,4})(?![A-Za-z0-9_]))/gu;

// The pieces of `text`: strings, and {base, sub} or {base, sup} for the scripted symbols.
export function mathPieces(text) {
  const pieces = [];
  let last = 0;
  for (const m of text.matchAll(SCRIPT)) {
    if (m.index > last) pieces.push(text.slice(last, m.index));
    const script = m[4] !== undefined ? m[4] : m[5];
    pieces.push(m[2] === "_" ? { base: m[1], sub: script } : { base: m[1], sup: script });
    last = m.index + m[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

// Append `text` to `node`, with subscripts and superscripts as <sub> and <sup>.
function appendMath(node, text) {
  for (const piece of mathPieces(text)) {
    if (typeof piece === "string") {
      node.append(piece);
      continue;
    }
    const math = document.createElement("span");
    math.className = "rnn-quiz-math";
    math.append(piece.base);
    if (piece.sub !== undefined) {
      const sub = document.createElement("sub");
      appendMath(sub, piece.sub); // scripts may hold scripts: e_{y*_i}, e^{Δ_t A}
      math.append(sub);
    }
    if (piece.sup !== undefined) {
      const sup = document.createElement("sup");
      appendMath(sup, piece.sup);
      math.append(sup);
    }
    node.append(math);
  }
}

export function feedbackFor(question, choice, defaultHint) {
  if (choice === question.answer) return { correct: true, text: question.explanation };
  return { correct: false, text: question.hints[String(choice)] || defaultHint };
}

function render({ model, el }) {
  const id = model.get("quiz_id");
  const questions = model.get("questions");
  const defaultHint = model.get("default_hint");
  let progress = loadProgress(id);

  const root = document.createElement("div");
  root.className = "rnn-quiz";
  // Keys stay with the quiz: JupyterLab's command shortcuts (arrow keys move between
  // cells in command mode) are suppressed inside it.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  root.addEventListener("keydown", (event) => event.stopPropagation());
  const score = document.createElement("p");
  score.className = "rnn-quiz-score";

  function updateScore() {
    const right = questions.filter((q, k) => progress[k] && progress[k].correct).length;
    score.textContent = `${right} of ${questions.length} answered correctly`;
  }

  questions.forEach((q, k) => {
    const box = document.createElement("fieldset");
    box.className = "rnn-quiz-question";
    const legend = document.createElement("legend");
    appendMath(legend, `${k + 1}. ${q.question}`);
    box.appendChild(legend);

    const name = `rnn-quiz-${id}-${k}`;
    const inputs = q.choices.map((text, c) => {
      const label = document.createElement("label");
      label.className = "rnn-quiz-choice";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = name;
      input.value = String(c);
      label.appendChild(input);
      const choiceText = document.createElement("span");
      appendMath(choiceText, text);
      label.appendChild(choiceText);
      box.appendChild(label);
      return input;
    });

    const button = document.createElement("button");
    button.type = "button";
    button.className = "rnn-quiz-check";
    button.textContent = "Check";
    const feedback = document.createElement("div");
    feedback.className = "rnn-quiz-feedback";
    feedback.setAttribute("role", "status");

    function show(choice) {
      const result = feedbackFor(q, choice, defaultHint);
      feedback.textContent = "";
      appendMath(feedback, (result.correct ? "Correct. " : "Not quite. ") + result.text);
      feedback.dataset.correct = String(result.correct);
    }

    button.addEventListener("click", () => {
      const picked = inputs.find((i) => i.checked);
      if (!picked) {
        feedback.textContent = "Choose an answer first.";
        feedback.dataset.correct = "";
        return;
      }
      const choice = Number(picked.value);
      show(choice);
      progress[k] = { choice, correct: choice === q.answer };
      saveProgress(id, progress);
      updateScore();
    });

    const saved = progress[k];
    if (saved && saved.choice >= 0 && saved.choice < inputs.length) {
      inputs[saved.choice].checked = true;
      show(saved.choice);
    }

    box.appendChild(button);
    box.appendChild(feedback);
    root.appendChild(box);
  });

  const reset = document.createElement("button");
  reset.type = "button";
  reset.className = "rnn-quiz-reset";
  reset.textContent = "Start over";
  reset.addEventListener("click", () => {
    progress = {};
    saveProgress(id, progress);
    root.querySelectorAll("input").forEach((i) => (i.checked = false));
    root.querySelectorAll(".rnn-quiz-feedback").forEach((f) => {
      f.textContent = "";
      f.dataset.correct = "";
    });
    updateScore();
  });

  updateScore();
  root.appendChild(score);
  root.appendChild(reset);
  el.appendChild(root);
}

export default { render };
