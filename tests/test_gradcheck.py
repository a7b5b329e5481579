"""The gradient checker itself: it must catch a wrong gradient and leave x as it was."""
import numpy as np
import pytest

from cnnlab.gradcheck import numerical_gradient, rel_error


def test_numerical_gradient_of_known_functions(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2, rtol=1e-6)
    np.testing.assert_array_equal(x, before)  # restored after probing
    g = rng.standard_normal((3, 4))
    np.testing.assert_allclose(numerical_gradient(np.sin, x, g), np.cos(x) * g, rtol=1e-6, atol=1e-9)


def test_a_wrong_gradient_is_caught(rng):
    x = rng.standard_normal(10)
    right, wrong = 2 * x, 2 * x + 1e-3
    num = numerical_gradient(lambda v: np.sum(v ** 2), x)
    assert rel_error(num, right) < 1e-8 < 1e-6 < rel_error(num, wrong)


def test_needs_float64():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(np.sum, np.zeros(3, dtype=np.float32))


def test_rel_error_edge_cases():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([], []) == 0.0
    assert rel_error([1.0], [3.0]) == 0.5
