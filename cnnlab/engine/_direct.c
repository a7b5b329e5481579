/* Direct 2-d correlation in float32, register-blocked over output channels.
 *
 * The compiled part of the engine, called through ctypes by `direct.py`,
 * which explains the algorithm, the layouts and what each kernel buys; the
 * readable version of the same sums is `cnnlab.reference.conv2d` (plain
 * loops). Python imports this file as a module only to find the library.
 *
 * Why it is fast: a register tile holds up to MAXT output positions x VW
 * output channels (a VW-channel weight vector times one input pixel is one
 * fused multiply-add), so every input pixel and weight is read from the L1
 * cache, nothing is copied into im2col columns, and no GEMM with as few rows
 * as LeNet's 6 or 16 output channels is needed. The weight gradient holds
 * MAXT weight taps x VW channels the same way. The kernels themselves are in
 * _direct_kernels.h, included once per vector width (8 and 16 floats).
 * target_clones compiles each entry point for AVX-512, AVX2 and plain x86-64
 * and picks one when the library loads, so the build is portable. At the end,
 * the gradient of max pooling over tiling windows (LeNet's 2x2), in one pass.
 */
#include <Python.h>
#include <stddef.h>

#define MAXT 12 /* positions per register tile: 12 accumulators + weight + pixel < 32 zmm registers */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

#define INLINE static inline __attribute__((always_inline))

/* Calls F(..., T) with T a constant 1..MAXT, so that each tile width gets its own unrolled code. */
#define SWITCH_T(T, F, ...)                                                                                 \
    switch (T) {                                                                                            \
    case 1: F(__VA_ARGS__, 1); break;   case 2: F(__VA_ARGS__, 2); break;   case 3: F(__VA_ARGS__, 3); break;  \
    case 4: F(__VA_ARGS__, 4); break;   case 5: F(__VA_ARGS__, 5); break;   case 6: F(__VA_ARGS__, 6); break;  \
    case 7: F(__VA_ARGS__, 7); break;   case 8: F(__VA_ARGS__, 8); break;   case 9: F(__VA_ARGS__, 9); break;  \
    case 10: F(__VA_ARGS__, 10); break; case 11: F(__VA_ARGS__, 11); break; default: F(__VA_ARGS__, 12); break; \
    }

#define V v16
#define VW 16
#include "_direct_kernels.h"
#undef V
#undef VW
#define V v8
#define VW 8
#include "_direct_kernels.h"
#undef V
#undef VW

/* Accumulators per register tile: 12 use 12 of AVX-512's 32 registers; without AVX-512 a 16-float vector
 * takes two of AVX2's 16, and 6 (12 registers, plus a weight and a pixel) keep the tile out of the stack. */
static int tile_width(int vw)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (vw == 16 && !__builtin_cpu_supports("avx512f")) return 6;
#endif
    (void)vw;
    return MAXT;
}

/* out (N, OC, OH, OW) = x (N, C, Hp, Wp, already padded) correlated with the packed weight
 * wp (ceil(OC/vw), C*KH*KW, vw) plus the packed bias bp (ceil(OC/vw)*vw), vw = 8 or 16; input rows
 * whose live[row] is 0 are all zero and skipped (live NULL: none is). */
CLONES void cnnlab_correlate2d_f32(const float *x, const float *wp, const float *bp, const unsigned char *live,
                                   float *out, int N,
                                   int C, int OC, int KH, int KW, int Hp, int Wp, int sh, int sw, int dh,
                                   int dw, int OH, int OW, int vw)
{
    if (vw == 8) v8_forward(x, wp, bp, live, out, N, C, OC, KH, KW, Hp, Wp, sh, sw, dh, dw, OH, OW, MAXT);
    else v16_forward(x, wp, bp, live, out, N, C, OC, KH, KW, Hp, Wp, sh, sw, dh, dw, OH, OW, tile_width(16));
}

/* dwp (ceil(OC/vw), C*KH*KW, vw) += the weight gradient of that correlation, summed over the N samples:
 * x (N, C, Hp, Wp) padded input, grad (N, OC, OH, OW) the output gradient; buf: room for OH*OW*vw floats,
 * where each block of vw channels of one sample's gradient is laid out channel-last. */
CLONES void cnnlab_weight_grad2d_f32(const float *x, const float *grad, float *buf, float *dwp, int N, int C,
                                     int OC, int KH, int KW, int Hp, int Wp, int sh, int sw, int dh, int dw,
                                     int OH, int OW, int vw)
{
    if (vw == 8) v8_weight_grad(x, grad, buf, dwp, N, C, OC, KH, KW, Hp, Wp, sh, sw, dh, dw, OH, OW, MAXT);
    else v16_weight_grad(x, grad, buf, dwp, N, C, OC, KH, KW, Hp, Wp, sh, sw, dh, dw, OH, OW, tile_width(16));
}

/* The gradient of max pooling over windows that tile the input (stride = kernel, no padding, no dilation),
 * for M = N*C planes: grad (M, H, W) is zero but for grad_out (M, OH, OW) at each window's winning tap
 * (arg, row-major in the window, from `cnnlab.max_pool2d_winners`). One pass, where NumPy makes one per tap. */
void cnnlab_max_pool2d_tiles_backward_f32(const float *grad_out, const signed char *arg, float *grad, int M, int H,
                                          int W, int KH, int KW, int OH, int OW)
{
    for (int m = 0; m < M; m++) {
        float *plane = grad + (size_t)m * H * W;
        for (size_t q = 0; q < (size_t)H * W; q++) plane[q] = 0.0f;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const size_t o = ((size_t)m * OH + oy) * OW + ox;
                const int t = arg[o];
                plane[((size_t)oy * KH + t / KW) * W + (size_t)ox * KW + t % KW] = grad_out[o];
            }
    }
}

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_direct",
    "Compiled direct convolution kernels; loaded through ctypes by cnnlab.engine.direct.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__direct(void) { return PyModule_Create(&module); }
