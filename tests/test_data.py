"""MNIST loading: checksums, corrupt and missing files, shapes, helpers."""
import gzip
import hashlib
import shutil

import numpy as np
import pytest

from cnnlab import data


def test_full_mnist_loads_and_is_verified():
    x, y = data.load_mnist("train")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    xt, yt = data.load_mnist("test")
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert not x.flags.writeable  # the cached copy cannot be changed by accident


def copy_data(tmp_path):
    root = tmp_path / "mnist"
    shutil.copytree(data.DEFAULT_ROOT, root)
    return root


def test_corrupt_file_is_named(tmp_path):
    root = copy_data(tmp_path)
    target = root / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[100] ^= 1  # one flipped bit in one label
    target.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.MnistError, match=r"t10k-labels-idx1-ubyte.gz is corrupt: SHA-256 .*git checkout"):
        data.load_mnist("test", root=root)


def test_truncated_and_missing_files(tmp_path):
    root = copy_data(tmp_path)
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(data.MnistError, match=r"t10k-images-idx3-ubyte.gz is not a valid gzip file"):
        data.load_mnist("test", root=root)
    (root / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(data.MnistError, match=r"t10k-images-idx3-ubyte.gz is missing; restore it"):
        data.load_mnist("test", root=root)
    (root / "README.md").unlink()
    with pytest.raises(data.MnistError, match=r"README.md is missing"):
        data.load_mnist("train", root=root)
    with pytest.raises(ValueError, match=r"split must be 'train' or 'test', got 'val'"):
        data.load_mnist("val")


def test_idx_header_checks():
    with pytest.raises(data.MnistError, match="not an IDX file"):
        data.parse_idx(b"\x00\x00\x09\x01abcd")
    with pytest.raises(data.MnistError, match=r"header says shape \(5,\) but holds 3 bytes"):
        data.parse_idx(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    np.testing.assert_array_equal(data.parse_idx(b"\x00\x00\x08\x02\x00\x00\x00\x01\x00\x00\x00\x02ab"), [[97, 98]])


class FakeResponse:
    def __init__(self, blob):
        self.blob = blob

    def read(self):
        return self.blob

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_fills_in_missing_files(tmp_path):
    root = copy_data(tmp_path)
    good = (root / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    calls = []

    def opener(url):
        calls.append(url)
        if url.startswith("https://bad/"):
            return FakeResponse(gzip.compress(b"garbage"))
        return FakeResponse(good)

    data.download_mnist(root, mirrors=("https://bad/", "https://good/"), opener=opener)
    assert calls == ["https://bad/t10k-labels-idx1-ubyte.gz", "https://good/t10k-labels-idx1-ubyte.gz"]
    assert (root / "t10k-labels-idx1-ubyte.gz").read_bytes() == good
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.MnistError, match="could not download t10k-labels-idx1-ubyte.gz"):
        data.download_mnist(root, mirrors=("https://bad/",), opener=opener)


def test_scaling_padding_and_batches(rng):
    imgs = np.array([[[0, 255], [255, 0]]], dtype=np.uint8)
    np.testing.assert_allclose(data.to_float(imgs)[0, 0], [[0, 1], [1, 0]])
    np.testing.assert_allclose(data.to_float(imgs, "lecun")[0, 0], [[-0.1, 1.175], [1.175, -0.1]], rtol=1e-6)
    assert data.to_float(imgs).dtype == np.float32
    with pytest.raises(ValueError, match="scale must be"):
        data.to_float(imgs, "z")
    padded = data.pad_to_32(data.to_float(np.zeros((2, 28, 28), np.uint8), "lecun"))
    assert padded.shape == (2, 1, 32, 32) and np.allclose(padded, -0.1)
    batches = data.minibatches(10, 4, rng)
    assert [len(b) for b in batches] == [4, 4, 2] and sorted(np.concatenate(batches)) == list(range(10))
    labels = np.repeat(np.arange(10), 7)
    idx = data.balanced_subset(labels, 3, rng)
    assert np.bincount(labels[idx]).tolist() == [3] * 10
    with pytest.raises(ValueError, match="only 7 examples"):
        data.balanced_subset(labels, 8, rng)


def test_shift_augmentation():
    img = np.arange(9).reshape(1, 3, 3)
    np.testing.assert_array_equal(data.shift(img, 1, 0)[0], [[0, 0, 0], [0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(data.shift(img, 0, -1)[0], [[1, 2, 0], [4, 5, 0], [7, 8, 0]])
    x, y = data.augment_shifts(np.stack([img[0], img[0] + 10]), np.array([3, 4]))
    assert x.shape == (10, 3, 3) and y.tolist() == [3, 4] * 5
    np.testing.assert_array_equal(x[:2], np.stack([img[0], img[0] + 10]))


def test_trained_models_are_checksum_verified(tmp_path):
    (tmp_path / "m.npz").write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    (tmp_path / "README.md").write_text(f"    {digest}  m.npz\n")
    assert data.trained_model_path("m", tmp_path) == tmp_path / "m.npz"
    (tmp_path / "m.npz").write_bytes(b"weightz")
    with pytest.raises(data.MnistError, match="does not match its SHA-256"):
        data.trained_model_path("m", tmp_path)
    with pytest.raises(data.MnistError, match="is missing"):
        data.trained_model_path("other", tmp_path)
