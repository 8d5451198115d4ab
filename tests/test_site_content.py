"""The chapters' own content as the built site shows it: figures and display equations.

These tests check what the chapter notebooks produce, not the site's machinery
(``tests/test_site.py``), and share its browser, server and per-page survey:

- every figure has a short description as its alt text (myst-nb writes the image's own
  file path when a cell has none; give one in the cell's metadata,
  ``"mystnb": {"image": {"alt": "Line plot of ... against ..."}}``);
- no display equation is wider than the text column at desktop width, and none runs
  under its equation number (split long ones with ``aligned``).

They need the built site and chromium, like ``tests/test_site.py``.
"""

from __future__ import annotations

import re

import pytest

from test_site import browser, server, survey, toc_pages  # noqa: F401  (fixtures)

CHAPTERS = [page for page in toc_pages() if page.startswith("chapters/")]
PATH_LIKE = re.compile(r"(^|/)_images/|\.(png|jpe?g|svg|gif)$|^[\w./-]+$")


def _bad_alt(alt: str | None) -> bool:
    """Empty, a file path, or a single word: not a description of the figure."""
    alt = (alt or "").strip()
    return not alt or bool(PATH_LIKE.search(alt)) or len(alt.split()) < 3


@pytest.mark.parametrize("page", CHAPTERS)
def test_figures_have_descriptive_alt_text(browser, server, page):  # noqa: F811
    images = survey(browser, server, page)["images"]
    bad = [(image["src"], image["alt"]) for image in images if _bad_alt(image["alt"])]
    assert bad == [], f"{page}: {len(bad)} of {len(images)} figures lack a description: {bad}"


def _overflows(eq: dict) -> bool:
    content, box, number = eq["content"], eq["box"], eq["number"]
    if content is None:
        return False
    wider = content["right"] > box["right"] + 1 or content["left"] < box["left"] - 1
    under_number = (number is not None and content["right"] > number["left"] + 1
                    and content["top"] < number["bottom"] and content["bottom"] > number["top"])
    return wider or under_number


@pytest.mark.parametrize("page", CHAPTERS)
def test_display_equations_fit_the_text_column(browser, server, page):  # noqa: F811
    equations = survey(browser, server, page)["equations"]
    assert all(eq["content"] for eq in equations), f"{page}: an equation was not typeset"
    wide = [f"{eq['id'] or '(unlabelled)'}: {eq['content']['width']:.0f} px in {eq['box']['width']:.0f} px"
            f" ({eq['tex'].strip()[:60]!r})" for eq in equations if _overflows(eq)]
    assert wide == [], f"{page}: display equations wider than the column: {wide}"
