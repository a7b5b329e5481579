"""Speed only. To read the algorithm, see `cnnlab.reference.conv2d_im2col`
(im2col + one matrix product); this package adds scratch memory (`scratch`),
a one-copy im2col and the batch-last layout for small outputs (`layout`),
cache-sized batch chunks and the GEMM orientations (`conv`), and intra-op
threads (`threads`); `conv`'s docstring says what each buys, measured. Every
result equals the readable tier's within rounding (tests/test_reference.py)."""
from .conv import ConvCache
from .scratch import release_scratch, scratch_nbytes
from .threads import get_num_threads, set_num_threads
