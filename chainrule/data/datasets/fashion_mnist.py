"""Fashion-MNIST: 70,000 28x28 grey-scale images of clothing in 10 classes.

By Zalando Research (Han Xiao, Kashif Rasul, Roland Vollgraf),
https://github.com/zalandoresearch/fashion-mnist, MIT license; paper arXiv:1708.07747.
The same file format and layout as MNIST; ``load_data()`` returns the arrays exactly as
``keras.datasets.fashion_mnist.load_data()`` does, and ``class_names[label]`` names a label.
"""
from __future__ import annotations

from .mnist import load_idx_dataset

SUBDIR = "fashion-mnist"
MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}

class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_data():
    """Fashion-MNIST, as ``keras.datasets.fashion_mnist.load_data()`` returns it.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,); labels 0-9, named by ``class_names``.

    The files are looked for in ``$CHAINRULE_DATA/fashion-mnist`` (else
    ``~/.chainrule/datasets/fashion-mnist``) and downloaded there when missing.

    Raises:
        DatasetNotFoundError: a file is missing and cannot be downloaded.
        DatasetChecksumError: a file does not have the pinned SHA-256.
    """
    return load_idx_dataset(SUBDIR, FILES, MIRRORS, "fashion_mnist")
