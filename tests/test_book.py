"""The book's structure: every chapter listed in order, each opening with the install cell."""

import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "site"))

import install_cell  # noqa: E402


def toc_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"]
            if c["file"].startswith("chapters/")]


def test_every_chapter_is_in_the_toc_in_numeric_order():
    listed = toc_chapters()
    on_disk = sorted(f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*.ipynb"))
    assert listed == on_disk
    numbers = [int(re.match(r"chapters/(\d\d)_", f).group(1)) for f in listed]
    assert numbers == list(range(1, len(numbers) + 1))


def test_every_chapter_opens_with_the_current_install_cell():
    url = install_cell.repository_url()
    for path in install_cell.chapters():
        nb = nbformat.read(path, as_version=4)
        assert install_cell.is_current(nb), f"{path.name}: run python site/install_cell.py"
        assert url in nb.cells[0].source


def test_install_cell_check_detects_a_stale_chapter(tmp_path, monkeypatch):
    nb = nbformat.read(install_cell.chapters()[0], as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("git+https://", "git+http://")
    assert not install_cell.is_current(nb)
    del nb.cells[0]
    assert not install_cell.is_current(nb)


def test_chapters_are_stored_with_outputs():
    for path in install_cell.chapters():
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code" and c.get("id") != install_cell.CELL_ID]
        assert code, f"{path.name} has no code"
        assert any(c.outputs for c in code), f"{path.name} is stored without outputs"
