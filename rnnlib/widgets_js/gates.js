// The arithmetic of the gate explorers: pure functions of numbers, no DOM.
//
// Every explorer front end calls these, so that it stays interactive on the static site
// with no Python kernel. rnnlib computes the same quantities (rnnlib.widgets), and
// tests/test_widgets.py runs this file under Node.js and holds the two equal for many
// random inputs. Each step is one unit (D = H = 1) of the cell it names, with the
// operations in the order rnnlib.cells performs them.
//
// Parameters p = {w, u, b}: for each gate, in PyTorch's order, the input weight w,
// the recurrent weight u and the bias b, so that a gate's pre-activation is
//     a = w * x + b + u * h_prev          (rnnlib: weight_ih, bias_ih, weight_hh; bias_hh = 0)

// sigma(a) = 1 / (1 + exp(-a)), written as (1 + tanh(a / 2)) / 2 as in rnnlib.cells.sigmoid
export function sigmoid(a) {
  return 0.5 * (1.0 + Math.tanh(0.5 * a));
}

// One LSTM step. Gate order i, f, g, o.
export function lstmStep(x, h, c, p) {
  const a = [0, 1, 2, 3].map((k) => x * p.w[k] + p.b[k] + h * p.u[k]);
  const i = sigmoid(a[0]); // input gate: how much of the candidate to write
  const f = sigmoid(a[1]); // forget gate: how much of the old cell to keep
  const g = Math.tanh(a[2]); // candidate: what to write, in (-1, 1)
  const o = sigmoid(a[3]); // output gate: how much of the cell to show
  // c' = f * c + i * g
  const cNext = f * c + i * g;
  // h' = o * tanh(c')
  const tanhC = Math.tanh(cNext);
  return { a, i, f, g, o, c: cNext, tanh_c: tanhC, h: o * tanhC };
}

// One GRU step. Gate order r, z, n. variant "pytorch" (torch.nn.GRUCell) or "textbook".
export function gruStep(x, h, p, variant = "pytorch") {
  const ax = [0, 1, 2].map((k) => x * p.w[k] + p.b[k]);
  const ah = [0, 1, 2].map((k) => h * p.u[k]);
  const r = sigmoid(ax[0] + ah[0]); // reset gate
  const z = sigmoid(ax[1] + ah[1]); // update gate
  let aN;
  let n;
  let hNext;
  if (variant === "pytorch") {
    // n = tanh(w_n x + b_n + r * (u_n h));  h' = (1 - z) n + z h
    aN = ax[2] + r * ah[2];
    n = Math.tanh(aN);
    hNext = n + z * (h - n);
  } else if (variant === "textbook") {
    // n = tanh(w_n x + b_n + u_n (r h));  h' = (1 - z) h + z n
    aN = ax[2] + r * h * p.u[2];
    n = Math.tanh(aN);
    hNext = h + z * (n - h);
  } else {
    throw new Error(`variant must be "pytorch" or "textbook", got ${variant}`);
  }
  return { a: [ax[0] + ah[0], ax[1] + ah[1], aN], r, z, n, h: hNext };
}

// The input of the vanishing-gradient explorer at step t (1-based): a fixed 2-vector pattern.
export function drive(t, amplitude) {
  return [amplitude * Math.sin(0.9 * t), amplitude * Math.cos(0.4 * t)];
}

// The recurrent matrix W = rho * R(theta): spectral radius rho, a rotation by theta.
export function recurrentMatrix(rho, theta) {
  const cs = Math.cos(theta);
  const sn = Math.sin(theta);
  return [
    [rho * cs, -rho * sn],
    [rho * sn, rho * cs],
  ];
}

// Largest singular value of a 2 x 2 matrix m: sqrt of the top eigenvalue of m^T m.
export function norm2x2(m) {
  const a = m[0][0] * m[0][0] + m[1][0] * m[1][0];
  const b = m[0][0] * m[0][1] + m[1][0] * m[1][1];
  const d = m[0][1] * m[0][1] + m[1][1] * m[1][1];
  const half = 0.5 * (a - d);
  return Math.sqrt(0.5 * (a + d) + Math.sqrt(half * half + b * b));
}

// Two-unit tanh RNN h_t = tanh(W h_{t-1} + x_t), h_0 = 0, run for T steps.
// Returns norms[k - 1] = || d h_T / d h_{T-k} ||_2 for k = 1 .. T.
export function gradientNorms(rho, theta, T, amplitude) {
  const W = recurrentMatrix(rho, theta);
  const hs = [[0, 0]];
  for (let t = 1; t <= T; t++) {
    const hp = hs[t - 1];
    const x = drive(t, amplitude);
    hs.push([
      Math.tanh(x[0] + hp[0] * W[0][0] + hp[1] * W[0][1]),
      Math.tanh(x[1] + hp[0] * W[1][0] + hp[1] * W[1][1]),
    ]);
  }
  // J = d h_T / d h_{t-1} = J_prev * diag(1 - h_t^2) * W, built from t = T down to 1
  let J = [
    [1, 0],
    [0, 1],
  ];
  const norms = [];
  for (let t = T; t >= 1; t--) {
    const d = [1 - hs[t][0] * hs[t][0], 1 - hs[t][1] * hs[t][1]];
    const M = [0, 1].map((row) => [0, 1].map((col) => J[row][0] * d[0] * W[0][col] + J[row][1] * d[1] * W[1][col]));
    J = M;
    norms.push(norm2x2(J));
  }
  return norms;
}
