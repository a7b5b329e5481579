"""MNIST from the IDX files shipped in data/mnist, verified before use.

Every file is checked against the SHA-256 listed in data/mnist/README.md
(of the decompressed bytes) and against its IDX header, so a truncated or
corrupt copy raises an error naming the file instead of training on garbage.
Also: input scaling (plain [0, 1] or LeCun's), padding to 32x32, seeded
minibatches, class-balanced subsets and 1-pixel-shift augmentation.
"""
import functools
import gzip
import hashlib
import os
import re
import urllib.request
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "data" / "mnist"
MODELS_ROOT = DEFAULT_ROOT.parent / "models"
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
RESTORE = ("restore it with `git checkout -- data/mnist`, copy it from the course's shared data folder, "
           "or call cnnlab.data.download_mnist()")


class MnistError(ValueError):
    """A missing, corrupt or unexpected MNIST file."""


def data_root(root=None):
    """The MNIST folder: `root`, else $CNNLAB_DATA/mnist, else the repository's data/mnist."""
    if root is not None:
        return Path(root)
    env = os.environ.get("CNNLAB_DATA")
    return Path(env) / "mnist" if env else DEFAULT_ROOT


def checksums(root=None):
    """{file name: SHA-256 of its decompressed bytes}, read from the README beside the files."""
    readme = data_root(root) / "README.md"
    if not readme.exists():
        raise MnistError(f"{readme} is missing: it holds the checksums the data is verified against; {RESTORE}")
    found = dict((name, digest) for digest, name in re.findall(r"^\s*([0-9a-f]{64})\s+(\S+)\s*$",
                                                               readme.read_text(), re.M))
    if not found:
        raise MnistError(f"{readme} lists no SHA-256 checksums")
    return found


def read_idx(path, expected_sha256):
    """Decompress an IDX .gz file, verify its checksum and header, return the array."""
    path = Path(path)
    if not path.exists():
        raise MnistError(f"MNIST file {path} is missing; {RESTORE}")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as err:
        raise MnistError(f"MNIST file {path} is not a valid gzip file ({err}); {RESTORE}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise MnistError(f"MNIST file {path} is corrupt: SHA-256 {digest[:12]}... does not match the expected "
                         f"{expected_sha256[:12]}... from README.md; {RESTORE}")
    return parse_idx(raw, path)


def parse_idx(raw, name="data"):
    """Parse IDX bytes: magic 0x0000080X (X = number of dims), big-endian uint32 sizes, uint8 data."""
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise MnistError(f"{name}: not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise MnistError(f"{name}: header says shape {shape} but holds {data.size} bytes")
    return data.reshape(shape)


@functools.lru_cache(maxsize=4)
def _load(split, root):
    sums = checksums(root)
    images_name, labels_name = FILES[split]
    images = read_idx(root / f"{images_name}.gz", sums.get(images_name, ""))
    labels = read_idx(root / f"{labels_name}.gz", sums.get(labels_name, ""))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise MnistError(f"MNIST {split}: unexpected shapes images {images.shape}, labels {labels.shape}")
    if labels.max() > 9:
        raise MnistError(f"MNIST {split}: labels outside 0-9")
    images.flags.writeable = False
    return images, labels.astype(np.int64)


def load_mnist(split="train", root=None):
    """The verified MNIST split: images uint8 (N, 28, 28) (read-only, cached
    per process) and labels int64 (N,). split is 'train' (60,000) or 'test' (10,000)."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return _load(split, data_root(root))


def download_mnist(root=None, mirrors=MIRRORS, opener=urllib.request.urlopen):
    """Fetch any missing MNIST file from the public mirrors, verify it and
    store it atomically. The checksums come from the README already in `root`."""
    root = data_root(root)
    sums = checksums(root)
    for name in (n for pair in FILES.values() for n in pair):
        target = root / f"{name}.gz"
        if target.exists():
            continue
        errors = []
        for mirror in mirrors:
            try:
                with opener(f"{mirror}{name}.gz") as response:
                    blob = response.read()
                read_idx_bytes = gzip.decompress(blob)
                if hashlib.sha256(read_idx_bytes).hexdigest() != sums[name]:
                    raise MnistError("checksum mismatch")
            except Exception as err:  # try the next mirror, report all at the end
                errors.append(f"{mirror}: {err}")
                continue
            tmp = target.with_suffix(".gz.tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, target)
            break
        else:
            raise MnistError(f"could not download {name}.gz: " + "; ".join(errors))
    _load.cache_clear()


def to_float(images, scale="unit", dtype=np.float32):
    """uint8 images (N, H, W) -> (N, 1, H, W) floats. scale='unit' maps to [0, 1];
    'lecun' maps background to -0.1 and full ink to 1.175 (mean ~0, variance ~1)."""
    x = np.asarray(images, dtype=dtype)[:, None] / dtype(255)
    if scale == "lecun":
        return x * dtype(1.275) - dtype(0.1)
    if scale != "unit":
        raise ValueError(f"scale must be 'unit' or 'lecun', got {scale!r}")
    return x


def pad_to_32(x, value=None):
    """Pad (N, C, 28, 28) to (N, C, 32, 32) with 2 cells of background on each
    side, as LeNet-5 expects (strokes can then reach the centre of C3's fields).
    value defaults to the array's minimum (0 for unit scale, -0.1 for LeCun's)."""
    value = x.min() if value is None else value
    return np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)], constant_values=value)


def minibatches(n, batch_size, rng):
    """Shuffled index arrays covering range(n) once; the last batch may be smaller."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def balanced_subset(labels, per_class, rng):
    """Indices of `per_class` random examples of every class, in shuffled order."""
    labels = np.asarray(labels)
    picks = []
    for c in np.unique(labels):
        pool = np.flatnonzero(labels == c)
        if len(pool) < per_class:
            raise ValueError(f"class {c} has only {len(pool)} examples, per_class={per_class}")
        picks.append(rng.choice(pool, per_class, replace=False))
    return rng.permutation(np.concatenate(picks))


def shift(images, dy, dx, fill=0):
    """Shift a batch (..., H, W) by (dy, dx) pixels, filling the vacated border."""
    out = np.full_like(images, fill)
    h, w = images.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def augment_shifts(images, labels, fill=0):
    """Nielsen's expansion: the originals plus copies shifted one pixel up, down,
    left and right (5x the data)."""
    moves = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
    return (np.concatenate([shift(images, dy, dx, fill) for dy, dx in moves]),
            np.concatenate([labels] * len(moves)))


def trained_model_path(name, root=MODELS_ROOT):
    """The shipped checkpoint data/models/NAME.npz, verified against the SHA-256
    listed for it in data/models/README.md (a corrupt or swapped file raises
    MnistError instead of loading wrong weights)."""
    root = Path(root)
    path = root / f"{name}.npz"
    if not path.exists():
        raise MnistError(f"trained model {path} is missing; restore it with `git checkout -- data/models`")
    sums = checksums(root)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if sums.get(path.name) != digest:
        raise MnistError(f"trained model {path} does not match its SHA-256 in {root / 'README.md'} "
                         f"(got {digest[:12]}...); restore it with `git checkout -- data/models`")
    return path
