"""Time forward + backward of rnnlib's NumPy LSTM and GRU against torch.nn.LSTM / GRU on the CPU.

    python benchmarks/bench_rnn.py [--repeats 30] [--threads 1,2]

Sizes: B=32, T=50, D=H=128, one layer, float32 and float64. For each thread count the
benchmark runs in a fresh process in which NumPy's BLAS (``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) and PyTorch (``torch.set_num_threads``) get the
same number of threads. Both libraries run in that process on the same data; each
timing is the fastest of ``--repeats`` runs, the two libraries interleaved, after a
warm-up. Prints one line per case with the ratio rnnlib time / torch time, for wall
time and for CPU time (the process's, all threads; robust to other load on the machine).
The last column compares wall time with PyTorch run with oneDNN disabled: for float32 on
the CPU PyTorch's default LSTM/GRU is oneDNN's fused RNN primitive, not its own per-op
implementation.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
B, T, D, H = 32, 50, 128, 128
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def best_times(fns, repeats):
    """Run each function ``repeats`` times, interleaved; return the fastest times of each.

    Returns ``(wall, cpu)``: lists of the best wall-clock time and the best process CPU
    time (all threads) per function. On a shared machine other processes only ever add
    wall time, so the minimum is the best estimate of the undisturbed cost, and CPU time
    does not count the time this process waited for a core; interleaving exposes both
    libraries to the same background load.
    """
    for fn in fns:
        fn()                               # warm-up (allocations, lazy init)
    wall = [float("inf")] * len(fns)
    cpu = [float("inf")] * len(fns)
    for _ in range(repeats):
        for j, fn in enumerate(fns):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[j] = min(wall[j], time.perf_counter() - w0)
            cpu[j] = min(cpu[j], time.process_time() - c0)
    return wall, cpu


def bench(cls, dtype, repeats):
    """(rnnlib seconds, torch seconds) for forward + backward of one layer of ``cls``."""
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

    return best_times([ours, theirs, theirs_without_onednn], repeats)


def run(threads, repeats):
    """The measurements for one thread count (called in a child process)."""
    import numpy as np
    import torch

    sys.path.insert(0, os.path.join(HERE, ".."))
    from rnnlib import GRU, LSTM

    torch.set_num_threads(threads)
    print(f"threads={threads} (numpy BLAS via {'/'.join(THREAD_VARS)}={os.environ.get(THREAD_VARS[0])}, "
          f"torch.get_num_threads()={torch.get_num_threads()})")
    print(f"{'case':<16}{'rnnlib ms':>10}{'torch ms':>10}{'ratio':>7}   "
          f"{'rnnlib cpu':>11}{'torch cpu':>10}{'ratio':>7}   {'no-oneDNN ratio':>15}")
    for cls in (LSTM, GRU):
        for dtype in (np.float32, np.float64):
            (ours, theirs, plain), (ours_cpu, theirs_cpu, _) = bench(cls, dtype, repeats)
            name = f"{cls.__name__} {np.dtype(dtype).name}"
            print(f"{name:<16}{ours * 1e3:>10.2f}{theirs * 1e3:>10.2f}{ours / theirs:>7.2f}   "
                  f"{ours_cpu * 1e3:>11.2f}{theirs_cpu * 1e3:>10.2f}{ours_cpu / theirs_cpu:>7.2f}   "
                  f"{ours / plain:>15.2f}", flush=True)


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
