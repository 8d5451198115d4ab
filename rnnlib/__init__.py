"""rnnlib: recurrent networks from scratch, in NumPy, with PyTorch modules for training.

Axis letters used throughout the package:
B batch, T time, D input features, H hidden units, C classes, S source/target length.
"""

__version__ = "0.1.0"

from rnnlib.cells import RNNCell, LSTMCell, GRUCell
from rnnlib.layers import RNN, LSTM, GRU

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]
