"""Bad input gets a ValueError or TypeError that names the parameter and the values."""
import numpy as np
import pytest

import cnnlab as cl
from cnnlab import arithmetic as ar

X = np.zeros((1, 2, 5, 5))
W = np.zeros((3, 2, 3, 3))


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(stride=0), ValueError, r"stride must be >= 1, got 0"),
    (dict(stride=1.5), TypeError, r"stride must contain integers, got 1.5"),
    (dict(stride=True), TypeError, r"stride must contain integers"),
    (dict(dilation=0), ValueError, r"dilation must be >= 1"),
    (dict(padding=-1), ValueError, r"padding must be >= 0, got -1"),
    (dict(stride=(1, 1, 1)), ValueError, r"stride must be an int or a tuple of 2 ints, got \(1, 1, 1\)"),
    (dict(padding=(1, 1, 1)), ValueError, r"padding must be an int, a string or a tuple of 2"),
    (dict(padding="half"), ValueError, r"padding must be .*'valid', 'same', 'full'.*got 'half'"),
    (dict(padding="same", stride=2), ValueError, r"padding='same' needs stride=1, got stride=2"),
    (dict(groups=2), ValueError, r"groups=2 must divide out_channels .*=3"),
    (dict(groups=0), ValueError, r"groups must be >= 1"),
])
def test_conv_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        cl.conv2d(X, W, **kwargs)


def test_conv_shapes():
    with pytest.raises(ValueError,
                       match=r"kernel_size=7 .* larger than the padded input \(size 5 \+ padding 0\+0 = 5\)"):
        cl.conv2d(X, np.zeros((1, 2, 7, 3)))
    with pytest.raises(ValueError, match=r"input has 2 channels but weight \(3, 4, 3, 3\) with groups=1 expects 4"):
        cl.conv2d(X, np.zeros((3, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\).*got \(2,\)"):
        cl.conv2d(X, W, np.zeros(2))
    with pytest.raises(ValueError, match=r"input must be 4-dimensional, got shape \(2, 5, 5\)"):
        cl.conv2d(X[0], W)
    with pytest.raises(ValueError, match=r"weight must be 4-dimensional"):
        cl.conv2d(X, W[0])
    with pytest.raises(ValueError, match=r"input must be 3-dimensional"):
        cl.conv1d(X, W)
    with pytest.raises(TypeError, match=r"input must be a real numeric array, got dtype <U1"):
        cl.conv2d(np.full((1, 2, 5, 5), "a"), W)
    with pytest.raises(TypeError, match=r"complex"):
        cl.conv2d(X.astype(complex), W)


def test_backward_checks_grad_out():
    with pytest.raises(ValueError, match=r"grad_out must have shape \(1, 3, 3, 3\), got \(1, 3, 4, 4\)"):
        cl.conv2d_backward(np.zeros((1, 3, 4, 4)), X, W)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(1, 2, 2, 2\)"):
        cl.max_pool2d_backward(np.zeros((1, 2, 3, 3)), X, 2)
    with pytest.raises(ValueError, match=r"grad_out must have shape"):
        cl.avg_pool2d_backward(np.zeros((1, 2, 3, 3)), X, 2)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(1, 3, 7, 7\)"):
        cl.conv_transpose2d_backward(np.zeros((1, 3, 5, 5)), X, np.zeros((2, 3, 3, 3)))


def test_transposed_conv_arguments():
    wt = np.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"output_padding=2 must be smaller than stride=2 or dilation=1"):
        cl.conv_transpose2d(X, wt, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"input has 2 channels but conv_transpose weight \(3, 3, 3, 3\) expects 3"):
        cl.conv_transpose2d(X, np.zeros((3, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        cl.conv_transpose2d(X, wt, np.zeros(2))
    with pytest.raises(ValueError, match=r"padding=5 is too large"):
        cl.conv_transpose2d(X, wt, padding=5)
    with pytest.raises(ValueError, match=r"groups=2 must divide in_channels"):
        cl.conv_transpose2d(np.zeros((1, 3, 4, 4)), np.zeros((3, 1, 3, 3)), groups=2)


def test_pool_arguments():
    with pytest.raises(ValueError, match=r"pool padding=2 must be at most half the kernel_size=3"):
        cl.max_pool2d(X, 3, padding=2)
    with pytest.raises(ValueError, match=r"pool kernel_size=7 .* larger than the padded input \(5\)"):
        cl.avg_pool2d(X, 7)
    with pytest.raises(ValueError, match=r"stride must be >= 1"):
        cl.max_pool2d(X, 2, stride=0)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a tuple of 2 ints"):
        cl.max_pool2d(X, (2, 2, 2))
    with pytest.raises(ValueError, match=r"input must be 4-dimensional"):
        cl.max_pool2d(X[0], 2)
    with pytest.raises(ValueError, match=r"mode must be 'max' or 'avg', got 'min'"):
        cl.spatial_pyramid_pool(X, mode="min")
    with pytest.raises(ValueError, match=r"output_size must be >= 1"):
        cl.adaptive_avg_pool2d(X, 0)


def test_loss_arguments():
    z = np.zeros((2, 3))
    with pytest.raises(TypeError, match=r"target must hold integer class labels, got dtype float64"):
        cl.cross_entropy(z, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"target labels must lie in \[0, 2\], got range \[0, 3\]"):
        cl.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\), got \(3,\)"):
        cl.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none', got 'max'"):
        cl.cross_entropy(z, np.array([0, 1]), reduction="max")
    with pytest.raises(ValueError, match=r"target must have shape \(2, 3\)"):
        cl.mse(z, np.zeros(3))


def test_arithmetic_arguments():
    with pytest.raises(ValueError, match=r"padding for one axis must be an int or \(before, after\)"):
        ar.padding_amounts((1, 2, 3), 3)
    with pytest.raises(ValueError, match=r"input size must be >= 1, got 0"):
        ar.conv_output_size(0, 3)
    with pytest.raises(TypeError, match=r"kernel_size must contain integers"):
        ar.conv_output_size(5, 2.0)
    with pytest.raises(ValueError, match=r"col"):
        cl.col2im(np.zeros((1, 5, 4)), (4, 4), 2)
