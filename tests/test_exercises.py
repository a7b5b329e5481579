"""The exercise checkers accept correct answers, name each classic mistake,
refuse answers that call the kernel being practised, and never raise because
of the student's code. The answers themselves are in exercise_answers.py."""
import numpy as np
import pytest
from exercise_answers import CHEATS, CORRECT, MISTAKES

import cnnlab
from cnnlab import exercises as short_name
from cnnlab.nn.models import C3_TABLE, Sequential
from cnnlab.teach import exercises

CHECKERS = [name for name in exercises.__all__ if name.startswith("check_")]
GRADIENT_CHECKED = ["check_softmax_cross_entropy", "check_max_pool_backward", "check_avg_pool_backward",
                    "check_input_delta", "check_conv2d_backward", "check_subsample2d_backward",
                    "check_dropout_backward", "check_mse_loss", "check_tied_autoencoder_backward",
                    "check_upsample_backward"]


def run_checker(name, fn, capsys):
    """(passed, the printed line); every checker prints exactly one verdict line."""
    passed = getattr(exercises, name)(fn)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("PASSED: " if passed else "NOT YET: "), out
    return passed, out


def stub(*args):
    raise NotImplementedError("write your solution here, then run the checker below")


def cases_of(name):
    return getattr(exercises, name.removeprefix("check_") + "_cases")


def same(a, b):
    """Deep equality of two cases: arrays, numbers, sequences and models."""
    if isinstance(a, Sequential):
        return all(na == nb and same(pa, pb) and same(ga, gb)
                   for (na, pa, ga), (nb, pb, gb) in zip(a.parameters(), b.parameters(), strict=True))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b)


def test_every_checker_has_a_correct_answer_and_is_reexported():
    assert sorted(CORRECT) == sorted(CHECKERS)
    assert short_name.__all__ == exercises.__all__
    assert all(getattr(short_name, name) is getattr(exercises, name) for name in exercises.__all__)


@pytest.mark.parametrize("name", CHECKERS)
def test_correct_answer_passes(name, capsys):
    passed, out = run_checker(name, CORRECT[name], capsys)
    assert passed, out
    assert ("central-difference gradient check" in out) == (name in GRADIENT_CHECKED)


@pytest.mark.parametrize("name", CHECKERS)
def test_stub_is_not_written_yet(name, capsys):
    passed, out = run_checker(name, stub, capsys)
    assert not passed and "not written yet (write your solution here" in out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # some wrong answers overflow on purpose
@pytest.mark.parametrize("name, fn, hint", MISTAKES, ids=[f"{n}-{h}" for n, _, h in MISTAKES])
def test_mistake_gets_its_hint(name, fn, hint, capsys):
    passed, out = run_checker(name, fn, capsys)
    assert not passed and hint in out, out


@pytest.mark.parametrize("name, fn", CHEATS, ids=[n for n, _ in CHEATS])
def test_calling_the_kernel_is_refused(name, fn, capsys):
    passed, out = run_checker(name, fn, capsys)
    assert not passed and "the very operation this exercise asks you to write" in out, out


def test_every_checker_forbids_its_kernel():
    assert {name for name, _ in CHEATS} == set(CHECKERS)


@pytest.mark.parametrize("name", CHECKERS)
def test_non_callable_is_a_type_error(name):
    with pytest.raises(TypeError, match="fn must be callable"):
        getattr(exercises, name)(np.zeros(3))


@pytest.mark.parametrize("name", CHECKERS)
def test_cases_are_deterministic(name):
    assert same(cases_of(name)(), cases_of(name)())


@pytest.mark.parametrize("name", CHECKERS)
def test_crash_and_wrong_type_are_reported(name, capsys):
    passed, out = run_checker(name, lambda *args: 1 / 0, capsys)
    assert not passed and "your function raised ZeroDivisionError" in out
    passed, out = run_checker(name, lambda *args: "text", capsys)
    assert not passed and "your function returned" in out


@pytest.mark.parametrize("name", CHECKERS)
def test_a_forgotten_return_is_named(name, capsys):
    passed, out = run_checker(name, lambda *args: None, capsys)
    # for separable kernels None is an answer (the kernel is not separable), so that checker explains instead
    hint = "you returned None, but this kernel is separable" if name == "check_separable_factors" else (
        "did you forget to `return` the result?")
    assert not passed and hint in out, out


def test_a_missing_part_of_a_result_is_named(capsys):
    def no_db(*args):
        return (*CORRECT["check_conv2d_backward"](*args)[:2], None)
    passed, out = run_checker("check_conv2d_backward", no_db, capsys)
    assert not passed and "db in your result is NoneType, expected an array" in out


@pytest.mark.parametrize("catch", [Exception, BaseException])
def test_catching_the_refusal_does_not_help(catch, capsys):
    def sneaky(x, w, b, stride, pad):
        try:
            return cnnlab.conv2d(x, w, b, stride, pad)
        except catch:
            return CORRECT["check_conv2d_forward"](x, w, b, stride, pad)
    passed, out = run_checker("check_conv2d_forward", sneaky, capsys)
    assert not passed and "calls cnnlab.conv2d, the very operation" in out


def test_the_student_cannot_change_the_cases(capsys):
    def scribbles(x, w, b, stride, pad):
        out = CORRECT["check_conv2d_forward"](x, w, b, stride, pad)
        x[...], w[...] = 0, 0
        return out
    assert run_checker("check_conv2d_forward", scribbles, capsys)[0]


@pytest.mark.parametrize("name, bad_case", [("check_conv2d_backward", (2, 2, 5, 4)),
                                            ("check_max_pool_backward", (1, 2, 5, 5))])
def test_gradient_check_catches_a_backward_that_only_fits_the_cases(name, bad_case, capsys):
    def fits_the_cases(*args):
        result = CORRECT[name](*args)
        if args[1].shape == bad_case:  # the gradient check's case only
            return tuple(2 * r for r in result) if isinstance(result, tuple) else 2 * result
        return result
    passed, out = run_checker(name, fits_the_cases, capsys)
    assert not passed and "gradient check of your dx" in out and "fails" in out


def test_sparse_conv_params_gives_lenet_c3_counts():
    assert CORRECT["check_sparse_conv_params"](C3_TABLE, 5, (10, 10)) == (1516, 151600)
    assert cases_of("check_sparse_conv_params")()[0][0] is C3_TABLE


def test_inception_params_gives_googlenet_3a():
    assert CORRECT["check_inception_params"](192, 64, 96, 128, 16, 32, 32) == (163_328, 256)
    assert cases_of("check_inception_params")()[0] == (192, 64, 96, 128, 16, 32, 32)
