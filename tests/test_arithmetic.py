"""Size formulas: property tests against the kernels' real output shapes, and
the figures of the syllabus (section 3) as fixed cases."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab as cl
from cnnlab import arithmetic as ar

geometry = st.tuples(st.integers(1, 12), st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3))


@given(geometry)
def test_conv_output_size_is_the_real_shape(g):
    i, k, s, p, d = g
    x, w = np.zeros((1, 1, i, 3)), np.zeros((1, 1, k, 1))
    try:
        o = ar.conv_output_size(i, k, s, p, d)
    except ValueError:
        assert d * (k - 1) + 1 > i + 2 * p  # the only reason to refuse
        with pytest.raises(ValueError, match="kernel_size"):
            cl.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1))
        return
    assert o == (i + 2 * p - d * (k - 1) - 1) // s + 1 >= 1
    assert cl.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1)).shape[2] == o


@given(geometry, st.integers(0, 3))
def test_conv_transpose_output_size_is_the_real_shape(g, op):
    i, k, s, p, d = g
    if op >= max(s, d) or (i - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
        with pytest.raises(ValueError):
            ar.conv_transpose_output_size(i, k, s, p, op, d)
        return
    o = ar.conv_transpose_output_size(i, k, s, p, op, d)
    y = cl.conv_transpose2d(np.zeros((1, 1, i, 2)), np.zeros((1, 1, k, 1)), stride=(s, 1), padding=(p, 0),
                            output_padding=(op, 0), dilation=(d, 1))
    assert y.shape[2] == o
    # and a convolution with the same geometry maps that size back to i
    assert ar.conv_output_size(o, k, s, p, d) == i


@given(geometry, st.booleans())
def test_pool_output_size_floor_and_ceil(g, ceil):
    i, k, s, p, d = g
    if p > k // 2 or d * (k - 1) + 1 > i + 2 * p:
        with pytest.raises(ValueError):
            ar.pool_output_size(i, k, s, p, d, ceil)
        return
    o = ar.pool_output_size(i, k, s, p, d, ceil)
    floor = (i + 2 * p - d * (k - 1) - 1) // s + 1
    assert o in (floor, floor + 1) and (ceil or o == floor)
    assert (o - 1) * s < i + p  # the last window starts inside the input or its left padding
    assert cl.max_pool2d(np.zeros((1, 1, i, 1)), (k, 1), (s, 1), (p, 0), (d, 1), ceil).shape[2] == o


@pytest.mark.parametrize("i,k,s,p,o", [(4, 3, 1, 0, 2), (5, 4, 1, 2, 6), (5, 3, 1, 1, 5), (5, 3, 1, 2, 7),
                                       (5, 3, 2, 0, 2), (5, 3, 2, 1, 3), (6, 3, 2, 1, 3)])
def test_syllabus_figures(i, k, s, p, o):
    assert ar.conv_output_size(i, k, s, p) == o
    assert cl.conv2d(np.ones((1, 1, i, i)), np.ones((1, 1, k, k)), stride=s, padding=p).shape == (1, 1, o, o)


def test_uncovered_cells_for_i6_k3_s2_p1():
    mask = ar.covered_cells(6, 3, 2, 1)
    assert mask.tolist() == [True] * 7 + [False]  # the last padded row/column is never read
    assert ar.covered_cells(5, 3, 2, 1).all()


def test_relationships_and_modes():
    for i in range(3, 10):
        for k in (1, 3, 5):
            if k <= i:
                assert ar.conv_output_size(i, k) == i - k + 1  # relationship 1
                assert ar.conv_output_size(i, k, padding="valid") == i - k + 1
            assert ar.conv_output_size(i, k, padding=k // 2) == i  # relationship 3 (half padding)
            assert ar.conv_output_size(i, k, padding="same") == i
            assert ar.conv_output_size(i, k, padding=k - 1) == i + k - 1  # relationship 4 (full)
            assert ar.conv_output_size(i, k, padding="full") == i + k - 1
    assert ar.effective_kernel_size(3, 2) == 5  # a 3x3 kernel with d=2 sees 5x5
    assert ar.padding_amounts("same", 4) == (1, 2)  # even kernels pad one more after
    assert ar.padding_amounts("same", 3, dilation=2) == (2, 2)
    assert ar.padding_amounts((1, 2), 3) == (1, 2)


def test_pooling_floor_versus_ceil():
    assert ar.pool_output_size(5, 2, 2) == 2 and ar.pool_output_size(5, 2, 2, ceil_mode=True) == 3
    assert ar.pool_output_size(6, 2, 2) == ar.pool_output_size(6, 2, 2, ceil_mode=True) == 3
    # the last ceil-mode window may not start in the right padding only
    assert ar.pool_output_size(4, 2, 2, padding=1, ceil_mode=True) == 3


def test_transposed_sizes_from_the_syllabus():
    assert ar.conv_transpose_output_size(2, 4, 3) == 7  # (i-1)s + k
    assert ar.conv_output_size(5, 3, 2) == 2 and ar.conv_transpose_output_size(2, 3, 2) == 5
    assert ar.conv_transpose_output_size(3, 3, 2, output_padding=1) == 8


def test_adaptive_bins_cover_every_cell():
    for i in range(1, 20):
        for o in range(1, 8):
            start, end = ar.adaptive_bins(i, o)
            assert start[0] == 0 and end[-1] == i and np.all(end > start)
            assert np.all(start[1:] <= end[:-1])  # no gaps between neighbours
            np.testing.assert_array_equal(start, np.floor(np.arange(o) * i / o).astype(int))
            np.testing.assert_array_equal(end, np.ceil((np.arange(o) + 1) * i / o).astype(int))


def test_spp_windows_of_the_paper():
    assert [ar.spp_bin_window(13, n) for n in (3, 2, 1)] == [(5, 4), (7, 6), (13, 13)]
    assert [ar.conv_output_size(13, *ar.spp_bin_window(13, n)) for n in (3, 2, 1)] == [3, 2, 1]
    win, stride = ar.spp_bin_window(14, 3)
    assert ar.conv_output_size(14, win, stride) == 3
    assert ar.covered_cells(14, win, stride).tolist()[-1] is False  # the 14th row is never pooled


def test_receptive_fields():
    assert ar.receptive_field([(3, 1), (3, 1)]) == [(3, 1), (5, 1)]  # two 3x3 see 5x5 (VGG)
    assert ar.receptive_field([(3, 1)] * 3)[-1] == (7, 1)
    assert ar.receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)])[-1] == (16, 4)  # LeNet up to S4
    assert ar.receptive_field([(3, 1, 2)])[-1] == (5, 1)


def test_parameter_and_connection_counts():
    # syllabus section 1: AlexNet conv1
    assert 55 * 55 * 96 == 290_400
    assert ar.conv_params(3, 96, (11, 11)) == 34_944
    assert ar.conv_connections(3, 96, (11, 11), (55, 55)) == 105_705_600
    assert ar.conv_params(3, 96, (11, 11), bias=False) == 34_848
    # LeNet-5 C1, and a depthwise separable layer
    assert ar.conv_params(1, 6, (5, 5)) == 156 and ar.conv_connections(1, 6, (5, 5), (28, 28)) == 122_304
    assert ar.conv_params(3, 256, (3, 3), bias=False) == 6_912
    assert ar.conv_params(3, 3, (3, 3), groups=3, bias=False) + ar.conv_params(3, 256, (1, 1), bias=False) == 795
    with pytest.raises(ValueError, match="groups"):
        ar.conv_params(3, 4, 3, groups=2)
