"""Sequence to sequence with recurrent encoders and decoders (PyTorch).

An :class:`Encoder` reads the source x_1..x_S into memory vectors m_1..m_S and a final
state; a decoder starts from that state and emits one token at a time,

    p(y_1..y_T | x) = prod_t p(y_t | y_<t, x),

fed with y_{t-1} (BOS at t = 1) until it emits EOS. Three decoders share one interface,
``logits, state, weights = decoder.step(y_prev, state, memory, mask, keys=None)`` for one
step, and ``decoder(y_in, state, memory, mask)`` for all the steps of a known input
(teacher forcing). ``keys = decoder.project_keys(memory)`` is the part of the attention
scores that depends on the memory only; passed to ``step``, it is computed once per source
instead of once per step. The three decoders:

- :class:`PlainDecoder`: the source reaches the decoder only through the initial state
  (the fixed-size "context vector" bottleneck).
- :class:`BahdanauDecoder`: before the step, additive attention with the *previous*
  state s_{t-1} as query gives a context c_t, fed into the step with the embedding:
  s_t = RNN([E y_{t-1}; c_t], s_{t-1}), logits = W_o [s_t; c_t].
- :class:`LuongDecoder`: after the step, attention with the *new* state h_t as query
  (dot, general or concat score) gives c_t, and
  h~_t = tanh(W_c [c_t; h_t]), logits = W_s h~_t. (Luong's "input feeding" is left out.)

:class:`Seq2Seq` joins an encoder and a decoder: training with teacher forcing (at a
ratio), greedy decoding and beam search with length normalisation, and ``score`` for the
log-probability of a given output.

Shapes: B batch, S source length, T target length, V vocabulary, H hidden units.
Token tensors are batch-first (B, S) and (B, T) of dtype long; padding is ``pad_id``.
"""

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnlib.attention import (TorchAdditiveAttention, TorchConcatAttention,
                              TorchDotAttention, TorchGeneralAttention)

__all__ = ["Encoder", "PlainDecoder", "BahdanauDecoder", "LuongDecoder", "Seq2Seq", "Hypothesis"]

_RNNS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _rnn_class(cell):
    if cell not in _RNNS:
        raise ValueError(f"cell: expected 'gru' or 'lstm', got {cell!r}")
    return _RNNS[cell]


def _cell_name(rnn):
    """``"gru"`` or ``"lstm"``: the cell of an ``nn.GRU`` or ``nn.LSTM``."""
    return next(name for name, cls in _RNNS.items() if isinstance(rnn, cls))


def _top_hidden(state):
    """The last layer's hidden state h (B, H) of a GRU state or an LSTM (h, c) state."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


def _select(state, index):
    """Rows ``index`` of the batch axis of a GRU or LSTM state."""
    if isinstance(state, tuple):
        return tuple(s[:, index] for s in state)
    return state[:, index]


class _RNNStructure:
    """``cell``, ``num_layers`` and ``hidden_size`` of a module's ``self.rnn``.

    The structure is that of the weights: read-only (another cell or size needs new
    weights, i.e. a new module), read from the RNN so it cannot disagree with it.
    """

    @property
    def cell(self):
        """``"gru"`` or ``"lstm"``."""
        return _cell_name(self.rnn)

    @property
    def num_layers(self):
        """Stacked RNN layers."""
        return self.rnn.num_layers

    @property
    def hidden_size(self):
        """H, hidden units per direction."""
        return self.rnn.hidden_size


class Encoder(_RNNStructure, nn.Module):
    """Embedding and a GRU or LSTM, optionally bidirectional, over padded sources.

    Args:
        vocab_size, embed_size, hidden_size: V, E and H per direction.
        cell: "gru" or "lstm".
        num_layers, bidirectional, dropout: as ``nn.GRU``.
        pad_id: the padding token (its embedding is 0).

    ``forward(src, src_lengths)`` takes src (B, S) and src_lengths (B,) and returns
    memory (B, S, H_out) with zeros at padded positions, the final state for the
    decoder, (num_layers, B, H_out) (or an (h, c) pair), with both directions
    concatenated, and mask (B, S) bool, True at real tokens. H_out = H * directions.
    Sequences are packed, so padding never enters the recurrence (a one-layer,
    one-direction GRU runs on the padded batch instead, which gives the same result).
    """

    def __init__(self, vocab_size, embed_size, hidden_size, cell="gru", num_layers=1,
                 bidirectional=False, dropout=0.0, pad_id=0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = _rnn_class(cell)(embed_size, hidden_size, num_layers, batch_first=True,
                                    bidirectional=bidirectional, dropout=dropout)

    @property
    def output_size(self):
        """H_out = H * directions, the size of the memory vectors and of the final state."""
        return self.rnn.hidden_size * (2 if self.rnn.bidirectional else 1)

    def forward(self, src, src_lengths):
        if src.dim() != 2:
            raise ValueError(f"src: expected shape (B, S), got {tuple(src.shape)}")
        B, S = src.shape
        src_lengths = torch.as_tensor(src_lengths)
        if src_lengths.shape != (B,) or (src_lengths < 1).any() or (src_lengths > S).any():
            raise ValueError(f"src_lengths: expected shape ({B},) with values in [1, {S}], "
                             f"got {src_lengths.tolist()}")
        mask = torch.arange(S) < src_lengths[:, None]  # (B, S)
        if self.cell == "gru" and self.num_layers == 1 and not self.rnn.bidirectional:
            return self._forward_padded(src, src_lengths, mask)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), src_lengths.cpu(),
                                                   batch_first=True, enforce_sorted=False)
        memory, state = self.rnn(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(memory, batch_first=True, total_length=S)
        if self.rnn.bidirectional:
            # (layers * 2, B, H) -> (layers, B, 2H): forward and backward side by side
            def merge(h):
                return torch.cat([h[0::2], h[1::2]], dim=2)
            state = tuple(map(merge, state)) if isinstance(state, tuple) else merge(state)
        return memory, state, mask

    def _forward_padded(self, src, src_lengths, mask):
        # A one-layer, left-to-right GRU: padding at the end never reaches an earlier
        # position, so the padded batch runs as it is (about 3x faster to train on a CPU
        # than packing) and the final state is the output at the last real token.
        memory, _ = self.rnn(self.embed(src))  # (B, S, H)
        state = memory[torch.arange(len(src)), src_lengths - 1][None]  # (1, B, H)
        return memory * mask[:, :, None], state, mask


class _Decoder(_RNNStructure, nn.Module):
    """Embedding, a GRU or LSTM, and an output layer.

    Subclasses define ``step``; ``forward`` runs it over a known input, and a subclass whose
    recurrence allows it overrides ``forward`` with a faster pass over all steps at once.
    """

    def __init__(self, vocab_size, embed_size, hidden_size, cell, num_layers, rnn_input_size):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = _rnn_class(cell)(rnn_input_size, hidden_size, num_layers, batch_first=True)

    @property
    def vocab_size(self):
        """V, the target vocabulary (rows of the embedding)."""
        return self.embed.num_embeddings

    def _rnn_step(self, x, state):
        """x (B, D) -> top hidden (B, H) and the new state."""
        out, state = self.rnn(x[:, None, :], state)
        return out[:, 0], state

    def project_keys(self, memory):
        """The memory-only part of the attention scores (None without attention)."""
        attention = getattr(self, "attention", None)
        return None if attention is None else attention.project_keys(memory)

    def _attend(self, query, memory, mask, keys):
        """Context and weights; ``keys`` from :meth:`project_keys`, or None to compute them."""
        if keys is None:
            return self.attention(query, memory, memory, mask)
        return self.attention.attend(query, keys, memory, mask)

    def forward(self, y_in, state, memory, mask):
        """Every step of a teacher-forced pass: y_in (B, T) holds y_0 = BOS, y_1..y_{T-1}.

        Returns logits (B, T, V), the final state and weights (B, T, S) (None without
        attention): the same as T calls of ``step``.
        """
        keys = self.project_keys(memory)
        logits, weights = [], []
        for t in range(y_in.shape[1]):
            logits_t, state, a = self.step(y_in[:, t], state, memory, mask, keys)
            logits.append(logits_t)
            weights.append(a)
        weights = None if weights[0] is None else torch.stack(weights, dim=1)
        return torch.stack(logits, dim=1), state, weights


class PlainDecoder(_Decoder):
    """No attention: s_t = RNN(E y_{t-1}, s_{t-1}), logits = W_o s_t.

    ``step(y_prev (B,), state, memory, mask, keys=None)`` returns logits (B, V), the new
    state and ``None`` for the attention weights (memory, mask and keys are not used).
    """

    def __init__(self, vocab_size, embed_size, hidden_size, cell="gru", num_layers=1):
        super().__init__(vocab_size, embed_size, hidden_size, cell, num_layers, embed_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def step(self, y_prev, state, memory, mask, keys=None):
        s, state = self._rnn_step(self.embed(y_prev), state)
        return self.out(s), state, None

    def forward(self, y_in, state, memory, mask):
        # The inputs are known in advance, so the RNN runs over all T steps in one call.
        s, state = self.rnn(self.embed(y_in), state)  # (B, T, H)
        return self.out(s), state, None


class BahdanauDecoder(_Decoder):
    """Additive attention before the step, queried by the previous state.

        e_ts = v^T tanh(W s_{t-1} + U m_s),  a_t = masked softmax(e_t),  c_t = sum_s a_ts m_s
        s_t = RNN([E y_{t-1}; c_t], s_{t-1})
        logits_t = W_o [s_t; c_t]

    ``step(y_prev (B,), state, memory (B, S, H_m), mask (B, S), keys=None)`` returns
    logits (B, V), the new state and the weights a_t (B, S). With ``keys`` given (from
    ``project_keys``), ``memory`` must be 0 at padded positions, as the encoder's is.
    """

    def __init__(self, vocab_size, embed_size, hidden_size, memory_size, attention_size,
                 cell="gru", num_layers=1):
        super().__init__(vocab_size, embed_size, hidden_size, cell, num_layers,
                         embed_size + memory_size)
        self.attention = TorchAdditiveAttention(hidden_size, memory_size, attention_size)
        self.out = nn.Linear(hidden_size + memory_size, vocab_size)

    def step(self, y_prev, state, memory, mask, keys=None):
        c, a = self._attend(_top_hidden(state), memory, mask, keys)  # (B, H_m), (B, S)
        s, state = self._rnn_step(torch.cat([self.embed(y_prev), c], dim=1), state)
        return self.out(torch.cat([s, c], dim=1)), state, a

    def forward(self, y_in, state, memory, mask):
        # c_t depends on s_{t-1}, so the steps run one by one; the embedding and the
        # output layer, which do not feed the recurrence, run once over all T steps.
        x = self.embed(y_in)  # (B, T, E)
        keys = self.project_keys(memory)  # U m_s, once for all steps
        s, c, a = [], [], []
        for t in range(y_in.shape[1]):
            c_t, a_t = self._attend(_top_hidden(state), memory, mask, keys)
            s_t, state = self._rnn_step(torch.cat([x[:, t], c_t], dim=1), state)
            s.append(s_t)
            c.append(c_t)
            a.append(a_t)
        s, c = torch.stack(s, dim=1), torch.stack(c, dim=1)  # (B, T, H), (B, T, H_m)
        return self.out(torch.cat([s, c], dim=2)), state, torch.stack(a, dim=1)


class LuongDecoder(_Decoder):
    """Attention after the step, queried by the new state, with a Luong score.

        h_t = RNN(E y_{t-1}, h_{t-1})
        a_t = masked softmax(score(h_t, m_s)),  c_t = sum_s a_ts m_s
        h~_t = tanh(W_c [c_t; h_t]),  logits_t = W_s h~_t

    ``score`` is "dot" (needs hidden_size = memory_size), "general" or "concat"
    (``attention_size`` is used by concat only). ``step`` is as in :class:`BahdanauDecoder`.
    """

    def __init__(self, vocab_size, embed_size, hidden_size, memory_size, score="general",
                 attention_size=None, cell="gru", num_layers=1):
        super().__init__(vocab_size, embed_size, hidden_size, cell, num_layers, embed_size)
        if score == "dot":
            if hidden_size != memory_size:
                raise ValueError(f"memory_size: dot score needs memory_size = hidden_size = "
                                 f"{hidden_size}, got {memory_size}")
            self.attention = TorchDotAttention()
        elif score == "general":
            self.attention = TorchGeneralAttention(hidden_size, memory_size)
        elif score == "concat":
            self.attention = TorchConcatAttention(hidden_size, memory_size,
                                                  attention_size or hidden_size)
        else:
            raise ValueError(f"score: expected 'dot', 'general' or 'concat', got {score!r}")
        self.W_c = nn.Linear(memory_size + hidden_size, hidden_size, bias=False)
        self.W_s = nn.Linear(hidden_size, vocab_size)

    def step(self, y_prev, state, memory, mask, keys=None):
        h, state = self._rnn_step(self.embed(y_prev), state)
        logits, a = self._output(h, memory, mask, keys)
        return logits, state, a

    def _output(self, h, memory, mask, keys=None):
        """h (B, H) or (B, T, H) -> logits and attention weights."""
        c, a = self._attend(h, memory, mask, keys)
        # h~_t = tanh(W_c [c_t; h_t])
        h_tilde = torch.tanh(self.W_c(torch.cat([c, h], dim=-1)))
        return self.W_s(h_tilde), a

    def forward(self, y_in, state, memory, mask):
        # Without input feeding the RNN never sees c_t, so it runs over all T steps in one
        # call, and attention then serves all T queries at once.
        h, state = self.rnn(self.embed(y_in), state)  # (B, T, H)
        logits, a = self._output(h, memory, mask, self.project_keys(memory))
        return logits, state, a


def _token_id(name, doc):
    """A property for Seq2Seq's special token ``name``, checked by ``_set_id`` when set."""
    return property(lambda self: self._ids[name],
                    lambda self, value: self._set_id(name, value), doc=doc)


@dataclass
class Hypothesis:
    """One beam-search output."""

    tokens: list  # output tokens, BOS excluded, EOS included when it was produced
    log_prob: float  # log p(tokens | x)
    score: float  # log_prob / len(tokens) ** length_penalty, what the beam ranks by
    weights: torch.Tensor  # (len(tokens), S) attention weights, or None without attention


class Seq2Seq(nn.Module):
    """An encoder and a decoder with BOS/EOS conventions.

    Args:
        encoder: an :class:`Encoder`.
        decoder: a :class:`PlainDecoder`, :class:`BahdanauDecoder` or :class:`LuongDecoder`
            with the encoder's cell, number of layers and ``hidden_size = encoder.output_size``
            (the encoder's final state is the decoder's initial state).
        bos_id, eos_id, pad_id: special tokens of the target vocabulary: three distinct
            ids in [0, V), checked whenever they are set.

    Targets ``tgt`` (B, T) hold y_1..y_T, each ending with EOS and padded with ``pad_id``;
    BOS is prepended by the model.

    >>> _ = torch.manual_seed(0)
    >>> model = Seq2Seq(Encoder(10, 8, 16), BahdanauDecoder(10, 8, 16, memory_size=16,
    ...                 attention_size=12), bos_id=1, eos_id=2, pad_id=0)
    >>> src, src_lengths = torch.tensor([[5, 6, 7, 0], [5, 6, 7, 8]]), torch.tensor([3, 4])
    >>> tgt = torch.tensor([[7, 6, 5, 2, 0], [8, 7, 6, 5, 2]])
    >>> logits, weights = model(src, src_lengths, tgt)
    >>> logits.shape, weights.shape, model.loss(logits, tgt).shape
    (torch.Size([2, 5, 10]), torch.Size([2, 5, 4]), torch.Size([]))
    >>> tokens, weights = model.greedy_decode(src, src_lengths, max_len=6)
    >>> len(tokens), weights[0].shape == (len(tokens[0]), 4)
    (2, True)
    >>> best = model.beam_search(src[:1], src_lengths[:1], beam_width=3, max_len=6)[0]
    >>> best.weights.shape == (len(best.tokens), 4)
    True
    """

    def __init__(self, encoder, decoder, bos_id=1, eos_id=2, pad_id=0):
        super().__init__()
        for name in ("cell", "num_layers"):
            if getattr(encoder, name) != getattr(decoder, name):
                raise ValueError(f"decoder.{name}: expected the encoder's "
                                 f"{getattr(encoder, name)!r}, got {getattr(decoder, name)!r}")
        if decoder.hidden_size != encoder.output_size:
            raise ValueError(f"decoder.hidden_size: expected encoder.output_size = "
                             f"{encoder.output_size}, got {decoder.hidden_size}")
        self.encoder, self.decoder = encoder, decoder
        self._ids = {}
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

    def _set_id(self, name, value):
        """Check a special token id: an int in [0, V), distinct from the other two."""
        V = self.decoder.vocab_size
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                or not 0 <= value < V:
            raise ValueError(f"{name}: expected a token id in [0, {V}), got {value!r}")
        clash = [other for other, v in self._ids.items() if other != name and v == value]
        if clash:
            raise ValueError(f"{name}: expected an id distinct from {clash[0]} = {value}, "
                             f"got {value!r}")
        self._ids[name] = int(value)

    # Checked whenever they are set, not only by the constructor.
    bos_id = _token_id("bos_id", "The begin-of-sequence token, the decoder's first input.")
    eos_id = _token_id("eos_id", "The end-of-sequence token, which ends every target and "
                                 "decoded output.")
    pad_id = _token_id("pad_id", "The padding token of the targets (left out of the loss).")

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0, generator=None):
        """Logits (B, T, V) for every target position, and weights (B, T, S) or None.

        The input at step t is y_{t-1} (BOS at t = 1) with probability
        ``teacher_forcing_ratio`` and otherwise the model's own previous argmax
        (drawn per sequence and step, from ``generator``).
        """
        memory, state, mask = self.encoder(src, src_lengths)
        B, T = tgt.shape
        if teacher_forcing_ratio >= 1:  # inputs BOS, y_1..y_{T-1}, all known in advance
            y_in = torch.cat([torch.full((B, 1), self.bos_id, dtype=torch.long), tgt[:, :-1]], 1)
            logits, _, weights = self.decoder(y_in, state, memory, mask)
            return logits, weights
        keys = self.decoder.project_keys(memory)
        y_prev = torch.full((B,), self.bos_id, dtype=torch.long)
        logits, weights = [], []
        for t in range(T):
            logits_t, state, a = self.decoder.step(y_prev, state, memory, mask, keys)
            logits.append(logits_t)
            weights.append(a)
            teacher = torch.rand(B, generator=generator) < teacher_forcing_ratio
            y_prev = torch.where(teacher, tgt[:, t], self._allowed(logits_t).argmax(dim=1))
        weights = None if weights[0] is None else torch.stack(weights, dim=1)
        return torch.stack(logits, dim=1), weights

    def _allowed(self, scores):
        """Scores with PAD and BOS excluded: decoding chooses among the other tokens."""
        scores = scores.clone()
        scores[:, [self.pad_id, self.bos_id]] = float("-inf")
        return scores

    def loss(self, logits, tgt):
        """Mean cross-entropy over the non-padding target tokens."""
        return F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=self.pad_id)

    def score(self, src, src_lengths, tgt):
        """log p(tgt | src) = sum_t log p(y_t | y_<t, src) over non-padding tokens, (B,)."""
        logits, _ = self.forward(src, src_lengths, tgt, teacher_forcing_ratio=1.0)
        log_p = logits.log_softmax(dim=2).gather(2, tgt[:, :, None])[:, :, 0]  # (B, T)
        return (log_p * (tgt != self.pad_id)).sum(dim=1)

    @torch.no_grad()
    def greedy_decode(self, src, src_lengths, max_len=50):
        """Argmax decoding until EOS or ``max_len`` tokens, for a batch.

        PAD and BOS are never chosen (here, in beam search, and for the model's own
        inputs in :meth:`forward`); probabilities are still those of the full softmax.

        Returns a list of B token lists (EOS included when produced) and a list of B
        attention-weight tensors (T_b, S) (None without attention).
        """
        memory, state, mask = self.encoder(src, src_lengths)
        B = src.shape[0]
        y_prev = torch.full((B,), self.bos_id, dtype=torch.long)
        keys = self.decoder.project_keys(memory)
        done = torch.zeros(B, dtype=torch.bool)
        tokens, weights = [], []
        for t in range(max_len):
            logits, state, a = self.decoder.step(y_prev, state, memory, mask, keys)
            y_prev = self._allowed(logits).argmax(dim=1)
            tokens.append(y_prev)
            weights.append(a)
            done |= y_prev == self.eos_id
            if done.all():
                break
        tokens = torch.stack(tokens, dim=1)  # (B, T)
        outputs, output_weights = [], []
        for b in range(B):
            eos = (tokens[b] == self.eos_id).nonzero()
            length = int(eos[0]) + 1 if len(eos) else tokens.shape[1]
            outputs.append(tokens[b, :length].tolist())
            output_weights.append(None if a is None else
                                  torch.stack([w[b] for w in weights[:length]]))
        return outputs, output_weights

    @torch.no_grad()
    def beam_search(self, src, src_lengths, beam_width=5, max_len=50, length_penalty=1.0):
        """Beam search for one source (src (1, S)); hypotheses sorted best first.

        Each step expands every live hypothesis by every token and keeps the
        ``beam_width - len(finished)`` with the highest log-probability; a hypothesis
        ending in EOS is finished, and the beam shrinks by one. Hypotheses still alive
        after ``max_len`` tokens are finished as they are. The final ranking is by
        ``log p / len ** length_penalty`` (0 ranks by log p, 1 by log p per token).
        With ``beam_width=1`` this is greedy decoding. A wider beam usually finds
        outputs the model scores higher than greedy's, though beam search does not
        guarantee it.
        """
        if src.dim() != 2 or src.shape[0] != 1:
            raise ValueError(f"src: beam search takes one source of shape (1, S), "
                             f"got {tuple(src.shape)}")
        memory, state, mask = self.encoder(src, src_lengths)
        keys = self.decoder.project_keys(memory)
        live = [([], 0.0, [])]  # (tokens, log p, attention rows)
        finished = []
        for t in range(max_len):
            K = len(live)
            y_prev = torch.tensor([tokens[-1] if tokens else self.bos_id for tokens, _, _ in live])
            logits, state, a = self.decoder.step(
                y_prev, state, memory.expand(K, -1, -1), mask.expand(K, -1),
                None if keys is None else keys.expand(K, -1, -1))
            # log p(y_1..y_t) = log p(y_1..y_{t-1}) + log p(y_t | y_<t)
            log_p_live = torch.tensor([lp for _, lp, _ in live])[:, None]  # (K, 1)
            log_p = log_p_live + logits.double().log_softmax(dim=1)  # (K, V)
            V = log_p.shape[1]
            top = self._allowed(log_p).flatten().topk(min(beam_width - len(finished), K * V))
            rows, new_live = [], []
            for value, index in zip(top.values.tolist(), top.indices.tolist()):
                k, y = divmod(index, V)
                tokens, _, rows_k = live[k]
                hyp = (tokens + [y], value, rows_k + ([] if a is None else [a[k]]))
                if y == self.eos_id:
                    finished.append(hyp)
                else:
                    new_live.append(hyp)
                    rows.append(k)
            live = new_live
            if not live or len(finished) >= beam_width:
                break
            state = _select(state, torch.tensor(rows))
        finished += live

        def hypothesis(tokens, log_p, rows):
            return Hypothesis(tokens, log_p, log_p / len(tokens) ** length_penalty,
                              torch.stack(rows) if rows else None)
        return sorted((hypothesis(*h) for h in finished), key=lambda h: -h.score)
