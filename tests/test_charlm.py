"""rnnlib.charlm.CharNGram: its settings are checked whenever they are set."""

import numpy as np
import pytest

from rnnlib.charlm import CharNGram


@pytest.mark.parametrize("attribute", ["order", "num_classes", "blank"])
def test_shape_of_the_counts_is_read_only(attribute):
    # the counts were made with these: another value needs a new model
    lm = CharNGram(order=2, num_classes=3).fit([[1, 2]])
    with pytest.raises(AttributeError, match=attribute):
        setattr(lm, attribute, 1)
    assert (lm.order, lm.num_classes, lm.blank) == (2, 3, 0)


@pytest.mark.parametrize("value", [0, -0.5, np.nan, np.inf, True, "0.1", None])
def test_smoothing_checked_when_set(value):
    lm = CharNGram(order=2, num_classes=3)
    with pytest.raises(ValueError, match="smoothing"):
        lm.smoothing = value
    assert lm.smoothing == 0.1
    with pytest.raises(ValueError, match="smoothing"):
        CharNGram(order=2, num_classes=3, smoothing=value)


def test_new_smoothing_takes_effect():
    lm = CharNGram(order=2, num_classes=3, smoothing=0.1).fit([[1, 2], [1, 2], [1, 1, 2]])
    np.testing.assert_allclose(np.exp(lm([1])[2]), (3 + 0.1) / (4 + 3 * 0.1))  # now cached
    lm.smoothing = 1
    assert lm.smoothing == 1.0 and isinstance(lm.smoothing, float)
    np.testing.assert_allclose(np.exp(lm([1])[2]), (3 + 1) / (4 + 3 * 1))
