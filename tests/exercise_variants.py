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
}
