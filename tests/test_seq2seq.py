"""rnnlib.seq2seq: padding masks, teacher forcing, greedy and beam decoding, scoring."""

import pytest
import torch

from rnnlib.seq2seq import (BahdanauDecoder, Encoder, LuongDecoder, PlainDecoder, Seq2Seq,
                            _Decoder)

V, E, H, A = 12, 8, 16, 10
PAD, BOS, EOS = 0, 1, 2
DECODERS = ["plain", "bahdanau", "luong-dot", "luong-general", "luong-concat"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread than on several contending ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_model(kind, cell="gru", bidirectional=False, seed=0):
    torch.manual_seed(seed)
    encoder = Encoder(V, E, H, cell=cell, bidirectional=bidirectional)
    Hd = encoder.output_size
    if kind == "plain":
        decoder = PlainDecoder(V, E, Hd, cell=cell)
    elif kind == "bahdanau":
        decoder = BahdanauDecoder(V, E, Hd, memory_size=Hd, attention_size=A, cell=cell)
    else:
        decoder = LuongDecoder(V, E, Hd, memory_size=Hd, score=kind.split("-")[1],
                               attention_size=A, cell=cell)
    model = Seq2Seq(encoder, decoder, bos_id=BOS, eos_id=EOS, pad_id=PAD).eval()
    # sharper output distributions than at initialisation, so decoders disagree
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3.0)
    return model


def sources(seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, V, (3, 7), generator=g)
    lengths = torch.tensor([7, 4, 2])
    src[torch.arange(7) >= lengths[:, None]] = PAD
    return src, lengths


def padded(token_lists, pad=PAD):
    T = max(map(len, token_lists))
    return torch.tensor([t + [pad] * (T - len(t)) for t in token_lists])


CONFIGS = [(kind, "gru", False) for kind in DECODERS] + [
    ("bahdanau", "lstm", True), ("luong-general", "lstm", False), ("plain", "lstm", True)]


@pytest.mark.parametrize("kind, cell, bidirectional", CONFIGS)
def test_padding_does_not_change_outputs(kind, cell, bidirectional):
    model = make_model(kind, cell, bidirectional)
    src, lengths = sources()
    tgt = torch.randint(3, V, (3, 5), generator=torch.Generator().manual_seed(1))
    noisy = src.clone()
    pad = src == PAD
    noisy[pad] = torch.randint(3, V, (int(pad.sum()),), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits, weights = model(src, lengths, tgt)
        logits_noisy, weights_noisy = model(noisy, lengths, tgt)
        assert torch.equal(logits, logits_noisy)
        if weights is not None:
            assert torch.equal(weights, weights_noisy)
            assert (weights[pad[:, None, :].expand_as(weights)] == 0).all()
        # and the padded row equals the sequence decoded alone
        alone, _ = model(src[1:2, :4], lengths[1:2], tgt[1:2])
        torch.testing.assert_close(alone[0], logits[1])
    assert model.greedy_decode(src, lengths, 8)[0] == model.greedy_decode(noisy, lengths, 8)[0]
    assert (model.beam_search(noisy[2:], lengths[2:], 3, max_len=8)[0].tokens
            == model.beam_search(src[2:], lengths[2:], 3, max_len=8)[0].tokens)


@pytest.mark.parametrize("kind", DECODERS)
def test_beam_width_one_equals_greedy(kind):
    model = make_model(kind)
    src, lengths = sources()
    greedy, greedy_weights = model.greedy_decode(src, lengths, max_len=12)
    for b in range(3):
        best = model.beam_search(src[b:b + 1], lengths[b:b + 1], beam_width=1, max_len=12)
        assert len(best) == 1 and best[0].tokens == greedy[b]
        if greedy_weights[b] is not None:
            torch.testing.assert_close(best[0].weights, greedy_weights[b])


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("kind", ["plain", "bahdanau", "luong-general"])
def test_wider_beam_scores_at_least_greedy(kind, length_penalty):
    for seed in range(3):
        model = make_model(kind, seed=seed)
        src, lengths = sources(seed)
        greedy, _ = model.greedy_decode(src, lengths, max_len=10)
        with torch.no_grad():
            greedy_log_p = model.score(src, lengths, padded(greedy))
        for b in range(3):
            greedy_score = float(greedy_log_p[b]) / len(greedy[b]) ** length_penalty
            hyps = model.beam_search(src[b:b + 1], lengths[b:b + 1], beam_width=4,
                                     max_len=10, length_penalty=length_penalty)
            assert hyps[0].score >= greedy_score - 1e-5
            assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


@pytest.mark.parametrize("kind", ["plain", "bahdanau", "luong-concat"])
def test_beam_log_prob_is_the_model_score(kind):
    model = make_model(kind, cell="lstm", bidirectional=True)
    src, lengths = sources()
    hyps = model.beam_search(src[1:2], lengths[1:2], beam_width=4, max_len=8)
    assert len(hyps) == 4
    with torch.no_grad():
        tgt = padded([h.tokens for h in hyps])
        log_p = model.score(src[1:2].expand(4, -1), lengths[1:2].expand(4), tgt)
    torch.testing.assert_close(log_p.double(), torch.tensor([h.log_prob for h in hyps], dtype=torch.double))
    for h in hyps:
        assert (h.weights is None) == (kind == "plain")
        if h.weights is not None:
            assert h.weights.shape == (len(h.tokens), 7)
            assert (h.weights[:, 4:] == 0).all()
            torch.testing.assert_close(h.weights.sum(1), torch.ones(len(h.tokens)))


def test_decoding_stops_at_eos():
    model = make_model("bahdanau")
    with torch.no_grad():
        model.decoder.out.bias[EOS] += 4.0  # EOS likely, but not at once
    src, lengths = sources()
    outputs, weights = model.greedy_decode(src, lengths, max_len=10)
    assert any(len(out) < 10 for out in outputs)
    for out, w in zip(outputs, weights):
        assert EOS not in out[:-1]
        assert out[-1] == EOS or len(out) == 10
        assert w.shape == (len(out), 7)
    for h in model.beam_search(src[:1], lengths[:1], beam_width=3, max_len=10):
        assert EOS not in h.tokens[:-1]
    with torch.no_grad():
        model.decoder.out.bias[EOS] += 100.0  # now EOS first
    assert model.greedy_decode(src, lengths)[0] == [[EOS]] * 3
    assert model.beam_search(src[:1], lengths[:1], beam_width=3)[0].tokens == [EOS]


def test_teacher_forcing_ratio():
    model = make_model("luong-general")
    src, lengths = sources()
    tgt = torch.randint(3, V, (3, 6), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        free, _ = model(src, lengths, tgt, teacher_forcing_ratio=0.0)
        forced, _ = model(src, lengths, tgt, teacher_forcing_ratio=1.0)
        mixed, _ = model(src, lengths, tgt, 0.5, torch.Generator().manual_seed(0))
    # without teacher forcing the model reads its own argmax: greedy decoding
    greedy, _ = model.greedy_decode(src, lengths, max_len=6)
    free_tokens = free.clone()
    free_tokens[:, :, [PAD, BOS]] = float("-inf")  # never chosen when decoding
    for b in range(3):
        assert free_tokens[b].argmax(1).tolist()[:len(greedy[b])] == greedy[b]
    assert not torch.equal(free, forced)
    # the first step never depends on the ratio; later steps mix both
    torch.testing.assert_close(mixed[:, 0], forced[:, 0])
    assert not torch.equal(mixed, forced) and not torch.equal(mixed, free)


def test_training_lowers_the_loss():
    model = make_model("bahdanau").train()
    src, lengths = sources()
    tgt = torch.cat([src.flip(1), torch.full((3, 1), PAD)], dim=1)
    tgt[torch.arange(3), lengths] = EOS
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        logits, _ = model(src, lengths, tgt)
        loss = model.loss(logits, tgt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_configuration_raises():
    encoder = Encoder(V, E, H, bidirectional=True)
    with pytest.raises(ValueError, match="hidden_size"):
        Seq2Seq(encoder, PlainDecoder(V, E, H))
    with pytest.raises(ValueError, match="cell"):
        Seq2Seq(encoder, PlainDecoder(V, E, 2 * H, cell="lstm"))
    with pytest.raises(ValueError, match="score"):
        LuongDecoder(V, E, H, H, score="cosine")
    with pytest.raises(ValueError, match="memory_size"):
        LuongDecoder(V, E, H, 2 * H, score="dot")
    with pytest.raises(ValueError, match="src_lengths"):
        encoder(torch.ones(2, 5, dtype=torch.long), torch.tensor([5, 6]))
    model = make_model("plain")
    with pytest.raises(ValueError, match="src"):
        model.beam_search(torch.ones(2, 5, dtype=torch.long), torch.tensor([5, 5]))


def step_by_step(model, src, lengths, tgt):
    """Teacher forcing the slow way: one decoder.step per target position."""
    memory, state, mask = model.encoder(src, lengths)
    y_prev = torch.full((len(src),), BOS)
    logits, weights = [], []
    for t in range(tgt.shape[1]):
        logits_t, state, a = model.decoder.step(y_prev, state, memory, mask)
        logits.append(logits_t)
        weights.append(a)
        y_prev = tgt[:, t]
    return torch.stack(logits, 1), None if weights[0] is None else torch.stack(weights, 1)


@pytest.mark.parametrize("kind, cell, bidirectional", CONFIGS)
def test_teacher_forced_pass_equals_step_by_step(kind, cell, bidirectional):
    """Seq2Seq.forward runs the decoder over all steps at once; it must equal T steps."""
    model = make_model(kind, cell, bidirectional)
    src, lengths = sources()
    tgt = torch.randint(3, V, (3, 6), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        logits, weights = model(src, lengths, tgt)
        logits_slow, weights_slow = step_by_step(model, src, lengths, tgt)
    torch.testing.assert_close(logits, logits_slow, rtol=1e-5, atol=1e-5)
    if weights is None:
        assert weights_slow is None
    else:
        torch.testing.assert_close(weights, weights_slow, rtol=1e-5, atol=1e-6)
    # the generic loop a decoder without its own forward falls back on
    memory, state, mask = model.encoder(src, lengths)
    y_in = torch.cat([torch.full((3, 1), BOS), tgt[:, :-1]], dim=1)
    with torch.no_grad():
        generic, _, generic_weights = _Decoder.forward(model.decoder, y_in, state, memory, mask)
    torch.testing.assert_close(generic, logits_slow, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_two_layer_teacher_forced_pass_equals_step_by_step(cell):
    torch.manual_seed(0)
    model = Seq2Seq(Encoder(V, E, H, cell=cell, num_layers=2),
                    LuongDecoder(V, E, H, H, score="concat", attention_size=A, cell=cell,
                                 num_layers=2), bos_id=BOS, eos_id=EOS, pad_id=PAD)
    src, lengths = sources()
    tgt = torch.randint(3, V, (3, 6), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        fast, slow = model(src, lengths, tgt), step_by_step(model, src, lengths, tgt)
    for x, y in zip(fast, slow):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def test_unpacked_gru_encoder_equals_packed():
    """The one-layer GRU encoder skips packing; the result must be what packing gives."""
    torch.manual_seed(0)
    encoder = Encoder(V, E, H)
    src, lengths = sources()
    memory, state, mask = encoder(src, lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(encoder.embed(src), lengths,
                                                     batch_first=True, enforce_sorted=False)
    memory_packed, state_packed = encoder.rnn(packed)
    memory_packed, _ = torch.nn.utils.rnn.pad_packed_sequence(memory_packed, batch_first=True,
                                                              total_length=src.shape[1])
    torch.testing.assert_close(memory, memory_packed, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(state, state_packed, rtol=1e-6, atol=1e-7)
    assert (memory[~mask] == 0).all() and state.shape == (1, 3, H)


@pytest.mark.parametrize("kind", DECODERS)
def test_step_with_projected_keys_equals_step_without(kind):
    model = make_model(kind)
    src, lengths = sources()
    with torch.no_grad():
        memory, state, mask = model.encoder(src, lengths)
        keys = model.decoder.project_keys(memory)
        assert (keys is None) == (kind == "plain")
        y_prev = torch.tensor([5, 6, 7])
        with_keys = model.decoder.step(y_prev, state, memory, mask, keys)
        without = model.decoder.step(y_prev, state, memory, mask)
    for x, y in zip(with_keys, without):
        if y is None:
            assert x is None
        else:
            torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("attribute", ["cell", "num_layers", "hidden_size", "output_size"])
def test_encoder_structure_is_read_only(attribute):
    # the structure is that of the weights: setting it would silently disagree with them
    encoder = Encoder(V, E, H, cell="lstm", num_layers=2, bidirectional=True)
    before = getattr(encoder, attribute)
    with pytest.raises(AttributeError, match=attribute):
        setattr(encoder, attribute, 1)
    assert getattr(encoder, attribute) == before
    assert (encoder.cell, encoder.num_layers, encoder.hidden_size, encoder.output_size) == (
        "lstm", 2, H, 2 * H)


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("attribute", ["cell", "num_layers", "hidden_size", "vocab_size"])
def test_decoder_structure_is_read_only(kind, attribute):
    decoder = make_model(kind, cell="lstm").decoder
    with pytest.raises(AttributeError, match=attribute):
        setattr(decoder, attribute, 3)
    assert (decoder.cell, decoder.num_layers, decoder.hidden_size, decoder.vocab_size) == (
        "lstm", 1, H, V)


@pytest.mark.parametrize("name", ["bos_id", "eos_id", "pad_id"])
@pytest.mark.parametrize("value", [-1, V, 1.0, True, "1", None])
def test_special_ids_are_checked_when_set(name, value):
    model = make_model("plain")
    with pytest.raises(ValueError, match=name):
        setattr(model, name, value)
    assert (model.bos_id, model.eos_id, model.pad_id) == (BOS, EOS, PAD)  # unchanged
    with pytest.raises(ValueError, match=name):
        Seq2Seq(model.encoder, model.decoder, **{"bos_id": BOS, "eos_id": EOS, "pad_id": PAD,
                                                 name: value})


def test_special_ids_distinct_and_settable():
    model = make_model("plain")
    with pytest.raises(ValueError, match="eos_id: .*pad_id"):
        model.eos_id = PAD
    with pytest.raises(ValueError, match="pad_id: .*bos_id"):
        Seq2Seq(model.encoder, model.decoder, bos_id=1, eos_id=2, pad_id=1)
    model.pad_id = V - 1  # a free id: accepted, and used
    assert model.pad_id == V - 1
    scores = model._allowed(torch.zeros(1, V))
    assert scores[0, V - 1] == float("-inf") and scores[0, PAD] == 0
