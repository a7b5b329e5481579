"""The worked examples of the syllabus (sections 2 and 6), computed with cnnlab."""
import numpy as np

import cnnlab as cl
from cnnlab import filters


def one(a):
    """A 2-D array as a (1, 1, H, W) batch."""
    return np.asarray(a, dtype=float)[None, None]


def test_example_a_vertical_edge():
    img = [[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3],
           [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8], [2, 4, 5, 2, 3, 9]]
    out = cl.conv2d(one(img), one(filters.get("vertical_edge")))[0, 0]
    np.testing.assert_array_equal(out, [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]])


def test_example_b_edge_band_and_horizontal_edges():
    img = np.repeat([[10, 10, 10, 0, 0, 0]], 6, axis=0)
    out = cl.conv2d(one(img), one(filters.get("vertical_edge")))[0, 0]
    np.testing.assert_array_equal(out, [[0, 30, 30, 0]] * 4)
    # rotating the filter by 90 degrees finds horizontal edges instead
    out = cl.conv2d(one(img.T), one(np.rot90(filters.get("vertical_edge"), -1)))[0, 0]
    np.testing.assert_array_equal(out, np.array([[0, 30, 30, 0]] * 4).T)


def test_example_c_binary_image():
    img = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
    out = cl.conv2d(one(img), one([[1, 0, 1], [0, 1, 0], [1, 0, 1]]))[0, 0]
    np.testing.assert_array_equal(out, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_example_d_convolution_versus_correlation():
    x, k = one([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float)
    true_conv = cl.conv2d(x, one(np.rot90(k, 2)), padding="same")[0, 0]
    np.testing.assert_array_equal(true_conv, [[-13, -20, -17], [-18, -24, -18], [13, 20, 17]])
    np.testing.assert_array_equal(cl.conv2d(x, one(k), padding="same")[0, 0], -true_conv)


def test_multichannel_input_sums_per_channel_correlations(rng):
    img, ker = rng.standard_normal((1, 3, 6, 6)), rng.standard_normal((1, 3, 3, 3))
    out = cl.conv2d(img, ker)
    assert out.shape == (1, 1, 4, 4)
    per_channel = sum(cl.conv2d(img[:, c:c + 1], ker[:, c:c + 1]) for c in range(3))
    np.testing.assert_allclose(out, per_channel)


def test_mean_pool_upsampling():
    delta = one([[1, 3], [2, 4]])
    up = cl.avg_pool2d_backward(delta, np.zeros((1, 1, 4, 4)), 2)[0, 0]
    np.testing.assert_allclose(up, [[.25, .25, .75, .75], [.25, .25, .75, .75], [.5, .5, 1, 1], [.5, .5, 1, 1]])
    np.testing.assert_allclose(up, np.kron(delta[0, 0], np.ones((2, 2)) / 4))


def input_with_maxima(corners):
    """A 4x4 input whose 2x2 windows (row-major) peak at the given corners."""
    offsets = {"top-left": (0, 0), "top-right": (0, 1), "bottom-left": (1, 0), "bottom-right": (1, 1)}
    x = np.zeros((4, 4))
    for (wi, wj), corner in zip([(0, 0), (0, 1), (1, 0), (1, 1)], corners):
        di, dj = offsets[corner]
        x[2 * wi + di, 2 * wj + dj] = 1
    return one(x)


def test_max_pool_routing():
    x = input_with_maxima(["bottom-right", "top-right", "top-left", "bottom-left"])
    up = cl.max_pool2d_backward(one([[1, 3], [2, 4]]), x, 2)[0, 0]
    np.testing.assert_array_equal(up, [[0, 0, 0, 3], [0, 1, 0, 0], [2, 0, 0, 0], [0, 0, 4, 0]])
    x = input_with_maxima(["top-left", "bottom-right", "top-right", "bottom-left"])
    delta = one([[4, 12], [8, 16]])
    up = cl.max_pool2d_backward(delta, x, 2)[0, 0]
    np.testing.assert_array_equal(up, [[4, 0, 0, 0], [0, 0, 0, 12], [0, 8, 0, 0], [0, 0, 16, 0]])
    avg = cl.avg_pool2d_backward(delta, x, 2)[0, 0]
    np.testing.assert_array_equal(avg, [[1, 1, 3, 3], [1, 1, 3, 3], [2, 2, 4, 4], [2, 2, 4, 4]])


def test_input_delta_is_a_full_convolution():
    k1, k2 = np.array([[.1, .2], [.2, .4]]), np.array([[-.3, .1], [.1, .2]])
    d1, d2 = np.array([[1, 3], [2, 2]], float), np.array([[2, 1], [1, 1]], float)
    full = [cl.conv2d(one(d), one(np.rot90(k, 2)), padding="full")[0, 0] for d, k in ((d1, k1), (d2, k2))]
    np.testing.assert_allclose(full[0], [[.1, .5, .6], [.4, 1.6, 1.6], [.4, 1.2, .8]])
    np.testing.assert_allclose(full[1], [[-.6, -.1, .1], [-.1, .3, .3], [.1, .3, .2]])
    expect = [[-.5, .4, .7], [.3, 1.9, 1.9], [.5, 1.5, 1.0]]
    np.testing.assert_allclose(full[0] + full[1], expect)
    # the same from conv2d_backward: one 3x3 input map, two 2x2 kernels
    grad_x, _, _ = cl.conv2d_backward(np.stack([d1, d2])[None], np.zeros((1, 1, 3, 3)), np.stack([k1, k2])[:, None])
    np.testing.assert_allclose(grad_x[0, 0], expect)
    # the notes' "0.3 = 2*.2 + 1*.1 + 1*.1 - 1*.3" is the first entry of the middle row
    assert np.isclose(grad_x[0, 0, 1, 0], 2 * .2 + 1 * .1 + 1 * .1 - 1 * .3)


def test_kernel_and_bias_gradients():
    magic4 = np.array([[16, 2, 3, 13], [5, 11, 10, 8], [9, 7, 6, 12], [4, 14, 15, 1]], float)
    delta = np.array([[.8, .1, -.6], [.3, .5, .7], [-.4, 0, -.2]])
    _, dk, db = cl.conv2d_backward(one(delta), one(magic4), np.zeros((1, 1, 2, 2)))
    np.testing.assert_allclose(dk[0, 0], [[20.4, 2.8], [4.9, 12.7]])
    np.testing.assert_allclose(db, [1.2])
    # dK is the valid correlation of the input with the delta
    np.testing.assert_allclose(cl.conv2d(one(magic4), one(delta))[0, 0], dk[0, 0])
