"""Networks on paper (cnnlab.nn.specs): counts equal the size and parameter formulas of
cnnlab.arithmetic, the layers a real network reports, and the published figures."""
import math

import numpy as np
import pytest

from cnnlab import arithmetic
from cnnlab.nn import architectures, models, specs
from cnnlab.nn.blocks import BatchNorm2d, Network, Residual
from cnnlab.nn.layers import Activation, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d


@pytest.mark.parametrize("c_in, c_out, k, s, p, groups, size", [
    (3, 96, 11, 4, 0, 1, 227), (48, 128, 5, 1, 2, 2, 27), (16, 16, 3, 2, 1, 16, 9),
    (5, 7, (3, 1), (2, 1), (1, 0), 1, 8)])
def test_conv_rows_are_the_arithmetic_formulas(c_in, c_out, k, s, p, groups, size):
    (row,) = specs.summary((c_in, size, size), [specs.conv(c_out, k, s, p, groups=groups)])
    kk, ss, pp = (v if isinstance(v, tuple) else (v, v) for v in (k, s, p))
    out = tuple(arithmetic.conv_output_size(size, ki, si, pi) for ki, si, pi in zip(kk, ss, pp))
    assert row.shape == (c_out, *out) and row.activations == c_out * math.prod(out)
    assert row.params == arithmetic.conv_params(c_in, c_out, kk, groups)
    assert row.macs == arithmetic.conv_connections(c_in, c_out, kk, out, groups, bias=False)


def test_fc_and_pool_rows():
    pool, fc = specs.summary((16, 5, 5), [specs.pool(2, ceil=True), specs.fc(10)])
    assert pool.shape == (16, 3, 3) and pool.params == pool.macs == 0
    assert fc.shape == (10,) and fc.params == 16 * 9 * 10 + 10 and fc.macs == 16 * 9 * 10


def test_lenet5_specs_match_the_real_network():
    shape, layer_specs = specs.lenet5()
    rows = specs.summary(shape, layer_specs)
    real = models.lenet5().summary()  # (name, maps, size, params, connections) of the weight and pooling layers
    assert len(real) == len(rows)
    for row, (name, maps, size, params, connections) in zip(rows, real):
        assert row.shape[0] == maps and row.params == params, name
        if len(row.shape) == 3:
            assert "x".join(map(str, row.shape[1:])) == size
        if row.name.startswith(("conv", "fc")):  # the real count adds one connection per bias
            assert connections == row.macs + math.prod(row.shape), name
    assert specs.totals(rows).params == sum(p.size for _, p, _ in models.lenet5().parameters()) == 61_706


def test_residual_network_specs_match_the_real_network(rng):
    model = Network([("stem", Conv2d(1, 4, 3, padding=1, bias=False)), ("bn", BatchNorm2d(4)),
                     ("a", Activation("relu")), ("res1", Residual(4, 4)), ("res2", Residual(4, 8, stride=2)),
                     ("gap", AvgPool2d(5)), ("flat", Flatten()), ("fc", Linear(8, 10))], (1, 10, 10))
    layer_specs = [specs.conv(4, 3, p=1, bias=False), specs.bn(), specs.basic(4, with_bn=True),
                   specs.basic(8, 2, with_bn=True, project=True), specs.gap(), specs.fc(10)]
    rows = specs.summary((1, 10, 10), layer_specs)
    assert specs.totals(rows).params == sum(p.size for _, p, _ in model.parameters())
    real = {name: row for name, *row in model.summary()}
    assert rows[3].params == real["res2"][2] and rows[3].macs == real["res2"][3]  # no biases with batch norm
    out = model.layers[4][1].forward(model.layers[3][1].forward(np.zeros((1, 4, 10, 10), np.float32)))
    assert rows[3].shape == out.shape[1:]


def test_expand_lists_the_layers_of_a_block_and_adds_up():
    shape = (192, 28, 28)
    module = [specs.inception(64, 96, 128, 16, 32, 32, name="3a")]
    (row,) = specs.summary(shape, module)
    parts = specs.summary(shape, module, expand=True)
    assert [p.name for p in parts] == ["3a/1x1", "3a/3x3.1", "3a/3x3.2", "3a/5x5.1", "3a/5x5.2", "3a/pool.1",
                                       "3a/pool.2"]
    total = specs.totals(parts)
    assert (total.params, total.macs, total.activations) == (row.params, row.macs, row.activations)


def test_inception_3a_with_and_without_reductions():
    shape = (192, 28, 28)
    naive = specs.summary(shape, [specs.inception(64, 96, 128, 16, 32, 32, reduce=False)])[0]
    reduced = specs.summary(shape, [specs.inception(64, 96, 128, 16, 32, 32)])[0]
    assert naive.params == 387_072 and naive.shape == (416, 28, 28)
    assert reduced.params == 163_328 and reduced.shape == (256, 28, 28)
    assert reduced.params - 192 * 32 == 157_184  # the CNN Q&A chapter's count leaves out the pool projection


def test_residual_blocks_and_separable_convolutions():
    bottleneck = specs.summary((256, 56, 56), [specs.bottleneck(64, 256)])[0]
    basic = specs.summary((64, 56, 56), [specs.basic(64)])[0]
    plain = specs.summary((256, 56, 56), [specs.conv(256, 3, p=1, bias=False)])[0]
    assert (bottleneck.params, basic.params, plain.params) == (69_632, 73_728, 589_824)
    sep = specs.summary((3, 32, 32), [specs.separable(256, 3)])[0]
    std = specs.summary((3, 32, 32), [specs.conv(256, 3, p=1, bias=False)])[0]
    assert (sep.params, std.params) == (795, 6_912)
    for c_in, c_out, k in ((3, 256, 3), (512, 512, 3), (32, 64, 5)):
        sep = specs.summary((c_in, 14, 14), [specs.separable(c_out, k, p=k // 2)])[0]
        std = specs.summary((c_in, 14, 14), [specs.conv(c_out, k, p=k // 2, bias=False)])[0]
        assert sep.macs / std.macs == pytest.approx(1 / c_out + 1 / k ** 2)  # MobileNet's cost ratio


def test_locally_connected_rows_match_local_conv_weights():
    (row,) = specs.summary((16, 63, 63), [specs.local(16, 9)])
    oh = arithmetic.conv_output_size(63, 9)
    weight, bias = (oh, oh, 16, 16, 9, 9), (16, oh, oh)  # the shapes cnnlab.local_conv2d takes
    assert row.params == math.prod(weight) + math.prod(bias) == 62_774_800
    assert row.macs == specs.summary((16, 63, 63), [specs.conv(16, 9)])[0].macs


PUBLISHED = {  # (parameters, multiply-adds) computed; the papers round them
    "lenet5": (61_706, 416_520),            # notebook 06
    "alexnet": (60_965_224, 724_406_816),   # "60 million parameters"
    "vgg16": (138_357_544, 15_470_264_320),
    "googlenet": (6_990_272, 1_582_671_872),  # Table 1 (its K are 1024); "1.5 billion multiply-adds"
    "resnet50": (25_557_032, 3_857_973_248),  # "3.8 x 10^9 FLOPs"
    "mobilenet": (4_231_976, 568_740_352),    # "4.2 million parameters, 569 million mult-adds"
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_architectures(name):
    shape, layer_specs = getattr(specs, name)()
    total = specs.totals(specs.summary(shape, layer_specs))
    assert (total.params, total.macs) == PUBLISHED[name]
    assert total.shape == ((10,) if name == "lenet5" else (1000,))


def test_alexnet_conv1_and_the_224_input():
    shape, layer_specs = specs.alexnet()
    conv1 = specs.summary(shape, layer_specs)[0]
    assert conv1.params == 34_944 and conv1.shape == (96, 55, 55) and conv1.activations == 290_400
    assert arithmetic.conv_output_size(224, 11, 4) == 54  # the paper's 224 input cannot give 55


def test_vgg16_activation_memory():
    shape, layer_specs = specs.vgg16()
    rows = specs.summary(shape, layer_specs)
    numbers = specs.totals(rows).activations + math.prod(shape)
    assert numbers == 15_237_608  # input + every conv, pool and fc output of one image
    assert specs.activation_bytes(shape, rows) == 4 * numbers == 60_950_432


def test_googlenet_follows_table_1():
    shape, layer_specs = specs.googlenet()
    rows = {r.name: r for r in specs.summary(shape, layer_specs)}
    table_1 = {"3a": (256, 28), "3b": (480, 28), "4a": (512, 14), "4b": (512, 14), "4c": (512, 14), "4d": (528, 14),
               "4e": (832, 14), "5a": (832, 7), "5b": (1024, 7)}  # output maps and size of every module
    assert {name: (rows[name].shape[0], rows[name].shape[1]) for name in table_1} == table_1
    assert rows["3a"].params == 163_328 and rows["fc1"].params == 1_024_000


def test_deepface_locally_connected_against_shared():
    local_rows = specs.summary(*specs.deepface())
    shared_rows = specs.summary(*specs.deepface(locally_connected=False))
    assert [r.shape for r in local_rows] == [r.shape for r in shared_rows]
    local_total, shared_total = specs.totals(local_rows).params, specs.totals(shared_rows).params
    assert local_total == 118_923_774 and shared_total == 45_509_246
    assert [r.shape for r in local_rows][3:6] == [(16, 55, 55), (16, 25, 25), (16, 21, 21)]


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match=r"needs a \(C, H, W\) input"):
        specs.summary((3, 8, 8), [specs.fc(10), specs.conv(4, 3)])
    with pytest.raises(ValueError, match="add a projection"):
        specs.summary((8, 8, 8), [specs.basic(16)])
    with pytest.raises(ValueError, match="larger than"):
        specs.summary((3, 4, 4), [specs.conv(8, 5)])


def test_table_is_aligned_text():
    text = specs.table(specs.summary(*specs.lenet5()))
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "output", "params", "MACs", "activations"]
    assert lines[-1].split()[:2] == ["total", "61,706"] and len({len(line) for line in lines[1:]}) == 1


def test_the_notebook_models_on_paper():
    real = architectures.resnet_mnist()
    layer_specs = [specs.conv(8, 3, p=1, bias=False), specs.bn(), specs.pool(2), specs.basic(8, with_bn=True),
                   specs.basic(16, 2, with_bn=True, project=True), specs.basic(32, 2, with_bn=True, project=True),
                   specs.gap(), specs.fc(10)]
    assert specs.totals(specs.summary((1, 28, 28), layer_specs)).params == sum(
        p.size for _, p, _ in real.parameters())
    assert isinstance(real.layers[3][1], MaxPool2d)
