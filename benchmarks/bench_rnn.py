"""Time forward + backward of rnnlib's NumPy LSTM and GRU against torch.nn.LSTM / GRU on the CPU.

    python benchmarks/bench_rnn.py [--repeats 20] [--threads N]

Sizes: B=32, T=50, D=H=128, one layer, float32 and float64. Both libraries run in the
same process on the same data; each timing is the fastest of ``--repeats`` runs
(interleaved, after a warm-up). PyTorch's intra-op threads are set to ``--threads`` (default: the number of
threads NumPy's BLAS uses, read with threadpoolctl when it is installed, else the CPU
count). Prints one line per case with the ratio rnnlib time / torch time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rnnlib import GRU, LSTM  # noqa: E402

B, T, D, H = 32, 50, 128, 128


def blas_threads():
    """Threads NumPy's BLAS will use, or None if that cannot be read."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else None


def best_times(fns, repeats):
    """Run each function ``repeats`` times, interleaved; return the fastest time of each.

    On a shared machine, other processes only ever add time, so the minimum is the
    best estimate of the undisturbed cost; interleaving exposes both sides to the same
    background load.
    """
    for fn in fns:
        fn()                               # warm-up (allocations, lazy init)
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for j, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[j] = min(best[j], time.perf_counter() - start)
    return best


def bench(cls, dtype, repeats):
    rng = np.random.default_rng(0)
    layer = cls(D, H, rng=0, dtype=dtype)
    module = layer.to_torch()
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dout = rng.standard_normal((T, B, H)).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    doutt = torch.tensor(dout)

    def ours():
        out, _, cache = layer.forward(x)
        layer.backward(dout, cache)

    def theirs():
        module.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = module(xt)
        out.backward(doutt)

    return best_times([ours, theirs], repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    numpy_threads = blas_threads()
    threads = args.threads or numpy_threads or os.cpu_count()
    torch.set_num_threads(threads)
    print(f"B={B} T={T} D={D} H={H}; numpy {np.__version__} (BLAS threads: "
          f"{numpy_threads if numpy_threads is not None else 'unknown'}), torch "
          f"{torch.__version__} (threads: {torch.get_num_threads()}); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    print(f"{'case':<16}{'rnnlib ms':>10}{'torch ms':>10}{'ratio':>8}")
    for cls in (LSTM, GRU):
        for dtype in (np.float32, np.float64):
            ours, theirs = bench(cls, dtype, args.repeats)
            name = f"{cls.__name__} {np.dtype(dtype).name}"
            print(f"{name:<16}{ours * 1e3:>10.2f}{theirs * 1e3:>10.2f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
