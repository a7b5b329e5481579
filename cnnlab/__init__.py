"""cnnlab: convolutional neural networks from first principles, in NumPy.

The package, by audience (see the README's layout map):

* `cnnlab.functional` - the kernels, the API of `torch.nn.functional`
  (also re-exported here: `cnnlab.conv2d`, ...);
* `cnnlab.reference`  - the readable tiers, plain loops and plain
  im2col + one GEMM: the teaching code and the test oracles;
* `cnnlab.engine`     - speed only: scratch memory, layouts, chunks, threads;
* `cnnlab.nn`         - layers, models, optimizers, training;
* `cnnlab.teach`      - filters, plots, explorers, exercise checkers;
* `cnnlab.gradcheck`, `cnnlab.data` - gradient checks, verified MNIST.

Conventions:

* Arrays are NCHW; weights are (C_out, C_in/groups, kH, kW) for convolutions
  and (C_in, C_out/groups, kH, kW) for transposed ones; argument names and
  orders are PyTorch's. Padding is per side (as in PyTorch and CS231n; d2l
  counts the total of both sides).
* Kernel backward functions take the upstream gradient first, then the
  forward's inputs and arguments: `conv2d_backward(grad_out, x, weight, ...)
  -> (grad_x, grad_weight, grad_bias)`, `max_pool2d_backward(grad_out, x, ...)
  -> grad_x`. Every kernel in `functional` has such a partner.
* Activation derivatives `*_grad(x)` return f'(x) at the forward's input,
  not multiplied by anything: backward is `grad_out * relu_grad(x)`.
* Loss backward functions take the forward's arguments and return
  dLoss/dInput: `cross_entropy_backward(logits, target)`.
* Deliberate differences from PyTorch: explicit backward functions instead
  of autograd; `output_mask` on every convolution backward (PyTorch's
  convolution_backward has it too); padding strings also include 'full';
  integer input is computed in float64; `cache=` lets a layer keep im2col
  columns; threads are set by `set_num_threads` or $CNNLAB_NUM_THREADS.
"""
from . import gradcheck, reference
from .engine import ConvCache, get_num_threads, release_scratch, scratch_nbytes, set_num_threads
from .functional import *  # noqa: F403  (the kernels, as torch.nn.functional)
from .functional import __all__ as _functional_names
from .functional import arithmetic
from .teach import filters

__version__ = "0.1.0"
__all__ = [*_functional_names, "ConvCache", "get_num_threads", "set_num_threads", "release_scratch",
           "scratch_nbytes", "arithmetic", "filters", "gradcheck", "reference"]
