"""rnnlib.attention: softmax properties, masking, permutation, and the PyTorch twins."""

import numpy as np
import pytest
import torch

from rnnlib.attention import (AdditiveAttention, ConcatAttention, DotAttention,
                              GeneralAttention, TorchAdditiveAttention, TorchConcatAttention,
                              TorchDotAttention, TorchGeneralAttention, masked_softmax)

B, S, Hq, Hk, Hv, A = 3, 7, 4, 5, 6, 8

ATTENTIONS = {
    "dot": lambda: DotAttention(),
    "general": lambda: GeneralAttention(Hq, Hk, rng=0),
    "concat": lambda: ConcatAttention(Hq, Hk, A, rng=0),
    "additive": lambda: AdditiveAttention(Hq, Hk, A, rng=0),
}


def inputs(kind, seed=0):
    rng = np.random.default_rng(seed)
    key_size = Hq if kind == "dot" else Hk
    query = rng.normal(size=(B, Hq))
    keys = rng.normal(size=(B, S, key_size))
    values = rng.normal(size=(B, S, Hv))
    mask = np.arange(S) < np.array([[S], [4], [1]])  # (B, S): 7, 4 and 1 real keys
    return query, keys, values, mask


@pytest.fixture(params=ATTENTIONS)
def kind(request):
    return request.param


def test_weights_are_a_distribution(kind):
    att = ATTENTIONS[kind]()
    query, keys, values, mask = inputs(kind)
    for m in (None, mask):
        context, weights = att.forward(query, keys, values, m)
        assert context.shape == (B, Hv) and weights.shape == (B, S)
        assert (weights >= 0).all()
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)


def test_masked_positions_are_zero_and_ignored(kind):
    att = ATTENTIONS[kind]()
    query, keys, values, mask = inputs(kind)
    context, weights = att.forward(query, keys, values, mask)
    assert (weights[~mask] == 0).all() and (weights[mask] > 0).all()
    np.testing.assert_array_equal(weights[2], np.eye(S)[0])  # one real key: all weight on it
    # padded keys and values (even huge ones) do not reach the result
    keys2, values2 = keys.copy(), values.copy()
    keys2[~mask] = 1e6
    values2[~mask] = np.random.default_rng(1).normal(size=values2[~mask].shape) * 1e6
    context2, weights2 = att.forward(query, keys2, values2, mask)
    np.testing.assert_array_equal(weights2, weights)
    np.testing.assert_array_equal(context2, context)


def test_permuting_keys_permutes_weights_and_keeps_context(kind):
    att = ATTENTIONS[kind]()
    query, keys, values, _ = inputs(kind)
    perm = np.random.default_rng(2).permutation(S)
    context, weights = att.forward(query, keys, values)
    context_p, weights_p = att.forward(query, keys[:, perm], values[:, perm])
    np.testing.assert_allclose(weights_p, weights[:, perm], rtol=1e-12)
    np.testing.assert_allclose(context_p, context, rtol=1e-12)


def test_dot_attention_is_an_explicit_softmax():
    query, keys, values, _ = inputs("dot")
    context, weights = DotAttention().forward(query, keys, values)
    for b in range(B):
        e = np.array([query[b] @ keys[b, s] for s in range(S)])
        a = np.exp(e) / np.exp(e).sum()
        np.testing.assert_allclose(weights[b], a, rtol=1e-12)
        c = sum(a[s] * values[b, s] for s in range(S))
        np.testing.assert_allclose(context[b], c, rtol=1e-12)


def test_masked_softmax_is_stable():
    w = masked_softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(w, [[0.5, 0.5, 0.0]])


TWINS = {
    "dot": (DotAttention, TorchDotAttention, ()),
    "general": (GeneralAttention, TorchGeneralAttention, (Hq, Hk)),
    "concat": (ConcatAttention, TorchConcatAttention, (Hq, Hk, A)),
    "additive": (AdditiveAttention, TorchAdditiveAttention, (Hq, Hk, A)),
}


def test_numpy_equals_pytorch_on_copied_weights(kind):
    numpy_class, torch_class, sizes = TWINS[kind]
    torch.manual_seed(0)
    module = torch_class(*sizes).double()
    att = numpy_class.from_torch(module)
    assert set(att.params) == set(module.state_dict())
    query, keys, values, mask = inputs(kind)
    context, weights = att.forward(query, keys, values, mask)
    t = [torch.tensor(x) for x in (query, keys, values, mask)]
    context_t, weights_t = module(*t)
    np.testing.assert_allclose(context, context_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weights, weights_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    # and back: to_torch gives a float32 module with the same parameters
    back = numpy_class(*sizes, rng=1) if sizes else numpy_class()
    module32 = back.to_torch()
    for name, value in module32.state_dict().items():
        np.testing.assert_allclose(value.numpy(), back.params[name], rtol=1e-6)


@pytest.mark.parametrize("change, argument", [
    (dict(query=np.zeros((3, 4, 1))), "query"),
    (dict(query=np.zeros((3, 2))), "query"),
    (dict(keys=np.zeros((2, 7, 5))), "keys"),
    (dict(keys=np.zeros((3, 7, 4))), "keys"),
    (dict(values=np.zeros((3, 6, 6))), "values"),
    (dict(mask=np.ones((3, 6), dtype=bool)), "mask"),
    (dict(mask=np.ones((3, 7))), "mask"),
    (dict(mask=np.arange(7) < np.array([[7], [0], [1]])), "mask"),
    (dict(query=np.full((3, 4), np.nan)), "query"),
])
def test_bad_input_raises(change, argument):
    query, keys, values, mask = inputs("additive")
    kwargs = dict(query=query, keys=keys, values=values, mask=mask)
    kwargs.update(change)
    with pytest.raises(ValueError, match=argument):
        AdditiveAttention(Hq, Hk, A, rng=0).forward(**kwargs)


def test_pytorch_twin_attends_with_a_sequence_of_queries(kind):
    """(B, T, Hq) queries give the T one-query results, and attend() on projected keys
    equals forward()."""
    _, torch_class, sizes = TWINS[kind]
    torch.manual_seed(0)
    module = torch_class(*sizes).double()
    query, keys, values, mask = (torch.tensor(x) for x in inputs(kind))
    queries = torch.stack([query, 2 * query, -query], dim=1)  # (B, T=3, Hq)
    context, weights = module(queries, keys, values, mask)
    assert context.shape == (B, 3, Hv) and weights.shape == (B, 3, S)
    for t in range(3):
        context_t, weights_t = module(queries[:, t], keys, values, mask)
        torch.testing.assert_close(context[:, t], context_t, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(weights[:, t], weights_t, rtol=1e-12, atol=1e-14)
    projected = module.project_keys(keys)
    torch.testing.assert_close(module.attend(queries, projected, values, mask), (context, weights),
                               rtol=0, atol=0)


@pytest.mark.parametrize("change, argument", [
    (dict(query=torch.zeros(3, 2, 4, 1)), "query"),
    (dict(query=torch.zeros(2, 4)), "query"),
    (dict(values=torch.zeros(3, 6, 6)), "values"),
    (dict(mask=torch.ones(3, 6, dtype=torch.bool)), "mask"),
])
def test_pytorch_twin_bad_shapes_raise(change, argument):
    query, keys, values, mask = (torch.tensor(x) for x in inputs("additive"))
    kwargs = dict(query=query, keys=keys, values=values, mask=mask)
    kwargs.update(change)
    module = TorchAdditiveAttention(Hq, Hk, A).double()
    with pytest.raises(ValueError, match=argument):
        module(**kwargs)


@pytest.mark.parametrize("cls, args", [(GeneralAttention, (3, 4)),
                                       (ConcatAttention, (3, 4, 5)),
                                       (AdditiveAttention, (3, 4, 5))])
def test_sizes_checked_and_read_only(cls, args):
    with pytest.raises(ValueError, match="key_size must be >= 1, got 0"):
        cls(args[0], 0, *args[2:])
    att = cls(*args, rng=0)
    for name in ("query_size", "key_size"):
        with pytest.raises(AttributeError):   # the parameters' shapes fix the sizes
            setattr(att, name, 7)
    assert (att.query_size, att.key_size) == args[:2]
    assert DotAttention().query_size is None
