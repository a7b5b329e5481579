"""The machinery every checker shares.

A checker runs the student's function on fixed edge cases and seeded random
cases, compares each result with the library, and reports the first failure
with the most specific hint it can give: the student's function crashed (a
stub that is not written yet says so), it called the very cnnlab kernel the
exercise asks for, the result has the wrong type, it matches a known mistake,
it is not finite, it has the wrong shape, or the first mismatching cell.
Backward exercises are then checked against central differences too. A
checker prints one line starting with `PASSED:` or `NOT YET:` and returns
True or False; it never raises because of the student's code (only a
non-callable `fn` is refused with a TypeError).

Every checker `check_<name>` has a public `<name>_cases()` that returns its
cases, so a student can run their function on exactly what the checker uses.
"""
import copy
import numbers
import sys
from dataclasses import dataclass, field

import numpy as np

from ...gradcheck import numerical_gradient, rel_error

SEED = 1234
FORGOT_RETURN = "your function returned None: did you forget to `return` the result?"


def report(passed, message):
    print(("PASSED: " if passed else "NOT YET: ") + message)
    return passed


class UsedTheLibrary(BaseException):
    """Raised inside the student's call when it reaches a forbidden kernel (a
    BaseException, so that an `except Exception` in the student's code does
    not swallow it; the hook also records the call, for a bare `except:`)."""


class Unreadable(Exception):
    """Raised by an Exercise's `read` when the student's result has the wrong
    type or structure; its message is the sentence reported to the student."""


def _watch(forbidden, used):
    """A profile hook that stops the call as soon as a forbidden function runs,
    and appends that function's name to `used`."""
    codes = {getattr(f, "__code__", None): name for f, name in forbidden}

    def hook(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            used.append(codes[frame.f_code])
            raise UsedTheLibrary(codes[frame.f_code])
    return hook


def _used_the_library(name):
    return (f"your function calls {name}, the very operation this exercise asks you to write. "
            f"Write it yourself with NumPy (slicing, sums, np.zeros...), then run the checker again.")


def run(fn, args, forbidden=()):
    """Call fn(*args) on deep copies of the arguments (so the student's code
    cannot change a case, a model included). Returns (result, problem):
    problem is None, or a sentence that says what went wrong."""
    args = [copy.deepcopy(a) for a in args]
    used = []
    previous = sys.getprofile()
    sys.setprofile(_watch(forbidden, used) if forbidden else previous)
    try:
        result = fn(*args)
        return (None, _used_the_library(used[0])) if used else (result, None)
    except UsedTheLibrary as err:
        return None, _used_the_library(err)
    except NotImplementedError as err:
        return None, f"not written yet ({err or 'the stub raises NotImplementedError'})."
    except Exception as err:  # any error in the student's code is reported, not raised
        return None, f"your function raised {type(err).__name__}: {err}"
    finally:
        sys.setprofile(previous)


def as_float_array(value):
    """The student's result as a float array, or None if it is not numeric."""
    if value is None:  # np.asarray(None, float) would be nan
        return None
    try:
        out = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return out


def as_size(value, name="your function"):
    """A size or count the student returned, as a 0-d float array. Anything but
    an int (Python's or NumPy's) is refused with a sentence; a float gets its
    own, since it usually comes from true division and fails as an array shape."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return np.asarray(value, float)
    if value is None:
        raise Unreadable(FORGOT_RETURN)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        raise Unreadable(f"{name} returned {value!r}, a float. Return an int: use floor division // rather "
                         f"than true division / (or int(...)); sizes and counts are used as array shapes, "
                         f"where a float fails.")
    raise Unreadable(f"{name} returned {type(value).__name__} {value!r}, expected an int.")


def size_reader(*names):
    """A `read` for a result of one int (no names) or a tuple of ints named
    `names` (e.g. 'params', 'connections'), each checked by `as_size`."""
    def read(result, *case):
        if not names:
            return [as_size(result)]
        if not isinstance(result, (tuple, list)) or len(result) != len(names):
            what = "a pair" if len(names) == 2 else "a tuple"
            raise Unreadable(f"your function returned {type(result).__name__}, expected {what} ({', '.join(names)}).")
        return [as_size(r, f"your {name}") for r, name in zip(result, names)]
    return read


def first_mismatch(got, want, name="output"):
    if got.ndim == 0:
        return f"{name} is {float(got):.6g}, expected {float(want):.6g}"
    index = tuple(int(i) for i in np.argwhere(~np.isclose(got, want, rtol=1e-6, atol=1e-8))[0])
    return f"first mismatch in {name} at index {index}: got {got[index]:.6g}, expected {want[index]:.6g}"


def close(got, want):
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-8)


@dataclass
class Mistake:
    """A known wrong answer and the hint that names it.

    wrong(*case) computes what that mistake gives (an array, or a tuple with
    one entry per output, None for outputs the mistake does not affect); it
    is matched on the values, or on the shapes alone when `by_shape` (e.g.
    padding not cropped changes only the shape). A mistake is skipped on a
    case where `wrong` returns None, raises, or gives the right answer (there
    it cannot be told apart). Instead of `wrong`, `when(got, *case) -> bool`
    may test the student's outputs (a list of arrays) directly, e.g. for
    non-finite values."""
    wrong: object = None
    hint: str = ""
    by_shape: bool = False
    when: object = None


@dataclass
class Exercise:
    """What a checker needs. cases: argument tuples; expected(*case) -> the
    right answer (an array or number, or a tuple of them named by `outputs`,
    which may also be a function of the case); label(*case) -> a short
    description of the case; shape_hint and value_hint: the generic hints;
    forbidden: (function, 'cnnlab.name') pairs the student's code must not
    call; oracle: what the answers come from (for the PASSED line);
    read(result, *case) -> list of arrays, one per output (raise Unreadable
    for a result of the wrong type; default: an array, or a tuple of arrays);
    none_ok: None is a valid answer (else it is reported as a missing return);
    gradcheck(fn) -> (max relative error or None, what), run once all cases pass."""
    cases: list
    expected: object
    label: object
    shape_hint: str
    value_hint: str
    oracle: str
    outputs: object = ("output",)
    mistakes: list = field(default_factory=list)
    forbidden: tuple = ()
    gradcheck: object = None
    read: object = None
    none_ok: bool = False


def _split(result, n):
    """The student's result as n arrays, or None when it has another structure."""
    parts = result if n > 1 else (result,)
    if n > 1 and (not isinstance(result, (tuple, list)) or len(result) != n):
        return None
    arrays = [as_float_array(p) for p in parts]
    return None if any(a is None for a in arrays) else arrays


def _read(ex, result, case, names):
    """The student's outputs as a list of arrays; raises Unreadable."""
    if result is None and not ex.none_ok:
        raise Unreadable(FORGOT_RETURN)
    if ex.read is not None:
        return ex.read(result, *case)
    if len(names) == 1:
        got = as_float_array(result)
        if got is None:
            raise Unreadable(f"your function returned {type(result).__name__}, expected an array.")
        return [got]
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        shape = f"a {type(result).__name__} of {len(result)}" if isinstance(result, (tuple, list)) else (
            type(result).__name__)
        raise Unreadable(f"your function returned {shape}, expected a tuple ({', '.join(names)}).")
    got = [as_float_array(part) for part in result]
    for name, part, array in zip(names, result, got):
        if array is None:
            raise Unreadable(f"{name} in your result is {type(part).__name__}, expected an array.")
    return got


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _matches(mistake, case, got, want):
    """Does the student's answer `got` look like `mistake` on this case?"""
    if mistake.when is not None:
        try:
            return bool(mistake.when(got, *case))
        except Exception:  # an output of a shape the predicate does not expect
            return False
    try:
        with np.errstate(all="ignore"):  # a wrong formula may overflow; that is no news for the student
            wrong = _as_tuple(mistake.wrong(*case))
    except Exception:  # the mistake cannot happen on this case (e.g. a kernel larger than the input)
        return False
    pairs = [(g, np.asarray(w, float), r) for g, w, r in zip(got, wrong, want) if w is not None]
    if not pairs:
        return False
    if mistake.by_shape:
        return (any(w.shape != r.shape for _, w, r in pairs)
                and all(g.shape == w.shape for g, w, _ in pairs))
    return not all(close(w, r) for _, w, r in pairs) and all(close(g, w) for g, w, _ in pairs)


def _diagnose(ex, case, got, want, names):
    """The sentence for a wrong answer: a known mistake, a non-finite value,
    a wrong shape, or the first mismatching cell."""
    for mistake in ex.mistakes:
        if _matches(mistake, case, got, want):
            return mistake.hint
    for name, g, w in zip(names, got, want):
        if not np.all(np.isfinite(g)) and np.all(np.isfinite(w)):
            return f"{name} contains nan or inf values. Hint: {ex.value_hint}"
        if g.shape != w.shape:
            return f"{name} has shape {g.shape}, expected {w.shape}. Hint: {ex.shape_hint}"
        if not close(g, w):
            return f"{first_mismatch(g, w, name)}. Hint: {ex.value_hint}"
    return "the result does not match."  # not reached: some output differs


def check(fn, exercise):
    """Run `fn` on every case of `exercise`; True if all pass (and the gradient check)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable (your function itself, not its result), got {type(fn).__name__}")
    ex = exercise
    for n, case in enumerate(ex.cases):
        where = f"case {n} ({ex.label(*case)})"
        names = ex.outputs(*case) if callable(ex.outputs) else ex.outputs
        want = [np.asarray(w, float) for w in _as_tuple(ex.expected(*case))]
        result, problem = run(fn, case, ex.forbidden)
        if problem:
            return report(False, f"{where}: {problem}")
        try:
            got = _read(ex, result, case, names)
        except Unreadable as err:
            return report(False, f"{where}: {err}")
        if not all(close(g, w) for g, w in zip(got, want)):
            return report(False, f"{where}: {_diagnose(ex, case, got, want, names)}")
    message = f"all {len(ex.cases)} cases match {ex.oracle}"
    if ex.gradcheck is not None:
        error, what = ex.gradcheck(fn)
        if error is None or not error < 1e-5:
            return report(False, f"{message}, but the central-difference gradient check of {what} fails "
                                 f"(relative error {error}): the gradients are not those of the forward pass.")
        # the bound, not the digits: the error itself depends on the machine (BLAS kernel, threads)
        message += f", and a central-difference gradient check of {what} agrees (relative error below 1e-5)"
    return report(True, message + ".")


def gradient_check(fn, args, forward, wrt, upstream=None, pick=None):
    """Compare the gradients the student's fn(*args) returns with central
    differences, on one small float64 case.

    forward(*wrt.values()) is the forward pass; wrt maps the name of each
    gradient (e.g. 'dx') to the forward input it is taken in, in the order
    the student returns them; upstream: the gradient of the forward's output
    (None for a scalar loss). pick(result) -> the gradients (default: the
    result itself when there is one gradient, else the result's entries).
    Returns (max relative error, description), or (None, description) when
    fn fails or returns gradients of the wrong shape."""
    what = "your " + ", ".join(wrt) + " on a small float64 case"
    result, problem = run(fn, args)
    if problem is not None:
        return None, what
    try:
        grads = _split(pick(result) if pick else result, len(wrt))
    except Exception:  # a result pick cannot read
        grads = None
    if grads is None:
        return None, what
    inputs = {name: np.array(a, dtype=float) for name, a in wrt.items()}
    errors = []
    for (name, value), analytic in zip(inputs.items(), grads):
        def probe(v, name=name):
            return forward(*(v if n == name else a for n, a in inputs.items()))
        numeric = numerical_gradient(probe, value.copy(), upstream)
        if numeric.shape != analytic.shape:
            return None, what
        errors.append(rel_error(numeric, analytic))
    return max(errors), what
