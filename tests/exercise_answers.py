"""Test implementations of the graded exercises, as students would write them.

* CORRECT[checker]: a correct answer in plain NumPy (never calling the kernel
  the exercise practises);
* MISTAKES: (checker, wrong answer, a distinctive piece of the hint it must get):
  the classic mistakes, each written as the code that makes it;
* CHEATS: (checker, answer): "solutions" that only call the cnnlab kernel.

The register decorators keep each answer next to its name.
"""
import math

import numpy as np

import cnnlab as cl
from cnnlab import arithmetic, reference
from cnnlab.nn import optim, train
from cnnlab.nn.layers import Dropout, SparseConv2d, Subsample2d
from cnnlab.teach import filters, geometry

CORRECT, MISTAKES, CHEATS = {}, [], []


def answer(checker):
    def register(fn):
        CORRECT[checker] = fn
        return fn
    return register


def mistake(checker, hint):
    def register(fn):
        MISTAKES.append((checker, fn, hint))
        return fn
    return register


def cheat(checker, fn):
    CHEATS.append((checker, fn))


# --- helpers ------------------------------------------------------------------------------

def pad2(x, p):
    """Zero padding of the last two axes, p cells on each side."""
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)])


def windows(x, k):
    """(N, C, H, W) -> (N, C, H // k, k, W // k, k): the non-overlapping k x k windows, leftover cells dropped."""
    n, c, h, w = x.shape
    return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k)


def window_sums(x, k):
    return windows(x, k).sum(axis=(3, 5))


def upsample(values, k, shape):
    """values copied to every cell of their k x k window, in an array of `shape` (leftovers 0)."""
    out = np.zeros(shape)
    oh, ow = values.shape[2:]
    out[:, :, :oh * k, :ow * k] = np.repeat(np.repeat(values, k, axis=2), k, axis=3)
    return out


# --- notebook 01 ---------------------------------------------------------------------------

@answer("check_correlate2d")
def correlate2d(image, kernel):
    kh, kw = kernel.shape
    oh, ow = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((oh, ow))
    for i in range(kh):  # one shifted copy of the image per kernel tap
        for j in range(kw):
            out += kernel[i, j] * image[i:i + oh, j:j + ow]
    return out


mistake("check_correlate2d", "true convolution")(lambda image, kernel: correlate2d(image, kernel[::-1, ::-1]))
mistake("check_correlate2d", "kernel transposed")(lambda image, kernel: correlate2d(image, kernel.T))
cheat("check_correlate2d", lambda image, kernel: cl.conv2d(image[None, None], kernel[None, None])[0, 0])
cheat("check_correlate2d", lambda image, kernel: reference.conv2d_im2col(image[None, None], kernel[None, None])[0, 0])


@answer("check_conv2d_forward")
def conv2d_forward(x, w, b, stride, pad, step=None):
    """`step`: where window (i, j) starts, i*step (a mistake when step != stride)."""
    step = stride if step is None else step
    xp = pad2(x, pad)
    f, c, kh, kw = w.shape
    oh, ow = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * step:i * step + kh, j * step:j * step + kw]
            out[:, :, i, j] = np.einsum("nckl,fckl->nf", window, w)
    return out + b[:, None, None]


@mistake("check_conv2d_forward", "bias is added once per input channel")
def conv2d_bias_per_channel(x, w, b, stride, pad):
    return sum(conv2d_forward(x[:, c:c + 1], w[:, c:c + 1], b, stride, pad) for c in range(x.shape[1]))


@mistake("check_conv2d_forward", "padded only the top and left")
def conv2d_pad_top_left(x, w, b, stride, pad):
    return conv2d_forward(np.pad(x, [(0, 0), (0, 0), (pad, 0), (pad, 0)]), w, b, stride, 0)


mistake("check_conv2d_forward", "flipped the kernel")(
    lambda x, w, b, s, p: conv2d_forward(x, w[:, :, ::-1, ::-1], b, s, p))
mistake("check_conv2d_forward", "bias is missing")(lambda x, w, b, s, p: conv2d_forward(x, w, 0 * b, s, p))
mistake("check_conv2d_forward", "stride is ignored in the window positions")(
    lambda x, w, b, s, p: conv2d_forward(x, w, b, s, p, step=1))
mistake("check_conv2d_forward", "you ignored the stride")(lambda x, w, b, s, p: conv2d_forward(x, w, b, 1, p))
mistake("check_conv2d_forward", "you ignored the padding")(lambda x, w, b, s, p: conv2d_forward(x, w, b, s, 0))
mistake("check_conv2d_forward", "each kernel transposed")(
    lambda x, w, b, s, p: conv2d_forward(x, w.swapaxes(2, 3), b, s, p))
mistake("check_conv2d_forward", "H_out and W_out swapped")(
    lambda x, w, b, s, p: conv2d_forward(x, w, b, s, p).swapaxes(2, 3))
cheat("check_conv2d_forward", lambda x, w, b, s, p: cl.conv2d(x, w, b, s, p))
cheat("check_conv2d_forward", lambda x, w, b, s, p: reference.conv2d_im2col(x, w, b, s, p))


@answer("check_separable_factors")
def separable_factors(kernel):
    u, s, vh = np.linalg.svd(kernel)
    if s.size > 1 and s[1] > 1e-10 * s[0]:
        return None
    return u[:, 0] * np.sqrt(s[0]), vh[0] * np.sqrt(s[0])


@mistake("check_separable_factors", "zero only up to rounding")
def separable_exact_zero_test(kernel):
    u, s, vh = np.linalg.svd(kernel)
    return None if s[1] != 0 else (u[:, 0] * np.sqrt(s[0]), vh[0] * np.sqrt(s[0]))


@mistake("check_separable_factors", "this kernel is not separable")
def separable_no_rank_test(kernel):
    u, s, vh = np.linalg.svd(kernel)
    return u[:, 0] * np.sqrt(s[0]), vh[0] * np.sqrt(s[0])


@mistake("check_separable_factors", "divide by a kernel entry that is 0")
def separable_from_first_row(kernel):
    if separable_factors(kernel) is None:
        return None
    return kernel[:, 0], kernel[0] / kernel[0, 0]


@mistake("check_separable_factors", "you left s[0] out")
def separable_without_singular_value(kernel):
    u, s, vh = np.linalg.svd(kernel)
    return None if s.size > 1 and s[1] > 1e-10 * s[0] else (u[:, 0], vh[0])


@mistake("check_separable_factors", "Vh[0], not Vh[:, 0]")
def separable_column_of_vh(kernel):
    u, s, vh = np.linalg.svd(kernel)
    return None if s.size > 1 and s[1] > 1e-10 * s[0] else (u[:, 0] * s[0], vh[:, 0])


mistake("check_separable_factors", "u and v are swapped")(
    lambda kernel: None if separable_factors(kernel) is None else separable_factors(kernel)[::-1])
cheat("check_separable_factors", lambda kernel: filters.separate(kernel) if filters.is_separable(kernel) else None)


# --- notebook 02 ---------------------------------------------------------------------------

@answer("check_conv_output_size")
def conv_output_size(i, k, s=1, p=0, d=1):
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


mistake("check_conv_output_size", "rounded up")(
    lambda i, k, s=1, p=0, d=1: math.ceil((i + 2 * p - d * (k - 1) - 1) / s) + 1)
mistake("check_conv_output_size", "true division")(lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * (k - 1) - 1) / s + 1)
mistake("check_conv_output_size", "forgot the + 1")(lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * (k - 1) - 1) // s)
mistake("check_conv_output_size", "ignored the stride")(lambda i, k, s=1, p=0, d=1: i + 2 * p - d * (k - 1))
mistake("check_conv_output_size", "added the padding once")(
    lambda i, k, s=1, p=0, d=1: (i + p - d * (k - 1) - 1) // s + 1)
mistake("check_conv_output_size", "forgot the dilation")(lambda i, k, s=1, p=0, d=1: (i + 2 * p - k) // s + 1)
mistake("check_conv_output_size", "used d*k")(lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * k) // s + 1)
mistake("check_conv_output_size", "a float")(lambda i, k, s=1, p=0, d=1: float(conv_output_size(i, k, s, p, d)))
mistake("check_conv_output_size", "raised TypeError")(lambda i, k, s, p, d: conv_output_size(i, k, s, p, d))
cheat("check_conv_output_size", lambda i, k, s=1, p=0, d=1: arithmetic.conv_output_size(i, k, s, p, d))


@answer("check_pool_output_size")
def pool_output_size(i, k, s, ceil_mode=False, last_window_rule=True):
    if not ceil_mode:
        return (i - k) // s + 1
    o = -(-(i - k) // s) + 1
    if last_window_rule and (o - 1) * s >= i:  # the last window would start outside the input
        o -= 1
    return o


mistake("check_pool_output_size", "rounded up although ceil_mode is False")(
    lambda i, k, s, ceil_mode=False: pool_output_size(i, k, s, True))
mistake("check_pool_output_size", "ignored ceil_mode=True")(lambda i, k, s, ceil_mode=False: (i - k) // s + 1)
mistake("check_pool_output_size", "last window must start inside the input")(
    lambda i, k, s, ceil_mode=False: pool_output_size(i, k, s, ceil_mode, last_window_rule=False))
mistake("check_pool_output_size", "ceil(a / s) as a // s + 1")(
    lambda i, k, s, ceil_mode=False: (i - k) // s + (2 if ceil_mode else 1))
mistake("check_pool_output_size", "forgot the + 1")(
    lambda i, k, s, ceil_mode=False: pool_output_size(i, k, s, ceil_mode) - 1)
mistake("check_pool_output_size", "true division")(lambda i, k, s, ceil_mode=False: (i - k) / s + 1)
cheat("check_pool_output_size",
      lambda i, k, s, ceil_mode=False: arithmetic.pool_output_size(i, k, s, ceil_mode=ceil_mode))


@answer("check_receptive_field")
def receptive_field(layers, start=1, extra=-1, own_stride=False, strides=True):
    """The keyword arguments make the classic slips (see the mistakes below)."""
    rf, jump = start, 1
    for k, s in layers:
        if own_stride:
            jump *= s
        rf += (k + extra) * jump
        if strides and not own_stride:
            jump *= s
    return rf


mistake("check_receptive_field", "ignored the strides")(lambda layers: receptive_field(layers, strides=False))
mistake("check_receptive_field", "before adding that layer's")(lambda layers: receptive_field(layers, own_stride=True))
mistake("check_receptive_field", "a k-tap kernel widens")(lambda layers: receptive_field(layers, extra=0))
mistake("check_receptive_field", "starting from 0")(lambda layers: receptive_field(layers, start=0, extra=0))
cheat("check_receptive_field", lambda layers: arithmetic.receptive_field(layers)[-1][0])


@mistake("check_receptive_field", "expected an int")
def receptive_field_list(layers):
    """The whole [(rf, jump), ...] list instead of the final rf."""
    rf, jump, out = 1, 1, []
    for k, s in layers:
        rf, jump = rf + (k - 1) * jump, jump * s
        out.append((rf, jump))
    return out


# --- notebook 03 ---------------------------------------------------------------------------

@answer("check_conv1x1")
def conv1x1(x, w):
    n, c, h, wd = x.shape
    return (w @ x.reshape(n, c, h * wd)).reshape(n, w.shape[0], h, wd)  # one product per image


mistake("check_conv1x1", "multiplied by w.T")(lambda x, w: np.einsum("nchw,co->nohw", x, w))
mistake("check_conv1x1", "mixes the images of the batch")(
    lambda x, w: (w @ x.reshape(x.shape[1], -1)).reshape(x.shape[0], w.shape[0], *x.shape[2:]))
mistake("check_conv1x1", "but not back")(
    lambda x, w: (w @ x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1)).reshape(x.shape[0], w.shape[0], *x.shape[2:]))
mistake("check_conv1x1", "(N, C_out, H*W)")(lambda x, w: w @ x.reshape(*x.shape[:2], -1))
mistake("check_conv1x1", "H and W swapped")(
    lambda x, w: (w @ x.reshape(*x.shape[:2], -1)).reshape(x.shape[0], w.shape[0], x.shape[3], x.shape[2]))
cheat("check_conv1x1", lambda x, w: cl.conv2d(x, w[:, :, None, None]))


@answer("check_separable_params")
def separable_params(c_in, c_out, k):
    return c_out * c_in * k * k, c_in * k * k + c_in * c_out


mistake("check_separable_params", "you counted the biases")(
    lambda c_in, c_out, k: (c_out * c_in * k * k + c_out, c_in * k * k + c_in + c_in * c_out + c_out))
mistake("check_separable_params", "your separable count includes the biases")(
    lambda c_in, c_out, k: (c_out * c_in * k * k, c_in * k * k + c_in + c_in * c_out + c_out))
mistake("check_separable_params", "depthwise step has c_out kernels")(
    lambda c_in, c_out, k: (c_out * c_in * k * k, c_out * k * k + c_in * c_out))
mistake("check_separable_params", "only the depthwise step")(
    lambda c_in, c_out, k: (c_out * c_in * k * k, c_in * k * k))
mistake("check_separable_params", "only the pointwise step")(
    lambda c_in, c_out, k: (c_out * c_in * k * k, c_in * c_out))
mistake("check_separable_params", "the two counts are swapped")(
    lambda c_in, c_out, k: separable_params(c_in, c_out, k)[::-1])
mistake("check_separable_params", "misses the input channels")(
    lambda c_in, c_out, k: (c_out * k * k, c_in * k * k + c_in * c_out))
mistake("check_separable_params", "expected a pair")(lambda c_in, c_out, k: c_out * c_in * k * k)
cheat("check_separable_params",
      lambda c_in, c_out, k: (arithmetic.conv_params(c_in, c_out, (k, k), bias=False), c_in * k * k + c_in * c_out))


@answer("check_max_pool")
def max_pool(image, size, reduce=np.max):
    h, w = image.shape[0] // size * size, image.shape[1] // size * size
    return reduce(image[:h, :w].reshape(h // size, size, w // size, size), axis=(1, 3))


mistake("check_max_pool", "average")(lambda image, size: max_pool(image, size, np.mean))
mistake("check_max_pool", "ceil instead of floor")(
    lambda image, size: max_pool(np.pad(image, [(0, -image.shape[0] % size), (0, -image.shape[1] % size)],
                                        constant_values=-np.inf), size))
cheat("check_max_pool", lambda image, size: cl.max_pool2d(image[None, None], size)[0, 0])


# --- notebook 04 ---------------------------------------------------------------------------

@answer("check_conv_transpose2d")
def conv_transpose2d(x, w, stride, assign=False):
    n, _, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    out = np.zeros((n, c_out, (h - 1) * stride + kh, (wd - 1) * stride + kw))
    for i in range(h):
        for j in range(wd):
            stamp = np.einsum("nc,cokl->nokl", x[:, :, i, j], w)  # every input pixel stamps a scaled kernel
            window = out[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            if assign:
                window[...] = stamp
            else:
                window += stamp
    return out


mistake("check_conv_transpose2d", "= instead of +=")(lambda x, w, s: conv_transpose2d(x, w, s, assign=True))
mistake("check_conv_transpose2d", "flipped the kernel")(lambda x, w, s: conv_transpose2d(x, w[:, :, ::-1, ::-1], s))
mistake("check_conv_transpose2d", "read w as (C_out, C_in")(lambda x, w, s: conv_transpose2d(x, w.swapaxes(0, 1), s))
mistake("check_conv_transpose2d", "ignored the stride")(lambda x, w, s: conv_transpose2d(x, w, 1))
mistake("check_conv_transpose2d", "height and width are swapped")(
    lambda x, w, s: conv_transpose2d(x, w, s).swapaxes(2, 3))
cheat("check_conv_transpose2d", lambda x, w, s: cl.conv_transpose2d(x, w, stride=s))


@answer("check_transposed_output_size")
def transposed_output_size(i, k, s=1, p=0, output_padding=0):
    return (i - 1) * s - 2 * p + k + output_padding


mistake("check_transposed_output_size", "size of an ordinary convolution")(
    lambda i, k, s=1, p=0, output_padding=0: (i + 2 * p - k) // s + 1)
mistake("check_transposed_output_size", "not simply i * s")(lambda i, k, s=1, p=0, output_padding=0: i * s)
mistake("check_transposed_output_size", "you used i * s")(
    lambda i, k, s=1, p=0, output_padding=0: i * s - 2 * p + k + output_padding)
mistake("check_transposed_output_size", "one too few")(
    lambda i, k, s=1, p=0, output_padding=0: transposed_output_size(i, k, s, p, output_padding) - 1)
mistake("check_transposed_output_size", "you added the padding")(
    lambda i, k, s=1, p=0, output_padding=0: (i - 1) * s + 2 * p + k + output_padding)
mistake("check_transposed_output_size", "subtracted the padding once")(
    lambda i, k, s=1, p=0, output_padding=0: (i - 1) * s - p + k + output_padding)
mistake("check_transposed_output_size", "forgot output_padding")(
    lambda i, k, s=1, p=0, output_padding=0: (i - 1) * s - 2 * p + k)
mistake("check_transposed_output_size", "output_padding twice")(
    lambda i, k, s=1, p=0, output_padding=0: (i - 1) * s - 2 * p + k + 2 * output_padding)
cheat("check_transposed_output_size", lambda i, k, s=1, p=0, output_padding=0:
      arithmetic.conv_transpose_output_size(i, k, s, p, output_padding))


@answer("check_zero_insert")
def zero_insert(x, stride, step=None, shape=None):
    """`step` and `shape`: where the entries go and the output's shape (mistakes when changed)."""
    step = stride if step is None else step
    shape = ((x.shape[0] - 1) * step + 1, (x.shape[1] - 1) * step + 1) if shape is None else shape
    out = np.zeros(shape)
    out[::step, ::step] = x
    return out


mistake("check_zero_insert", "extra zero rows and columns after the last entry")(
    lambda x, s: zero_insert(x, s, shape=(x.shape[0] * s, x.shape[1] * s)))
mistake("check_zero_insert", "inserted `stride` zeros")(lambda x, s: zero_insert(x, s, step=s + 1))
mistake("check_zero_insert", "repeated the entries")(
    lambda x, s: np.kron(x, np.ones((s, s)))[:(x.shape[0] - 1) * s + 1, :(x.shape[1] - 1) * s + 1])
mistake("check_zero_insert", "H and W swapped")(lambda x, s: zero_insert(x, s).T)
cheat("check_zero_insert", lambda x, s: geometry.zero_insert(x[None, None], s)[0, 0])


# --- notebook 05 ---------------------------------------------------------------------------

@answer("check_softmax_cross_entropy")
def softmax_cross_entropy(logits, labels):
    n = len(labels)
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp cannot overflow now
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    grad = np.exp(log_p)
    grad[np.arange(n), labels] -= 1
    return -log_p[np.arange(n), labels].mean(), grad / n


def softmax_ce_variant(logits, labels, loss_by=1.0, grad_by=1.0, sign=1, onehot=1, axis=1):
    """The loss and gradient with classic slips (scales, sign, one-hot, axis)."""
    n = len(labels)
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    loss = -np.log(p[np.arange(n), labels]).mean() * loss_by
    p[np.arange(n), labels] -= onehot
    return loss, sign * p / n * grad_by


@mistake("check_softmax_cross_entropy", "np.exp(10000) overflows")
def softmax_ce_without_max(logits, labels):
    n = len(labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), labels]).mean()
    p[np.arange(n), labels] -= 1
    return loss, p / n


mistake("check_softmax_cross_entropy", "probability underflowed to 0")(softmax_ce_variant)
mistake("check_softmax_cross_entropy", "one loss per example")(
    lambda z, y: (-(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(y)), y],
                  softmax_cross_entropy(z, y)[1]))
mistake("check_softmax_cross_entropy", "sums over the batch")(
    lambda z, y: softmax_ce_variant(z, y, loss_by=len(y), grad_by=len(y)))
mistake("check_softmax_cross_entropy", "dlogits is not divided by N")(
    lambda z, y: (softmax_cross_entropy(z, y)[0], softmax_cross_entropy(z, y)[1] * len(y)))
mistake("check_softmax_cross_entropy", "the loss is summed")(
    lambda z, y: (softmax_cross_entropy(z, y)[0] * len(y), softmax_cross_entropy(z, y)[1]))
mistake("check_softmax_cross_entropy", "forgot the one-hot term")(
    lambda z, y: (softmax_cross_entropy(z, y)[0], softmax_cross_entropy(z, y)[1] + np.eye(z.shape[1])[y] / len(y)))
mistake("check_softmax_cross_entropy", "wrong sign")(
    lambda z, y: (softmax_cross_entropy(z, y)[0], -softmax_cross_entropy(z, y)[1]))
mistake("check_softmax_cross_entropy", "over the batch (axis 0)")(
    lambda z, y: softmax_ce_variant(z, y, axis=0))
cheat("check_softmax_cross_entropy", lambda z, y: (cl.cross_entropy(z, y), cl.cross_entropy_backward(z, y)))


@answer("check_max_pool_backward")
def max_pool_backward(dout, x, size, stride, step=None, assign=False, route="first"):
    """route: 'first' (the first maximum), 'all' (every maximum) or 'window'
    (every cell); `step` and `assign` make the classic slips."""
    step = stride if step is None else step
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * step:i * step + size, j * step:j * step + size]
            flat = window.reshape(*window.shape[:2], -1)
            if route == "first":  # np.argmax picks the first maximum in row-major order
                share = np.eye(size * size)[flat.argmax(axis=2)].reshape(window.shape)
            elif route == "all":
                share = (window == window.max(axis=(2, 3), keepdims=True)).astype(float)
            else:
                share = np.ones_like(window)
            target = dx[:, :, i * step:i * step + size, j * step:j * step + size]
            if assign:
                target[share > 0] = np.broadcast_to(dout[:, :, i, j, None, None], share.shape)[share > 0]
            else:
                target += share * dout[:, :, i, j, None, None]
    return dx


mistake("check_max_pool_backward", "sent the gradient to all of them")(
    lambda d, x, k, s: max_pool_backward(d, x, k, s, route="all"))
mistake("check_max_pool_backward", "= instead of +=")(lambda d, x, k, s: max_pool_backward(d, x, k, s, assign=True))
mistake("check_max_pool_backward", "*average* pooling")(lambda d, x, k, s: avg_pool_backward(d, x, k, s))
mistake("check_max_pool_backward", "every cell of the window")(
    lambda d, x, k, s: max_pool_backward(d, x, k, s, route="window"))
mistake("check_max_pool_backward", "stride is ignored")(lambda d, x, k, s: max_pool_backward(d, x, k, s, step=1))
cheat("check_max_pool_backward", lambda d, x, k, s: cl.max_pool2d_backward(d, x, k, s))


@answer("check_avg_pool_backward")
def avg_pool_backward(dout, x, size, stride, divisor=None, step=None, assign=False):
    step = stride if step is None else step
    divisor = size * size if divisor is None else divisor
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            target = dx[:, :, i * step:i * step + size, j * step:j * step + size]
            share = dout[:, :, i, j, None, None] / divisor
            if assign:
                target[...] = share
            else:
                target += share
    return dx


mistake("check_avg_pool_backward", "did not divide")(lambda d, x, k, s: avg_pool_backward(d, x, k, s, divisor=1))
mistake("check_avg_pool_backward", "divided by size instead of size*size")(
    lambda d, x, k, s: avg_pool_backward(d, x, k, s, divisor=k))
mistake("check_avg_pool_backward", "= instead of +=")(lambda d, x, k, s: avg_pool_backward(d, x, k, s, assign=True))
mistake("check_avg_pool_backward", "*max* pooling")(lambda d, x, k, s: max_pool_backward(d, x, k, s))
mistake("check_avg_pool_backward", "stride is ignored")(lambda d, x, k, s: avg_pool_backward(d, x, k, s, step=1))
mistake("check_avg_pool_backward", "an upsampled dout")(lambda d, x, k, s: np.kron(d, np.ones((1, 1, k, k))) / k ** 2)
cheat("check_avg_pool_backward", lambda d, x, k, s: cl.avg_pool2d_backward(d, x, k, s))


def full_correlate(delta, kernel):
    """Full correlation: delta padded with kH-1, kW-1 zeros each side, then a valid correlation."""
    kh, kw = kernel.shape
    padded = np.pad(delta, [(kh - 1, kh - 1), (kw - 1, kw - 1)])
    return correlate2d(padded, kernel)


@answer("check_input_delta")
def input_delta(delta, kernel):
    return full_correlate(delta, kernel[::-1, ::-1])


mistake("check_input_delta", "did not rotate")(full_correlate)
mistake("check_input_delta", "rotates by 90 degrees only")(lambda d, k: full_correlate(d, np.rot90(k)))
mistake("check_input_delta", "upside down only")(lambda d, k: full_correlate(d, k[::-1]))
mistake("check_input_delta", "left-right only")(lambda d, k: full_correlate(d, k[:, ::-1]))
mistake("check_input_delta", "valid correlation")(lambda d, k: correlate2d(d, k[::-1, ::-1]))
mistake("check_input_delta", "'same' padding")(
    lambda d, k: full_correlate(d, k[::-1, ::-1])[k.shape[0] // 2:k.shape[0] // 2 + d.shape[0],
                                                   k.shape[1] // 2:k.shape[1] // 2 + d.shape[1]])
cheat("check_input_delta", lambda d, k: cl.conv2d(d[None, None], k[::-1, ::-1][None, None], padding="full")[0, 0])


@answer("check_conv2d_backward")
def conv2d_backward(dout, x, w, stride, pad, step=None, assign=False, last_image=False):
    step = stride if step is None else step
    xp = pad2(x, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kh, kw = w.shape[2:]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = np.s_[:, :, i * step:i * step + kh, j * step:j * step + kw]
            share = np.einsum("nf,fckl->nckl", dout[:, :, i, j], w)
            if assign:
                dxp[window] = share
            else:
                dxp[window] += share
            dw += np.einsum("nf,nckl->fckl", dout[:, :, i, j], xp[window])
    db = dout.sum(axis=(0, 2, 3))
    if last_image:  # dw and db assigned, not accumulated, in a loop over the batch
        _, dw, db = conv2d_backward(dout[-1:], x[-1:], w, stride, pad)
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, db


def replace(result, **parts):
    """A (dx, dw, db)-like triple with the parts named dx, dw or db replaced."""
    dx, dw, db = result
    return parts.get("dx", dx), parts.get("dw", dw), parts.get("db", db)


mistake("check_conv2d_backward", "overwrite each other")(
    lambda d, x, w, s, p: conv2d_backward(d, x, w, s, p, assign=True))
mistake("check_conv2d_backward", "the stride is ignored")(lambda d, x, w, s, p: conv2d_backward(d, x, w, s, p, step=1))
mistake("check_conv2d_backward", "last image's share")(
    lambda d, x, w, s, p: conv2d_backward(d, x, w, s, p, last_image=True))


@mistake("check_conv2d_backward", "still has the padding")
def conv2d_backward_uncropped(d, x, w, s, p):
    return replace(conv2d_backward(d, x, w, s, p), dx=conv2d_backward(d, pad2(x, p), w, s, 0)[0])


@mistake("check_conv2d_backward", "rotated the wrong way")
def conv2d_backward_flipped_dx(d, x, w, s, p):
    return replace(conv2d_backward(d, x, w, s, p), dx=conv2d_backward(d, x, w[:, :, ::-1, ::-1], s, p)[0])


@mistake("check_conv2d_backward", "dw is rotated by 180 degrees")
def conv2d_backward_flipped_dw(d, x, w, s, p):
    dx, dw, db = conv2d_backward(d, x, w, s, p)
    return dx, dw[:, :, ::-1, ::-1], db


@mistake("check_conv2d_backward", "dw is divided by N")
def conv2d_backward_dw_mean(d, x, w, s, p):
    dx, dw, db = conv2d_backward(d, x, w, s, p)
    return dx, dw / len(x), db


@mistake("check_conv2d_backward", "one kernel gradient per image")
def conv2d_backward_dw_per_image(d, x, w, s, p):
    per_image = [conv2d_backward(d[n:n + 1], x[n:n + 1], w, s, p)[1] for n in range(len(x))]
    return replace(conv2d_backward(d, x, w, s, p), dw=np.stack(per_image))


mistake("check_conv2d_backward", "db is (N, F)")(
    lambda d, x, w, s, p: replace(conv2d_backward(d, x, w, s, p), db=d.sum(axis=(2, 3))))
mistake("check_conv2d_backward", "not summed over the output positions")(
    lambda d, x, w, s, p: replace(conv2d_backward(d, x, w, s, p), db=d.sum(axis=0)))
cheat("check_conv2d_backward", lambda d, x, w, s, p: cl.conv2d_backward(d, x, w, s, p))
cheat("check_conv2d_backward", lambda d, x, w, s, p: reference.conv2d_im2col_backward(d, x, w, s, p))


@answer("check_im2col")
def im2col(x, kh, kw, stride, pad, rows=(0, 1, 2), column_major=False):
    """rows: the order of the (channel, tap row, tap column) axes in the rows;
    column_major: output positions column by column (both mistakes when changed)."""
    xp = pad2(x, pad)
    n, c = x.shape[:2]
    oh, ow = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    cols = np.zeros((n, c, kh, kw, oh, ow))
    for i in range(kh):  # tap (i, j) reads every stride-th cell, starting at (i, j)
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
    if column_major:
        cols = cols.swapaxes(4, 5)
    return cols.transpose(0, *(1 + r for r in rows), 4, 5).reshape(n, c * kh * kw, oh * ow)


mistake("check_im2col", "tap first, channel last")(lambda x, kh, kw, s, p: im2col(x, kh, kw, s, p, rows=(1, 2, 0)))
mistake("check_im2col", "taps are ordered column first")(
    lambda x, kh, kw, s, p: im2col(x, kh, kw, s, p, rows=(0, 2, 1)))
mistake("check_im2col", "column by column")(lambda x, kh, kw, s, p: im2col(x, kh, kw, s, p, column_major=True))
mistake("check_im2col", "(N, oH*oW, C*kh*kw)")(lambda x, kh, kw, s, p: im2col(x, kh, kw, s, p).transpose(0, 2, 1))
mistake("check_im2col", "ignored the stride")(lambda x, kh, kw, s, p: im2col(x, kh, kw, 1, p))
mistake("check_im2col", "ignored the padding")(lambda x, kh, kw, s, p: im2col(x, kh, kw, s, 0))
cheat("check_im2col", lambda x, kh, kw, s, p: cl.im2col(x, (kh, kw), s, p))
cheat("check_im2col", lambda x, kh, kw, s, p: reference.im2col(x, (kh, kw), s, p))


# --- notebook 06 ---------------------------------------------------------------------------

@answer("check_subsample2d_forward")
def subsample2d_forward(x, weight, bias, k):
    return window_sums(x, k) * weight[:, None, None] + bias[:, None, None]


mistake("check_subsample2d_forward", "you averaged the windows")(
    lambda x, w, b, k: window_sums(x, k) / k ** 2 * w[:, None, None] + b[:, None, None])
mistake("check_subsample2d_forward", "max of each window")(
    lambda x, w, b, k: windows(x, k).max(axis=(3, 5)) * w[:, None, None] + b[:, None, None])
mistake("check_subsample2d_forward", "bias is missing")(lambda x, w, b, k: window_sums(x, k) * w[:, None, None])
mistake("check_subsample2d_forward", "added the bias before scaling")(
    lambda x, w, b, k: (window_sums(x, k) + b[:, None, None]) * w[:, None, None])
mistake("check_subsample2d_forward", "broadcast along the last axis")(lambda x, w, b, k: window_sums(x, k) * w + b)
mistake("check_subsample2d_forward", "windows overlap")(
    lambda x, w, b, k: sum(x[:, :, i:x.shape[2] - k + 1 + i, j:x.shape[3] - k + 1 + j]
                           for i in range(k) for j in range(k)) * w[:, None, None] + b[:, None, None])


def subsample_layer(x, weight, bias, k):
    """cnnlab's Subsample2d layer with the given weight and bias."""
    layer = Subsample2d(x.shape[1], k).astype(np.float64)
    layer.params["weight"][...], layer.params["bias"][...] = weight, bias
    return layer


cheat("check_subsample2d_forward", lambda x, w, b, k: subsample_layer(x, w, b, k).forward(x))


@answer("check_subsample2d_backward")
def subsample2d_backward(dout, x, weight, k):
    dx = upsample(dout * weight[:, None, None], k, x.shape)  # each window cell was summed once, times weight[c]
    return dx, (dout * window_sums(x, k)).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def subsample_replace(dout, x, weight, k, **parts):
    return replace(subsample2d_backward(dout, x, weight, k), **parts)


mistake("check_subsample2d_backward", "not multiplied by weight[c]")(
    lambda d, x, w, k: subsample_replace(d, x, w, k, dx=upsample(d, k, x.shape)))
mistake("check_subsample2d_backward", "divided by k*k")(
    lambda d, x, w, k: subsample_replace(d, x, w, k, dx=upsample(d * w[:, None, None], k, x.shape) / k ** 2))
mistake("check_subsample2d_backward", "window averages")(
    lambda d, x, w, k: subsample_replace(d, x, w, k, dw=(d * window_sums(x, k) / k ** 2).sum(axis=(0, 2, 3))))
mistake("check_subsample2d_backward", "only the last image's share")(
    lambda d, x, w, k: subsample_replace(d, x, w, k, dw=(d[-1] * window_sums(x, k)[-1]).sum(axis=(1, 2)),
                                         db=d[-1].sum(axis=(1, 2))))
mistake("check_subsample2d_backward", "dweight is (N, C)")(
    lambda d, x, w, k: subsample_replace(d, x, w, k, dw=(d * window_sums(x, k)).sum(axis=(2, 3))))
mistake("check_subsample2d_backward", "dbias is (N, C)")(
    lambda d, x, w, k: subsample_replace(d, x, w, k, db=d.sum(axis=(2, 3))))
mistake("check_subsample2d_backward", "an upsampled dout")(
    lambda d, x, w, k: subsample_replace(d, x, w, k, dx=np.kron(d * w[:, None, None], np.ones((1, 1, k, k)))))


def subsample_layer_backward(dout, x, weight, k):
    layer = subsample_layer(x, weight, np.zeros_like(weight), k)
    layer.forward(x)
    return layer.backward(dout), layer.grads["weight"], layer.grads["bias"]


cheat("check_subsample2d_backward", subsample_layer_backward)


@answer("check_sparse_conv_params")
def sparse_conv_params(table, k, out_size):
    params = int(np.sum(table)) * k * k + table.shape[1]  # the table's kernels, one bias per output map
    return params, params * out_size[0] * out_size[1]


mistake("check_sparse_conv_params", "every pair of maps")(
    lambda t, k, o: (t.size * k * k + t.shape[1], (t.size * k * k + t.shape[1]) * o[0] * o[1]))
mistake("check_sparse_conv_params", "the biases are missing")(
    lambda t, k, o: (int(t.sum()) * k * k, int(t.sum()) * k * k * o[0] * o[1]))
mistake("check_sparse_conv_params", "every kernel a bias")(
    lambda t, k, o: (int(t.sum()) * (k * k + 1), int(t.sum()) * (k * k + 1) * o[0] * o[1]))
mistake("check_sparse_conv_params", "counted C_in biases")(
    lambda t, k, o: (int(t.sum()) * k * k + t.shape[0], (int(t.sum()) * k * k + t.shape[0]) * o[0] * o[1]))
mistake("check_sparse_conv_params", "connections leave out the biases")(
    lambda t, k, o: (sparse_conv_params(t, k, o)[0], int(t.sum()) * k * k * o[0] * o[1]))
cheat("check_sparse_conv_params", lambda t, k, o: SparseConv2d(t, k).summary_row(None, (1, t.shape[1], *o)))


# --- notebook 07 ---------------------------------------------------------------------------

@answer("check_dropout_forward")
def dropout_forward(x, p, u):
    return x * (u >= p) / (1 - p)


DROPOUT_SLIPS = [("not scaled", lambda a, p, u: a * (u >= p)),
                 ("mask is inverted", lambda a, p, u: a * (u < p) / (1 - p)),
                 ("multiplied the kept units by 1 - p", lambda a, p, u: a * (u >= p) * (1 - p)),
                 ("you divided by p", lambda a, p, u: a * (u >= p) / p),
                 ("dropped the units with u == p", lambda a, p, u: a * (u > p) / (1 - p))]
for _hint, _slip in DROPOUT_SLIPS:
    mistake("check_dropout_forward", _hint)(_slip)
    mistake("check_dropout_backward", _hint)(_slip)
cheat("check_dropout_forward", lambda x, p, u: Dropout(p).forward(x))


@answer("check_dropout_backward")
def dropout_backward(dout, p, u):
    return dout * (u >= p) / (1 - p)  # the forward's mask and scale, applied to the gradient


mistake("check_dropout_backward", "passed dout through unchanged")(lambda dout, p, u: dout)
cheat("check_dropout_backward", lambda dout, p, u: Dropout(p).backward(dout))


@answer("check_grad_norms")
def grad_norms(model, x, y, zero_grad="before", upstream="loss", of="grads", power=1):
    out = model.forward(x)
    model.loss.forward(out, y)
    if zero_grad == "before":  # backward adds into the gradients
        model.zero_grad()
    model.backward(model.loss.backward() if upstream == "loss" else np.ones_like(out))
    if zero_grad == "after":
        model.zero_grad()
    return {name: float(np.linalg.norm(getattr(layer, of)["weight"])) ** power
            for name, layer in model.layers if "weight" in layer.params}


cheat("check_grad_norms", lambda m, x, y: train.gradient_norms(m, x, y))
mistake("check_grad_norms", "call model.zero_grad() before")(lambda m, x, y: grad_norms(m, x, y, zero_grad="never"))
mistake("check_grad_norms", "all your norms are 0")(lambda m, x, y: grad_norms(m, x, y, zero_grad="after"))
mistake("check_grad_norms", "squared norms")(lambda m, x, y: grad_norms(m, x, y, power=2))
mistake("check_grad_norms", "measured the weights themselves")(lambda m, x, y: grad_norms(m, x, y, of="params"))
mistake("check_grad_norms", "backpropagated ones")(lambda m, x, y: grad_norms(m, x, y, upstream="ones"))
mistake("check_grad_norms", "expected a dict")(lambda m, x, y: list(grad_norms(m, x, y).values()))
mistake("check_grad_norms", "one entry per layer with a 'weight' parameter")(
    lambda m, x, y: {f"{name}.weight": v for name, v in grad_norms(m, x, y).items()})


# --- notebook 09 ---------------------------------------------------------------------------

@answer("check_batch_norm_forward")
def batch_norm_forward(x, gamma, beta, eps, axes=(0, 2, 3), ddof=0):
    mean = x.mean(axis=axes, keepdims=True)               # one mean and variance per channel
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    return (x - mean) / np.sqrt(var + eps) * gamma[:, None, None] + beta[:, None, None]


def bn_x_hat(x, eps):
    return (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)


mistake("check_batch_norm_forward", "unbiased variance")(lambda x, g, b, eps: batch_norm_forward(x, g, b, eps, ddof=1))
mistake("check_batch_norm_forward", "layer normalisation")(
    lambda x, g, b, eps: batch_norm_forward(x, g, b, eps, axes=(1, 2, 3)))
mistake("check_batch_norm_forward", "instance normalisation")(
    lambda x, g, b, eps: batch_norm_forward(x, g, b, eps, axes=(2, 3)))
mistake("check_batch_norm_forward", "over the batch alone")(
    lambda x, g, b, eps: batch_norm_forward(x, g, b, eps, axes=(0,)))
mistake("check_batch_norm_forward", "you left out eps")(lambda x, g, b, eps: batch_norm_forward(x, g, b, 0.0))
mistake("check_batch_norm_forward", "std + eps")(
    lambda x, g, b, eps: (x - x.mean(axis=(0, 2, 3), keepdims=True)) / (x.std(axis=(0, 2, 3), keepdims=True) + eps)
    * g[:, None, None] + b[:, None, None])
mistake("check_batch_norm_forward", "added beta before scaling")(
    lambda x, g, b, eps: (bn_x_hat(x, eps) + b[:, None, None]) * g[:, None, None])
mistake("check_batch_norm_forward", "broadcast along the last axis")(lambda x, g, b, eps: bn_x_hat(x, eps) * g + b)
cheat("check_batch_norm_forward", lambda x, g, b, eps: cl.batch_norm2d(x, None, None, g, b, training=True, eps=eps))


@answer("check_max_unpool")
def max_unpool(x, indices, size):
    n, c = x.shape[:2]
    out = np.zeros((n, c, size[0] * size[1]))
    for i in range(n):
        for j in range(c):                                # each value back to its flat place in its own plane
            out[i, j, indices[i, j].ravel()] = x[i, j].ravel()
    return out.reshape(n, c, *size)


def unpool_window(x, size, where):
    """Each pooled value at one cell of its k x k window ('corner'), or in all of them ('all')."""
    k = size[0] // x.shape[2]
    out = np.zeros((*x.shape[:2], *size))
    if where == "all":
        out[:, :, :x.shape[2] * k, :x.shape[3] * k] = np.kron(x, np.ones((k, k)))
    else:
        out[:, :, :x.shape[2] * k:k, :x.shape[3] * k:k] = x
    return out


def unpool_swapped(x, indices, size):
    out = np.zeros((*x.shape[:2], *size))
    for i, j in np.ndindex(*x.shape[:2]):
        rows, cols = indices[i, j] % size[0], indices[i, j] // size[0]   # the wrong way round
        out[i, j, rows, cols] = x[i, j]
    return out


def unpool_global(x, indices, size):
    out = np.zeros((*x.shape[:2], *size))
    out.reshape(-1)[indices.ravel()] = x.ravel()          # as if the indices counted the whole array
    return out


mistake("check_max_unpool", "whole window")(lambda x, idx, size: unpool_window(x, size, "all"))
mistake("check_max_unpool", "top-left corner")(lambda x, idx, size: unpool_window(x, size, "corner"))
mistake("check_max_unpool", "rows and columns are swapped")(unpool_swapped)
mistake("check_max_unpool", "whole (N, C, H, W) array")(unpool_global)
cheat("check_max_unpool", lambda x, idx, size: cl.max_unpool2d(x, idx, size[0] // x.shape[2], output_size=size))


@answer("check_inception_params")
def inception_params(c_in, c1, c3r, c3, c5r, c5, pool_proj):
    weights = (c_in * c1                                  # 1x1 branch
               + c_in * c3r + c3r * c3 * 9                # 1x1 reduction, then 3x3
               + c_in * c5r + c5r * c5 * 25               # 1x1 reduction, then 5x5
               + c_in * pool_proj)                        # max pooling (no weights), then a 1x1 projection
    return weights, c1 + c3 + c5 + pool_proj


def inception_replace(args, weights=None, maps=None):
    right = inception_params(*args)
    return (right[0] if weights is None else weights, right[1] if maps is None else maps)


mistake("check_inception_params", "left out the pooling branch's 1x1 projection")(
    lambda *a: inception_replace(a, weights=inception_params(*a)[0] - a[0] * a[6]))
mistake("check_inception_params", "naive module")(
    lambda ci, c1, c3r, c3, c5r, c5, pp: (ci * c1 + ci * c3 * 9 + ci * c5 * 25, c1 + c3 + c5 + pp))
mistake("check_inception_params", "counted the biases")(
    lambda *a: inception_replace(a, weights=inception_params(*a)[0] + sum(a[1:])))
mistake("check_inception_params", "passes the pooled input through")(
    lambda *a: inception_replace(a, maps=a[1] + a[3] + a[5] + a[0]))
mistake("check_inception_params", "includes the reductions")(lambda *a: inception_replace(a, maps=sum(a[1:])))
mistake("check_inception_params", "gave the 1x1 reductions the k x k size")(
    lambda ci, c1, c3r, c3, c5r, c5, pp: inception_replace(
        (ci, c1, c3r, c3, c5r, c5, pp), weights=ci * c1 + ci * c3r * 9 + c3r * c3 * 9 + ci * c5r * 25 + c5r * c5 * 25
        + ci * pp))


def inception_by_specs(*args):
    from cnnlab.nn import specs
    total = specs.totals(specs.summary((args[0], 4, 4), [specs.inception(*args[1:])]))
    return total.params, total.shape[0]


cheat("check_inception_params", inception_by_specs)


# --- notebook 08 ---------------------------------------------------------------------------
from cnnlab.nn import autoencoders as AE  # noqa: E402


@answer("check_mse_loss")
def mse_loss(output, target):
    diff = output - target
    return float(np.mean(diff ** 2)), 2 * diff / diff.size


mistake("check_mse_loss", "one number, their mean")(lambda o, t: ((o - t) ** 2, 2 * (o - t) / o.size))
mistake("check_mse_loss", "half the right value")(lambda o, t: (np.mean((o - t) ** 2), (o - t) / o.size))
mistake("check_mse_loss", "wrong sign")(lambda o, t: (np.mean((o - t) ** 2), 2 * (t - o) / o.size))
mistake("check_mse_loss", "averaged over the N examples only")(
    lambda o, t: (((o - t) ** 2).sum() / len(o), 2 * (o - t) / len(o)))
mistake("check_mse_loss", "not divided by the number of elements")(lambda o, t: (np.mean((o - t) ** 2), 2 * (o - t)))
mistake("check_mse_loss", "sum of the squared errors")(lambda o, t: (((o - t) ** 2).sum(), 2 * (o - t) / o.size))
mistake("check_mse_loss", "mean *absolute* error")(lambda o, t: (np.abs(o - t).mean(), 2 * (o - t) / o.size))
cheat("check_mse_loss", lambda o, t: (cl.mse(o, t), cl.mse_backward(o, t)))
cheat("check_mse_loss", lambda o, t: (AE.MSELoss().forward(o, t), 2 * (o - t) / o.size))


def sig(z):
    return 1 / (1 + np.exp(-z))


@answer("check_tied_autoencoder_forward")
def tied_autoencoder_forward(x, w, b, c):
    h = sig(x @ w.T + b)            # encoder: W is (n_hidden, n_in)
    return h, sig(h @ w + c)        # decoder: the same W, transposed


def tied_layers(w, b, c):
    enc = cl.nn.layers.Linear(w.shape[1], w.shape[0]).astype(np.float64)
    enc.params["weight"][...], enc.params["bias"][...] = w, b
    dec = AE.TiedLinear(enc, dtype=np.float64)
    dec.params["bias"][...] = c
    return enc, dec


def tied_by_layers(x, w, b, c):
    enc, dec = tied_layers(w, b, c)
    h = sig(enc.forward(x))
    return h, sig(dec.forward(h))


mistake("check_tied_autoencoder_forward", "r is not squashed")(
    lambda x, w, b, c: (sig(x @ w.T + b), sig(x @ w.T + b) @ w + c))
mistake("check_tied_autoencoder_forward", "h is not squashed")(
    lambda x, w, b, c: (x @ w.T + b, sig((x @ w.T + b) @ w + c)))
mistake("check_tied_autoencoder_forward", "W the wrong way round")(
    lambda x, w, b, c: (sig(x @ w + b), sig(sig(x @ w + b) @ w.T + c)))
mistake("check_tied_autoencoder_forward", "the decoder uses W.T again")(
    lambda x, w, b, c: (sig(x @ w.T + b), sig(sig(x @ w.T + b) @ w.T + c)))
mistake("check_tied_autoencoder_forward", "bias c is missing")(
    lambda x, w, b, c: (sig(x @ w.T + b), sig(sig(x @ w.T + b) @ w)))
cheat("check_tied_autoencoder_forward", tied_by_layers)


@answer("check_tied_autoencoder_backward")
def tied_autoencoder_backward(x, w, b, c, part="both", output_slope=True, divide=None, scale=1):
    h, r = tied_autoencoder_forward(x, w, b, c)
    d_r = 2 * (r - x) / (len(x) if divide is None else divide)     # L = sum((r - x)^2) / N
    d_out = d_r * r * (1 - r) if output_slope else d_r               # through the output sigmoid
    d_h = d_out @ w.T * h * (1 - h)                                  # back through the decoder and the code's sigmoid
    dw = {"both": d_h.T @ x + h.T @ d_out, "encoder": d_h.T @ x, "decoder": h.T @ d_out}[part]
    return scale * dw, scale * d_h.sum(axis=0), scale * d_out.sum(axis=0)


def tied_backward_by_layers(x, w, b, c):
    enc, dec = tied_layers(w, b, c)
    net = cl.nn.models.Sequential([("enc", enc), ("a", cl.nn.layers.Activation("sigmoid")), ("dec", dec),
                                   ("o", cl.nn.layers.Activation("sigmoid"))], (x.shape[1],),
                                  loss=AE.MSELoss("batchmean"))
    net.loss.forward(net.forward(x), x)
    net.backward(net.loss.backward())
    return enc.grads["weight"], enc.grads["bias"], dec.grads["bias"]


mistake("check_tied_autoencoder_backward", "only the decoder's use of W")(
    lambda x, w, b, c: tied_autoencoder_backward(x, w, b, c, part="decoder"))
mistake("check_tied_autoencoder_backward", "only the encoder's use of W")(
    lambda x, w, b, c: tied_autoencoder_backward(x, w, b, c, part="encoder"))
mistake("check_tied_autoencoder_backward", "sigmoid of the output is left out")(
    lambda x, w, b, c: tied_autoencoder_backward(x, w, b, c, output_slope=False))
mistake("check_tied_autoencoder_backward", "the mean over every element")(
    lambda x, w, b, c: tied_autoencoder_backward(x, w, b, c, divide=x.size))
mistake("check_tied_autoencoder_backward", "half the right ones")(
    lambda x, w, b, c: tied_autoencoder_backward(x, w, b, c, scale=0.5))
mistake("check_tied_autoencoder_backward", "not divided by N")(
    lambda x, w, b, c: tied_autoencoder_backward(x, w, b, c, divide=1))
cheat("check_tied_autoencoder_backward", tied_backward_by_layers)


@answer("check_upsample_backward")
def upsample_backward(dout, f):
    n, c, hf, wf = dout.shape
    return dout.reshape(n, c, hf // f, f, wf // f, f).sum(axis=(3, 5))   # each f x f block into its pixel


mistake("check_upsample_backward", "you averaged each block")(lambda g, f: upsample_backward(g, f) / (f * f))
mistake("check_upsample_backward", "you kept one cell of each block")(lambda g, f: g[:, :, ::f, ::f])
mistake("check_upsample_backward", "your blocks are not the f x f squares")(
    lambda g, f: g.reshape(g.shape[0], g.shape[1], g.shape[2] // f, g.shape[3] // f, f, f).sum(axis=(4, 5)))
mistake("check_upsample_backward", "dx has dout's shape")(lambda g, f: g.copy())
cheat("check_upsample_backward", lambda g, f: AE.upsample2d_backward(
    g, np.zeros((*g.shape[:2], g.shape[2] // f, g.shape[3] // f)), f))
cheat("check_upsample_backward", lambda g, f: AE.Upsample2d(f).backward(g))


# --- check_sgd_step ---------------------------------------------------------------------------------------------

@answer("check_sgd_step")
def sgd_step(p, g, v, lr, momentum, weight_decay):
    v_new = momentum * v + g + weight_decay * p
    return p - lr * v_new, v_new


mistake("check_sgd_step", "twice too strong")(
    lambda p, g, v, lr, mu, wd: sgd_step(p, g + wd * p, v, lr, mu, wd))
mistake("check_sgd_step", "weight decay is missing")(lambda p, g, v, lr, mu, wd: sgd_step(p, g, v, lr, mu, 0.0))
mistake("check_sgd_step", "plain SGD")(lambda p, g, v, lr, mu, wd: (p - lr * (g + wd * p), v))
mistake("check_sgd_step", "returned the old one")(
    lambda p, g, v, lr, mu, wd: (sgd_step(p, g, v, lr, mu, wd)[0], v))
mistake("check_sgd_step", "stepped with the gradient")(
    lambda p, g, v, lr, mu, wd: (p - lr * (g + wd * p), sgd_step(p, g, v, lr, mu, wd)[1]))
mistake("check_sgd_step", "goes uphill")(
    lambda p, g, v, lr, mu, wd: (2 * p - sgd_step(p, g, v, lr, mu, wd)[0], sgd_step(p, g, v, lr, mu, wd)[1]))


def _sgd_with_the_library(p, g, v, lr, mu, wd):
    opt = optim.SGD([("p", p, g)], lr=lr, momentum=mu, weight_decay=wd)
    opt.state["velocity/p"][...] = v
    opt.step()
    return p, opt.state["velocity/p"]


cheat("check_sgd_step", _sgd_with_the_library)
