"""Tests for chainrule.data: TensorDataset, DataLoader, and the dataset files (fetch, checksums, IDX parsing).

The real-file tests read ``CHAINRULE_DATA`` from the environment and are skipped when it
is not set. No test touches the network: ``urllib.request.urlopen`` is replaced in every test.
"""
import gzip
import hashlib
import io
import os
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest

from chainrule.data.dataset import Dataset, TensorDataset
from chainrule.data.datasets import _download, fashion_mnist, mnist, tiny_shakespeare
from chainrule.data.datasets._download import DatasetChecksumError, DatasetNotFoundError, data_home, fetch
from chainrule.data.datasets.mnist import IMAGES_MAGIC, LABELS_MAGIC, load_idx_dataset, read_idx
from chainrule.data.loader import DataLoader, default_collate


# ----------------------------------------------------------------------------- fixtures and helpers

@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Every test runs offline: a download attempt fails as it would without a network."""
    def offline(request, *args, **kwargs):
        url = getattr(request, "full_url", request)
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


@pytest.fixture
def shared_data():
    """The data folder given by CHAINRULE_DATA (read before any test changes it); skip when unset."""
    root = os.environ.get("CHAINRULE_DATA")
    if not root:
        pytest.skip("CHAINRULE_DATA is not set; the real-dataset tests need the dataset files")
    if not os.path.isdir(root):
        pytest.skip(f"CHAINRULE_DATA={root} is not a folder")
    return root


def _shared_file(root, subdir, filename):
    path = os.path.join(root, subdir, filename)
    if not os.path.isfile(path):
        pytest.skip(f"{subdir}/{filename} is not in CHAINRULE_DATA")
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _FakeResponse:
    """What urlopen returns: a context manager with read(n) and headers."""

    def __init__(self, data: bytes, on_read=None, fail_after=None):
        self._buf = io.BytesIO(data)
        self.headers = {"Content-Length": str(len(data))}
        self._on_read = on_read
        self._fail_after = fail_after

    def read(self, n=-1):
        if self._on_read is not None:
            self._on_read()
        if self._fail_after is not None and self._buf.tell() >= self._fail_after:
            raise ConnectionResetError("connection reset by peer (simulated)")
        if self._fail_after is not None:
            n = min(n, self._fail_after - self._buf.tell()) if n and n > 0 else self._fail_after
        return self._buf.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _serve(monkeypatch, table, log=None, on_read=None, fail_after=None):
    """Replace urlopen by one that serves ``table[url]`` bytes (or raises URLError for other URLs)."""
    def fake_urlopen(request, timeout=None):
        url = getattr(request, "full_url", request)
        assert timeout is not None, "urlopen must be called with a timeout"
        if log is not None:
            log.append(url)
        if url not in table:
            raise urllib.error.URLError(f"unreachable ({url})")
        return _FakeResponse(table[url], on_read=on_read, fail_after=fail_after)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def _idx_gz(path, array, magic=None):
    """Write ``array`` (uint8) as a gzip-compressed IDX file; return its bytes."""
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = gzip.compress(header + array.tobytes())
    with open(path, "wb") as f:
        f.write(data)
    return data


# ----------------------------------------------------------------------------- TensorDataset

def test_tensor_dataset_indexing():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    assert ds.arrays[0] is x and ds.arrays[1] is y  # stored without a copy
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, [6, 7])
    assert yi == 3
    assert ds[-1][1] == 9
    xs, ys = ds[2:5]
    np.testing.assert_array_equal(ys, [2, 3, 4])
    xs, ys = ds[np.array([7, 1, 7])]
    np.testing.assert_array_equal(ys, [7, 1, 7])
    np.testing.assert_array_equal(xs, x[[7, 1, 7]])
    _, ys = ds[[0, 9]]
    np.testing.assert_array_equal(ys, [0, 9])
    _, ys = ds[y % 3 == 0]
    np.testing.assert_array_equal(ys, [0, 3, 6, 9])


def test_tensor_dataset_accepts_objects_with_data_and_array_likes():
    class Holder:  # stands in for a Tensor: values in an ndarray ``.data``
        def __init__(self, data):
            self.data = data

    x = np.ones((4, 3))
    ds = TensorDataset(Holder(x), [0, 1, 2, 3])
    assert ds.arrays[0] is x
    assert isinstance(ds.arrays[1], np.ndarray) and ds.arrays[1].shape == (4,)
    assert ds.tensors is ds.arrays


def test_tensor_dataset_mismatched_first_dims():
    with pytest.raises(ValueError, match=r"TensorDataset.*first dimension.*\(5, 2\).*\(4,\)"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))


def test_tensor_dataset_bad_input():
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(np.float32(3.0))
    ds = TensorDataset(np.zeros((3, 2)))
    with pytest.raises(IndexError, match="index 3 is out of range for a dataset of 3"):
        ds[3]
    with pytest.raises(IndexError, match="index 5 is out of range"):
        ds[np.array([0, 5])]
    with pytest.raises(TypeError, match="indices must be"):
        ds[np.array([0.5])]


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()

    class Squares(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i * i

    assert Squares()[2] == 4


# ----------------------------------------------------------------------------- DataLoader

def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def test_loader_batches_in_order():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    assert all(isinstance(a, np.ndarray) for b in batches for a in b)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_loader_batches_are_copies():
    x, y = _xy(6)
    for shuffle in (False, True):
        batch_x, _ = next(iter(DataLoader(TensorDataset(x, y), batch_size=3, shuffle=shuffle, seed=0)))
        batch_x[...] = -1
        assert x.min() >= 0, "changing a batch must not change the dataset"


@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (10, 4, False, 3), (10, 4, True, 2), (8, 4, False, 2), (8, 4, True, 2),
    (3, 32, False, 1), (3, 32, True, 0), (0, 4, False, 0), (1, 1, False, 1),
])
def test_loader_len(n, batch_size, drop_last, expected):
    x, y = _xy(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, drop_last=drop_last, shuffle=True, seed=1)
    assert len(loader) == expected
    assert len(list(loader)) == expected


def test_loader_drop_last():
    x, y = _xy(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True, shuffle=True, seed=3))
    assert len(batches) == 2
    assert all(len(b[0]) == 4 and len(b[1]) == 4 for b in batches)
    seen = np.concatenate([b[1] for b in batches])
    assert len(set(seen.tolist())) == 8


def _epochs(loader, count):
    return [np.concatenate([b[-1] for b in loader]).tolist() for _ in range(count)]


def test_loader_shuffle_is_deterministic_with_seed():
    x, y = _xy(50)
    ds = TensorDataset(x, y)
    a = _epochs(DataLoader(ds, batch_size=8, shuffle=True, seed=42), 3)
    b = _epochs(DataLoader(ds, batch_size=8, shuffle=True, seed=42), 3)
    c = _epochs(DataLoader(ds, batch_size=8, shuffle=True, seed=43), 3)
    assert a == b, "the same seed must give the same sequence of epochs"
    assert a != c
    assert a[0] != a[1] and a[1] != a[2], "every epoch must reshuffle"
    for order in a:
        assert sorted(order) == list(range(50))
        assert order != list(range(50))


def test_loader_shuffle_keeps_arrays_aligned():
    x, y = _xy(30)
    for bx, by in DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True, seed=0):
        np.testing.assert_array_equal(bx, x[by])


def test_loader_shuffle_without_seed_follows_global_seed():
    from chainrule import backend

    if not hasattr(backend, "manual_seed") or not hasattr(backend, "rng"):
        pytest.skip("backend.manual_seed / backend.rng are not available")
    x, y = _xy(40)
    ds = TensorDataset(x, y)
    backend.manual_seed(7)
    a = _epochs(DataLoader(ds, batch_size=8, shuffle=True), 2)
    backend.manual_seed(7)
    b = _epochs(DataLoader(ds, batch_size=8, shuffle=True), 2)
    assert a == b
    assert a[0] != a[1]


def test_loader_order_is_drawn_when_iteration_starts():
    x, y = _xy(20)
    loader = DataLoader(TensorDataset(x, y), batch_size=20, shuffle=True, seed=5)
    first, second = iter(loader), iter(loader)
    reference = _epochs(DataLoader(TensorDataset(x, y), batch_size=20, shuffle=True, seed=5), 2)
    # Consumed in the reverse order, the iterators still hold epoch 1 and epoch 2.
    assert next(second)[1].tolist() == reference[1]
    assert next(first)[1].tolist() == reference[0]


class _PairDataset(Dataset):
    """A generic dataset: sample i is (features, label)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_loader_generic_dataset_collates_with_stack():
    x, y = _xy(10)
    batches = list(DataLoader(_PairDataset(x, y), batch_size=4))
    assert len(batches) == 3
    bx, by = batches[0]
    assert isinstance(batches[0], tuple)
    assert bx.shape == (4, 3) and bx.dtype == np.float32
    assert by.shape == (4,) and by.tolist() == [0, 1, 2, 3]
    assert batches[2][0].shape == (2, 3)


def test_loader_generic_and_tensor_dataset_shuffle_alike():
    x, y = _xy(25)
    generic = [b[1].tolist() for b in DataLoader(_PairDataset(x, y), batch_size=6, shuffle=True, seed=9)]
    fast = [b[1].tolist() for b in DataLoader(TensorDataset(x, y), batch_size=6, shuffle=True, seed=9)]
    assert generic == fast


def test_default_collate_structures():
    samples = [{"image": np.full((2, 2), i), "label": i} for i in range(3)]
    batch = default_collate(samples)
    assert batch["image"].shape == (3, 2, 2) and batch["label"].tolist() == [0, 1, 2]
    lists = default_collate([[np.zeros(2), 1], [np.ones(2), 2]])
    assert isinstance(lists, list) and lists[0].shape == (2, 2)
    with pytest.raises(ValueError, match=r"different shapes.*\(2,\).*\(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="differ in structure"):
        default_collate([(1, 2), (1, 2, 3)])


def test_loader_collate_fn():
    x, y = _xy(5)
    calls = []

    def collate(samples):
        calls.append(len(samples))
        return "batch of %d" % len(samples)

    out = list(DataLoader(TensorDataset(x, y), batch_size=2, collate_fn=collate))
    assert out == ["batch of 2", "batch of 2", "batch of 1"]
    assert calls == [2, 2, 1]


def test_loader_bad_arguments():
    ds = TensorDataset(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=True)
    with pytest.raises(ValueError, match="seed must be"):
        DataLoader(ds, seed=-1)
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(42)
    with pytest.raises(TypeError, match="collate_fn"):
        DataLoader(ds, collate_fn=3)


# ----------------------------------------------------------------------------- data folder and fetch

def test_data_home_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    assert data_home() == str(tmp_path)
    monkeypatch.delenv("CHAINRULE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == os.path.join(str(tmp_path / "home"), ".chainrule", "datasets")


def test_fetch_existing_file_is_verified_once(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    (tmp_path / "toy").mkdir()
    path = tmp_path / "toy" / "a.bin"
    path.write_bytes(b"hello")
    calls = []
    real = _download.sha256_of
    monkeypatch.setattr(_download, "sha256_of", lambda p: calls.append(p) or real(p))
    assert fetch("toy", "a.bin", _sha(b"hello"), []) == str(path)
    assert fetch("toy", "a.bin", _sha(b"hello"), []) == str(path)
    assert len(calls) == 1, "a verified file is not hashed again while unchanged"
    path.write_bytes(b"HELLO")  # same size; the modification time changes
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    with pytest.raises(DatasetChecksumError):
        fetch("toy", "a.bin", _sha(b"hello"), [])


def test_fetch_rejects_wrong_checksum(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.bin").write_bytes(b"tampered")
    log = []
    _serve(monkeypatch, {}, log=log)
    with pytest.raises(DatasetChecksumError) as info:
        fetch("toy", "a.bin", _sha(b"original"), ["https://example.invalid/a.bin"])
    message = str(info.value)
    assert str(tmp_path / "toy" / "a.bin") in message
    assert _sha(b"original") in message and _sha(b"tampered") in message
    assert "will not be used" in message
    assert log == [], "a file with a wrong checksum is an error, not a reason to download"
    assert (tmp_path / "toy" / "a.bin").read_bytes() == b"tampered", "the user's file is left alone"


def test_missing_file_offline_gives_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    url = "https://mirror.example/toy/a.bin"
    with pytest.raises(DatasetNotFoundError) as info:
        fetch("toy", "a.bin", _sha(b"x"), [url])
    assert isinstance(info.value, OSError)
    message = str(info.value)
    for part in ("a.bin", str(tmp_path / "toy"), "CHAINRULE_DATA", url, "by hand", "URLError"):
        assert part in message, f"{part!r} missing from: {message}"
    assert os.listdir(tmp_path / "toy") == [], "no temporary file is left behind"


def test_download_writes_temp_then_renames(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    payload = os.urandom(3 * (1 << 20) + 123)  # several chunks
    folder = tmp_path / "toy"
    final = folder / "a.bin"
    seen_during_download = []

    def on_read():
        seen_during_download.append((final.exists(), sorted(os.listdir(folder))))

    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(_download.os, "replace", lambda src, dst: replaced.append((src, dst)) or real_replace(src, dst))
    log = []
    url = "https://mirror.example/toy/a.bin"
    _serve(monkeypatch, {url: payload}, log=log, on_read=on_read)

    path = fetch("toy", "a.bin", _sha(payload), [url])
    assert path == str(final)
    assert final.read_bytes() == payload
    assert log == [url]
    assert seen_during_download and all(not exists for exists, _ in seen_during_download)
    assert all(len(names) == 1 and names[0].endswith(".part") for _, names in seen_during_download)
    assert len(replaced) == 1
    src, dst = replaced[0]
    assert os.path.dirname(src) == str(folder) and dst == str(final)
    assert os.listdir(folder) == ["a.bin"]
    # The download is trusted from now on, without a second hash.
    monkeypatch.setattr(_download, "sha256_of", lambda p: pytest.fail("re-hashed a verified download"))
    assert fetch("toy", "a.bin", _sha(payload), [url]) == str(final)


def test_download_falls_back_to_next_mirror_on_bad_checksum(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    good, bad = b"the real bytes", b"something else"
    urls = ["https://a.example/f", "https://b.example/f", "https://c.example/f"]
    log = []
    _serve(monkeypatch, {urls[1]: bad, urls[2]: good}, log=log)
    path = fetch("toy", "f", _sha(good), urls)
    assert log == urls
    assert open(path, "rb").read() == good
    assert os.listdir(tmp_path / "toy") == ["f"]


def test_download_with_wrong_checksum_everywhere_is_never_used(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    url = "https://a.example/f"
    _serve(monkeypatch, {url: b"corrupted"})
    with pytest.raises(DatasetChecksumError, match="wrong SHA-256"):
        fetch("toy", "f", _sha(b"expected"), [url])
    assert os.listdir(tmp_path / "toy") == [], "neither the file nor a temporary copy is kept"


def test_interrupted_download_removes_temp_file(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    url = "https://a.example/f"
    payload = os.urandom(5000)
    _serve(monkeypatch, {url: payload}, fail_after=1000)
    with pytest.raises(DatasetNotFoundError, match="ConnectionResetError"):
        fetch("toy", "f", _sha(payload), [url])
    assert os.listdir(tmp_path / "toy") == []


# ----------------------------------------------------------------------------- IDX parsing

def test_read_idx_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    _idx_gz(tmp_path / "img.gz", images)
    out = read_idx(str(tmp_path / "img.gz"), IMAGES_MAGIC)
    np.testing.assert_array_equal(out, images)
    assert out.dtype == np.uint8 and out.flags.writeable


def test_read_idx_rejects_malformed_files(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels.gz"
    _idx_gz(path, labels)
    with pytest.raises(ValueError, match=r"labels\.gz has magic number 2049, expected 2051"):
        read_idx(str(path), IMAGES_MAGIC)

    data = path.read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz is not a complete gzip file"):
        read_idx(str(tmp_path / "cut.gz"), LABELS_MAGIC)

    (tmp_path / "plain.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"plain\.gz is not a complete gzip file"):
        read_idx(str(tmp_path / "plain.gz"), LABELS_MAGIC)

    # Valid gzip, but the header promises more (or fewer) bytes than follow.
    header = LABELS_MAGIC.to_bytes(4, "big") + (12).to_bytes(4, "big")
    (tmp_path / "short.gz").write_bytes(gzip.compress(header + bytes(10)))
    with pytest.raises(ValueError, match=r"short\.gz is truncated.*\(12,\) needs 20 bytes.*holds 18"):
        read_idx(str(tmp_path / "short.gz"), LABELS_MAGIC)
    (tmp_path / "long.gz").write_bytes(gzip.compress(header + bytes(13)))
    with pytest.raises(ValueError, match=r"long\.gz is longer than its header says"):
        read_idx(str(tmp_path / "long.gz"), LABELS_MAGIC)
    (tmp_path / "tiny.gz").write_bytes(gzip.compress(LABELS_MAGIC.to_bytes(4, "big")))
    with pytest.raises(ValueError, match=r"tiny\.gz is truncated: its header needs 8 bytes"):
        read_idx(str(tmp_path / "tiny.gz"), LABELS_MAGIC)


def test_idx_dataset_from_synthetic_files(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    folder = tmp_path / "toy-mnist"
    folder.mkdir()
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, size=(6, 28, 28)), "train_labels": rng.integers(0, 10, size=6),
        "test_images": rng.integers(0, 256, size=(4, 28, 28)), "test_labels": rng.integers(0, 10, size=4),
    }
    files = {}
    for key, array in arrays.items():
        data = _idx_gz(folder / f"{key}.gz", array)
        files[key] = (f"{key}.gz", _sha(data))
    (x_train, y_train), (x_test, y_test) = load_idx_dataset("toy-mnist", files, [], "toy")
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert x_test.shape == (4, 28, 28) and y_train.shape == (6,)

    data = _idx_gz(folder / "train_labels.gz", rng.integers(0, 10, size=5))
    files["train_labels"] = ("train_labels.gz", _sha(data))
    with pytest.raises(ValueError, match=r"train_images\.gz holds 6 images but .*train_labels\.gz holds 5 labels"):
        load_idx_dataset("toy-mnist", files, [], "toy")


# ----------------------------------------------------------------------------- the real dataset files

def _check_image_dataset(module, first_train_labels):
    (x_train, y_train), (x_test, y_test) = module.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    for labels in (y_train, y_test):
        assert labels.min() == 0 and labels.max() == 9
        assert len(np.unique(labels)) == 10
    assert x_train.min() == 0 and x_train.max() == 255
    assert y_train[:10].tolist() == first_train_labels


def test_mnist_load_data(shared_data):
    _shared_file(shared_data, "mnist", "train-images-idx3-ubyte.gz")
    _check_image_dataset(mnist, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    (_, y_train), (_, y_test) = mnist.load_data()
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_fashion_mnist_load_data(shared_data):
    _shared_file(shared_data, "fashion-mnist", "train-images-idx3-ubyte.gz")
    _check_image_dataset(fashion_mnist, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    (_, y_train), _ = fashion_mnist.load_data()
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert len(fashion_mnist.class_names) == 10
    assert fashion_mnist.class_names[0] == "T-shirt/top" and fashion_mnist.class_names[9] == "Ankle boot"


def test_tiny_shakespeare_load_data(shared_data):
    _shared_file(shared_data, "tiny-shakespeare", "input.txt")
    text = tiny_shakespeare.load_data()
    assert isinstance(text, str)
    assert len(text) == 1115394
    assert text.startswith("First Citizen:")
    assert len(set(text)) == 65
    assert text.count("\n") == 40000


def test_real_file_with_one_byte_changed_is_rejected(shared_data, monkeypatch, tmp_path):
    source = _shared_file(shared_data, "tiny-shakespeare", "input.txt")
    (tmp_path / "tiny-shakespeare").mkdir()
    data = bytearray(open(source, "rb").read())
    data[1000] ^= 0x01
    (tmp_path / "tiny-shakespeare" / "input.txt").write_bytes(bytes(data))
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    with pytest.raises(DatasetChecksumError, match=r"tiny_shakespeare: the file .*input\.txt has SHA-256"):
        tiny_shakespeare.load_data()


def test_real_truncated_gzip_is_rejected(shared_data, monkeypatch, tmp_path):
    source = _shared_file(shared_data, "mnist", "t10k-labels-idx1-ubyte.gz")
    data = open(source, "rb").read()
    cut = tmp_path / "t10k-labels-idx1-ubyte.gz"
    cut.write_bytes(data[:3000])
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz is not a complete gzip file"):
        read_idx(str(cut), LABELS_MAGIC)
    # Through load_data the checksum catches it first, and the file is not used.
    (tmp_path / "mnist").mkdir()
    for name in os.listdir(os.path.join(shared_data, "mnist")):
        if name.endswith(".gz"):
            shutil.copy(os.path.join(shared_data, "mnist", name), tmp_path / "mnist" / name)
    os.chmod(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", 0o644)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(data[:3000])
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    with pytest.raises(DatasetChecksumError, match=r"t10k-labels-idx1-ubyte\.gz has SHA-256"):
        mnist.load_data()


def test_mnist_missing_offline_names_file_folder_and_mirrors(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "mnist") in message
    assert "CHAINRULE_DATA" in message
    for mirror in mnist.MIRRORS:
        assert mirror + "train-images-idx3-ubyte.gz" in message
    assert mnist.FILES["train_images"][1] in message


def test_tiny_shakespeare_download_from_served_copy(shared_data, monkeypatch, tmp_path):
    source = _shared_file(shared_data, "tiny-shakespeare", "input.txt")
    payload = open(source, "rb").read()
    log = []
    _serve(monkeypatch, {tiny_shakespeare.URLS[0]: payload}, log=log)
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    text = tiny_shakespeare.load_data()
    assert log == [tiny_shakespeare.URLS[0]]
    assert text.startswith("First Citizen:") and len(text) == 1115394
    assert os.listdir(tmp_path / "tiny-shakespeare") == ["input.txt"]
