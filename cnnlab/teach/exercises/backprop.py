"""Notebook 05: softmax cross-entropy, the input delta, the conv2d backward pass, and im2col."""
import numpy as np

from ... import reference
from ...functional import conv as F
from ...functional import losses as L
from ...functional.unfold import im2col as fast_im2col
from ...nn.layers import SoftmaxCrossEntropy
from ._core import SEED, Exercise, Mistake, check, gradient_check

# --- softmax cross-entropy --------------------------------------------------------------


def softmax_cross_entropy_cases(rng=None):
    """(logits, labels) pairs: logits (N, K) floats, labels (N,) ints. The last
    case has logits of size 1e4, where exp overflows unless the row max is
    subtracted first."""
    rng = np.random.default_rng(SEED + 50) if rng is None else rng
    cases = [(np.zeros((1, 2)), np.array([1])),   # loss ln 2, gradient (0.5, -0.5)
             (np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]), np.array([0, 1]))]
    for n, k in ((4, 3), (3, 5), (6, 10)):
        cases.append((rng.standard_normal((n, k)) * 2, rng.integers(0, k, n)))
    # row 0: the label is the largest logit; row 1: the label is 1e4 below the largest
    cases.append((np.array([[1e4, 0.0, -1e4], [1e4, 0.0, 1e4 - 1.0]]), np.array([0, 1])))
    return cases


def _loss_and_grad(logits, labels):
    return L.cross_entropy(logits, labels), L.cross_entropy_backward(logits, labels)


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _columns_softmax(z, y):
    """Loss and gradient with the softmax normalised over the batch (axis 0)."""
    p = _softmax(z, 0)
    n = len(y)
    onehot = np.eye(z.shape[1])[y]
    return -np.log(p[np.arange(n), y]).mean(), (p - onehot) / n


def _scaled(logits, labels, loss_by, grad_by, sign=1, onehot=1):
    """Loss and gradient with a slip: the loss times loss_by, the gradient
    (sign * (softmax - onehot * e_y)) times grad_by."""
    n = len(labels)
    p = _softmax(logits, 1)
    p[np.arange(n), labels] -= onehot
    return L.cross_entropy(logits, labels) * loss_by, sign * p / n * grad_by


def _huge(z):
    return np.abs(z).max() >= 1e4


def _softmax_ce_mistakes():
    return [
        Mistake(when=lambda got, z, y: _huge(z) and not np.all(np.isfinite(got[1])),
                hint="dlogits contains nan or inf for logits of size 1e4: np.exp(10000) overflows to inf, and "
                     "inf / inf is nan. Hint: subtract each row's max from the logits before np.exp "
                     "(softmax does not change when a constant is subtracted from a row)."),
        Mistake(when=lambda got, z, y: _huge(z) and not np.all(np.isfinite(got[0])),
                hint="the loss is inf for logits of size 1e4: a probability underflowed to 0 and you took its log. "
                     "Hint: compute the log-softmax directly, s - log(sum(exp(s))) with s = z - z.max(axis=1), "
                     "instead of np.log(softmax)."),
        Mistake(lambda z, y: (np.zeros(len(y)), None),
                "you returned one loss per example. Hint: the loss of the batch is their mean, one number.",
                by_shape=True),
        Mistake(lambda z, y: _scaled(z, y, len(y), len(y)),
                "the loss and dlogits are sums over the batch. Hint: the loss is the *mean* over the N examples, "
                "so divide both the loss and dlogits by N."),
        Mistake(lambda z, y: _scaled(z, y, 1, len(y)),
                "dlogits is not divided by N. Hint: the loss is the mean over the batch, so its gradient is "
                "(softmax - onehot) / N."),
        Mistake(lambda z, y: _scaled(z, y, len(y), 1),
                "the loss is summed over the batch. Hint: return the mean loss, the sum divided by N."),
        Mistake(lambda z, y: (None, _scaled(z, y, 1, 1, onehot=0)[1]),
                "dlogits is softmax / N: you forgot the one-hot term. Hint: dlogits = (softmax - onehot(labels)) / N, "
                "i.e. subtract 1 at each example's label."),
        Mistake(lambda z, y: (None, _scaled(z, y, 1, 1, sign=-1)[1]),
                "dlogits has the wrong sign. Hint: the gradient of the loss is (softmax - onehot) / N; "
                "it is positive for the wrong classes."),
        Mistake(_columns_softmax,
                "you normalised the softmax over the batch (axis 0). Hint: each row is one example: "
                "subtract the max and sum the exponentials along axis=1, with keepdims=True."),
    ]


def _softmax_ce_gradcheck(fn):
    rng = np.random.default_rng(SEED + 51)
    logits, labels = rng.standard_normal((3, 4)), np.array([0, 3, 1])
    return gradient_check(fn, (logits, labels), lambda z: L.cross_entropy(z, labels), {"dlogits": logits},
                          pick=lambda result: result[1])


def check_softmax_cross_entropy(fn):
    """Check `fn(logits, labels) -> (mean_loss, dlogits)`: the softmax
    cross-entropy loss of a batch and its gradient in the logits.

    logits (N, K), labels (N,) ints in [0, K) -> mean_loss, a float: the mean
    over n of -log softmax(logits[n])[labels[n]]; dlogits (N, K) =
    (softmax(logits) - onehot(labels)) / N. Both must stay finite for logits
    of size 1e4. Notebook 05, section 1.
    """
    return check(fn, Exercise(
        cases=softmax_cross_entropy_cases(), expected=_loss_and_grad,
        label=lambda z, y: f"logits {z.shape}" + (" of size 1e4" if _huge(z) else ""),
        outputs=("mean loss", "dlogits"),
        shape_hint="the loss is one number (the mean over the batch); dlogits has the logits' shape (N, K).",
        value_hint="loss = mean(log(sum(exp(s), axis=1)) - s[n, label]) with s = logits - max per row; "
                   "dlogits = (softmax - onehot) / N.",
        oracle="cnnlab.cross_entropy and cnnlab.cross_entropy_backward",
        mistakes=_softmax_ce_mistakes(),
        forbidden=[(L.cross_entropy, "cnnlab.cross_entropy"),
                   (L.cross_entropy_backward, "cnnlab.cross_entropy_backward"),
                   (L.softmax, "cnnlab.softmax"), (L.log_softmax, "cnnlab.log_softmax"),
                   (SoftmaxCrossEntropy.forward, "cnnlab.nn.layers.SoftmaxCrossEntropy")],
        gradcheck=_softmax_ce_gradcheck))


# --- the input delta ---------------------------------------------------------------------

def input_delta_cases(rng=None):
    """(delta, kernel) pairs of 2-D arrays: non-square ones, the two maps of the
    CNN blog chapters' worked example (D1, K1 and D2, K2; notebook 05,
    section 3), 1x1 and random ones."""
    rng = np.random.default_rng(SEED + 52) if rng is None else rng
    # kernels without symmetry first: on a symmetric kernel some wrong flips give the right answer
    cases = [(rng.integers(-3, 4, (2, 3)).astype(float), np.array([[1.0, -2.0], [0.0, 3.0], [2.0, 1.0]])),
             (rng.integers(-3, 4, (3, 3)).astype(float), np.array([[2.0, -1.0], [1.0, 0.0]])),
             (np.array([[1.0, 3.0], [2.0, 2.0]]), np.array([[0.1, 0.2], [0.2, 0.4]])),
             (np.array([[2.0, 1.0], [1.0, 1.0]]), np.array([[-0.3, 0.1], [0.1, 0.2]])),
             (rng.integers(-3, 4, (4, 3)).astype(float), np.array([[2.0]])),
             (np.array([[1.5]]), rng.integers(-2, 3, (2, 3)).astype(float)),
             (rng.standard_normal((4, 5)), rng.standard_normal((3, 3)))]
    return cases


def _full_correlation(delta, kernel):
    """The full correlation of delta with kernel (zero padding kH-1, kW-1 each side)."""
    kh, kw = kernel.shape
    return reference.conv2d(delta[None, None], kernel[None, None], padding=[(kh - 1, kh - 1), (kw - 1, kw - 1)])[0, 0]


def _input_delta(delta, kernel):
    return _full_correlation(delta, kernel[::-1, ::-1])


def _valid(x, kernel):
    return reference.conv2d(x[None, None], kernel[None, None])[0, 0]


def _input_delta_gradcheck(fn):
    rng = np.random.default_rng(SEED + 53)
    delta, kernel = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    x = rng.standard_normal((3 + 2 - 1, 4 + 3 - 1))
    return gradient_check(fn, (delta, kernel), lambda v: _valid(v, kernel), {"dx": x}, upstream=delta)


def check_input_delta(fn):
    """Check `fn(delta, kernel) -> dx`: the input delta of a single-channel,
    stride-1 valid correlation Y = X * K: the full correlation of delta
    (oH, oW) with the kernel (kH, kW) rotated by 180 degrees, i.e.
    dx[a, b] = sum over i, j of delta[i, j] * kernel[a - i, b - j];
    dx has the input's shape (oH + kH - 1, oW + kW - 1). Notebook 05, section 3.
    """
    return check(fn, Exercise(
        cases=input_delta_cases(), expected=_input_delta,
        label=lambda d, k: f"delta {d.shape}, kernel {k.shape}",
        shape_hint="dx has the input's shape, (oH + kH - 1, oW + kW - 1): pad delta with kH - 1 rows and kW - 1 "
                   "columns of zeros on each side, then take the valid correlation.",
        value_hint="dx = full correlation of delta with kernel[::-1, ::-1].",
        oracle="cnnlab.reference.conv2d with 'full' padding and the rotated kernel",
        mistakes=[
            Mistake(_full_correlation,
                    "you did not rotate the kernel. Hint: input cell (a, b) meets kernel[a - i, b - j] in output "
                    "(i, j): the index runs backwards, so correlate with kernel[::-1, ::-1] (rotated 180 degrees)."),
            Mistake(lambda d, k: _full_correlation(d, np.rot90(k)),
                    "np.rot90(kernel) rotates by 90 degrees only. Hint: rotate by 180, np.rot90(kernel, 2) or "
                    "kernel[::-1, ::-1]."),
            Mistake(lambda d, k: _full_correlation(d, k[::-1]),
                    "you flipped the kernel upside down only. Hint: a 180-degree rotation flips both axes: "
                    "kernel[::-1, ::-1]."),
            Mistake(lambda d, k: _full_correlation(d, k[:, ::-1]),
                    "you flipped the kernel left-right only. Hint: a 180-degree rotation flips both axes: "
                    "kernel[::-1, ::-1]."),
            Mistake(lambda d, k: _valid(d, k[::-1, ::-1]),
                    "you took the valid correlation, which shrinks delta. Hint: the full correlation pads delta with "
                    "kH - 1 and kW - 1 zeros on each side, so that dx has the input's shape.", by_shape=True),
            Mistake(lambda d, k: np.zeros(d.shape),
                    "your dx has delta's shape ('same' padding). Hint: dx has the input's shape, "
                    "(oH + kH - 1, oW + kW - 1): pad kH - 1 and kW - 1 zeros on *each* side.", by_shape=True),
        ],
        forbidden=[(F.conv2d, "cnnlab.conv2d"), (reference.conv2d, "cnnlab.reference.conv2d"),
                   (reference.conv2d_im2col, "cnnlab.reference.conv2d_im2col"),
                   (F.conv2d_backward, "cnnlab.conv2d_backward"),
                   (reference.conv2d_backward, "cnnlab.reference.conv2d_backward"),
                   (reference.conv2d_im2col_backward, "cnnlab.reference.conv2d_im2col_backward"),
                   (F.conv_transpose2d, "cnnlab.conv_transpose2d"),
                   (reference.conv_transpose2d, "cnnlab.reference.conv_transpose2d")],
        gradcheck=_input_delta_gradcheck))


# --- conv2d backward ------------------------------------------------------------------------

def conv2d_backward_cases(rng=None):
    """(dout, x, w, stride, pad) tuples: dout (N, F, H_out, W_out), x (N, C, H, W), w (F, C, kH, kW)."""
    rng = np.random.default_rng(SEED + 54) if rng is None else rng
    specs = [((1, 1, 4, 4), (1, 1, 3, 3), 1, 0),
             ((1, 1, 5, 5), (1, 1, 3, 3), 2, 1),   # stride 2 < kernel 3: neighbouring windows overlap
             ((2, 2, 4, 4), (3, 2, 3, 3), 1, 1),   # a batch: dw and db sum over it
             ((2, 3, 5, 7), (4, 3, 2, 3), 2, 1),   # non-square; stride does not divide
             ((3, 1, 6, 5), (2, 1, 3, 2), int(rng.integers(1, 3)), int(rng.integers(0, 2)))]
    cases = []
    for x_shape, w_shape, s, p in specs:
        x = rng.integers(-3, 4, x_shape).astype(float)
        w = rng.integers(-2, 3, w_shape).astype(float)
        oh = (x_shape[2] + 2 * p - w_shape[2]) // s + 1
        ow = (x_shape[3] + 2 * p - w_shape[3]) // s + 1
        cases.append((rng.integers(-2, 3, (x_shape[0], w_shape[0], oh, ow)).astype(float), x, w, s, p))
    return cases


def _backward(dout, x, w, s, p):
    return reference.conv2d_backward(dout, x, w, s, p)


def _assigned_dx(dout, x, w, s, p, per_filter):
    """dx with `=` instead of `+=`: each window overwrites the cells it shares
    with earlier windows (and with other filters, if per_filter)."""
    kh, kw = w.shape[2:]
    dxp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p))
    for n in range(dout.shape[0]):
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = dxp[n, :, i * s:i * s + kh, j * s:j * s + kw]
                if per_filter:
                    for f in range(w.shape[0]):
                        window[...] = dout[n, f, i, j] * w[f]
                else:
                    window[...] = np.einsum("f,fckl->ckl", dout[n, :, i, j], w)
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], None, None


def _last_image(dout, x, w, s, p):
    """dw and db of the last image only (assigned in a loop over the batch)."""
    _, dw, db = _backward(dout[-1:], x[-1:], w, s, p)
    return None, dw, db


def _conv2d_backward_mistakes():
    overwrite = ("dx: windows that overlap overwrite each other (= instead of +=). Hint: every output cell adds "
                 "dout[n, f, i, j] * w[f] into the window it read: dx_pad[n, :, i*s:i*s+kH, j*s:j*s+kW] += ...")
    return [
        Mistake(lambda d, x, w, s, p: _assigned_dx(d, x, w, s, p, per_filter=False), overwrite),
        Mistake(lambda d, x, w, s, p: _assigned_dx(d, x, w, s, p, per_filter=True), overwrite),
        Mistake(lambda d, x, w, s, p: (np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p)),
                                       None, None),
                "dx still has the padding. Hint: crop it from the padded gradient, "
                "dx = dx_pad[:, :, pad:pad+H, pad:pad+W]: padding cells are not inputs.", by_shape=True),
        Mistake(lambda d, x, w, s, p: (_backward(d, x, w[:, :, ::-1, ::-1], s, p)[0], None, None),
                "dx uses the kernel rotated the wrong way. Hint: in the loop form dx_pad[window] += dout * w[f] "
                "(no flip); in the full-correlation form the kernel must be rotated by 180 degrees."),
        Mistake(lambda d, x, w, s, p: (None, _backward(d, x, w, s, p)[1][:, :, ::-1, ::-1], None),
                "dw is rotated by 180 degrees. Hint: dw[f, c, u, v] = sum over n, i, j of "
                "dout[n, f, i, j] * x_pad[n, c, i*s + u, j*s + v]: tap (u, v) pairs with the cell it multiplied."),
        Mistake(lambda d, x, w, s, p: _backward(d, x, w, 1, p),
                "the stride is ignored: output (i, j) is paired with the window at (i, j). Hint: the window of "
                "output (i, j) starts at (i*stride, j*stride) of the padded input."),
        Mistake(_last_image,
                "dw and db hold only the last image's share. Hint: the weights are shared by every image of the "
                "batch, so sum their gradients over n (+= in the loop over the batch)."),
        Mistake(lambda d, x, w, s, p: (None, _backward(d, x, w, s, p)[1] / x.shape[0], None),
                "dw is divided by N. Hint: dout already holds the 1/N of a mean loss; dw is the plain sum over "
                "the batch."),
        Mistake(lambda d, x, w, s, p: (None, None, d.sum(axis=(2, 3))),
                "db is (N, F): not summed over the batch. Hint: db = dout.sum(axis=(0, 2, 3)).", by_shape=True),
        Mistake(lambda d, x, w, s, p: (None, None, d.sum(axis=0)),
                "db is (F, H_out, W_out): not summed over the output positions. Hint: every output cell of map f "
                "adds b[f], so db = dout.sum(axis=(0, 2, 3)).", by_shape=True),
        Mistake(lambda d, x, w, s, p: (None, np.zeros((x.shape[0], *w.shape)), None),
                "dw has one kernel gradient per image. Hint: sum over the batch: dw has w's shape.", by_shape=True),
    ]


def _conv2d_backward_gradcheck(fn):
    rng = np.random.default_rng(SEED + 55)
    x, w, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    dout = rng.standard_normal((2, 3, 3, 3))
    return gradient_check(fn, (dout, x, w, 2, 1), lambda x, w, b: reference.conv2d(x, w, b, 2, 1),
                          {"dx": x, "dw": w, "db": b}, upstream=dout)


def check_conv2d_backward(fn):
    """Check `fn(dout, x, w, stride, pad) -> (dx, dw, db)`: the backward pass of
    `check_conv2d_forward`'s convolution.

    dout (N, F, H_out, W_out), x (N, C, H, W), w (F, C, kH, kW), stride and
    pad ints -> dx (N, C, H, W), dw (F, C, kH, kW), db (F,). Every output cell
    (n, f, i, j) adds dout[n, f, i, j] * w[f] into the window of x_pad it read
    and dout[n, f, i, j] * that window into dw[f]; db sums dout over n, i, j;
    dx is the padded gradient with the padding cropped. Notebook 05,
    sections 3, 4 and 6.
    """
    return check(fn, Exercise(
        cases=conv2d_backward_cases(), expected=_backward,
        label=lambda d, x, w, s, p: f"x {x.shape}, w {w.shape}, stride {s}, pad {p}",
        outputs=("dx", "dw", "db"),
        shape_hint="dx has x's shape, dw has w's shape, db has one entry per filter.",
        value_hint="for every output cell: dx_pad[n, :, window] += dout[n, f, i, j] * w[f] and "
                   "dw[f] += dout[n, f, i, j] * x_pad[n, :, window]; db = dout.sum(axis=(0, 2, 3)).",
        oracle="cnnlab.reference.conv2d_backward",
        mistakes=_conv2d_backward_mistakes(),
        forbidden=[(F.conv2d_backward, "cnnlab.conv2d_backward"),
                   (reference.conv2d_backward, "cnnlab.reference.conv2d_backward"),
                   (reference.conv2d_im2col_backward, "cnnlab.reference.conv2d_im2col_backward")],
        gradcheck=_conv2d_backward_gradcheck))


# --- im2col -------------------------------------------------------------------------------

def im2col_cases(rng=None):
    """(x, kh, kw, stride, pad) tuples, x (N, C, H, W)."""
    rng = np.random.default_rng(SEED + 56) if rng is None else rng
    specs = [((1, 1, 3, 3), 2, 2, 1, 0),    # the docstring example of cnnlab.im2col
             ((1, 2, 3, 4), 2, 3, 1, 0),    # two channels, non-square kernel
             ((2, 1, 5, 5), 3, 3, 2, 1),    # batch, stride and padding
             ((1, 2, 4, 5), 2, 2, 2, 0),    # stride does not divide: the last column is never read
             ((2, 3, 5, 6), 3, 2, 2, 1)]
    return [(rng.integers(-5, 6, shape).astype(float), kh, kw, s, p) for shape, kh, kw, s, p in specs]


def _im2col(x, kh, kw, s, p):
    return reference.im2col(x, (kh, kw), s, p)


def _reordered(x, kh, kw, s, p, rows=(0, 1, 2), columns_transposed=False):
    """The columns with their rows in another order (axes of (C, kh, kw)) or
    the output positions in column-major order."""
    cols = _im2col(x, kh, kw, s, p)
    n, c = x.shape[:2]
    oh = (x.shape[2] + 2 * p - kh) // s + 1
    cols = cols.reshape(n, c, kh, kw, oh, -1)
    if columns_transposed:
        cols = cols.swapaxes(4, 5)
    return cols.transpose(0, *(1 + r for r in rows), 4, 5).reshape(n, c * kh * kw, -1)


def _im2col_mistakes():
    return [
        Mistake(lambda x, kh, kw, s, p: _reordered(x, kh, kw, s, p, rows=(1, 2, 0)),
                "your rows are ordered tap first, channel last. Hint: row c*kh*kw + i*kw + j holds channel c at "
                "tap (i, j): the channel varies slowest (so the rows match w.reshape(F, -1))."),
        Mistake(lambda x, kh, kw, s, p: _reordered(x, kh, kw, s, p, rows=(0, 2, 1)),
                "your taps are ordered column first. Hint: row c*kh*kw + i*kw + j: within a channel the taps go "
                "row by row, (0, 0), (0, 1), ..., as w[f, c].ravel() does."),
        Mistake(lambda x, kh, kw, s, p: _reordered(x, kh, kw, s, p, columns_transposed=True),
                "your columns list the output positions column by column. Hint: column r*oW + c is output "
                "position (r, c): row-major order, as out.reshape(N, F, oH*oW)."),
        Mistake(lambda x, kh, kw, s, p: _im2col(x, kh, kw, s, p).transpose(0, 2, 1),
                "you returned (N, oH*oW, C*kh*kw). Hint: the windows are the *columns*: "
                "(N, C*kh*kw, oH*oW), so that w.reshape(F, -1) @ cols is the convolution.", by_shape=True),
        Mistake(lambda x, kh, kw, s, p: _im2col(x, kh, kw, 1, p),
                "you ignored the stride: there is one column per stride-1 window. Hint: window (r, c) starts at "
                "(r*stride, c*stride) of the padded input.", by_shape=True),
        Mistake(lambda x, kh, kw, s, p: _im2col(x, kh, kw, s, 0),
                "you ignored the padding. Hint: pad x with `pad` zeros on every border first; windows that reach "
                "into the padding are columns too.", by_shape=True),
    ]


def check_im2col(fn):
    """Check `fn(x, kh, kw, stride, pad) -> cols`: unfold every kh x kw window
    of the zero-padded x into a column, in the layout of `cnnlab.im2col`.

    x (N, C, H, W) -> cols (N, C*kh*kw, oH*oW), oH = (H + 2*pad - kh) // stride + 1.
    Row c*kh*kw + i*kw + j holds channel c at kernel tap (i, j) (channel
    slowest, then the tap row, then the tap column); column r*oW + q is the
    output position (r, q), in row-major order. Then
    `w.reshape(F, -1) @ cols` is the convolution. Notebook 05, section 5.
    """
    return check(fn, Exercise(
        cases=im2col_cases(), expected=_im2col,
        label=lambda x, kh, kw, s, p: f"x {x.shape}, kernel {kh}x{kw}, stride {s}, pad {p}",
        shape_hint="cols is (N, C*kh*kw, oH*oW) with oH = (H + 2*pad - kh) // stride + 1 (and the same for oW).",
        value_hint="cols[n, c*kh*kw + i*kw + j, r*oW + q] = x_pad[n, c, r*stride + i, q*stride + j].",
        oracle="cnnlab.reference.im2col",
        mistakes=_im2col_mistakes(),
        forbidden=[(fast_im2col, "cnnlab.im2col"), (reference.im2col, "cnnlab.reference.im2col")]))
