"""cnnlab: convolutional neural networks from first principles, in NumPy.

Arrays are NCHW; weights and argument names follow `torch.nn.functional`.
Every forward function has an explicit backward partner returning gradients.
"""
from . import arithmetic, filters, gradcheck, reference
from .activations import (ACTIVATIONS, elu, elu_grad, lecun_tanh, lecun_tanh_grad, leaky_relu,
                          leaky_relu_grad, relu, relu_grad, sigmoid, sigmoid_grad, srelu, srelu_grad,
                          tanh, tanh_grad)
from .conv import (conv1d, conv1d_backward, conv2d, conv2d_backward, conv3d, conv3d_backward,
                   conv_transpose1d, conv_transpose1d_backward, conv_transpose2d,
                   conv_transpose2d_backward, conv_transpose3d, conv_transpose3d_backward)
from .parallel import get_num_threads, set_num_threads
from .unfold import release_scratch, scratch_nbytes
from .unfold import col2im, im2col
from .losses import (cross_entropy, cross_entropy_backward, log_softmax, mse, mse_backward,
                     softmax)
from .pool import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward, adaptive_max_pool2d,
                   adaptive_max_pool2d_backward, avg_pool2d, avg_pool2d_backward,
                   global_avg_pool2d, max_pool2d, max_pool2d_backward, spatial_pyramid_pool,
                   spatial_pyramid_pool_backward)

__version__ = "0.1.0"
