"""Speed of rnnlib.ctc against PyTorch's ctc_loss and pyctcdecode, measured in one run.

    python benchmarks/bench_ctc.py [--repeat 20] [--beam-width 16] [--threads 1] [--forward-only]

1. CTC loss and gradient against ``torch.nn.functional.ctc_loss`` on the CPU, in float32
   and float64, at three sizes: T=100, N=16, C=30, S=20; T=500, N=32, C=30, S=50; and
   T=100, N=16, S=20 with C=1000 classes (a vocabulary of word pieces).
   - ``ctc_loss`` (forward only) against torch's forward on the same log-probabilities
     (no autograd graph). Target: within 1.0x.
   - ``ctc_loss_and_grad``, and separate ``ctc_loss`` + ``ctc_grad`` calls, against
     torch's forward + backward through ``log_softmax`` (rnnlib's gradient is with
     respect to the logits too). Target: ``ctc_loss_and_grad`` within 1.3x.
   With --forward-only, only ``ctc_loss`` and torch's forward take turns (and nothing
   else is timed): no backward pass runs between them to push their arrays out of the
   caches.
2. How the time grows with T (T = 100, 200, 400, 800; N=16, C=30, S=20, float32 and
   float64): CPU milliseconds, and per frame relative to T=100 (1.00 = linear).
3. ``prefix_beam_search`` against pyctcdecode's decoder without a language model on the
   16 sequences of the first size: time ratio and whether the labellings agree. Skipped
   with a message when pyctcdecode is not installed.

Every measurement times the competitors in turns (rnnlib, torch, rnnlib, torch, ...), so
both see the same background load, and prints rnnlib / torch as the median and the best
wall time of ``--repeat`` runs and the median process CPU time (below 1: rnnlib is
faster). On a machine shared with other work wall times wait for a core; the CPU ratio
is the steadier one. Run from the
repository root with rnnlib importable (installed, or ``PYTHONPATH=.``).
"""

import argparse
import importlib.metadata
import os
import statistics
import string
import sys
import time

# NumPy's BLAS gets as many threads as torch (--threads, default 1). OpenBLAS reads these
# variables when numpy is first imported, so they are set before the import below.
_THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _THREADS

import numpy as np  # noqa: E402 (after the thread settings)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from rnnlib.ctc import ctc_grad, ctc_loss, ctc_loss_and_grad, prefix_beam_search  # noqa: E402

# (T, N, C, S): characters, a longer batch, and a vocabulary of 1000 word pieces
SIZES = [(100, 16, 30, 20), (500, 32, 30, 50), (100, 16, 1000, 20)]
SCALING_T = (100, 200, 400, 800)


def interleaved_times(functions, repeat):
    """Seconds of each function, timed in turns so all see the same load.

    Returns one tuple per function: (median wall, best wall, median CPU). CPU time is the
    process's (all threads); it leaves out the time spent waiting for a core, so on a
    loaded machine its ratio is the steadier one.
    """
    wall = [[] for _ in functions]
    cpu = [[] for _ in functions]
    for fn in functions:
        fn()  # warm up
    for _ in range(repeat):
        for fn, w, c in zip(functions, wall, cpu):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            w.append(time.perf_counter() - w0)
            c.append(time.process_time() - c0)
    return [(statistics.median(w), min(w), statistics.median(c)) for w, c in zip(wall, cpu)]


def make_inputs(T, N, C, S, seed=0):
    """Peaked frame distributions, like a trained model's, random targets and lengths."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, N, C)) * 3
    log_probs = logits - np.logaddexp.reduce(logits, axis=2, keepdims=True)
    targets = rng.integers(1, C, size=(N, S))
    input_lengths = rng.integers(T // 2, T + 1, size=N)
    input_lengths[0] = T
    target_lengths = rng.integers(S // 2, S + 1, size=N)
    return logits, log_probs, targets, input_lengths, target_lengths


def contenders(T, N, C, S, dtype):
    """The functions to time, by name, on one batch in one dtype."""
    logits, log_probs, targets, input_lengths, target_lengths = make_inputs(T, N, C, S)
    torch_dtype = getattr(torch, np.dtype(dtype).name)
    args = (log_probs.astype(dtype), targets, input_lengths, target_lengths)
    z = torch.tensor(logits, dtype=torch_dtype, requires_grad=True)
    lp = torch.tensor(log_probs, dtype=torch_dtype)
    t_args = [torch.as_tensor(a) for a in (targets, input_lengths, target_lengths)]

    def torch_forward():
        with torch.no_grad():
            return F.ctc_loss(lp, *t_args, reduction="sum")

    def torch_forward_backward():
        z.grad = None
        loss = F.ctc_loss(z.log_softmax(2), *t_args, reduction="sum")
        loss.backward()
        return loss.item(), z.grad.numpy()

    def loss_and_grad():
        loss, grad = ctc_loss_and_grad(*args)
        return loss.sum(), grad

    return {
        "ctc_loss": lambda: ctc_loss(*args, reduction="sum"),
        "torch forward": torch_forward,
        "ctc_loss_and_grad": loss_and_grad,
        "ctc_loss + ctc_grad": lambda: (ctc_loss(*args, reduction="sum"), ctc_grad(*args)),
        "torch forward+backward": torch_forward_backward,
    }


def ratio_line(name, ours, theirs, peer):
    (m_ours, b_ours, c_ours), (m_theirs, b_theirs, c_theirs) = ours, theirs
    return (f"    {name:20s} median {m_ours * 1e3:7.2f} / {m_theirs * 1e3:7.2f} ms "
            f"= {m_ours / m_theirs:4.2f}x   best {b_ours * 1e3:7.2f} / {b_theirs * 1e3:7.2f} ms "
            f"= {b_ours / b_theirs:4.2f}x   median CPU {c_ours / c_theirs:4.2f}x   ({peer})")


def bench_loss(repeat, forward_only=False):
    print(f"CTC loss and gradient against torch (torch threads={torch.get_num_threads()}, "
          f"NumPy BLAS threads={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"median and best of {repeat} interleaved runs)")
    for T, N, C, S in SIZES:
        print(f"  T={T} N={N} C={C} S={S}")
        for dtype in (np.float32, np.float64):
            fns = contenders(T, N, C, S, dtype)
            if forward_only:
                times = interleaved_times([fns["ctc_loss"], fns["torch forward"]], repeat)
                print(f"   {np.dtype(dtype).name}:")
                print(ratio_line("ctc_loss", *times, "torch forward"))
                continue
            (loss, grad), (t_loss, t_grad) = fns["ctc_loss_and_grad"](), fns["torch forward+backward"]()
            print(f"   {np.dtype(dtype).name}: |loss - torch| / loss = "
                  f"{abs(loss - t_loss) / abs(t_loss):.1e}, max |grad - torch| = "
                  f"{np.abs(grad - t_grad).max():.1e}")
            times = dict(zip(fns, interleaved_times(list(fns.values()), repeat)))
            print(ratio_line("ctc_loss", times["ctc_loss"], times["torch forward"],
                             "torch forward"))
            for name in ("ctc_loss_and_grad", "ctc_loss + ctc_grad"):
                print(ratio_line(name, times[name], times["torch forward+backward"],
                                 "torch forward+backward"))


def bench_scaling(repeat):
    N, C, S = 16, 30, 20
    print(f"Growth with T (N={N} C={C} S={S}, ctc_loss_and_grad and torch "
          f"forward+backward, median process CPU time of {repeat}):")
    for dtype in (np.float32, np.float64):
        print(f"  {np.dtype(dtype).name}:")
        rows = []
        for T in SCALING_T:
            fns = contenders(T, N, C, S, dtype)
            (_, _, ours), (_, _, theirs) = interleaved_times(
                [fns["ctc_loss_and_grad"], fns["torch forward+backward"]], repeat)
            rows.append((T, ours, theirs))
        _, ours_0, theirs_0 = rows[0]
        for T, ours, theirs in rows:
            scale = T / rows[0][0]
            print(f"   T={T:4d}  rnnlib {ours * 1e3:8.2f} ms "
                  f"(per frame x{ours / ours_0 / scale:4.2f})   torch {theirs * 1e3:8.2f} ms "
                  f"(per frame x{theirs / theirs_0 / scale:4.2f})   ratio {ours / theirs:5.2f}x")


def log_p_labelling(log_probs, labelling):
    """log p(l | x) of one sequence's (T, C) log-probabilities."""
    return -float(ctc_loss(log_probs[:, None], [labelling], [len(log_probs)], [len(labelling)],
                           reduction="sum"))


def bench_decoder(repeat, beam_width):
    try:
        import pyctcdecode
    except ImportError:
        print("pyctcdecode not installed: skipping the decoder comparison "
              "(pip install pyctcdecode)")
        return
    T, N, C, S = SIZES[0]
    _, log_probs, _, input_lengths, _ = make_inputs(T, N, C, S)
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
    (t_ours, _, _), *t_peers = interleaved_times([ours] + peers, repeat)
    ours_out = ours()
    print(f"  rnnlib prefix_beam_search: {t_ours * 1e3:8.1f} ms")
    for name, fn, (t_theirs, _, _) in zip(settings, peers, t_peers):
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
                        help="torch intra-op threads and NumPy's BLAS threads")
    parser.add_argument("--forward-only", action="store_true",
                        help="time only ctc_loss against torch's forward, then stop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench_loss(args.repeat, args.forward_only)
    if args.forward_only:
        return
    bench_scaling(max(3, args.repeat // 2))
    bench_decoder(max(1, args.repeat // 10), args.beam_width)


if __name__ == "__main__":
    main()
