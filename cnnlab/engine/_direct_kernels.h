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

/* The row kernel, for windows of few weights (C*KH*KW small: a first layer, such as LeNet's C1 with 25):
 * vectors run along the output row instead of across the output channels, so every store is a whole
 * vector of one channel's row (the channel tile above stores a tile lane by lane: a third of C1's time).
 * acc[j][s] = bias + sum over c, ki, kj of w[oc0 + j, c, ki, kj] * row (c, ki) at s*VW + kj*dw + lane:
 * J output channels x S vectors of one output row segment, from rows copied into buf (see FN(rows)). */
INLINE void FN(row_tile)(const float *buf, int BW, const float *w, const float *bias, float *o, size_t plane,
                         int CK, int KW, int dw, int K, int n, const int J, const int S)
{
    V acc[8][2];
    for (int j = 0; j < J; j++)
        for (int s = 0; s < S; s++) acc[j][s] = (V){0} + (bias ? bias[j] : 0.0f);
    for (int r = 0; r < CK; r++)
        for (int kj = 0; kj < KW; kj++) {
            const float *p = buf + (size_t)r * BW + (size_t)kj * dw;
            V xv[2];
            for (int s = 0; s < S; s++) __builtin_memcpy(&xv[s], p + s * VW, sizeof(V));
            for (int j = 0; j < J; j++) {
                const float wk = w[(size_t)j * K + r * KW + kj];
                for (int s = 0; s < S; s++) acc[j][s] += wk * xv[s];
            }
        }
    for (int j = 0; j < J; j++)
        for (int s = 0; s < S; s++) {
            const int m = n - s * VW; /* lanes of this vector inside the row */
            if (m >= VW) __builtin_memcpy(o + j * plane + s * VW, &acc[j][s], sizeof(V));
            else if (m > 0) __builtin_memcpy(o + j * plane + s * VW, &acc[j][s], (size_t)m * 4);
        }
}

#define ROW_TILE(J, S) FN(row_tile)(buf + s0, BW, w + (size_t)oc0 * K, bias ? bias + oc0 : NULL, o, plane, \
                                    C * KH, KW, dw, K, n, J, S)
/* ROW_TILE(J, S) with J, the channels of this block (1..8), as a constant: one unrolled tile per J */
#define ROW_SWITCH(S)                                                                                         \
    switch (J) {                                                                                              \
    case 1: ROW_TILE(1, S); break; case 2: ROW_TILE(2, S); break; case 3: ROW_TILE(3, S); break;             \
    case 4: ROW_TILE(4, S); break; case 5: ROW_TILE(5, S); break; case 6: ROW_TILE(6, S); break;             \
    case 7: ROW_TILE(7, S); break; default: ROW_TILE(8, S); break;                                           \
    }

/* out (N, OC, OH, OW) = x (N, C, Hp, Wp) correlated with w (OC, C, KH, KW) plus bias (OC, or NULL), for
 * width stride 1; buf holds C*KH rows of BW floats: the input rows one output row reads, each copied
 * once and zero-extended, so that whole vectors can be loaded past the row's end. At most jmax output
 * channels x 2 vectors are accumulated at once. */
INLINE void FN(rows)(const float *x, const float *w, const float *bias, float *out, float *buf, int BW, int N,
                     int C, int OC, int KH, int KW, int Hp, int Wp, int sh, int dh, int dw, int OH, int OW, int jmax)
{
    const int K = C * KH * KW;
    const size_t plane = (size_t)OH * OW;
    for (int i = 0; i < C * KH * BW; i++) buf[i] = 0.0f;
    for (int nn = 0; nn < N; nn++)
        for (int oy = 0; oy < OH; oy++) {
            for (int c = 0; c < C; c++)
                for (int ki = 0; ki < KH; ki++)
                    __builtin_memcpy(buf + (size_t)(c * KH + ki) * BW,
                                     x + (((size_t)nn * C + c) * Hp + (size_t)oy * sh + (size_t)ki * dh) * Wp,
                                     (size_t)Wp * 4);
            for (int s0 = 0; s0 < OW; s0 += 2 * VW)
                for (int oc0 = 0; oc0 < OC; oc0 += jmax) {
                    const int J = OC - oc0 < jmax ? OC - oc0 : jmax, n = OW - s0;
                    float *o = out + ((size_t)nn * OC + oc0) * plane + (size_t)oy * OW + s0;
                    if (n > VW) { ROW_SWITCH(2) }
                    else { ROW_SWITCH(1) }
                }
        }
}
#undef ROW_SWITCH
#undef ROW_TILE

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
