"""The exercise checkers accept correct answers and give the right hint to wrong ones."""
import numpy as np
import pytest

import cnnlab as cl
from cnnlab.teach import exercises


def correct_correlate(image, kernel):
    return cl.conv2d(image[None, None], kernel[None, None])[0, 0]


def test_correlate2d_accepts_correct(capsys):
    assert exercises.check_correlate2d(correct_correlate)
    assert capsys.readouterr().out.startswith("PASSED")


def test_correlate2d_flipped_kernel_gets_convolution_hint(capsys):
    assert not exercises.check_correlate2d(lambda x, k: correct_correlate(x, k[::-1, ::-1]))
    assert "true convolution" in capsys.readouterr().out


def test_correlate2d_same_padding_gets_shape_hint(capsys):
    def same(x, k):
        return cl.conv2d(x[None, None], k[None, None], padding="same")[0, 0]
    assert not exercises.check_correlate2d(same)
    assert "H - kH + 1" in capsys.readouterr().out


def test_correlate2d_wrong_values_and_crash(capsys):
    assert not exercises.check_correlate2d(lambda x, k: correct_correlate(x, k) + 1)
    out = capsys.readouterr().out
    assert "first mismatch at output cell (0, 0)" in out
    assert not exercises.check_correlate2d(lambda x, k: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_checkers_reject_non_callables():
    with pytest.raises(TypeError, match="fn must be callable"):
        exercises.check_correlate2d(3)
    with pytest.raises(TypeError, match="fn must be callable"):
        exercises.check_max_pool("max")


def correct_pool(image, size):
    return cl.max_pool2d(image[None, None], size)[0, 0]


def test_max_pool_accepts_correct(capsys):
    assert exercises.check_max_pool(correct_pool)
    assert capsys.readouterr().out.startswith("PASSED")


def test_max_pool_average_gets_hint(capsys):
    assert not exercises.check_max_pool(lambda x, k: cl.avg_pool2d(x[None, None], k)[0, 0])
    assert "average" in capsys.readouterr().out


def test_max_pool_ceil_mode_gets_shape_hint(capsys):
    assert not exercises.check_max_pool(lambda x, k: cl.max_pool2d(x[None, None], k, ceil_mode=True)[0, 0])
    assert "floor(H / size)" in capsys.readouterr().out


def test_max_pool_min_gets_mismatch(capsys):
    assert not exercises.check_max_pool(lambda x, k: -correct_pool(-x, k))
    assert "first mismatch" in capsys.readouterr().out


def test_cases_are_deterministic():
    a, b = exercises.correlate2d_cases(), exercises.correlate2d_cases()
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))
