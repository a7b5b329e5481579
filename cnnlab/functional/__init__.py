"""The kernels: what `torch.nn.functional` holds, each with its backward.

`import cnnlab.functional as F` gives the same functions as the top-level
`cnnlab` namespace. Modules: `arithmetic` (sizes), `window` (the geometry
every sliding-window op shares), `conv`, `unfold` (im2col/col2im), `pool`,
`activations`, `losses`, `local` (unshared weights). The arithmetic of
convolutions runs in `cnnlab.engine`; the readable versions are in
`cnnlab.reference`.
"""
from . import arithmetic
from .activations import (ACTIVATIONS, elu, elu_grad, leaky_relu, leaky_relu_grad, lecun_tanh, lecun_tanh_grad, relu,
                          relu_grad, sigmoid, sigmoid_grad, srelu, srelu_grad, tanh, tanh_grad)
from .conv import (conv1d, conv1d_backward, conv2d, conv2d_backward, conv3d, conv3d_backward, conv_transpose1d,
                   conv_transpose1d_backward, conv_transpose2d, conv_transpose2d_backward, conv_transpose3d,
                   conv_transpose3d_backward)
from .local import local_conv2d, local_conv2d_backward
from .losses import (cross_entropy, cross_entropy_backward, log_softmax, log_softmax_backward, mse, mse_backward,
                     mse_loss, softmax, softmax_backward)
from .norm import batch_norm2d, batch_norm2d_backward
from .pool import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward, adaptive_max_pool2d, adaptive_max_pool2d_backward,
                   avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward, max_pool2d,
                   max_pool2d_backward, max_pool2d_winners, max_unpool2d, max_unpool2d_backward, spatial_pyramid_pool,
                   spatial_pyramid_pool_backward)
from .unfold import col2im, fold, im2col, unfold

__all__ = ["ACTIVATIONS", "elu", "elu_grad", "lecun_tanh", "lecun_tanh_grad", "leaky_relu", "leaky_relu_grad",
           "relu", "relu_grad", "sigmoid", "sigmoid_grad", "srelu", "srelu_grad", "tanh", "tanh_grad",
           "conv1d", "conv1d_backward", "conv2d", "conv2d_backward", "conv3d", "conv3d_backward",
           "conv_transpose1d", "conv_transpose1d_backward", "conv_transpose2d", "conv_transpose2d_backward",
           "conv_transpose3d", "conv_transpose3d_backward", "local_conv2d", "local_conv2d_backward",
           "cross_entropy", "cross_entropy_backward", "log_softmax", "log_softmax_backward", "mse",
           "mse_backward", "mse_loss", "softmax", "softmax_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "adaptive_max_pool2d", "adaptive_max_pool2d_backward",
           "avg_pool2d", "avg_pool2d_backward", "global_avg_pool2d", "global_avg_pool2d_backward",
           "max_pool2d", "max_pool2d_backward", "max_pool2d_winners", "spatial_pyramid_pool",
           "spatial_pyramid_pool_backward", "col2im", "fold", "im2col", "unfold", "batch_norm2d",
           "batch_norm2d_backward", "max_unpool2d", "max_unpool2d_backward"]
