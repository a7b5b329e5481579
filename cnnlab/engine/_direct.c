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
 * and picks one when the library loads, so the build is portable. The row
 * kernel (also in _direct_kernels.h) vectorises along the output row instead,
 * for windows of few weights. At the end, max pooling over tiling windows
 * (LeNet's 2x2) and its gradient, in one pass each.
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

/* Floats per vector of the row kernel, and output channels it accumulates at once: 2 x 8 16-float
 * accumulators in AVX-512's 32 registers; without it, 8-float vectors, 2 x 6 in AVX2's 16. */
static int row_lanes(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!__builtin_cpu_supports("avx512f")) return 8;
#endif
    return 16;
}

int cnnlab_row_lanes(void) { return row_lanes(); }

/* out (N, OC, OH, OW) = x (N, C, Hp, Wp, padded) correlated with w (OC, C, KH, KW) plus bias (OC, or NULL),
 * for width stride 1, vectorised along the output row (see FN(rows)); buf: room for C*KH*BW floats, BW at
 * least Wp and at least OW rounded up to 2 vectors (cnnlab_row_lanes() floats each) plus (KW-1)*dw. */
CLONES void cnnlab_correlate_rows2d_f32(const float *x, const float *w, const float *bias, float *out, float *buf,
                                        int BW, int N, int C, int OC, int KH, int KW, int Hp, int Wp, int sh,
                                        int dh, int dw, int OH, int OW)
{
    if (row_lanes() == 16) v16_rows(x, w, bias, out, buf, BW, N, C, OC, KH, KW, Hp, Wp, sh, dh, dw, OH, OW, 8);
    else v8_rows(x, w, bias, out, buf, BW, N, C, OC, KH, KW, Hp, Wp, sh, dh, dw, OH, OW, 6);
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

/* Max pooling over tiling windows, 8 windows of one output row at a time (n <= 8 of them real; the lanes
 * past n repeat the last window and are not stored): each tap of the 8 windows is gathered into one
 * vector, compared and selected without branches (a running select with branches mispredicts on
 * every other tap). The first tap leads and a tap wins only when strictly greater, so ties go to the
 * first; a NaN never wins but makes the maximum NaN, after which nothing wins: NumPy's maximum and
 * comparisons, as in `cnnlab.functional.pool._max_taps`. */
typedef int v8i __attribute__((vector_size(32)));

INLINE void max_windows(const float *row, int W, const int KH, const int KW, const int n, float *out,
                        signed char *arg)
{
    v8 best, v = {0}; /* (every lane is written before it is read) */
    v8i a = {0};
    for (int l = 0; l < 8; l++) best[l] = row[(size_t)(l < n ? l : n - 1) * KW];
    for (int ki = 0; ki < KH; ki++)
        for (int kj = ki ? 0 : 1; kj < KW; kj++) {
            const float *p = row + (size_t)ki * W + kj;
            for (int l = 0; l < 8; l++) v[l] = p[(size_t)(l < n ? l : n - 1) * KW];
            const v8i wins = v > best, take = wins | (v != v);
            a = (wins & (ki * KW + kj)) | (~wins & a);
            best = (v8)((take & (v8i)v) | (~take & (v8i)best));
        }
    __builtin_memcpy(out, &best, (size_t)n * 4);
    for (int l = 0; l < n; l++) arg[l] = (signed char)a[l];
}

INLINE void max_row(const float *row, int W, const int KH, const int KW, int OW, float *out, signed char *arg)
{
    int ox = 0;
    for (; ox + 8 <= OW; ox += 8) max_windows(row + (size_t)ox * KW, W, KH, KW, 8, out + ox, arg + ox);
    if (ox < OW) max_windows(row + (size_t)ox * KW, W, KH, KW, OW - ox, out + ox, arg + ox);
}

/* Max pooling over windows that tile the input, for M = N*C planes x (M, H, W): out (M, OH, OW) the window
 * maxima, arg (M, OH, OW) the winning taps (`cnnlab.max_pool2d_winners`). */
CLONES void cnnlab_max_pool2d_tiles_f32(const float *x, float *out, signed char *arg, int M, int H, int W, int KH,
                                        int KW, int OH, int OW)
{
    for (int m = 0; m < M; m++)
        for (int oy = 0; oy < OH; oy++) {
            const float *row = x + ((size_t)m * H + (size_t)oy * KH) * W;
            const size_t o = ((size_t)m * OH + oy) * OW;
            if (KH == 2 && KW == 2) max_row(row, W, 2, 2, OW, out + o, arg + o); /* LeNet's: unrolled */
            else max_row(row, W, KH, KW, OW, out + o, arg + o);
        }
}

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_direct",
    "Compiled direct convolution kernels; loaded through ctypes by cnnlab.engine.direct.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__direct(void) { return PyModule_Create(&module); }
