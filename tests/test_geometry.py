"""Footprints, overlap counts, upsampling and convolution matrices (cnnlab.geometry)."""
import numpy as np
import pytest

import cnnlab as cl
from cnnlab import arithmetic, reference
from cnnlab.teach import geometry

from tolerance import assert_close


def test_footprint_one_axis():
    assert geometry.footprint(2, 3, stride=2).tolist() == [4, 5, 6]
    assert geometry.footprint(1, 3, stride=1, dilation=2).tolist() == [1, 3, 5]
    with pytest.raises(ValueError, match="out_index=3"):
        geometry.footprint(3, 3, stride=2, padding=1, size=5)  # output has 3 cells


def test_footprint_2d_mask_and_padding_mask():
    mask = geometry.footprint_2d((1, 2), (7, 7), 3, stride=2)
    assert mask.sum() == 9
    assert np.array_equal(np.argwhere(mask)[[0, -1]], [[2, 4], [4, 6]])
    pad = geometry.padded_grid_mask((5, 4), (1, 2))
    assert pad.shape == (7, 8) and (~pad).sum() == 20 and pad[0].all() and pad[:, :2].all()


@pytest.mark.parametrize("i,k,s,p,d", [(6, 3, 2, 1, 1), (5, 3, 2, 0, 1), (7, 3, 1, 0, 2), (9, 4, 3, 2, 1)])
def test_covered_matches_arithmetic(i, k, s, p, d):
    o = arithmetic.conv_output_size(i, k, s, p, d)
    assert np.array_equal(geometry.covered_1d(o, i + 2 * p, k, s, d), arithmetic.covered_cells(i, k, s, p, d))


def test_never_covered_row_for_6_3_2_1():
    cov = geometry.covered_1d(3, 8, 3, 2)
    assert cov.tolist() == [True] * 7 + [False]


@pytest.mark.parametrize("size,k,s", [((4, 4), 3, 2), ((3, 5), 4, 2), ((5, 2), (3, 2), (2, 3)), ((2, 2), 4, 3)])
def test_overlap_2d_is_outer_product_of_1d(size, k, s):
    k2, s2 = (k, k) if np.isscalar(k) else k, (s, s) if np.isscalar(s) else s
    rows = geometry.overlap_counts_1d(size[0], k2[0], s2[0])
    cols = geometry.overlap_counts_1d(size[1], k2[1], s2[1])
    assert np.array_equal(geometry.overlap_counts_2d(size, k, s), np.outer(rows, cols))


def test_overlap_counts_values_and_unevenness():
    assert geometry.overlap_counts_1d(4, 3, 2).tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    assert geometry.overlap_counts_1d(4, 4, 2).tolist() == [1, 1, 2, 2, 2, 2, 2, 2, 1, 1]
    assert geometry.unevenness(geometry.overlap_counts_1d(6, 3, 2), margin=2) == 2.0
    assert geometry.unevenness(geometry.overlap_counts_2d(6, 3, 2), margin=2) == 4.0  # squared in 2-d
    assert geometry.unevenness(geometry.overlap_counts_2d(6, 4, 2), margin=3) == 1.0
    assert np.isnan(geometry.unevenness(np.ones((3, 3)), margin=2))


def test_upsample_nearest_is_kron():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    assert np.array_equal(geometry.upsample(x, 2)[0, 0], np.kron(x[0, 0], np.ones((2, 2))))


def test_upsample_bilinear_known_example():
    # F.interpolate([[1, 2], [3, 4]], scale_factor=2, mode='bilinear', align_corners=False)
    want = [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3.0, 3.25, 3.75, 4.0]]
    got = geometry.upsample(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), 2, "bilinear")[0, 0]
    assert np.allclose(got, want)


def test_upsample_bilinear_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 3, 4, 5))
    for f in (2, 3):
        want = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=f, mode="bilinear",
                                               align_corners=False).numpy()
        assert_close(geometry.upsample(x, f, "bilinear"), want, 4)  # 4 weighted neighbours


def test_upsample_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        geometry.upsample(np.ones((1, 1, 2, 2)), 2, "cubic")


def test_zero_insert():
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    z = geometry.zero_insert(x, 3)[0, 0]
    assert z.shape == (4, 4) and z[0, 3] == 2 and z[3, 3] == 4 and z.sum() == 10


@pytest.mark.parametrize("i,k,s,p", [(5, 3, 2, 0), (5, 3, 1, 1), (6, 4, 2, 1), (4, 2, 3, 0)])
def test_conv_matrix_forward_and_transpose(rng, i, k, s, p):
    w = rng.normal(size=(2, 3, k, k))
    C = geometry.conv_matrix((3, i, i), w, stride=s, padding=p)
    x = rng.normal(size=(1, 3, i, i))
    y = cl.conv2d(x, w, stride=s, padding=p)
    assert_close(C @ x.ravel(), y.ravel(), C.shape[1])
    op = i - arithmetic.conv_transpose_output_size(y.shape[2], k, s, p)
    g = rng.normal(size=y.shape)
    xt = cl.conv_transpose2d(g, w, stride=s, padding=p, output_padding=op)
    assert_close(C.T @ g.ravel(), xt.ravel(), C.shape[0])
    assert_close(xt, reference.conv_transpose2d(g, w, stride=s, padding=p, output_padding=op), 2 * k * k)


def test_zero_insertion_view_of_transposed_conv(rng):
    x, w = rng.normal(size=(1, 1, 3, 3)), rng.normal(size=(1, 1, 3, 3))
    z = geometry.zero_insert(x, 2)
    direct = cl.conv2d(z, w[:, :, ::-1, ::-1].copy(), padding=2)
    assert_close(direct, cl.conv_transpose2d(x, w, stride=2), w.size)


@pytest.mark.parametrize("f,k", [(2, 3), (2, 4), (3, 3)])
def test_resize_conv_equals_transposed_conv_with_summed_kernel(rng, f, k):
    x, w = rng.normal(size=(1, 1, 4, 4)), rng.normal(size=(k, k))
    a = geometry.resize_conv(x, w, f, "nearest", padding=0)[0, 0]
    g = geometry.resize_conv_kernel(w, f)
    assert g.shape == (k + f - 1, k + f - 1)
    b = cl.conv_transpose2d(x, g[None, None], stride=f)[0, 0]
    assert_close(a, b[k - 1:b.shape[0] - k + 1, k - 1:b.shape[1] - k + 1], g.size)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_resize_conv_constant_input_is_constant_inside(method):
    y = geometry.resize_conv(np.ones((1, 1, 6, 6)), np.ones((3, 3)), 2, method)[0, 0]
    m = geometry.border_margin(3, 2, 1, method)
    assert y.shape == (12, 12) and np.allclose(y[m:-m, m:-m], 9.0)


def test_resize_conv_matrix(rng):
    w = rng.normal(size=(3, 3))
    M = geometry.resize_conv_matrix((3, 3), w, 2, "bilinear")
    x = rng.normal(size=(1, 1, 3, 3))
    assert M.shape == (36, 9)
    assert_close(M @ x.ravel(), geometry.resize_conv(x, w, 2, "bilinear").ravel(), M.shape[1] * w.size)


def test_stacked_transposed_layers_and_margin():
    outs = geometry.stacked_upsampling(np.ones((1, 1, 6, 6)), np.ones((3, 3)), 2, 2)
    assert [o.shape[-1] for o in outs] == [13, 27]
    m = geometry.border_margin(3, 2, 2)
    assert m == 6 and geometry.unevenness(outs[-1][0, 0], m) == 9.0  # 1-d interior 1, 3, 2, 3: ratio 3 per axis
    with pytest.raises(ValueError, match="method"):
        geometry.stacked_upsampling(np.ones((1, 1, 2, 2)), np.ones((2, 2)), 1, 2, "cubic")


@pytest.mark.parametrize("i,k,s,p,op", [(3, 3, 2, 0, 0), (3, 3, 2, 1, 0), (2, 4, 3, 0, 0),
                                        (3, 3, 2, 1, 1), (4, 2, 1, 1, 0)])
def test_conv_transpose2d_direct_matches_kernel(rng, i, k, s, p, op):
    x, w = rng.normal(size=(2, 3, i, i + 1)), rng.normal(size=(3, 2, k, k))
    want = cl.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op)
    assert_close(geometry.conv_transpose2d_direct(x, w, s, p, op), want, w.shape[0] * k * k)


def test_conv_transpose2d_direct_rejects_large_padding():
    with pytest.raises(ValueError, match="padding"):
        geometry.conv_transpose2d_direct(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), 2, 3)
