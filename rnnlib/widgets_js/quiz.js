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
    legend.textContent = `${k + 1}. ${q.question}`;
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
      label.appendChild(document.createTextNode(" " + text));
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
      feedback.textContent = (result.correct ? "Correct. " : "Not quite. ") + result.text;
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
