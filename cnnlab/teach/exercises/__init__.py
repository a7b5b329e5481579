"""Checkers for the graded exercises of the notebooks (`cnnlab.exercises`).

Each `check_*(fn)` runs the student's function on fixed edge cases and seeded
random cases, compares it with cnnlab, prints `PASSED:` or `NOT YET:` with the
most specific hint it can give, and returns True or False. Each has a
`*_cases()` partner returning the cases it uses. See `_core` for the rules
every checker follows. Modules, by topic:

* `correlation` (notebook 01): correlate2d, conv2d forward, separable kernels;
* `arithmetic` (02): conv and pool output sizes, receptive fields;
* `channels` (03): 1x1 convolution, separable-convolution parameter counts;
* `pooling` (03, 05): max pooling, max and average pooling backward;
* `transposed` (04): scatter-add transposed convolution, its size, zero insertion;
* `backprop` (05): softmax cross-entropy, input delta, conv2d backward, im2col;
* `lenet` (06): trainable subsampling forward and backward, C3's counts;
* `training` (07): dropout forward and backward, per-layer gradient norms;
* `pretraining` (08): the MSE loss, a tied sigmoid autoencoder forward and backward, nearest-upsampling backward;
* `architectures` (09): batch norm forward, max unpooling, Inception weights.

>>> from cnnlab import exercises
>>> def conv_output_size(i, k, s=1, p=0, d=1):
...     return (i + 2 * p - k) // s + 1           # the dilation is forgotten
>>> exercises.check_conv_output_size(conv_output_size)  # doctest: +ELLIPSIS
NOT YET: case 7 (i=7, k=3, s=1, p=0, d=2): you forgot the dilation. Hint: ...
False
>>> exercises.check_conv_output_size(lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * (k - 1) - 1) // s + 1)
PASSED: all 12 cases match cnnlab.arithmetic.conv_output_size.
True
"""
from .architectures import (batch_norm_forward_cases, check_batch_norm_forward, check_inception_params,
                            check_max_unpool, inception_params_cases, max_unpool_cases)
from .arithmetic import (check_conv_output_size, check_pool_output_size, check_receptive_field,
                         conv_output_size_cases, pool_output_size_cases, receptive_field_cases)
from .backprop import (check_conv2d_backward, check_im2col, check_input_delta, check_softmax_cross_entropy,
                       conv2d_backward_cases, im2col_cases, input_delta_cases, softmax_cross_entropy_cases)
from .channels import check_conv1x1, check_separable_params, conv1x1_cases, separable_params_cases
from .correlation import (check_conv2d_forward, check_correlate2d, check_separable_factors, conv2d_forward_cases,
                          correlate2d_cases, separable_factors_cases)
from .lenet import (check_sparse_conv_params, check_subsample2d_backward, check_subsample2d_forward,
                    sparse_conv_params_cases, subsample2d_backward_cases, subsample2d_forward_cases)
from .pooling import (avg_pool_backward_cases, check_avg_pool_backward, check_max_pool, check_max_pool_backward,
                      max_pool_backward_cases, max_pool_cases)
from .pretraining import (check_mse_loss, check_tied_autoencoder_backward, check_tied_autoencoder_forward,
                          check_upsample_backward, mse_loss_cases, tied_autoencoder_backward_cases,
                          tied_autoencoder_forward_cases, upsample_backward_cases)
from .training import (check_dropout_backward, check_dropout_forward, check_grad_norms, check_sgd_step,
                       dropout_backward_cases, dropout_forward_cases, grad_norms_cases, sgd_step_cases)
from .transposed import (check_conv_transpose2d, check_transposed_output_size, check_zero_insert,
                         conv_transpose2d_cases, transposed_output_size_cases, zero_insert_cases)

__all__ = [
    # notebook 01
    "check_correlate2d", "check_conv2d_forward", "check_separable_factors",
    # notebook 02
    "check_conv_output_size", "check_pool_output_size", "check_receptive_field",
    # notebook 03
    "check_conv1x1", "check_separable_params", "check_max_pool",
    # notebook 04
    "check_conv_transpose2d", "check_transposed_output_size", "check_zero_insert",
    # notebook 05
    "check_softmax_cross_entropy", "check_max_pool_backward", "check_avg_pool_backward", "check_input_delta",
    "check_conv2d_backward", "check_im2col",
    # notebook 06
    "check_subsample2d_forward", "check_subsample2d_backward", "check_sparse_conv_params",
    # notebook 07
    "check_dropout_forward", "check_dropout_backward", "check_grad_norms", "check_sgd_step", "sgd_step_cases",
    # notebook 08
    "check_mse_loss", "check_tied_autoencoder_forward", "check_tied_autoencoder_backward", "check_upsample_backward",
    # notebook 09
    "check_batch_norm_forward", "check_max_unpool", "check_inception_params",
    # the cases of each checker
    "correlate2d_cases", "conv2d_forward_cases", "separable_factors_cases", "conv_output_size_cases",
    "pool_output_size_cases", "receptive_field_cases", "conv1x1_cases", "separable_params_cases",
    "max_pool_cases", "conv_transpose2d_cases", "transposed_output_size_cases", "zero_insert_cases",
    "softmax_cross_entropy_cases", "max_pool_backward_cases", "avg_pool_backward_cases", "input_delta_cases",
    "conv2d_backward_cases", "im2col_cases", "subsample2d_forward_cases", "subsample2d_backward_cases",
    "sparse_conv_params_cases", "dropout_forward_cases", "dropout_backward_cases", "grad_norms_cases",
    "batch_norm_forward_cases", "max_unpool_cases", "inception_params_cases",
    "mse_loss_cases", "tied_autoencoder_forward_cases", "tied_autoencoder_backward_cases", "upsample_backward_cases",
]
