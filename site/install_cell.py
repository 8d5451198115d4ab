"""Keep the first cell of every chapter: it installs rnnlib where it is missing (Colab, Binder).

The repository URL lives in one place, ``repository.url`` in ``_config.yml``; this script
writes the cell from it. A local checkout (``make lab``) already has rnnlib, so there the
cell does nothing. On the site the cell is hidden (tag ``remove-cell``).

Usage:
    python site/install_cell.py           # insert or update the cell in every chapter
    python site/install_cell.py --check   # exit 1 if any chapter's first cell is not current
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
CELL_ID = "install-rnnlib"
TEMPLATE = '''\
# Installs rnnlib when it is missing (e.g. on Colab); a local checkout already has it.
try:
    import rnnlib
except ImportError:
    %pip install --quiet anywidget pyyaml
    %pip install --quiet --no-deps "rnnlib @ git+{url}"'''


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config.get("repository", {}).get("url", "")
    if not url.startswith("https://"):
        raise SystemExit(f"_config.yml: repository.url must be an https URL; got {url!r}")
    return url


def install_cell_source() -> str:
    return TEMPLATE.format(url=repository_url())


def chapters() -> list[Path]:
    return sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def is_current(nb) -> bool:
    first = nb.cells[0] if nb.cells else None
    return (first is not None and first.get("id") == CELL_ID
            and first.source == install_cell_source()
            and "remove-cell" in first.metadata.get("tags", []))


def update(path: Path) -> bool:
    """Insert or refresh the install cell of one chapter; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    if is_current(nb):
        return False
    cell = nbformat.v4.new_code_cell(install_cell_source())
    cell["id"] = CELL_ID
    cell.metadata["tags"] = ["remove-cell"]
    if nb.cells and nb.cells[0].get("id") == CELL_ID:
        nb.cells[0] = cell
    else:
        nb.cells.insert(0, cell)
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = [p.name for p in chapters() if not is_current(nbformat.read(p, as_version=4))]
        if stale:
            print(f"install cell missing or stale in: {', '.join(stale)}; run python site/install_cell.py")
            return 1
        return 0
    for path in chapters():
        if update(path):
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
