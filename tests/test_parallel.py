"""Intra-op threads: same results with one thread or several, sequential off the main thread."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import cnnlab as cl
from cnnlab.engine import threads as parallel
from cnnlab.engine.conv import chunks

from tolerance import assert_close, conv_terms


@pytest.fixture
def threads():
    before = cl.get_num_threads()
    yield
    cl.set_num_threads(before)


def big_case(rng):
    x = rng.standard_normal((64, 2, 30, 30)).astype(np.float32)
    w = rng.standard_normal((6, 2, 5, 5)).astype(np.float32)
    g = rng.standard_normal((64, 6, 26, 26)).astype(np.float32)
    return x, w, g


def test_threads_split_big_batches_and_agree(rng, threads):
    """1 and 2 threads chunk the batch differently: equal within the tolerance rule."""
    x, w, g = big_case(rng)
    results = {}
    for n in (1, 2):
        cl.set_num_threads(n)
        # 8.7 MB of columns in 4 MiB chunks: 3, rounded up to a multiple of the threads
        assert len(chunks(64, 2 * 25 * 26 * 26 * 4)) == {1: 3, 2: 4}[n]
        results[n] = (cl.conv2d(x, w), *cl.conv2d_backward(g, x, w))
    terms = conv_terms(x.shape, w.shape, g.shape)
    for name, one, two in zip(("out", "grad_x", "grad_w", "grad_b"), results[1], results[2]):
        assert_close(two, one, terms[name], err_msg=name)


def test_same_settings_give_identical_results(rng, threads):
    """Bit identity is promised for the same call with the same settings."""
    x, w, g = big_case(rng)
    cl.set_num_threads(3)
    first = (cl.conv2d(x, w), *cl.conv2d_backward(g, x, w))
    again = (cl.conv2d(x, w), *cl.conv2d_backward(g, x, w))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_small_problems_and_other_threads_stay_sequential(rng, threads):
    cl.set_num_threads(4)
    assert len(chunks(64, 96 << 10)) == 2  # 6 MiB: two cache-sized chunks, too little to share out
    assert len(chunks(64, 2 * 25 * 26 * 26 * 4)) == 4  # 8.7 MB: 3 chunks, rounded up to 1 x 4 threads
    seen = []
    t = threading.Thread(target=lambda: seen.append(parallel.workers()))
    t.start()
    t.join()
    assert seen == [1] and parallel.workers() == 4
    assert parallel.map_chunks(lambda i: i * i, [1, 2, 3]) == [1, 4, 9]


@pytest.mark.parametrize("bad,error", [(0, ValueError), (1.5, TypeError)])
def test_set_num_threads_checks(bad, error, threads):
    with pytest.raises(error, match="num_threads"):
        cl.set_num_threads(bad)


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_environment_variable_sets_the_default():
    done = run_python("import cnnlab; print(cnnlab.get_num_threads())", CNNLAB_NUM_THREADS="3")
    assert done.returncode == 0 and done.stdout.strip() == "3", done.stderr
    bad = run_python("import cnnlab", CNNLAB_NUM_THREADS="many")
    assert bad.returncode != 0 and "CNNLAB_NUM_THREADS must be a whole number >= 1, got 'many'" in bad.stderr


def test_scratch_of_every_thread_is_counted_and_released(rng, threads, monkeypatch):
    """Scratch memory of the pool threads, not only the caller's, is counted and freed
    (in the im2col engine, whose columns are the big temporaries; the direct path's
    scratch is tested in test_direct.py)."""
    monkeypatch.setattr("cnnlab.engine.direct._lib", None)
    x = rng.standard_normal((64, 32, 28, 28)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    cl.set_num_threads(2)
    cl.release_scratch()
    assert cl.scratch_nbytes() == 0
    y = cl.conv2d(x, w, padding=1)
    cl.conv2d_backward(np.ones_like(y), x, w, padding=1)
    held = cl.scratch_nbytes()
    # each of the two threads holds one 4 MiB chunk's columns and gradient columns
    # (four images, 3.6 MB each here), not the batch's 58 MB
    assert 12 << 20 < held < 24 << 20
    seen = []
    t = threading.Thread(target=lambda: (cl.conv2d(x[:2], w), seen.append(cl.scratch_nbytes())))
    t.start()
    t.join()
    assert seen[0] > held  # another thread's scratch counts too
    cl.release_scratch()
    assert cl.scratch_nbytes() == 0
    assert_close(cl.conv2d(x[:4], w, padding=1), y[:4], conv_terms(x.shape, w.shape, y.shape)["out"])
