/* The kernels for one vector width: included by _direct.c with V (the vector
 * type's name) and VW (its float lanes) defined. */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(V, name)

typedef float V __attribute__((vector_size(VW * 4), aligned(4)));

/* acc[t] = bias + sum over c, ki, kj of w[c, ki, kj] * x[c, oy*sh + ki*dh, (ox0 + t)*sw + kj*dw] for t < T:
 * one row tile of T output positions times VW output channels, stored to out[j, oy, ox0 + t] for the oc
 * channels j of the block. Input rows with live[row] == 0 are known to be zero and skipped (live may be
 * NULL: every row is read). */
INLINE void FN(tile)(const float *x, const V *w, const V *bias, const unsigned char *live, float *out,
                     int C, int KH, int KW, int Hp, int Wp, int sh, int sw, int dh, int dw,
                     int oy, int ox0, int OH, int OW, int oc, const int T)
{
    V acc[MAXT];
    for (int t = 0; t < T; t++) acc[t] = *bias;
    const float *base = x + (size_t)oy * sh * Wp + (size_t)ox0 * sw;
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < KH; ki++, w += KW) {
            if (live && !live[oy * sh + ki * dh]) continue;
            const float *row = base + ((size_t)c * Hp + (size_t)ki * dh) * Wp;
            for (int kj = 0; kj < KW; kj++) {
                const float *p = row + (size_t)kj * dw;
                for (int t = 0; t < T; t++, p += sw) acc[t] += w[kj] * *p;
            }
        }
    float *o = out + (size_t)oy * OW + ox0;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < oc; j++) o[(size_t)j * OH * OW + t] = acc[t][j];
}

/* dst[t] += sum over oy, ox of g[oy, ox] * x[off[t] + oy*sh*Wp + ox*sw] for t < T: T weight taps at once,
 * tap (c, ki, kj) at offset (c*Hp + ki*dh)*Wp + kj*dw into the sample's padded input; g (OH, OW, VW) is
 * one block of the output gradient, channel-last. */
INLINE void FN(wtile)(const float *x, const V *g, const size_t *off, V *dst, int Wp, int sh, int sw,
                      int OH, int OW, const int T)
{
    V acc[MAXT];
    for (int t = 0; t < T; t++) acc[t] = (V){0};
    for (int oy = 0; oy < OH; oy++) {
        const float *row = x + (size_t)oy * sh * Wp;
        const V *gr = g + (size_t)oy * OW;
        for (int ox = 0; ox < OW; ox++) {
            const V gv = gr[ox];
            const float *p = row + (size_t)ox * sw;
            for (int t = 0; t < T; t++) acc[t] += gv * p[off[t]];
        }
    }
    for (int t = 0; t < T; t++) dst[t] += acc[t];
}

INLINE void FN(forward)(const float *x, const float *wp, const float *bp, const unsigned char *live,
                        float *out, int N, int C, int OC, int KH, int KW, int Hp, int Wp, int sh, int sw,
                        int dh, int dw, int OH, int OW, int maxt)
{
    const size_t K = (size_t)C * KH * KW;
    const int nt = (OW + maxt - 1) / maxt; /* tiles per output row, of near-equal widths */
    for (int n = 0; n < N; n++)
        for (int ob = 0; ob * VW < OC; ob++) {
            const V *w = (const V *)(wp + (size_t)ob * K * VW);
            const V *bias = (const V *)(bp + (size_t)ob * VW);
            const int oc = OC - ob * VW < VW ? OC - ob * VW : VW;
            const float *xn = x + (size_t)n * C * Hp * Wp;
            float *o = out + ((size_t)n * OC + (size_t)ob * VW) * OH * OW;
            for (int oy = 0; oy < OH; oy++)
                for (int i = 0; i < nt; i++) {
                    const int lo = OW * i / nt, T = OW * (i + 1) / nt - lo;
                    SWITCH_T(T, FN(tile), xn, w, bias, live, o, C, KH, KW, Hp, Wp, sh, sw, dh, dw, oy, lo,
                             OH, OW, oc)
                }
        }
}

INLINE void FN(weight_grad)(const float *x, const float *grad, float *buf, float *dwp, int N, int C, int OC,
                            int KH, int KW, int Hp, int Wp, int sh, int sw, int dh, int dw, int OH, int OW,
                            int maxt)
{
    const int nb = (OC + VW - 1) / VW, K = C * KH * KW, P = OH * OW;
    V *g = (V *)buf;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C * Hp * Wp;
        for (int ob = 0; ob < nb; ob++) {
            /* this block of VW channels of grad, channel-last (P, VW) and zero past OC, in buf */
            const int oc = OC - ob * VW < VW ? OC - ob * VW : VW;
            const float *gn = grad + ((size_t)n * OC + (size_t)ob * VW) * P;
            for (int q = 0; q < P; q++) {
                V v = (V){0};
                for (int j = 0; j < oc; j++) v[j] = gn[(size_t)j * P + q];
                g[q] = v;
            }
            V *dst = (V *)(dwp + (size_t)ob * K * VW);
            for (int j0 = 0; j0 < K; j0 += maxt) {
                const int T = K - j0 < maxt ? K - j0 : maxt;
                size_t off[MAXT];
                for (int t = 0; t < T; t++) {
                    const int j = j0 + t, c = j / (KH * KW), ki = j / KW % KH, kj = j % KW;
                    off[t] = ((size_t)c * Hp + (size_t)ki * dh) * Wp + (size_t)kj * dw;
                }
                SWITCH_T(T, FN(wtile), xn, g, off, dst + j0, Wp, sh, sw, OH, OW)
            }
        }
    }
}

#undef FN
#undef CAT
#undef CAT_
