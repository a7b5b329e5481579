"""Reusable memory for the engine's temporaries.

To read the algorithm, see `cnnlab.reference.conv2d_im2col`; this module only
keeps the engine's column matrices, GEMM results and accumulators alive
between calls, because a fresh multi-megabyte array costs more than the copy
that fills it (the kernel must map and zero every page; NumPy even asks for
huge pages, which can stall on compaction). A training step asks for the
same sizes every time, so the second step onwards allocates nothing.
"""
import math
import threading
import weakref

import numpy as np


class Scratch:
    """One growing buffer: `get` returns an uninitialised array viewing it.

    An array from `get` is valid until the next `get` on the same Scratch."""

    def __init__(self):
        self._buf = np.empty(0, np.uint8)

    def get(self, shape, dtype):
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if self._buf.size < nbytes:
            self._buf = np.empty(nbytes, np.uint8)
        return self._buf[:nbytes].view(dtype).reshape(shape)

    @property
    def nbytes(self):
        return self._buf.nbytes


_local = threading.local()
# Every thread's pool, so that one thread can count or free them all; weak
# keys: a pool disappears with its thread.
_pools = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def scratch(name):
    """The calling thread's Scratch called `name` (one per role, so that the
    temporaries alive at the same time never share memory)."""
    pool = _local.__dict__.get("pool")
    if pool is None:
        pool = _local.pool = {}
        with _pools_lock:
            _pools[threading.current_thread()] = pool
    found = pool.get(name)
    if found is None:  # (setdefault would build and drop a Scratch on every call)
        found = pool[name] = Scratch()
    return found


def in_scratch(a, name):
    """A contiguous copy of `a` in the scratch memory `name`."""
    out = scratch(name).get(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def _all_pools():
    with _pools_lock:
        return list(_pools.values())


def scratch_nbytes():
    """Bytes of scratch memory the engine holds for reuse, summed over all threads.

    >>> import cnnlab as cl
    >>> cl.release_scratch(); cl.scratch_nbytes()
    0
    """
    return sum(s.nbytes for pool in _all_pools() for s in list(pool.values()))


def release_scratch():
    """Free the scratch memory of every thread (the engine otherwise keeps it
    for the next call of the same size). Arrays in use elsewhere stay valid:
    only the engine's references are dropped."""
    for pool in _all_pools():
        pool.clear()
