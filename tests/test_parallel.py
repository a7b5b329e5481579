"""Intra-op threads: same results with one thread or several, sequential off the main thread."""
import threading

import numpy as np
import pytest

import cnnlab as cl
from cnnlab import parallel
from cnnlab.conv import _chunks


@pytest.fixture
def threads():
    before = cl.get_num_threads()
    yield
    cl.set_num_threads(before)


def test_threads_split_big_batches_and_agree(rng, threads):
    x = rng.standard_normal((64, 2, 30, 30)).astype(np.float32)
    w = rng.standard_normal((6, 2, 5, 5)).astype(np.float32)
    g = rng.standard_normal((64, 6, 26, 26)).astype(np.float32)
    results = {}
    for n in (1, 3):
        cl.set_num_threads(n)
        assert len(_chunks(x, w, (26, 26))) == n  # 4.3 MB of columns: one chunk per thread
        results[n] = (cl.conv2d(x, w), *cl.conv2d_backward(g, x, w))
    np.testing.assert_array_equal(results[1][0], results[3][0])
    np.testing.assert_array_equal(results[1][1], results[3][1])
    gw1, gw3 = results[1][2], results[3][2]  # per-chunk sums add up in another order
    np.testing.assert_allclose(gw3, gw1, rtol=1e-4, atol=1e-5 * np.abs(gw1).max())


def test_small_problems_and_other_threads_stay_sequential(rng, threads):
    cl.set_num_threads(4)
    assert len(_chunks(np.zeros((64, 1, 8, 8)), np.zeros((2, 1, 3, 3)), (6, 6))) == 1
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
