"""gnnhw: from-scratch GCNs, RNNs and LSTMs, verified against PyTorch Geometric and torch.nn.

Subpackages:

- :mod:`gnnhw.graph`: Ã = A + I and Â = D̃^-1/2 Ã D̃^-1/2, a from-scratch GCN layer equal to PyG's
  ``GCNConv``, receptive fields, node classification on Planetoid.
- :mod:`gnnhw.recurrent`: palindromes, from-scratch RNN and LSTM cells equal to ``torch.nn``,
  a character-level LSTM text generator.
"""

from gnnhw.errors import GnnhwError

__version__ = "0.1.0"

__all__ = ["GnnhwError", "__version__"]
