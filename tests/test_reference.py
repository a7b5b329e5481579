"""The readable tiers against each other and the engine: plain loops, plain
im2col + one GEMM, and cnnlab.conv2d compute the same numbers."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab as cl
from cnnlab import reference
from cnnlab.gradcheck import check_backward

from tolerance import GRADS, assert_close, conv_terms


@st.composite
def im2col_cases(draw):
    """The readable tier's arguments: stride and per-side padding, no groups or dilation."""
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, kh - 2 * padding[0]), 9))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), 9))
    r = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    x = r.standard_normal((draw(st.integers(1, 3)), c_in, h, w))
    return x, r.standard_normal((c_out, c_in, kh, kw)), r.standard_normal(c_out), dict(stride=stride, padding=padding)


@given(im2col_cases())
def test_im2col_tier_equals_loops_and_engine(case):
    x, w, b, kw = case
    readable = reference.conv2d_im2col(x, w, b, **kw)
    terms = conv_terms(x.shape, w.shape, readable.shape)
    assert_close(readable, reference.conv2d(x, w, b, **kw), terms["out"] + 1)
    assert_close(readable, cl.conv2d(x, w, b, **kw), terms["out"] + 1)
    g = np.random.default_rng(1).standard_normal(readable.shape)
    ours = reference.conv2d_im2col_backward(g, x, w, **kw)
    for name, a, loops, engine in zip(GRADS, ours, reference.conv2d_backward(g, x, w, **kw),
                                      cl.conv2d_backward(g, x, w, **kw)):
        assert_close(a, loops, terms[name], err_msg=name)
        assert_close(a, engine, terms[name], err_msg=name)


def test_reference_im2col_is_the_layout_of_cnnlab_im2col(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    for kw in (dict(), dict(stride=2), dict(stride=(2, 1), padding=(1, 2))):
        np.testing.assert_array_equal(reference.im2col(x, (3, 2), **kw), cl.im2col(x, (3, 2), **kw))  # copies only
        cols = rng.standard_normal(cl.im2col(x, (3, 2), **kw).shape)
        assert_close(reference.col2im(cols, x.shape, (3, 2), **kw), cl.col2im(cols, (7, 6), (3, 2), **kw), 6)


def test_im2col_tier_gradients(rng):
    x, w, b = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    errors = check_backward(reference.conv2d_im2col, reference.conv2d_im2col_backward, x, w, b, stride=2, padding=1)
    assert set(errors) == {"x", "weight", "bias"} and max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("padding", ["same", "valid", "full", (1, 2)])
def test_loops_take_the_padding_strings_of_conv2d(rng, padding):
    x, w = rng.standard_normal((1, 2, 6, 7)), rng.standard_normal((2, 2, 2, 3))
    out = reference.conv2d(x, w, padding=padding)
    assert_close(out, cl.conv2d(x, w, padding=padding), w[0].size)
    g = np.ones_like(out)
    for name, a, b in zip(GRADS, reference.conv2d_backward(g, x, w, padding=padding),
                          cl.conv2d_backward(g, x, w, padding=padding)):
        assert_close(a, b, conv_terms(x.shape, w.shape, out.shape)[name], err_msg=name)
