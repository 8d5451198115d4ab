"""The chapters' claims hold beyond one seed on one CPU.

Every chapter that draws random numbers has one cell tagged ``parameters`` setting
``seed = 0``, and every generator in it derives from ``seed``. The slow tests below
(marker ``seeds``; ``make test`` runs them as their own suite) re-execute each such chapter
at ``seed = 1`` with PyTorch's portable kernels (``ATEN_CPU_CAPABILITY=default``) and at
``seed = 2`` on one thread, and require every cell, every ``assert`` included, to pass.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seeds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

# Drawing random numbers: a generator, a global seed or a sampling call.
RANDOM_DRAW = re.compile(r"default_rng|manual_seed|np\.random\.|torch\.rand|rng\s*=")
# A generator seeded with a literal instead of from `seed`.
LITERAL_SEED = re.compile(r"(?:default_rng|manual_seed|np\.random\.seed)\(\s*\d+\s*\)"
                          r"|\bseed\s*=\s*\d+")
PARAMETERS_SOURCE = re.compile(r"^(#[^\n]*\n)?seed = 0[ \t]*(#[^\n]*)?\s*$")


def literal_seed(source: str):
    """The first generator seeded with a literal, outside a function's default arguments."""
    for line in source.splitlines():
        if not line.lstrip().startswith("def "):
            found = LITERAL_SEED.search(line)
            if found:
                return found
    return None


def code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def draws_random_numbers(nb) -> bool:
    return any(RANDOM_DRAW.search(c.source) for _, c in code_cells(nb))


def stochastic_chapters():
    return [p for p in CHAPTERS if draws_random_numbers(nbformat.read(p, as_version=4))]


def test_the_seed_checks_recognise_literal_seeds():
    assert LITERAL_SEED.search("rng = np.random.default_rng(3)")
    assert LITERAL_SEED.search("torch.manual_seed(0)")
    assert LITERAL_SEED.search("model = fit(data, seed=4)")
    assert not LITERAL_SEED.search("rng = np.random.default_rng(seed + 3)")
    assert not LITERAL_SEED.search("torch.manual_seed(seed)")
    assert literal_seed("x = 1\nmodel = fit(data, seed=4)").group(0) == "seed=4"
    assert literal_seed("def fit(data, seed=0):\n    return data") is None
    assert PARAMETERS_SOURCE.match("seed = 0")
    assert PARAMETERS_SOURCE.match("seed = 0  # every draw derives from it")
    assert PARAMETERS_SOURCE.match("# Change to rerun every experiment at another seed.\nseed = 0\n")
    assert not PARAMETERS_SOURCE.match("seed = 0\nlr = 0.1")


def test_a_variant_overrides_the_seed_after_the_parameters_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import numpy as np"),
                nbformat.v4.new_code_cell("seed = 0"),
                nbformat.v4.new_code_cell("rng = np.random.default_rng(seed)")]
    nb.cells[1].metadata["tags"] = ["parameters"]
    varied = seeds.with_variant(nb, seeds.Variant(seed=2, threads=1))
    assert [c.source.splitlines()[0] for c in varied.cells] == [
        "import numpy as np", "seed = 0", "seed = 2", "rng = np.random.default_rng(seed)"]
    assert "torch.set_num_threads(1)" in varied.cells[2].source
    assert len(nb.cells) == 3  # the stored notebook is untouched
    with pytest.raises(ValueError, match="parameters"):
        seeds.with_variant(nbformat.v4.new_notebook(), seeds.Variant(seed=1))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_generator_derives_from_the_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    if not draws_random_numbers(nb):
        return
    index = seeds.parameters_cell_index(nb)
    assert index is not None, f"{path.name} draws random numbers but has no cell tagged 'parameters'"
    assert PARAMETERS_SOURCE.match(nb.cells[index].source), (
        f"{path.name}: the parameters cell must only set seed = 0, found {nb.cells[index].source!r}")
    for i, cell in code_cells(nb):
        if i < index:
            assert not RANDOM_DRAW.search(cell.source), (
                f"{path.name} cell {i} draws random numbers before the parameters cell")
        literal = literal_seed(cell.source) if i != index else None
        assert literal is None, (
            f"{path.name} cell {i} seeds a generator with a literal ({literal.group(0)!r}): "
            "derive it from `seed`")


VARIANT_CASES = [(path, variant) for path in stochastic_chapters() for variant in seeds.VARIANTS]


@pytest.mark.seeds
@pytest.mark.parametrize("path, variant", VARIANT_CASES,
                         ids=[f"{p.stem}-{v.name}" for p, v in VARIANT_CASES])
def test_chapter_holds_at_another_seed_and_other_kernels(path, variant, tmp_path):
    result = seeds.run(path, variant, out_dir=tmp_path, progress=False)
    print(f"{path.stem} [{variant.name}] executed in {result.seconds:.1f} s")
    assert not result.failures, (
        f"{path.name} at {variant.name}: " + "; ".join(f.splitlines()[0] for f in result.failures))
