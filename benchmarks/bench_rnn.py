"""Time forward + backward of rnnlib's NumPy LSTM and GRU against torch.nn.LSTM / GRU on the CPU.

    python benchmarks/bench_rnn.py [--repeats 30] [--threads 1,2]

Sizes: B=32, T=50, D=H=128, one layer, float32 and float64. For each thread count the
benchmark runs in a fresh process in which NumPy's BLAS (``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) and PyTorch (``torch.set_num_threads``) get the
same number of threads. Both libraries run in that process on the same data, the two
interleaved (rnnlib, torch, rnnlib, ...) after a warm-up, so both see the same background
load. Prints one line per case: the median wall time of ``--repeats`` runs (what a
learner waits for) and the best, each with the ratio rnnlib time / torch time; the best
process CPU time ratio (all threads; robust to other load on the machine); and the best
wall ratio against PyTorch run with oneDNN disabled: for float32 on the CPU PyTorch's
default LSTM/GRU is oneDNN's fused RNN primitive, not its own per-op implementation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
B, T, D, H = 32, 50, 128, 128
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def interleaved_times(fns, repeats):
    """Run each function ``repeats`` times, interleaved; return (wall, cpu) lists of times.

    ``wall[j]`` and ``cpu[j]`` hold every run's wall-clock and process CPU time (all
    threads) of function ``j``. Interleaving exposes both libraries to the same background
    load; CPU time does not count the time this process waited for a core.
    """
    for fn in fns:
        fn()                               # warm-up (allocations, lazy init)
    wall = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for _ in range(repeats):
        for j, fn in enumerate(fns):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[j].append(time.perf_counter() - w0)
            cpu[j].append(time.process_time() - c0)
    return wall, cpu


def bench(cls, dtype, repeats):
    """Times (wall, cpu) of rnnlib, torch and torch without oneDNN, forward + backward of ``cls``."""
    import numpy as np
    import torch

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

    def theirs_without_onednn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # a note about Intel GPUs, irrelevant here
            with torch.backends.mkldnn.flags(enabled=False):
                theirs()

    return interleaved_times([ours, theirs, theirs_without_onednn], repeats)


def run(threads, repeats):
    """The measurements for one thread count (called in a child process)."""
    import numpy as np
    import torch

    sys.path.insert(0, os.path.join(HERE, ".."))
    from rnnlib import GRU, LSTM

    torch.set_num_threads(threads)
    print(f"threads={threads} (numpy BLAS via {'/'.join(THREAD_VARS)}={os.environ.get(THREAD_VARS[0])}, "
          f"torch.get_num_threads()={torch.get_num_threads()})")
    print(f"{'case':<16}{'median ms':>20}{'ratio':>7}   {'best ms':>17}{'ratio':>7}   "
          f"{'cpu ratio':>9}   {'no-oneDNN ratio':>15}")
    print(f"{'':<16}{'rnnlib / torch':>20}{'':>7}   {'rnnlib / torch':>17}")
    for cls in (LSTM, GRU):
        for dtype in (np.float32, np.float64):
            (ours, theirs, plain), (ours_cpu, theirs_cpu, _) = bench(cls, dtype, repeats)
            med_ours, med_theirs = statistics.median(ours), statistics.median(theirs)
            name = f"{cls.__name__} {np.dtype(dtype).name}"
            print(f"{name:<16}{med_ours * 1e3:>10.2f} /{med_theirs * 1e3:>8.2f}"
                  f"{med_ours / med_theirs:>7.2f}   "
                  f"{min(ours) * 1e3:>8.2f} /{min(theirs) * 1e3:>7.2f}"
                  f"{min(ours) / min(theirs):>7.2f}   "
                  f"{min(ours_cpu) / min(theirs_cpu):>9.2f}   "
                  f"{min(ours) / min(plain):>15.2f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run(int(args.threads), args.repeats)
        return
    import numpy as np
    import torch

    print(f"B={B} T={T} D={D} H={H}, one layer; numpy {np.__version__}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    for n in args.threads.split(","):
        env = dict(os.environ, **{var: n.strip() for var in THREAD_VARS})
        subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                        "--threads", n.strip(), "--repeats", str(args.repeats)],
                       env=env, check=True)


if __name__ == "__main__":
    main()
