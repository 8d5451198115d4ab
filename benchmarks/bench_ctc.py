"""Speed of rnnlib.ctc against PyTorch's ctc_loss and pyctcdecode, measured in one run.

    python benchmarks/bench_ctc.py [--repeat 20] [--beam-width 16]

1. CTC loss + gradient (``ctc_loss`` and ``ctc_grad``, and ``ctc_loss_and_grad``) against
   ``torch.nn.functional.ctc_loss`` forward + backward through log_softmax, on CPU,
   T=100, N=16, C=30, S=20, in float32 and float64. Target: rnnlib within 2x.
2. ``prefix_beam_search`` against pyctcdecode's decoder without a language model on the
   same 16 sequences: time ratio and whether the labellings agree. Skipped with a
   message when pyctcdecode is not installed.

Timings are the median of ``--repeat`` runs, taken in turns; the ratio is rnnlib time /
peer time (below 1 means rnnlib is faster). Run from the repository root with rnnlib
importable (installed, or ``PYTHONPATH=.``).
"""

import argparse
import importlib.metadata
import statistics
import string
import time

import numpy as np
import torch
import torch.nn.functional as F

from rnnlib.ctc import ctc_grad, ctc_loss, ctc_loss_and_grad, prefix_beam_search

T, N, C, S = 100, 16, 30, 20


def median_times(functions, repeat):
    """Median seconds of each function, timed in turns so all see the same machine load."""
    times = [[] for _ in functions]
    for fn in functions:
        fn()  # warm up
    for _ in range(repeat):
        for fn, t in zip(functions, times):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def log_p_labelling(log_probs, labelling):
    """log p(l | x) of one sequence's (T, C) log-probabilities."""
    return -float(ctc_loss(log_probs[:, None], [labelling], [len(log_probs)], [len(labelling)],
                           reduction="sum"))


def make_inputs(seed=0):
    """Peaked frame distributions, like a trained model's, and random targets."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, N, C)) * 3
    log_probs = logits - np.logaddexp.reduce(logits, axis=2, keepdims=True)
    targets = rng.integers(1, C, size=(N, S))
    input_lengths = rng.integers(T // 2, T + 1, size=N)
    input_lengths[0] = T
    target_lengths = rng.integers(S // 2, S + 1, size=N)
    return logits, log_probs, targets, input_lengths, target_lengths


def bench_loss(repeat):
    logits, log_probs, targets, input_lengths, target_lengths = make_inputs()
    print(f"CTC loss + gradient, T={T} N={N} C={C} S={S}, "
          f"torch threads={torch.get_num_threads()}")
    for dtype, torch_dtype in [(np.float32, torch.float32), (np.float64, torch.float64)]:
        lp = log_probs.astype(dtype)
        args = (lp, targets, input_lengths, target_lengths)

        def ours():
            return ctc_loss(*args, reduction="sum"), ctc_grad(*args)

        def ours_fused():
            loss, grad = ctc_loss_and_grad(*args)
            return loss.sum(), grad

        z = torch.tensor(logits, dtype=torch_dtype, requires_grad=True)
        t_args = [torch.as_tensor(a) for a in (targets, input_lengths, target_lengths)]

        def theirs():
            z.grad = None
            loss = F.ctc_loss(z.log_softmax(2), *t_args, reduction="sum")
            loss.backward()
            return loss, z.grad

        (loss, grad), (t_loss, t_grad) = ours_fused(), theirs()
        print(f"  {np.dtype(dtype).name}: |loss - torch| / loss = "
              f"{abs(loss - t_loss.item()) / abs(t_loss.item()):.1e}, "
              f"max |grad - torch| = {np.abs(grad - t_grad.numpy()).max():.1e}")
        t_separate, t_fused, t_theirs = median_times([ours, ours_fused, theirs], repeat)
        for name, t_ours in [("ctc_loss + ctc_grad", t_separate), ("ctc_loss_and_grad", t_fused)]:
            print(f"    {name:20s} {t_ours * 1e3:7.2f} ms   torch {t_theirs * 1e3:7.2f} ms   "
                  f"ratio {t_ours / t_theirs:5.2f}x")


def bench_decoder(repeat, beam_width):
    try:
        import pyctcdecode
    except ImportError:
        print("pyctcdecode not installed: skipping the decoder comparison "
              "(pip install pyctcdecode)")
        return
    _, log_probs, _, input_lengths, _ = make_inputs()
    # blank "" at index 0 and 29 one-character labels without spaces
    labels = [""] + list(string.ascii_lowercase + "012")
    decoder = pyctcdecode.build_ctcdecoder(labels)
    sequences = [log_probs[:input_lengths[n], n] for n in range(N)]
    version = importlib.metadata.version("pyctcdecode")
    print(f"Prefix beam search on {N} sequences (T<={T}, C={C}), beam width {beam_width}, "
          f"pyctcdecode {version}")
    settings = {
        "pyctcdecode defaults (token_min_logp=-5, beam_prune_logp=-10)": {},
        "pyctcdecode without pruning": dict(token_min_logp=-np.inf, beam_prune_logp=-np.inf),
    }

    def ours():
        return [prefix_beam_search(lp, beam_width) for lp in sequences]

    def peer(kwargs):
        return lambda: [decoder.decode(lp, beam_width=beam_width, **kwargs) for lp in sequences]

    peers = [peer(kwargs) for kwargs in settings.values()]
    t_ours, *t_peers = median_times([ours] + peers, repeat)
    ours_out = ours()
    print(f"  rnnlib prefix_beam_search: {t_ours * 1e3:8.1f} ms")
    for name, fn, t_theirs in zip(settings, peers, t_peers):
        theirs_out = [[labels.index(ch) for ch in text] for text in fn()]
        same = sum(o == p for o, p in zip(ours_out, theirs_out))
        # where they differ: which labelling is more probable under p(l | x)?
        ours_better = sum(log_p_labelling(lp, o) > log_p_labelling(lp, p)
                          for lp, o, p in zip(sequences, ours_out, theirs_out) if o != p)
        print(f"  {name}: {t_theirs * 1e3:8.1f} ms   ratio {t_ours / t_theirs:5.2f}x   "
              f"same labelling {same}/{N}; of the rest, rnnlib's more probable in "
              f"{ours_better}/{N - same}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per measurement")
    parser.add_argument("--beam-width", type=int, default=16, help="beam width of both decoders")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (NumPy here runs on one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench_loss(args.repeat)
    bench_decoder(max(1, args.repeat // 10), args.beam_width)


if __name__ == "__main__":
    main()
