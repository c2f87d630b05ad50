"""Ready-made datasets, each a module with ``load_data()``, as in ``keras.datasets``.

``mnist`` and ``fashion_mnist`` return uint8 image and label arrays; ``tiny_shakespeare``
returns a ``str``. Files live in ``$CHAINRULE_DATA`` (else ``~/.chainrule/datasets``) and
are downloaded, with their SHA-256 checked, when missing.
"""
from . import fashion_mnist, mnist, tiny_shakespeare
from ._download import DatasetChecksumError, DatasetNotFoundError, data_home, fetch

__all__ = ["DatasetChecksumError", "DatasetNotFoundError", "data_home", "fashion_mnist", "fetch", "mnist",
           "tiny_shakespeare"]
