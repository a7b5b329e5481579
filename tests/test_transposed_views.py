"""The checks behind notebook 04's figures that are too long for a teaching cell:
the size formula against the kernel's shapes, phase sums of a constant input,
resize-convolution as a sum of shifted deconvolution matrices, and the numbers
the answers to the notebook's exercise list give."""
import itertools

import numpy as np
import pytest

import cnnlab as cl
from cnnlab import arithmetic
from cnnlab.teach import geometry

from tolerance import assert_close


def test_size_formula_equals_the_shape_of_conv_transpose2d():
    count = 0
    for i, k, s, d, p in itertools.product(range(1, 5), range(1, 5), range(1, 4), (1, 2), range(0, 2)):
        for op in range(max(s, d)):
            o = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
            if o < 1:
                with pytest.raises(ValueError, match="< 1"):
                    arithmetic.conv_transpose_output_size(i, k, s, p, op, d)
                continue
            got = cl.conv_transpose2d(np.ones((1, 1, i, i)), np.ones((1, 1, k, k)), stride=s, padding=p,
                                      output_padding=op, dilation=d).shape[-1]
            assert got == o == arithmetic.conv_transpose_output_size(i, k, s, p, op, d)
            count += 1
    assert count == 400  # the number notebook 04 quoted before this moved here


@pytest.mark.parametrize("k,s", [(3, 2), (4, 2), (5, 3), (4, 3), (2, 2)])
def test_constant_input_gives_tiled_phase_sums(rng, k, s):
    w = rng.uniform(0.5, 1.5, (k, k))
    out = cl.conv_transpose2d(np.ones((1, 1, 10, 10)), w[None, None], stride=s)[0, 0]
    phase = geometry.phase_sums(w, s)
    m = k - 1  # the border cells miss some copies
    rows, cols = np.arange(m, out.shape[0] - m), np.arange(m, out.shape[1] - m)
    assert_close(out[m:-m, m:-m], phase[np.ix_(rows % s, cols % s)], k * k)
    assert np.isclose(geometry.unevenness(out, m), phase.max() / phase.min())


def test_phase_sums_non_square_stride():
    w = np.arange(12.0).reshape(3, 4)
    assert geometry.phase_sums(w, (2, 3)).tolist() == [[w[0::2, 0::3].sum(), w[0::2, 1::3].sum(), w[0::2, 2::3].sum()],
                                                       [w[1::2, 0::3].sum(), w[1::2, 1::3].sum(), w[1::2, 2::3].sum()]]


@pytest.mark.parametrize("f,k,i", [(2, 3, 4), (2, 4, 3), (3, 3, 3), (2, 1, 3)])
def test_resize_conv_is_the_sum_of_shifted_deconvolutions(rng, f, k, i):
    w = rng.normal(size=(k, k))
    M = geometry.resize_conv_matrix((i, i), w, f, "nearest", padding=0)
    parts = geometry.resize_conv_parts((i, i), w, f)
    assert len(parts) == f * f and all(part.shape == M.shape for part in parts)
    assert_close(M, sum(parts), k * k)
    # the same as one transposed convolution with the summed kernel g, cropped by k - 1 on every side
    copies = [np.pad(w[::-1, ::-1], ((u, f - 1 - u), (v, f - 1 - v))) for u in range(f) for v in range(f)]
    g = geometry.resize_conv_kernel(w, f)
    assert_close(sum(copies), g, f * f)
    n = (i - 1) * f + k + f - 1
    deconv = geometry.conv_matrix((n, n), g, stride=f).T.reshape(n, n, -1)[k - 1:n - k + 1, k - 1:n - k + 1]
    assert_close(M, deconv.reshape(-1, i * i), g.size)
    assert np.allclose(geometry.phase_sums(g, f), w.sum())  # equal phase sums: no checkerboard


# --- the answers to the exercise list at the end of notebook 04 --------------------------------

def test_answer_overlap_k5_s3():
    counts = geometry.overlap_counts_1d(6, 5, 3)
    assert counts[4:-4].tolist() == [2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2]
    assert geometry.unevenness(counts, 4) == 2.0
    assert geometry.unevenness(geometry.overlap_counts_2d(6, 5, 3), 4) == 4.0


def test_answer_even_3x3_kernel():
    tent = np.outer([0.5, 1, 0.5], [0.5, 1, 0.5])  # the bilinear-interpolation kernel
    assert np.allclose(geometry.phase_sums(tent, 2), 1.0)
    out = cl.conv_transpose2d(np.ones((1, 1, 8, 8)), tent[None, None], stride=2)[0, 0]
    assert np.allclose(out[2:-2, 2:-2], 1.0)


def test_answer_bilinear_is_a_transposed_conv(rng):
    x = rng.normal(size=(1, 1, 6, 6))
    kernel = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 16
    t = cl.conv_transpose2d(x, kernel[None, None], stride=2, padding=1)[0, 0]
    up = geometry.upsample(x, 2, "bilinear")[0, 0]
    assert t.shape == up.shape == (12, 12) and np.allclose(t[1:-1, 1:-1], up[1:-1, 1:-1])
    assert not np.allclose(t, up)  # the border differs: bilinear clamps, the transposed conv sees zeros
    # the kernel read off the matrix of bilinear upsampling (a resize-conv with a 1x1 kernel [[1]]):
    # the column of an interior input pixel (2, 2) is its 4x4 kernel copy, starting at 2*2 - padding 1 = 3
    M = geometry.resize_conv_matrix((6, 6), np.ones((1, 1)), 2, "bilinear")
    column = M[:, 2 * 6 + 2].reshape(12, 12)
    assert np.allclose(column[3:7, 3:7], kernel) and np.isclose(column.sum(), 4.0)


def test_answer_matrix_sparsity():
    w3, w4 = np.ones((3, 3)), np.ones((4, 4))
    nearest = geometry.resize_conv_matrix((8, 8), w3, 2, "nearest")
    bilinear = geometry.resize_conv_matrix((8, 8), w3, 2, "bilinear")
    t3 = geometry.conv_matrix((16, 16), w3, stride=2, padding=1).T  # k=3, s=2, p=1, output_padding=1: 8 -> 16
    t4 = geometry.conv_matrix((16, 16), w4, stride=2, padding=1).T  # k=4, s=2, p=1: 8 -> 16
    assert nearest.shape == bilinear.shape == t3.shape == t4.shape == (256, 64)
    nnz = [np.count_nonzero(m) for m in (t3, t4, nearest, bilinear)]
    assert nnz == [529, 900, 900, 1936]
