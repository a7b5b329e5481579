"""Intra-op threads: the batch chunks of one convolution run on a small
thread pool, as PyTorch spreads one operator over its intra-op threads.

To read the algorithm, see `cnnlab.reference.conv2d_im2col`; this module only
runs independent pieces of it side by side.

NumPy releases the GIL inside copies, ufuncs and matmul, so threads speed up
the memory-bound column copies too, not only the GEMMs that OpenBLAS already
spreads over the cores. While the chunks run side by side OpenBLAS is held to
one thread each (nested parallelism would oversubscribe the cores). Calls
from threads other than the main one stay sequential: a program that runs its
own threads has already divided the cores.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .._checks import ntuple

ENV_VAR = "CNNLAB_NUM_THREADS"


def _default_threads():
    """$CNNLAB_NUM_THREADS if set (as OMP_NUM_THREADS is for PyTorch), else the
    number of cores, at most 8."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return max(1, min(os.cpu_count() or 1, 8))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"environment variable {ENV_VAR} must be a whole number >= 1, got {text!r}")
    return value


_state = {"threads": _default_threads(), "pool": None, "blas": None}


def set_num_threads(n):
    """Threads a convolution may use (like `torch.set_num_threads`); 1 turns parallelism off.

    The default is $CNNLAB_NUM_THREADS, read when cnnlab is imported, else the
    number of cores (at most 8). Results with different thread counts agree
    to rounding, not bit for bit: the batch is split into other chunks, whose
    weight gradients are summed in another order."""
    n = ntuple(n, 1, "num_threads")[0]
    if n != _state["threads"] and _state["pool"] is not None:
        _state["pool"].shutdown()
        _state["pool"] = None
    _state["threads"] = n


def get_num_threads():
    """The number of threads a convolution may use (see `set_num_threads`)."""
    return _state["threads"]


def workers():
    """How many chunks can run at once from the calling thread."""
    return _state["threads"] if threading.current_thread() is threading.main_thread() else 1


def map_chunks(fn, items, blas=True):
    """[fn(item) for item in items], side by side when there are several: the
    calling thread runs the first item while the pool runs the others (waking
    a pool thread takes 50-80 us on the benchmark machine, which the caller's
    own share then hides). `blas`: fn calls BLAS, which is then held to one
    thread per chunk (False for the compiled direct kernels, which call none:
    saves threadpoolctl's switch)."""
    if len(items) < 2 or workers() < 2:
        return [fn(item) for item in items]
    if _state["pool"] is None:
        _state["pool"] = ThreadPoolExecutor(_state["threads"] - 1, thread_name_prefix="cnnlab")
    if not blas:
        return _run(fn, items)
    with _blas().limit(limits=1):
        return _run(fn, items)


def _run(fn, items):
    """The items dealt round-robin to the calling thread and the pool's threads, in order."""
    k = _state["threads"]
    groups = [items[i::k] for i in range(k)]
    rest = [_state["pool"].submit(lambda g=g: [fn(item) for item in g]) for g in groups[1:] if g]
    try:
        done = [[fn(item) for item in groups[0]]]
    finally:  # the chunks write into the caller's arrays: none may outlive the call
        done += [f.result() for f in rest]
    results = [None] * len(items)
    for i, part in enumerate(done):
        results[i::k] = part
    return results


def _blas():
    if _state["blas"] is None:  # created lazily: it sees only the libraries loaded by then
        from threadpoolctl import ThreadpoolController
        _state["blas"] = ThreadpoolController().select(user_api="blas")
    return _state["blas"]
