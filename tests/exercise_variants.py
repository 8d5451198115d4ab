"""Known-wrong variants of every exercise, made by editing its reference solution.

``VARIANTS[exercise_id]`` is a list of ``(description, [(old, new), ...], broken)``: each
``old`` must occur in the source notebook's code, and ``broken`` is the set of questions
that must lose points (all the others must keep full marks).

``PROBE[exercise_id] = (function, broken)``: the function whose cell the generic variants
(a crash, an endless loop, a syntax error) are planted in, and the questions they break.
"""

VARIANTS = {
    "02_rnn_forward": [
        ("missing bias_hh", [(' + params["bias_hh"]', "")], {"rnn_step"}),
        ("no tanh", [("h_next = np.tanh(a)", "h_next = a")], {"rnn_step"}),
        ("every step starts from h0",
         [("h = rnn_step(x[t], h, params)", "h = rnn_step(x[t], h0, params)")], {"rnn_forward"}),
        ("hs shifted by one (h0 included, last state dropped)",
         [("hs = np.stack(hs)", "hs = np.stack([h0] + hs[:-1])")], {"rnn_forward"}),
        ("off by one in lengths", [("hs[lengths - 1", "hs[np.minimum(lengths, len(hs) - 1)")],
         {"last_hidden"}),
        ("hs[-1] for every sequence",
         [("h_last = hs[lengths - 1, np.arange(hs.shape[1])]", "h_last = hs[-1]")], {"last_hidden"}),
    ],
    "05_lstm_step": [
        ("gate order f, i, g, o",
         [("i = sigmoid(a[:, :H])", "i = sigmoid(a[:, H:2 * H])"),
          ("f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[:, :H])")], {"lstm_step_forward"}),
        ("missing bias_hh", [(' + params["bias_hh"]', "")], {"lstm_step_forward"}),
        ("sigmoid candidate", [("g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])")],
         {"lstm_step_forward"}),
        ("backward forgets dc_next", [(" + dc_next", "")], {"lstm_step_backward"}),
        ("backward misses tanh'", [("dc = dh_next * o * (1 - tanh_c ** 2)", "dc = dh_next * o")],
         {"lstm_step_backward"}),
        ("backward dh_prev through the wrong matrix",
         [('dh_prev = da @ params["weight_hh"]', 'dh_prev = da[:, :dh_next.shape[1]] * 0')],
         {"lstm_step_backward"}),
    ],
    "12_ctc_loss": [
        ("blank forgotten", [("l_ext[1::2] = target", "l_ext = target")], {"extend_target"}),
        ("skip allowed between repeated labels", [(" and l_ext[s] != l_ext[s - 2]", "")],
         {"ctc_log_alpha"}),
        ("probability space (underflows)",
         [("log_alpha[t, s] = a + log_probs[t, l_ext[s]]",
           "log_alpha[t, s] = np.log(np.exp(a) * np.exp(log_probs[t, l_ext[s]]))")],
         {"ctc_log_alpha"}),
        ("loss from the last blank only",
         [("log_p = np.logaddexp(log_p, log_alpha[-1, -2])", "pass")], {"ctc_loss"}),
        ("loss with the wrong sign", [("loss = float(-log_p)", "loss = float(log_p)")], {"ctc_loss"}),
    ],
    "03_bptt": [
        ("step without tanh'", [("da = dh_next * (1 - h_next ** 2)", "da = dh_next")],
         {"rnn_step_backward"}),
        ("step uses h_next for weight_hh",
         [('"weight_hh": da.T @ h_prev', '"weight_hh": da.T @ h_next')], {"rnn_step_backward"}),
        ("off by one in BPTT (h_prev = hs[t])",
         [("h_prev = hs[t - 1] if t > 0 else h0", "h_prev = hs[t]")], {"rnn_backward"}),
        ("gradient not carried through time",
         [("rnn_step_backward(dhs[t] + dh,", "rnn_step_backward(dhs[t],")], {"rnn_backward"}),
        ("weight gradients not accumulated",
         [("grads[k] += step_grads[k]", "grads[k] = step_grads[k]")], {"rnn_backward"}),
        ("forward differences",
         [("x[idx] = old - eps\n        f_minus = f(x)", "f_minus = f(x)"),
          ("(f_plus - f_minus) / (2 * eps)", "(f_plus - f_minus) / eps")], {"numerical_gradient"}),
    ],
    "04_clipping": [
        ("norm without the square root", [("norm = float(np.sqrt(total))", "norm = float(total)")],
         {"global_norm"}),
        ("per-array clipping",
         [("clipped = {k: g * scale for k, g in grads.items()}",
           "clipped = {k: g * min(1.0, max_norm / (float(np.sqrt(np.sum(g ** 2))) + 1e-6)) "
           "for k, g in grads.items()}")], {"clip_by_global_norm"}),
        ("always rescales", [("scale = min(1.0, max_norm / (norm + 1e-6))",
                              "scale = max_norm / (norm + 1e-6)")], {"clip_by_global_norm"}),
        ("upper bound only", [("np.clip(g, -clip_value, clip_value)", "np.minimum(g, clip_value)")],
         {"clip_by_value"}),
        ("clips the input in place and returns it",
         [("clipped = {k: np.clip(g, -clip_value, clip_value) for k, g in grads.items()}",
           "clipped = grads\n    for g in grads.values():\n        np.clip(g, -clip_value, clip_value, out=g)\n"
           "    clipped = {k: g * (1 + 1e-3) for k, g in grads.items()}")], {"clip_by_value"}),
    ],
    "06_gru_step": [
        ("z weights the candidate (PyTorch)",
         [("h_next = (1 - z) * n + z * h_prev", "h_next = (1 - z) * h_prev + z * n")],
         {"gru_step_pytorch"}),
        ("gate order z, r (PyTorch)",
         [("r = sigmoid(ax[:, :H] + ah[:, :H])\n    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
           "z = sigmoid(ax[:, :H] + ah[:, :H])\n    r = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])")],
         {"gru_step_pytorch"}),
        ("reset after the product (textbook)",
         [("(r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:]",
           "r * (h_prev @ W_hh[2 * H:].T + b_hh[2 * H:])")], {"gru_step_textbook"}),
        ("missing b_hn (textbook)",
         [("(r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:])", "(r * h_prev) @ W_hh[2 * H:].T)")],
         {"gru_step_textbook"}),
    ],
    "09_training": [
        ("predict returns scores, not class ids",
         [('labels = (out[-1] @ model["W_out"].T + model["b_out"]).argmax(axis=1)',
           'labels = out[-1] @ model["W_out"].T + model["b_out"]')], {"predict", "accuracy"}),
        ("no training step", [("params[k] -= lr * m_hat", "params[k] -= 0 * m_hat")], {"accuracy"}),
        ("reads the first state instead of the last",
         [("labels = (out[-1] @", "labels = (out[0] @"), ("h = out[-1]", "h = out[0]"),
          ("dout[-1] = dlogits", "dout[0] = dlogits")], {"accuracy"}),
    ],
}

PROBE = {
    "02_rnn_forward": ("last_hidden", {"last_hidden"}),
    "05_lstm_step": ("lstm_step_backward", {"lstm_step_backward"}),
    "12_ctc_loss": ("ctc_log_alpha", {"ctc_log_alpha"}),
    "09_training": ("predict", {"predict", "accuracy"}),
    "03_bptt": ("numerical_gradient", {"numerical_gradient"}),
    "04_clipping": ("clip_by_value", {"clip_by_value"}),
    "06_gru_step": ("gru_step_textbook", {"gru_step_textbook"}),
}
