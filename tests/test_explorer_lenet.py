"""The LeNet-5 inspector of notebook 06 driven headless: MNIST-style
pre-processing of drawings, the layer-by-layer forward pass, the controls
(test image, shift, blur, drawing) and the messages."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import ndimage

from cnnlab import data
from cnnlab.nn import train
from cnnlab.teach.explorers import LeNetInspector, lenet


@pytest.fixture(scope="module")
def test_set():
    return data.load_mnist("test")


@pytest.fixture(scope="module")
def model():
    return lenet.trained_lenet5()


def _com(image):
    return np.array(ndimage.center_of_mass(np.asarray(image, dtype=float)))


def test_stroke_inks_a_soft_two_cell_line_and_only_adds_ink():
    canvas = lenet.stroke(np.zeros((28, 28)), (4.0, 10.3), (20.0, 10.3))
    assert canvas.max() == 1.0 and canvas.min() == 0.0
    assert canvas[:, 12].sum() == pytest.approx(2.0)  # a column holds the pen's width of ink...
    assert list(np.flatnonzero(canvas[:, 12])) == [9, 10, 11] and canvas[10, 12] == 1.0  # ...with soft edges
    assert canvas[:, :3].sum() == 0 and canvas[:, 21:].sum() == 0  # from x = 4 to x = 20 (plus round caps)
    again = lenet.stroke(canvas.copy(), (4.0, 10.3), (20.0, 10.3), width=1.0)
    assert np.array_equal(again, canvas)  # a thinner pen over the same place adds nothing
    dot = lenet.stroke(np.zeros((5, 5)), (2.5, 2.5), (2.5, 2.5), width=1.0)  # a click is a dot
    assert dot[2, 2] == 1.0 and dot.sum() == 1.0


def test_mnist_preprocess_leaves_mnist_digits_as_they_are(test_set):
    """MNIST's own digits already fill the 20x20 box with their centre of mass
    at the centre: pre-processing them again changes at most one grey level
    (the brightest cell becomes 255)."""
    images = test_set[0][:200]
    for im in images:
        out = lenet.mnist_preprocess(im)
        assert out.dtype == np.uint8 and out.shape == (28, 28) and out.max() == 255
        assert np.abs(out.astype(int) - im).max() <= 1


def test_a_digit_moved_off_centre_comes_back(test_set):
    im = test_set[0][0]
    top, bottom, left, right = lenet.ink_box(im)
    dy, dx = 28 - bottom, -left  # into the bottom-left corner, no ink lost
    moved = data.shift(im, dy, dx)
    assert moved.sum() == im.sum() and np.abs(_com(moved) - _com(im)).max() > 3
    back = lenet.mnist_preprocess(moved)
    assert np.abs(_com(back) - _com(im)).max() < 0.5
    assert np.abs(back.astype(int) - im).max() <= 1


def test_a_small_drawing_is_scaled_up_and_centred_by_its_mass():
    pen = lenet.stroke(np.zeros((28, 28)), (2.5, 2.5), (2.5, 8.5))  # a short vertical line in a corner
    top, bottom, left, right = lenet.ink_box(pen)
    h, w = bottom - top, right - left
    assert (h, w) == (9, 3)  # 6 cells long plus the pen's round caps and soft edges
    out = lenet.mnist_preprocess(pen)
    top, bottom, left, right = lenet.ink_box(out)
    assert bottom - top == lenet.BOX  # the longer side now fills the 20-cell box
    assert right - left == round(w * lenet.BOX / h)  # the aspect ratio is kept
    assert np.allclose(_com(out), 14, atol=0.5)  # MNIST's centre


def test_a_wide_drawing_keeps_its_aspect_ratio():
    canvas = np.zeros((28, 28))
    canvas[5:9, 2:18] = 1.0  # 4 x 16
    out = lenet.mnist_preprocess(canvas)
    top, bottom, left, right = lenet.ink_box(out)
    assert (bottom - top, right - left) == (5, 20)
    assert np.allclose(_com(out), 14, atol=0.5)


def test_a_large_canvas_is_shrunk_with_anti_aliasing():
    big = np.zeros((280, 280))
    big[40:240, 130:150] = 1.0  # a 200 x 20 bar: shrinks to 20 x 2
    out = lenet.mnist_preprocess(big)
    top, bottom, left, right = lenet.ink_box(out)
    assert (bottom - top, right - left) == (20, 2)


def test_mnist_preprocess_refuses_an_empty_or_non_2d_canvas():
    with pytest.raises(ValueError, match="empty"):
        lenet.mnist_preprocess(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="2-D"):
        lenet.mnist_preprocess(np.ones((1, 28, 28)))


def test_transform_digit_shifts_and_blurs(test_set):
    im = test_set[0][0]
    assert np.array_equal(lenet.transform_digit(im), im)
    top, bottom, left, right = lenet.ink_box(im)
    assert top >= 2 and right <= 27
    moved = lenet.transform_digit(im, dy=-2, dx=1)  # up 2, right 1: no ink crosses the border
    assert moved.sum() == im.sum()
    assert np.allclose(_com(moved) - _com(im), [-2, 1], atol=1e-9)
    blurred = lenet.transform_digit(im, blur=1.0)
    assert blurred.dtype == np.uint8 and blurred.max() < im.max()
    assert np.count_nonzero(blurred) > np.count_nonzero(im)


def test_forward_all_is_the_model_run_layer_by_layer(model, test_set):
    images = test_set[0][:5]
    x = model.prepare(images)
    maps = lenet.forward_all(model, x)
    assert list(maps) == ["input"] + [name for name, _ in model.layers] + ["probs"]
    y = x
    for name, layer in model.layers:
        y = layer.forward(y)
        assert np.array_equal(maps[name], y)
    assert np.array_equal(maps["out"], model.forward(x))
    assert maps["input"].shape == (5, 1, 32, 32)
    assert [maps[n].shape[1:] for n in lenet.MAP_LAYERS] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]
    assert np.allclose(maps["probs"].sum(1), 1.0) and (maps["probs"] >= 0).all()


def test_prediction_of_the_first_test_image_of_every_class_matches_train_predict(model, test_set):
    images, labels = test_set
    firsts = [lenet.first_test_index(d, labels) for d in range(10)]
    assert [labels[i] for i in firsts] == list(range(10)) and firsts[7] == 0
    expected = train.predict(model, model.prepare(images[firsts]))
    w = LeNetInspector()
    for d in range(10):
        w.digit.value = d
        st = w.state()
        assert w.index.value == firsts[d] and st["label"] == d and st["source"] == "test image"
        assert st["prediction"] == expected[d]
        assert st["confidence"] == pytest.approx(st["probs"].max()) and st["probs"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no test image"):
        lenet.first_test_index(10, labels)


def test_default_is_a_test_seven_with_every_map(model, test_set):
    w = LeNetInspector()
    st = w.state()
    assert w.renders == 1 and st["valid"] and st["label"] == 7 and w.index.value == 0 and w.digit.value == 7
    assert np.array_equal(st["digit"], test_set[0][0])
    assert np.array_equal(st["maps"]["input"], model.prepare(test_set[0][:1]))
    assert st["prediction"] == 7
    assert "test image #0 (label 7)" in w.message.value and "prediction: 7" in w.message.value


def test_picking_by_index_updates_the_dropdown(test_set):
    images, labels = test_set
    w = LeNetInspector()
    w.index.value = 42
    st = w.state()
    assert st["label"] == labels[42] and np.array_equal(st["digit"], images[42])
    assert w.digit.value == lenet.NO_DIGIT and w.renders == 2  # 42 is not the first of its class: dropdown shows "—"
    w.index.value = lenet.first_test_index(4, labels)
    assert w.digit.value == 4 and w.renders == 3
    w2 = LeNetInspector(index=42)
    assert w2.state()["label"] == labels[42] and w2.digit.value == lenet.NO_DIGIT


def test_shift_and_blur_change_the_input_and_the_probabilities():
    w = LeNetInspector()
    base = w.state()
    w.shift_x.value = 3
    moved = w.state()
    assert w.renders == 2 and "shifted (+3 right, +0 down)" in w.message.value
    assert np.allclose(_com(moved["digit"]) - _com(base["digit"]), [0, 3], atol=1e-9)
    assert not np.allclose(moved["probs"], base["probs"])
    assert not np.array_equal(moved["maps"]["C1"], base["maps"]["C1"])
    w.shift_x.value = 0
    w.blur.value = 1.5
    blurred = w.state()
    assert w.renders == 4 and "blurred (σ = 1.5)" in w.message.value
    assert not np.array_equal(blurred["digit"], base["digit"])
    assert not np.allclose(blurred["probs"], base["probs"])


def test_drawing_switches_to_the_drawing_and_is_preprocessed():
    w = LeNetInspector()
    before = w.renders
    w.add_stroke([(14, 4), (14, 12)])  # a short vertical stroke: a "1"
    st = w.state()
    assert w.renders == before + 1  # one redraw per stroke, not per mouse move
    assert st["source"] == "drawing" and w.source.value == "drawing" and w.digit.value == lenet.NO_DIGIT
    assert st["label"] is None and st["raw"].max() == 1.0
    assert np.array_equal(st["digit"], lenet.mnist_preprocess(w.ink))
    assert lenet.ink_box(st["digit"])[1] - lenet.ink_box(st["digit"])[0] == lenet.BOX
    assert "pre-processed like MNIST" in w.message.value and st["prediction"] == 1
    w.source.value = "test image"  # back to the test image (the dropdown follows)
    assert w.digit.value == 7 and w.state()["prediction"] == 7
    w.source.value = "drawing"  # the drawing is kept
    assert w.digit.value == lenet.NO_DIGIT and w.state()["prediction"] == 1
    w.digit.value = 7  # picking a test image switches the input
    assert w.source.value == "test image" and w.state()["prediction"] == 7


def test_mouse_events_draw_only_while_the_button_is_down():
    w = LeNetInspector()
    w._mouse_move(3.0, 3.0)  # hovering: no ink
    assert w.ink.sum() == 0 and w.source.value == "test image"
    w._mouse_down(5.0, 5.0)
    w._mouse_move(5.0, 20.0)
    w._mouse_up(5.0, 20.0)
    assert w.ink[6:19, 4:6].min() == 1.0 and w.source.value == "drawing"
    drawn = w.ink.copy()
    w._mouse_move(20.0, 20.0)  # button released: no more ink
    assert np.array_equal(w.ink, drawn)
    w._mouse_down(20.0, 5.0)
    w._mouse_move(20.0, 10.0)
    w.canvas._mouse_out_callbacks(20.0, 10.0)  # leaving the canvas ends the stroke
    assert w._pen is None and w.ink[:, 19:21].sum() > 0


def test_an_empty_canvas_gives_a_message_instead_of_a_prediction():
    w = LeNetInspector()
    w.source.value = "drawing"
    st = w.state()
    assert not st["valid"] and "canvas is empty" in w.message.value and "prediction:" not in w.message.value
    assert w.renders == 2 and w.fig is not None
    w.add_stroke([(10, 5), (10, 20)])
    assert w.state()["valid"]
    w.clear.click()
    assert w.ink.sum() == 0 and not w.state()["valid"] and "canvas is empty" in w.message.value


def test_static_figure_labels_the_maps_and_the_classes():
    w = LeNetInspector()
    fig = w.static_figure()
    titles = [a.get_title() for a in fig.axes]
    for name, shape in [("C1", "6 maps 28×28"), ("S2", "6 maps 14×14"), ("C3", "16 maps 10×10"),
                        ("S4", "16 maps 5×5")]:
        assert any(t.startswith(f"{name}: {shape}") for t in titles)
    probs_ax = next(a for a in fig.axes if a.get_title().startswith("class probabilities"))
    assert [t.get_text() for t in probs_ax.get_yticklabels()] == [str(c) for c in range(10)]
    assert len(probs_ax.patches) == 10
    assert fig._suptitle.get_text().startswith("LeNet-5 predicts 7")
    plt.close(fig)


def test_tile_puts_maps_in_a_grid_with_gaps():
    maps = np.arange(6 * 2 * 2, dtype=float).reshape(6, 2, 2)
    grid = lenet.tile(maps, ncols=3)
    assert grid.shape == (5, 8)
    assert np.array_equal(grid[3:5, 6:8], maps[5]) and np.isnan(grid[2]).all() and np.isnan(grid[:, 2]).all()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="digit"):
        LeNetInspector(digit=11)
    with pytest.raises(ValueError, match="index"):
        LeNetInspector(index=10_000)
    with pytest.raises(ValueError, match="at least one point"):
        LeNetInspector().add_stroke([])
