"""Vanilla RNN, LSTM and GRU on the adding problem and the copy task: the study of chapter 7.

Every cell of the grid (cell type x task x length x learning rate x seed) trains the same
way with the same budget (at most 1200 steps, stopping early once the validation error is
below 1 % of the baseline): one recurrent layer of ``H = 32`` units
(``torch.nn.RNN``/``LSTM``/``GRU``, the LSTM's forget-gate bias set to 1), a linear read-out
of the last step (adding problem) or of the ``S`` answer steps (copy task), Adam, global
gradient-norm clipping at 1, and a fresh random batch of 64 sequences at every step.

For each (task, length, cell) the learning rate is the one whose median error over the
seeds is lowest on a *validation* batch (among rates that converge, the one that needs the
fewest steps); the reported numbers are the errors of those runs
on a separate *test* batch, as median and range over the seeds. Errors are relative to the
task's trivial baseline (1 = no better than the best constant/memoryless answer, 0 = perfect).

Run it from the repository root (single-threaded, deterministic given the seeds)::

    python studies/gated_vs_vanilla.py            # the full grid -> studies/results/gated_vs_vanilla.json
    python studies/gated_vs_vanilla.py --quick    # a small slice (used by tests/test_studies.py)

The grid has 90 runs. ``--processes 2`` on a lightly loaded 2-core machine ran all of them in
5.5 minutes (the runs' own times add up to 11 minutes, the time on one core); a second run
gave results identical, run by run, to the stored ones. Each run's wall-clock seconds are
stored with it.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rnnlib.tasks import (adding_baseline_mse, adding_problem, copy_baseline_error, copy_task,
                          one_hot)

RESULTS = Path(__file__).resolve().parent / "results" / "gated_vs_vanilla.json"

CELLS = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}
HIDDEN = 32          # H, the same for every cell
BATCH = 64           # fresh sequences per step
MAX_NORM = 1.0       # global gradient-norm clipping
N_VAL = N_TEST = 500
S, K = 2, 4          # copy task: symbols to copy, alphabet size
SOLVED = 0.10        # a run is "solved" below 10 % of the baseline's error
CONVERGED = 0.01     # training stops once the validation error is below 1 % of the baseline


@dataclass(frozen=True)
class Grid:
    """The cells of a study: every combination is trained for ``steps`` steps."""

    cells: tuple = ("RNN", "LSTM", "GRU")
    adding_lengths: tuple = (10, 100)
    copy_delays: tuple = (5, 10, 30)
    learning_rates: tuple = (1e-2, 3e-2)
    seeds: tuple = (0, 1, 2)
    steps: int = 1200            # the budget: at most this many steps for every run
    eval_every: int = 50


FULL = Grid()
QUICK = Grid(cells=("RNN", "GRU"), adding_lengths=(100,), copy_delays=(), learning_rates=(1e-2,),
             seeds=(0,), steps=600)


class SequenceModel(torch.nn.Module):
    """One recurrent layer and a linear read-out of the last ``n_out`` steps.

    ``x`` (T, B, D) -> (n_out, B, O).
    """

    def __init__(self, cell, input_size, output_size, n_out, hidden_size=HIDDEN):
        super().__init__()
        self.rnn = CELLS[cell](input_size, hidden_size)
        self.head = torch.nn.Linear(hidden_size, output_size)
        self.n_out = n_out
        if cell == "LSTM":            # forget-gate bias 1 (gate order i, f, g, o)
            with torch.no_grad():
                self.rnn.bias_ih_l0[hidden_size:2 * hidden_size] = 1.0
                self.rnn.bias_hh_l0[hidden_size:2 * hidden_size] = 0.0

    def forward(self, x):
        out, _ = self.rnn(x)                          # (T, B, H)
        return self.head(out[-self.n_out:])           # (n_out, B, O)


def adding_batch(rng, batch_size, T):
    """Adding-problem tensors: x (T, B, 2), y (B,)."""
    x, y = adding_problem(rng, batch_size, T, dtype=np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


def copy_batch(rng, batch_size, T):
    """Copy-task tensors: one-hot x (T + 2S, B, K + 2), answer tokens y (S, B)."""
    x, y = copy_task(rng, batch_size, T, S=S, K=K)
    return torch.from_numpy(one_hot(x, K + 2, dtype=np.float32)), torch.from_numpy(y[-S:])


TASKS = {
    # name: batch maker, input size, output size, steps read out
    "adding": (adding_batch, 2, 1, 1),
    "copy": (copy_batch, K + 2, K + 1, S),
}


def loss_of(task, out, y):
    """The training loss: MSE (adding) or cross-entropy on the answer steps (copy)."""
    if task == "adding":
        return torch.nn.functional.mse_loss(out[-1, :, 0], y)
    return torch.nn.functional.cross_entropy(out.reshape(-1, K + 1), y.reshape(-1))


def relative_error(task, out, y):
    """Error divided by the trivial baseline's: MSE / (1/6), or error rate / (1 - 1/K)."""
    if task == "adding":
        return torch.nn.functional.mse_loss(out[-1, :, 0], y).item() / adding_baseline_mse()
    return (out.argmax(-1) != y).float().mean().item() / copy_baseline_error(K)


@dataclass
class Run:
    """One trained model: its settings, its errors and its validation curve."""

    task: str
    T: int
    cell: str
    lr: float
    seed: int
    steps: int
    val_error: float                 # relative error on the validation batch at the end
    test_error: float                # relative error on the test batch at the end
    curve: list = field(default_factory=list)   # validation error every eval_every steps
    eval_every: int = FULL.eval_every
    seconds: float = 0.0

    @property
    def steps_to_solve(self):
        """The first evaluated step with validation error below ``SOLVED`` (None if never)."""
        return next(((i + 1) * self.eval_every for i, e in enumerate(self.curve) if e < SOLVED),
                    None)


def train(task, cell, T, lr, seed, steps=FULL.steps, eval_every=FULL.eval_every,
          stop_below=CONVERGED):
    """Train one model; return a :class:`Run`. Deterministic given ``seed`` (one thread).

    Training stops at the first evaluation whose validation error is below ``stop_below``
    (``None``: never) and otherwise runs ``steps`` steps.

    The training batches come from ``default_rng(seed)``, the validation batch from
    ``default_rng(seed + 1000)``, the test batch from ``default_rng(seed + 2000)``, the
    initial weights from ``torch.manual_seed(seed)``. A run whose loss becomes NaN or
    infinite stops there and is scored as infinitely bad.
    """
    make_batch, D, O, n_out = TASKS[task]
    torch.manual_seed(seed)
    model = SequenceModel(cell, D, O, n_out)
    train_rng = np.random.default_rng(seed)
    x_val, y_val = make_batch(np.random.default_rng(seed + 1000), N_VAL, T)
    x_test, y_test = make_batch(np.random.default_rng(seed + 2000), N_TEST, T)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def error_on(x, y):
        model.eval()
        with torch.no_grad():
            e = relative_error(task, model(x), y)
        model.train()
        return e if math.isfinite(e) else math.inf

    curve = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = make_batch(train_rng, BATCH, T)
        loss = loss_of(task, model(x), y)
        if not torch.isfinite(loss):
            curve += [math.inf] * (steps // eval_every - len(curve))
            return Run(task, T, cell, lr, seed, step, math.inf, math.inf, curve, eval_every,
                       time.perf_counter() - start)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        optimizer.step()
        if step % eval_every == 0:
            curve.append(error_on(x_val, y_val))
            if stop_below is not None and curve[-1] < stop_below:
                break
    seconds = time.perf_counter() - start
    return Run(task, T, cell, lr, seed, step, error_on(x_val, y_val), error_on(x_test, y_test),
               curve, eval_every, seconds)


def settings(grid):
    """Every (task, T) of the grid, adding problem first."""
    return [("adding", T) for T in grid.adding_lengths] + [("copy", T) for T in grid.copy_delays]


def summarise(runs, grid):
    """Pick each (task, T, cell)'s learning rate on validation; median and range of test error."""
    summary = []
    for task, T in settings(grid):
        for cell in grid.cells:
            by_lr = {lr: [r for r in runs if (r.task, r.T, r.cell, r.lr) == (task, T, cell, lr)]
                     for lr in grid.learning_rates}
            val = {lr: float(np.median([r.val_error for r in rs])) for lr, rs in by_lr.items()}
            used = {lr: float(np.median([r.steps for r in rs])) for lr, rs in by_lr.items()}
            # lowest validation error; rates that converged tie, and the faster one wins
            best = min(grid.learning_rates, key=lambda lr: (max(val[lr], CONVERGED), used[lr]))
            test = [r.test_error for r in by_lr[best]]
            to_solve = [r.steps_to_solve for r in by_lr[best]]
            summary.append({
                "task": task, "T": T, "cell": cell, "lr": best,
                "val_median_by_lr": {f"{lr:g}": val[lr] for lr in grid.learning_rates},
                "test_median": float(np.median(test)), "test_min": float(min(test)),
                "test_max": float(max(test)),
                "test_by_seed": {str(r.seed): r.test_error for r in by_lr[best]},
                "solved": int(sum(e < SOLVED for e in test)), "seeds": len(test),
                "steps_to_solve": to_solve, "steps_used": [r.steps for r in by_lr[best]],
            })
    return summary


def _train_job(job):
    torch.set_num_threads(1)
    *args, steps, eval_every = job
    return train(*args, steps=steps, eval_every=eval_every)


def _run_from_json(fields):
    fields = {k: v for k, v in fields.items() if k != "steps_to_solve"}
    for key in ("val_error", "test_error"):
        fields[key] = math.inf if fields[key] is None else fields[key]
    fields["curve"] = [math.inf if e is None else e for e in fields["curve"]]
    return Run(**fields)


def study(grid=FULL, progress=True, processes=1, cache=None, reverse=False):
    """Train every run of ``grid``; return (runs, summary, seconds).

    Each run is single-threaded and deterministic, so ``processes`` > 1 (runs in parallel)
    gives the same results, only sooner. With ``cache`` (a JSON-lines file), finished runs
    are appended to it and runs already in it are not trained again.
    """
    jobs = [(task, cell, T, lr, seed, grid.steps, grid.eval_every) for task, T in settings(grid)
            for cell in grid.cells for lr in grid.learning_rates for seed in grid.seeds]
    jobs.sort(key=lambda job: -job[2])            # longest sequences first: better packing
    done = {}
    order = jobs[::-1] if reverse else jobs
    if cache is not None and Path(cache).exists():
        for line in Path(cache).read_text().splitlines():
            run = _run_from_json(json.loads(line))
            done[run.task, run.cell, run.T, run.lr, run.seed] = run
    todo = [job for job in order if tuple(job[:5]) not in done]
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="training runs",
               disable=not progress)

    def finished(run):
        done[run.task, run.cell, run.T, run.lr, run.seed] = run
        if cache is not None:
            with open(cache, "a") as f:
                f.write(json.dumps(_json_safe(asdict(run))) + "\n")
        bar.update()

    if processes == 1:
        for job in todo:
            finished(_train_job(job))
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            for run in pool.imap_unordered(_train_job, todo):
                finished(run)
    bar.close()
    runs = [done[tuple(job[:5])] for job in jobs]
    return runs, summarise(runs, grid), time.perf_counter() - start


def _json_safe(value):
    """JSON has no infinity: a diverged run's error is stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def save(path, grid, runs, summary, seconds, processes=1):
    """Write the grid, the summary and every run to ``path`` (JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"grid": asdict(grid), "hidden": HIDDEN, "batch": BATCH, "max_norm": MAX_NORM,
            "copy_S": S, "copy_K": K, "solved_below": SOLVED, "converged_below": CONVERGED,
            "torch": torch.__version__,
            "seconds": round(seconds, 1), "processes": processes,
            "run_seconds": round(sum(r.seconds for r in runs), 1), "summary": summary,
            "runs": [{**asdict(r), "steps_to_solve": r.steps_to_solve} for r in runs]}
    path.write_text(json.dumps(_json_safe(data), indent=1) + "\n")


def load(path=RESULTS):
    """The stored results (diverged errors come back as ``inf``)."""
    data = json.loads(Path(path).read_text())
    for row in data["summary"]:
        for key in ("test_median", "test_min", "test_max"):
            row[key] = math.inf if row[key] is None else row[key]
    return data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small slice of the grid")
    parser.add_argument("--out", type=Path, default=None, help="results file (JSON)")
    parser.add_argument("--processes", type=int, default=1,
                        help="runs in parallel (each on one thread); the results do not change")
    parser.add_argument("--cache", type=Path, default=None,
                        help="JSON-lines file of finished runs: resume an interrupted study")
    parser.add_argument("--reverse", action="store_true",
                        help="shortest runs first (a second process sharing the cache starts "
                             "from the other end)")
    args = parser.parse_args(argv)
    grid = QUICK if args.quick else FULL
    out = args.out or (RESULTS.with_name("gated_vs_vanilla_quick.json") if args.quick else RESULTS)
    runs, summary, seconds = study(grid, processes=args.processes, cache=args.cache,
                                   reverse=args.reverse)
    save(out, grid, runs, summary, seconds, args.processes)
    for row in summary:
        print(f"{row['task']:>6} T={row['T']:>3} {row['cell']:>4} lr={row['lr']:<6g} "
              f"test error / baseline: median {row['test_median']:.4f} "
              f"[{row['test_min']:.4f}, {row['test_max']:.4f}]  solved {row['solved']}/{row['seeds']}"
              f"  steps to solve {row['steps_to_solve']}")
    print(f"{len(runs)} runs in {seconds:.0f} s -> {out}")


if __name__ == "__main__":
    main()
