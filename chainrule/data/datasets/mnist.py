"""MNIST: 70,000 handwritten digits, 28x28 grey-scale, labels 0-9.

By Yann LeCun, Corinna Cortes and Christopher J. C. Burges
(http://yann.lecun.com/exdb/mnist/); commonly distributed under CC BY-SA 3.0.
``load_data()`` reads the four original gzip-compressed IDX files (downloading them when
missing) and returns the arrays exactly as ``keras.datasets.mnist.load_data()`` does.
"""
from __future__ import annotations

import gzip
import zlib

import numpy as np

from ._download import fetch

SUBDIR = "mnist"
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


def read_idx(path: str, expected_magic: int) -> np.ndarray:
    """Decode a gzip-compressed IDX file of unsigned bytes into a uint8 array.

    The IDX header is big-endian: a 4-byte magic number (two zero bytes, the type code
    0x08 for unsigned bytes, the number of dimensions), one 4-byte size per dimension,
    then the data in C order.

    Raises:
        ValueError: the file is not valid gzip, is truncated, has a magic number other
            than ``expected_magic``, or holds more or fewer bytes than its header says.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"read_idx: {path} is not a complete gzip file ({type(exc).__name__}: {exc}); "
                         f"it is truncated or corrupt") from exc
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} holds {len(raw)} bytes, too few for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(f"read_idx: {path} has magic number {magic}, expected {expected_magic} "
                         f"(an IDX file of unsigned bytes with {expected_magic & 0xFF} dimensions)")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated: its header needs {header} bytes, "
                         f"the file holds {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(f"read_idx: {path} is {what}: a header of shape {shape} needs {expected} bytes, "
                         f"the decompressed file holds {len(raw)}")
    # frombuffer views the immutable bytes; copy so the arrays are writable, as Keras's are.
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def load_idx_dataset(subdir: str, files: dict, mirrors, dataset: str):
    """``((x_train, y_train), (x_test, y_test))`` from the four IDX files of an MNIST-format dataset."""

    def read(key, magic):
        filename, sha256 = files[key]
        path = fetch(subdir, filename, sha256, [m + filename for m in mirrors], dataset=dataset)
        return path, read_idx(path, magic)

    splits = []
    for split in ("train", "test"):
        images_path, images = read(f"{split}_images", IMAGES_MAGIC)
        labels_path, labels = read(f"{split}_labels", LABELS_MAGIC)
        if images.shape[1:] != (28, 28):
            raise ValueError(f"{dataset}.load_data: {images_path} holds images of shape {images.shape[1:]}, "
                             f"expected (28, 28)")
        if len(images) != len(labels):
            raise ValueError(f"{dataset}.load_data: {images_path} holds {len(images)} images but "
                             f"{labels_path} holds {len(labels)} labels")
        splits.append((images, labels))
    return tuple(splits)


def load_data():
    """The MNIST digits, as ``keras.datasets.mnist.load_data()`` returns them.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,); pixels 0-255 (0 is background), labels 0-9.

    The files are looked for in ``$CHAINRULE_DATA/mnist`` (else ``~/.chainrule/datasets/mnist``)
    and downloaded there when missing.

    Raises:
        DatasetNotFoundError: a file is missing and cannot be downloaded.
        DatasetChecksumError: a file does not have the pinned SHA-256.
    """
    return load_idx_dataset(SUBDIR, FILES, MIRRORS, "mnist")
