"""Locally connected layer: checked against a direct per-position computation and conv2d."""
import numpy as np
import pytest

import cnnlab as cl
from cnnlab.functional.local import local_conv2d

from tolerance import assert_close


def direct(x, weight, bias, stride, padding):
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    oh, ow, c_out, _, kh, kw = weight.shape
    out = np.zeros((x.shape[0], c_out, oh, ow))
    for r in range(oh):
        for c in range(ow):
            patch = xp[:, :, r * stride:r * stride + kh, c * stride:c * stride + kw]
            out[:, :, r, c] = np.einsum("nchw,ochw->no", patch, weight[r, c]) + bias[:, r, c]
    return out


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_matches_direct_computation(rng, stride, padding):
    x = rng.standard_normal((2, 3, 7, 6))
    oh = (7 + 2 * padding - 3) // stride + 1
    ow = (6 + 2 * padding - 2) // stride + 1
    weight = rng.standard_normal((oh, ow, 4, 3, 3, 2))
    bias = rng.standard_normal((4, oh, ow))
    assert_close(local_conv2d(x, weight, bias, stride, padding), direct(x, weight, bias, stride, padding),
                 3 * 3 * 2 + 1)


def test_shared_weights_reduce_to_conv2d(rng):
    x, k = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((5, 3, 3, 3))
    tiled = np.broadcast_to(k, (4, 4) + k.shape)
    assert_close(local_conv2d(x, tiled), cl.conv2d(x, k), k[0].size)


def test_bad_shapes_raise(rng):
    x = rng.standard_normal((1, 3, 6, 6))
    with pytest.raises(ValueError, match="C_in=2"):
        local_conv2d(x, np.zeros((4, 4, 1, 2, 3, 3)))
    with pytest.raises(ValueError, match="4x4"):
        local_conv2d(x, np.zeros((3, 3, 1, 3, 3, 3)))
    with pytest.raises(ValueError, match="bias must have shape"):
        local_conv2d(x, np.zeros((4, 4, 1, 3, 3, 3)), bias=np.zeros((1, 3, 3)))


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)])
def test_local_backward_gradcheck(rng, stride, padding):
    from cnnlab.functional.local import local_conv2d_backward
    from cnnlab.gradcheck import check_backward
    x = rng.standard_normal((2, 2, 5, 4))
    oh, ow = (5 + 2 * padding - 3) // stride + 1, (4 + 2 * padding - 2) // stride + 1
    weight, bias = rng.standard_normal((oh, ow, 3, 2, 3, 2)), rng.standard_normal((3, oh, ow))
    errors = check_backward(local_conv2d, local_conv2d_backward, x, weight, bias, stride=stride, padding=padding)
    assert set(errors) == {"x", "weight", "bias"} and max(errors.values()) < 1e-7, errors
