"""Execute chapters in a fresh kernel: in place (for authors) or at another seed.

Every chapter with a stochastic experiment has one code cell tagged ``parameters``
(papermill's convention) that sets ``seed = 0``. A *variant* re-executes the chapter with
a cell injected right after it that sets another seed and, optionally, changes the
kernels PyTorch and NumPy pick (``ATEN_CPU_CAPABILITY``, the number of threads), so that
a claim pinned by an ``assert`` is shown to hold beyond one seed on one CPU.

Usage (from the repository root)::

    python tests/seeds.py --inplace chapters/*.ipynb          # what `make execute` does
    python tests/seeds.py chapters/07_lstm_vs_gru.ipynb --seed 1 --aten default
    python tests/seeds.py chapters/07_lstm_vs_gru.ipynb --seed 2 --threads 1

A variant is written to ``--out`` (default: a temporary directory) and never over the
stored chapter; the command prints every failing cell and exits nonzero if any failed.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
CELL_TIMEOUT = 600  # seconds; a chapter's budget is 60 s, this only stops a hung kernel


@dataclass(frozen=True)
class Variant:
    """A way of re-executing a chapter: another seed, other kernels."""

    seed: int
    aten: str | None = None  # value of ATEN_CPU_CAPABILITY, e.g. "default"
    threads: int | None = None  # torch.set_num_threads and OMP_NUM_THREADS

    @property
    def name(self) -> str:
        parts = [f"seed{self.seed}"]
        if self.aten:
            parts.append(f"aten-{self.aten}")
        if self.threads:
            parts.append(f"threads{self.threads}")
        return "-".join(parts)


# The variants the test suite runs (tests/test_seeds.py).
VARIANTS = (Variant(seed=1, aten="default"), Variant(seed=2, threads=1))


@dataclass
class Result:
    """What one execution of a notebook gave."""

    path: Path
    seconds: float
    failures: list[str] = field(default_factory=list)


def parameters_cell_index(nb) -> int | None:
    """Index of the cell tagged ``parameters``, or None; more than one is an error."""
    found = [i for i, cell in enumerate(nb.cells)
             if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]
    if len(found) > 1:
        raise ValueError(f"expected at most one cell tagged {PARAMETERS_TAG!r}, found {len(found)}")
    return found[0] if found else None


def with_variant(nb, variant: Variant):
    """A copy of ``nb`` with the variant's settings injected after the parameters cell."""
    index = parameters_cell_index(nb)
    if index is None:
        raise ValueError("the notebook has no cell tagged 'parameters' to override")
    lines = [f"seed = {variant.seed}"]
    if variant.threads:
        lines += ["import torch", f"torch.set_num_threads({variant.threads})"]
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = [INJECTED_TAG]
    nb = copy.deepcopy(nb)
    nb.cells.insert(index + 1, injected)
    return nb


def kernel_env(variant: Variant | None) -> dict[str, str]:
    env = dict(os.environ)
    if variant is not None and variant.aten:
        env["ATEN_CPU_CAPABILITY"] = variant.aten
    if variant is not None and variant.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(variant.threads)
        env["OPENBLAS_NUM_THREADS"] = str(variant.threads)
    return env


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _error_text(cell) -> str | None:
    """``Name: message`` of a cell's error, with the failing line when the message is empty."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename')}: {output.get('evalue')}"
            if not output.get("evalue"):
                lines = ANSI.sub("", "\n".join(output.get("traceback", []))).splitlines()
                failing = [line.split("---->", 1)[1].strip() for line in lines if "---->" in line]
                if failing:
                    text += f"at `{failing[-1]}`"
            return text
    return None


def execute(nb, cwd: Path, variant: Variant | None = None, progress: bool = False,
            label: str = "") -> tuple[float, list[str]]:
    """Execute ``nb`` in place in a fresh kernel; return (seconds, failing cells).

    Every cell runs even after a failure, so that one run lists every broken claim.
    """
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            allow_errors=True, resources={"metadata": {"path": str(cwd)}})
    failures = []
    start = time.perf_counter()
    with client.setup_kernel(env=kernel_env(variant), cwd=str(cwd)):
        cells = list(enumerate(nb.cells))
        for index, cell in tqdm(cells, desc=label, unit="cell", disable=not progress,
                                leave=False, file=sys.stderr):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, index)  # with allow_errors, an error is an output
            error = _error_text(cell)
            if error is not None:
                failures.append(f"cell {index} (execution count {cell.execution_count}): {error}")
    client.set_widgets_metadata()
    return time.perf_counter() - start, failures


def run(path: Path, variant: Variant | None, out_dir: Path | None, progress: bool = True) -> Result:
    """Execute one chapter: in place when ``out_dir`` is None, else a variant copy."""
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    if variant is not None:
        nb = with_variant(nb, variant)
    label = path.stem if variant is None else f"{path.stem} [{variant.name}]"
    seconds, failures = execute(nb, path.parent, variant, progress=progress, label=label)
    if out_dir is None:
        if failures:  # never store a chapter whose cells fail
            return Result(path, seconds, failures)
        nbformat.write(nb, path)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / f"{path.stem}.{variant.name if variant else 'run'}.ipynb")
    return Result(path, seconds, failures)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--inplace", action="store_true",
                        help="execute at the stored seed and store the outputs in the notebook")
    parser.add_argument("--seed", type=int, help="execute at this seed instead of the stored one")
    parser.add_argument("--aten", help="ATEN_CPU_CAPABILITY for the kernel, e.g. 'default'")
    parser.add_argument("--threads", type=int, help="torch threads (and OMP/BLAS threads)")
    parser.add_argument("--out", type=Path, help="directory for executed variants")
    args = parser.parse_args(argv)
    if args.inplace and (args.seed is not None or args.aten or args.threads or args.out):
        parser.error("--inplace stores the chapter at its own seed: it takes no variant options")
    if not args.inplace and args.seed is None:
        parser.error("give --inplace, or --seed N for a variant")
    variant = None if args.inplace else Variant(args.seed, args.aten, args.threads)
    out_dir = None if args.inplace else (args.out or Path(tempfile.mkdtemp(prefix="seeds-")))
    failed = 0
    total = 0.0
    for path in args.notebooks:
        result = run(path, variant, out_dir)
        total += result.seconds
        status = "ok" if not result.failures else f"{len(result.failures)} failing cell(s)"
        print(f"{path}  {result.seconds:6.1f} s  {status}", flush=True)
        for failure in result.failures:
            print("    " + failure.splitlines()[0][:300], flush=True)
        failed += bool(result.failures)
    print(f"{len(args.notebooks)} notebook(s) in {total:.1f} s; {failed} failed"
          + (f"; executed copies in {out_dir}" if out_dir else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
