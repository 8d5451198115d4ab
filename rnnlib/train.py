"""A small, general PyTorch training loop: minibatches, gradient clipping, a progress bar.

The loop knows nothing about the model or the task. You give it

- ``model``: any ``torch.nn.Module``;
- ``loss_fn(model, batch) -> scalar tensor``: runs the model on one batch and returns the
  loss to minimise (so the loop never needs to know what a batch holds);
- ``batches``: the training batches of one epoch, either a re-iterable (a list, a
  ``torch.utils.data.DataLoader``) or a callable ``batches(epoch) -> iterable``, called
  once per epoch (use it to reshuffle or to draw fresh random batches);
- ``optimizer``: any ``torch.optim`` optimizer over the model's parameters.

Each step is: zero the gradients, ``loss.backward()``, clip the global gradient norm to
``max_norm`` (Pascanu, Mikolov & Bengio 2013), ``optimizer.step()``. :func:`fit` returns a
:class:`History` with the loss and the pre-clipping gradient norm of every step.

>>> import torch
>>> _ = torch.manual_seed(0)
>>> model = torch.nn.Linear(3, 1)
>>> x = torch.randn(64, 3)
>>> y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
>>> def loss_fn(model, batch):
...     xb, yb = batch
...     return torch.nn.functional.mse_loss(model(xb), yb)
>>> batches = lambda epoch: minibatches(x, y, batch_size=16, generator=epoch)
>>> opt = torch.optim.Adam(model.parameters(), lr=0.1)
>>> history = fit(model, loss_fn, batches, opt, epochs=30, max_norm=1.0, progress=False)
>>> len(history.loss), history.steps_per_epoch[:2]
(120, [4, 4])
>>> bool(history.epoch_loss()[-1] < 0.01 * history.epoch_loss()[0])
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["History", "fit", "evaluate", "minibatches"]


@dataclass
class History:
    """What :func:`fit` records, one entry per optimisation step.

    Attributes
    ----------
    loss : list of float
        The training loss of every step, in order.
    grad_norm : list of float
        The global L2 norm of the gradients at every step, *before* clipping.
    steps_per_epoch : list of int
        How many steps each epoch had (so ``loss`` can be split by epoch).
    """

    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    steps_per_epoch: list = field(default_factory=list)

    def epoch_loss(self):
        """The mean training loss of each epoch, as a NumPy array of shape (epochs,)."""
        bounds = np.cumsum([0] + self.steps_per_epoch)
        return np.array([np.mean(self.loss[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])

    def smoothed(self, window=20):
        """The step losses averaged over a trailing window of ``window`` steps, (steps,)."""
        loss = np.asarray(self.loss, dtype=float)
        if loss.size == 0:
            return loss
        csum = np.cumsum(np.insert(loss, 0, 0.0))
        starts = np.maximum(np.arange(1, loss.size + 1) - window, 0)
        return (csum[1:] - csum[starts]) / (np.arange(1, loss.size + 1) - starts)


def minibatches(*tensors, batch_size, shuffle=True, generator=None, drop_last=False):
    """Yield tuples of matching minibatches of ``tensors`` (examples along the first axis).

    Parameters
    ----------
    *tensors : torch.Tensor or np.ndarray
        All with the same first dimension N (the examples).
    batch_size : int
        Examples per batch; the last batch may be smaller unless ``drop_last``.
    shuffle : bool
        Visit the examples in a random order.
    generator : int, torch.Generator or None
        The randomness of the shuffle: a seed (e.g. the epoch number, so every epoch has
        its own reproducible order) or a generator. ``None`` uses torch's global one.

    >>> x, y = torch.arange(5), torch.arange(5) * 10
    >>> [tuple(b.tolist() for b in batch) for batch in minibatches(x, y, batch_size=2, shuffle=False)]
    [([0, 1], [0, 10]), ([2, 3], [20, 30]), ([4], [40])]
    """
    if not tensors:
        raise ValueError("minibatches needs at least one tensor")
    n = len(tensors[0])
    for i, t in enumerate(tensors):
        if len(t) != n:
            raise ValueError(f"tensors[{i}] must have {n} examples along axis 0 "
                             f"(as tensors[0]), got {len(t)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if shuffle:
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        order = torch.randperm(n, generator=generator)
    else:
        order = torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield tuple(t[idx] if isinstance(t, torch.Tensor) else t[idx.numpy()] for t in tensors)


def fit(model, loss_fn, batches, optimizer, *, epochs=1, max_norm=None, progress=True,
        desc="training"):
    """Train ``model`` for ``epochs`` epochs; return a :class:`History`.

    Parameters
    ----------
    model : torch.nn.Module
        Put in training mode (``model.train()``) before the first step.
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar tensor``.
    batches : iterable or callable
        The batches of one epoch (re-iterated every epoch), or ``batches(epoch)``
        returning them, called with ``epoch = 0, 1, ...``.
    optimizer : torch.optim.Optimizer
    epochs : int
    max_norm : float or None
        Clip the global gradient norm to this value before each step
        (``torch.nn.utils.clip_grad_norm_``); ``None`` does not clip (the norm is still
        recorded).
    progress : bool
        Show a tqdm progress bar (one bar for the whole run, with the running loss). It
        shows a total if the batches of an epoch have a length (return a list from
        ``batches(epoch)`` rather than a generator to get one).
    desc : str
        The bar's label.

    A step whose loss is not finite (NaN or infinity) ends training with a
    ``RuntimeWarning``; the history up to and including that step is returned.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"max_norm must be > 0 or None, got {max_norm!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    first = batches(0) if callable(batches) else batches
    # The bar knows its length if an epoch's batches have one (a list, a DataLoader).
    total = epochs * len(first) if hasattr(first, "__len__") else None
    history = History()
    model.train()
    with tqdm(total=total, desc=desc, disable=not progress, leave=True) as bar:
        for epoch in range(epochs):
            if epoch == 0:
                epoch_batches = first
            else:
                epoch_batches = batches(epoch) if callable(batches) else batches
            steps = 0
            for batch in epoch_batches:
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model, batch)
                if loss.dim() != 0:
                    raise ValueError(f"loss_fn must return a scalar tensor, got shape "
                                     f"{tuple(loss.shape)}")
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(
                    params, max_norm if max_norm is not None else math.inf)
                value = float(loss.detach())
                history.loss.append(value)
                history.grad_norm.append(float(norm))
                steps += 1
                if not math.isfinite(value):
                    history.steps_per_epoch.append(steps)
                    warnings.warn(f"the loss became {value} at step {len(history.loss)}; "
                                  "training stopped", RuntimeWarning, stacklevel=2)
                    return history
                optimizer.step()
                bar.update(1)
                if steps % 10 == 0:
                    bar.set_postfix(loss=f"{np.mean(history.loss[-10:]):.3f}", refresh=False)
            history.steps_per_epoch.append(steps)
    return history


@torch.no_grad()
def evaluate(model, loss_fn, batches):
    """The mean of ``loss_fn(model, batch)`` over ``batches``, without gradients, in eval mode.

    The mean is over batches (each batch counts once, whatever its size). The model's
    training/eval mode is restored afterwards.

    >>> model = torch.nn.Linear(2, 1)
    >>> batches = [(torch.zeros(4, 2), torch.zeros(4, 1))]
    >>> evaluate(model, lambda m, b: ((m(b[0]) - m(b[0])) ** 2).mean(), batches)
    0.0
    """
    was_training = model.training
    model.eval()
    try:
        values = [float(loss_fn(model, batch)) for batch in batches]
    finally:
        model.train(was_training)
    if not values:
        raise ValueError("batches must hold at least one batch")
    return float(np.mean(values))
