// Winograd F(2x2, 3x3) convolution kernels (see winograd.h).
//
// The constant matrices, for one axis of a tile:
//   B^T = [1  0 -1  0]    G = [1    0    0  ]    A^T = [1  1  1  0]
//         [0  1  1  0]        [1/2  1/2  1/2]          [0  1 -1 -1]
//         [0 -1  1  0]        [1/2 -1/2  1/2]
//         [0  1  0 -1]        [0    0    1  ]
// Each 2-D transform applies the 1-D one down the columns, then along the
// rows. Tile (t, s) reads input rows 2t - 1 .. 2t + 2 and columns 2s - 1 ..
// 2s + 2 (zero outside the map) and writes output rows 2t, 2t + 1 and
// columns 2s, 2s + 1 (dropped outside the map).
#include "nn/winograd.h"

#if NN_WINO_BUILT

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define WINO_AVX512 __attribute__((target("avx512f")))
#define WINO_INLINE static inline __attribute__((always_inline))

// Tiles per chunk. A chunk's transformed inputs and products (16 rows of
// CHUNK x channels each) stay in L2 between the transforms and the
// products. CHUNK is a multiple of STEP.
#define CHUNK 48

// Tiles per step of the products: 12 rows by up to 32 columns keep 24
// accumulators in registers.
#define STEP 12

// Channels per step of the weight-gradient product (8 rows by 32 columns).
#define DU_ROWS 8

static int round_up(int n, int m) {
    return (n + m - 1) / m * m;
}

void nn_wino_shape(NnWino *wg, int C, int F, int H, int W, int band) {
    wg->C = C;
    wg->F = F;
    wg->H = H;
    wg->W = W;
    wg->Cv = round_up(C, 16);
    wg->Fv = round_up(F, 16);
    wg->TP = (H + 1) / 2;
    wg->TQ = (W + 1) / 2;
    wg->band = band < wg->TP ? band : wg->TP;
    // a band of tile rows, one more on each side for the input gradient,
    // reads 2 (band + 2) + 2 map rows
    int rows = 2 * wg->band + 6;
    wg->rows = rows < H ? rows : H;
}

size_t nn_wino_weight_floats(const NnWino *wg) {
    return 2 * 16 * (size_t)wg->Cv * (size_t)wg->Fv;
}

// Parts of a working block, each 64-byte aligned.
typedef struct WinoWork {
    float *xt;    // (rows W x Cv) input, one position per row
    float *yt;    // (rows W x Fv) output (forward) or dy (backward)
    float *dxt;   // (rows W x Cv) input gradient
    float *v;     // (16 x CHUNK x Cv) transformed input of a chunk
    float *m;     // (16 x CHUNK x Fv) products (forward) or dM (backward)
    float *dv;    // (16 x CHUNK x Cv) dV of a chunk
    float *du;    // (16 x Cv x Fv) weight gradient of a chunk
    float *zero;  // (max(Cv, Fv)) zeros, read for taps outside the map
    double *dus;  // (16 x Cv x Fv) weight-gradient sums over chunks
    double *db;   // (Fv) bias-gradient sums
} WinoWork;

size_t nn_wino_work_floats(const NnWino *wg) {
    size_t n = (size_t)wg->rows * (size_t)wg->W, Cv = (size_t)wg->Cv, Fv = (size_t)wg->Fv;
    return 16 + n * (2 * Cv + Fv) + 16 * CHUNK * (2 * Cv + Fv) + 3 * 16 * Cv * Fv +
           (Cv > Fv ? Cv : Fv) + 2 * Fv;
}

static WinoWork work_layout(const NnWino *wg, float *base) {
    size_t n = (size_t)wg->rows * (size_t)wg->W, Cv = (size_t)wg->Cv, Fv = (size_t)wg->Fv;
    uintptr_t a = (uintptr_t)base;
    float *p = base + ((64 - a % 64) % 64) / sizeof(float);
    WinoWork w;
    w.xt = p;
    p += n * Cv;
    w.yt = p;
    p += n * Fv;
    w.dxt = p;
    p += n * Cv;
    w.v = p;
    p += 16 * CHUNK * Cv;
    w.m = p;
    p += 16 * CHUNK * Fv;
    w.dv = p;
    p += 16 * CHUNK * Cv;
    w.du = p;
    p += 16 * Cv * Fv;
    w.zero = p;
    p += Cv > Fv ? Cv : Fv;
    w.dus = (double *)(void *)p;
    p += 2 * 16 * Cv * Fv;
    w.db = (double *)(void *)p;
    return w;
}

void nn_wino_pack(const NnWino *wg, const float *w, float *u) {
    int C = wg->C, F = wg->F;
    size_t Cv = (size_t)wg->Cv, Fv = (size_t)wg->Fv;
    float *ut = u + 16 * Cv * Fv;
    memset(u, 0, sizeof(float) * nn_wino_weight_floats(wg));
    for (int f = 0; f < F; f++) {
        for (int c = 0; c < C; c++) {
            const float *g = w + ((size_t)f * C + c) * 9;
            float t[4][3], uu[4][4];
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int i = 0; i < 4; i++) {
                uu[i][0] = t[i][0];
                uu[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                uu[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                uu[i][3] = t[i][2];
            }
            for (int p = 0; p < 16; p++) {
                u[((size_t)p * Cv + c) * Fv + f] = uu[p / 4][p % 4];
                ut[((size_t)p * Fv + f) * Cv + c] = uu[p / 4][p % 4];
            }
        }
    }
}

// Transposes the 16 x 16 block in r: t[j] lane i = r[i] lane j. Pairs of
// rows interleave, then pairs of pairs, then the 128-bit quarters move
// into place.
WINO_AVX512 WINO_INLINE void transpose16(__m512 r[16], __m512 t[16]) {
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    // quarter q of r[4 g + j] is now column 4 q + j of rows 4 g .. 4 g + 3
    for (int j = 0; j < 4; j++) {
        __m512 a_even = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
        __m512 a_odd = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
        __m512 b_even = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        __m512 b_odd = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
        t[j] = _mm512_shuffle_f32x4(a_even, b_even, 0x88);
        t[8 + j] = _mm512_shuffle_f32x4(a_even, b_even, 0xDD);
        t[4 + j] = _mm512_shuffle_f32x4(a_odd, b_odd, 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(a_odd, b_odd, 0xDD);
    }
}

// Lanes 0..n-1 of a 16-lane mask, for n up to 16.
static inline __mmask16 first_lanes(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

WINO_AVX512 void nn_rows_from_planes(const float *src, int F, size_t fs, int n, float *dst,
                                     size_t ld) {
    for (size_t f0 = 0; f0 < ld; f0 += 16) {
        for (int o0 = 0; o0 < n; o0 += 16) {
            __mmask16 m = first_lanes(n - o0);
            __m512 r[16], t[16];
            for (int i = 0; i < 16; i++) {
                r[i] = (int)f0 + i < F
                           ? _mm512_maskz_loadu_ps(m, src + (f0 + (size_t)i) * fs + o0)
                           : _mm512_setzero_ps();
            }
            transpose16(r, t);
            for (int j = 0; j < 16 && o0 + j < n; j++) {
                _mm512_store_ps(dst + (size_t)(o0 + j) * ld + f0, t[j]);
            }
        }
    }
}

// dst planes (F x n, fs floats apart) = the transpose of src (n x ld),
// plus bias[f] on plane f when bias is not NULL.
WINO_AVX512 static void planes_from_rows(const float *src, size_t ld, int n, int F,
                                         const float *bias, float *dst, size_t fs) {
    for (int f0 = 0; f0 < F; f0 += 16) {
        for (int o0 = 0; o0 < n; o0 += 16) {
            __m512 r[16], t[16];
            for (int i = 0; i < 16; i++) {
                r[i] = o0 + i < n ? _mm512_load_ps(src + (size_t)(o0 + i) * ld + f0)
                                  : _mm512_setzero_ps();
            }
            transpose16(r, t);
            __mmask16 m = first_lanes(n - o0);
            for (int j = 0; j < 16 && f0 + j < F; j++) {
                __m512 v = bias ? _mm512_add_ps(t[j], _mm512_set1_ps(bias[f0 + j])) : t[j];
                _mm512_mask_storeu_ps(dst + (size_t)(f0 + j) * fs + o0, m, v);
            }
        }
    }
}

// Origin (top-left row and column) of tile `tile`'s 4 x 4 input block.
static void tile_origin(const NnWino *wg, int tile, int *r, int *c) {
    *r = 2 * (tile / wg->TQ) - 1;
    *c = 2 * (tile % wg->TQ) - 1;
}

// Map rows lo .. hi-1 stored one position per row of ld floats from base.
typedef struct RowBlock {
    const float *base;
    int lo, hi;
    size_t ld;
} RowBlock;

// Fills src with the addresses of the side x side block of tile `tile` in
// rb, `offset` rows and columns from the tile's input origin, or with
// `zero` for positions outside the map or the block. Side 4 and offset 0
// give the input block, side 2 and offset 1 the output block.
static void tile_rows(const NnWino *wg, int tile, int side, int offset, RowBlock rb,
                      const float *zero, const float **src) {
    int r0, c0;
    tile_origin(wg, tile, &r0, &c0);
    r0 += offset;
    c0 += offset;
    for (int a = 0; a < side; a++) {
        for (int b = 0; b < side; b++) {
            int r = r0 + a, c = c0 + b;
            int inside = r >= rb.lo && r < rb.hi && c >= 0 && c < wg->W;
            src[a * side + b] =
                inside ? rb.base + ((size_t)(r - rb.lo) * wg->W + c) * rb.ld : zero;
        }
    }
}

// v (16 x CHUNK x Cv) rows 0 .. rows-1 = B^T d B for tiles t0 .. t0+nt-1
// of the input rows in xb, then zeros for the rows past nt.
WINO_AVX512 static void transform_input(const NnWino *wg, RowBlock xb, const float *zero,
                                        int t0, int nt, int rows, float *v) {
    size_t Cv = (size_t)wg->Cv;
    for (int i = 0; i < rows; i++) {
        const float *src[16];
        if (i < nt) {
            tile_rows(wg, t0 + i, 4, 0, xb, zero, src);
        } else {
            for (int k = 0; k < 16; k++) {
                src[k] = zero;
            }
        }
        for (size_t cv = 0; cv < Cv; cv += 16) {
            __m512 d[16], t[16];
            for (int k = 0; k < 16; k++) {
                d[k] = _mm512_load_ps(src[k] + cv);
            }
            for (int b = 0; b < 4; b++) {
                t[b] = _mm512_sub_ps(d[b], d[8 + b]);
                t[4 + b] = _mm512_add_ps(d[4 + b], d[8 + b]);
                t[8 + b] = _mm512_sub_ps(d[8 + b], d[4 + b]);
                t[12 + b] = _mm512_sub_ps(d[4 + b], d[12 + b]);
            }
            for (int a = 0; a < 4; a++) {
                __m512 *ta = t + 4 * a;
                float *out = v + ((size_t)(4 * a) * CHUNK + i) * Cv + cv;
                size_t step = CHUNK * Cv;
                _mm512_store_ps(out, _mm512_sub_ps(ta[0], ta[2]));
                _mm512_store_ps(out + step, _mm512_add_ps(ta[1], ta[2]));
                _mm512_store_ps(out + 2 * step, _mm512_sub_ps(ta[2], ta[1]));
                _mm512_store_ps(out + 3 * step, _mm512_sub_ps(ta[1], ta[3]));
            }
        }
    }
}

// The outputs of tiles t0 .. t0+nt-1 = A^T M A, from m (16 x CHUNK x Fv),
// into yt, which stores map rows from y0 on.
WINO_AVX512 static void transform_output(const NnWino *wg, const float *m, int t0, int nt,
                                         float *yt, int y0) {
    size_t Fv = (size_t)wg->Fv, step = CHUNK * Fv;
    for (int i = 0; i < nt; i++) {
        int r0, c0;
        tile_origin(wg, t0 + i, &r0, &c0);
        r0++;
        c0++;
        int n_r = r0 + 1 < wg->H ? 2 : 1, n_c = c0 + 1 < wg->W ? 2 : 1;
        for (size_t fv = 0; fv < Fv; fv += 16) {
            const float *in = m + (size_t)i * Fv + fv;
            __m512 s[8];
            for (int b = 0; b < 4; b++) {
                __m512 m0 = _mm512_load_ps(in + (size_t)b * step);
                __m512 m1 = _mm512_load_ps(in + (size_t)(4 + b) * step);
                __m512 m2 = _mm512_load_ps(in + (size_t)(8 + b) * step);
                __m512 m3 = _mm512_load_ps(in + (size_t)(12 + b) * step);
                s[b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                s[4 + b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            for (int a = 0; a < n_r; a++) {
                __m512 *sa = s + 4 * a;
                float *out = yt + ((size_t)(r0 + a - y0) * wg->W + c0) * Fv + fv;
                _mm512_store_ps(out, _mm512_add_ps(_mm512_add_ps(sa[0], sa[1]), sa[2]));
                if (n_c == 2) {
                    __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(sa[1], sa[2]), sa[3]);
                    _mm512_store_ps(out + Fv, y1);
                }
            }
        }
    }
}

// m (16 x CHUNK x Fv) rows 0 .. rows-1 = A dY A^T for tiles t0 .. t0+nt-1
// of the dy rows in db, then zeros for the rows past nt.
WINO_AVX512 static void transform_dy(const NnWino *wg, RowBlock db, const float *zero,
                                     int t0, int nt, int rows, float *m) {
    size_t Fv = (size_t)wg->Fv, step = CHUNK * Fv;
    __m512 z = _mm512_setzero_ps();
    for (int i = 0; i < rows; i++) {
        const float *src[4] = {zero, zero, zero, zero};
        if (i < nt) {
            tile_rows(wg, t0 + i, 2, 1, db, zero, src);
        }
        for (size_t fv = 0; fv < Fv; fv += 16) {
            __m512 r[8];
            for (int b = 0; b < 2; b++) {
                __m512 y0 = _mm512_load_ps(src[b] + fv), y1 = _mm512_load_ps(src[2 + b] + fv);
                r[b] = y0;
                r[2 + b] = _mm512_add_ps(y0, y1);
                r[4 + b] = _mm512_sub_ps(y0, y1);
                r[6 + b] = _mm512_sub_ps(z, y1);
            }
            for (int a = 0; a < 4; a++) {
                float *out = m + ((size_t)(4 * a) * CHUNK + i) * Fv + fv;
                __m512 e0 = r[2 * a], e1 = r[2 * a + 1];
                _mm512_store_ps(out, e0);
                _mm512_store_ps(out + step, _mm512_add_ps(e0, e1));
                _mm512_store_ps(out + 2 * step, _mm512_sub_ps(e0, e1));
                _mm512_store_ps(out + 3 * step, _mm512_sub_ps(z, e1));
            }
        }
    }
}

// dxt += B dV B^T of tiles t0 .. t0+nt-1, from dv (16 x CHUNK x Cv),
// over the parts of their 4 x 4 blocks in map rows lo .. hi-1, which dxt
// stores from row lo on.
WINO_AVX512 static void add_input_grad(const NnWino *wg, const float *dv, int t0, int nt,
                                       float *dxt, int lo, int hi) {
    size_t Cv = (size_t)wg->Cv, step = CHUNK * Cv;
    __m512 z = _mm512_setzero_ps();
    for (int i = 0; i < nt; i++) {
        int r0, c0;
        tile_origin(wg, t0 + i, &r0, &c0);
        for (size_t cv = 0; cv < Cv; cv += 16) {
            const float *in = dv + (size_t)i * Cv + cv;
            __m512 e[16];
            for (int b = 0; b < 4; b++) {
                __m512 g0 = _mm512_load_ps(in + (size_t)b * step);
                __m512 g1 = _mm512_load_ps(in + (size_t)(4 + b) * step);
                __m512 g2 = _mm512_load_ps(in + (size_t)(8 + b) * step);
                __m512 g3 = _mm512_load_ps(in + (size_t)(12 + b) * step);
                e[b] = g0;
                e[4 + b] = _mm512_add_ps(_mm512_sub_ps(g1, g2), g3);
                e[8 + b] = _mm512_sub_ps(_mm512_add_ps(g1, g2), g0);
                e[12 + b] = _mm512_sub_ps(z, g3);
            }
            for (int a = 0; a < 4; a++) {
                int r = r0 + a;
                if (r < lo || r >= hi) {
                    continue;
                }
                __m512 *ea = e + 4 * a, dd[4];
                dd[0] = ea[0];
                dd[1] = _mm512_add_ps(_mm512_sub_ps(ea[1], ea[2]), ea[3]);
                dd[2] = _mm512_sub_ps(_mm512_add_ps(ea[1], ea[2]), ea[0]);
                dd[3] = _mm512_sub_ps(z, ea[3]);
                for (int b = 0; b < 4; b++) {
                    int c = c0 + b;
                    if (c < 0 || c >= wg->W) {
                        continue;
                    }
                    float *out = dxt + ((size_t)(r - lo) * wg->W + c) * Cv + cv;
                    _mm512_store_ps(out, _mm512_add_ps(_mm512_load_ps(out), dd[b]));
                }
            }
        }
    }
}

// out rows 0 .. STEP-1, NF vectors from column 0 = a (STEP x K, rows lda
// apart) times b (K x 16 NF, rows ldb apart).
WINO_AVX512 WINO_INLINE void product_step(const float *a, size_t lda, const float *b,
                                          size_t ldb, int K, float *out, size_t ldo, int NF) {
    __m512 acc[STEP][2];
    for (int t = 0; t < STEP; t++) {
        acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    }
    for (int k = 0; k < K; k++) {
        __m512 b0 = _mm512_loadu_ps(b + (size_t)k * ldb);
        __m512 b1 = NF > 1 ? _mm512_loadu_ps(b + (size_t)k * ldb + 16) : b0;
        for (int t = 0; t < STEP; t++) {
            __m512 av = _mm512_set1_ps(a[(size_t)t * lda + k]);
            acc[t][0] = _mm512_fmadd_ps(av, b0, acc[t][0]);
            if (NF > 1) {
                acc[t][1] = _mm512_fmadd_ps(av, b1, acc[t][1]);
            }
        }
    }
    for (int t = 0; t < STEP; t++) {
        _mm512_store_ps(out + (size_t)t * ldo, acc[t][0]);
        if (NF > 1) {
            _mm512_store_ps(out + (size_t)t * ldo + 16, acc[t][1]);
        }
    }
}

// out (rows x N) = a (rows x K) b (K x N) for rows a multiple of STEP and
// N a multiple of 16.
WINO_AVX512 static void products(const float *a, size_t lda, int K, const float *b, size_t ldb,
                                 int N, float *out, size_t ldo, int rows) {
    for (int t0 = 0; t0 < rows; t0 += STEP) {
        const float *at = a + (size_t)t0 * lda;
        float *ot = out + (size_t)t0 * ldo;
        for (int n0 = 0; n0 < N; n0 += 32) {
            if (N - n0 >= 32) {
                product_step(at, lda, b + n0, ldb, K, ot + n0, ldo, 2);
            } else {
                product_step(at, lda, b + n0, ldb, K, ot + n0, ldo, 1);
            }
        }
    }
}

// du rows c0 .. c0+DU_ROWS-1, NF vectors from column 0 (rows ldu apart)
// = v^T m over nt tiles: v rows of lv floats from channel c0 on, m rows of
// lm floats.
WINO_AVX512 WINO_INLINE void du_step(const float *v, size_t lv, const float *m, size_t lm,
                                     int nt, float *du, size_t ldu, int NF) {
    __m512 acc[DU_ROWS][2];
    for (int r = 0; r < DU_ROWS; r++) {
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    }
    for (int i = 0; i < nt; i++) {
        __m512 m0 = _mm512_load_ps(m + (size_t)i * lm);
        __m512 m1 = NF > 1 ? _mm512_load_ps(m + (size_t)i * lm + 16) : m0;
        for (int r = 0; r < DU_ROWS; r++) {
            __m512 av = _mm512_set1_ps(v[(size_t)i * lv + r]);
            acc[r][0] = _mm512_fmadd_ps(av, m0, acc[r][0]);
            if (NF > 1) {
                acc[r][1] = _mm512_fmadd_ps(av, m1, acc[r][1]);
            }
        }
    }
    for (int r = 0; r < DU_ROWS; r++) {
        _mm512_store_ps(du + (size_t)r * ldu, acc[r][0]);
        if (NF > 1) {
            _mm512_store_ps(du + (size_t)r * ldu + 16, acc[r][1]);
        }
    }
}

// dus (16 x Cv x Fv, double) += per point, v^T m over nt tiles of a
// chunk. The chunk's sum runs in float in du, and only the sums over
// chunks in double: over a band of a thousand tiles or more, float sums
// lost up to 5e-5 of dW against the six-loop reference.
WINO_AVX512 static void add_weight_grad(const NnWino *wg, const float *v, const float *m,
                                        int nt, float *du, double *dus) {
    size_t Cv = (size_t)wg->Cv, Fv = (size_t)wg->Fv;
    for (int p = 0; p < 16; p++) {
        const float *vp = v + (size_t)p * CHUNK * Cv, *mp = m + (size_t)p * CHUNK * Fv;
        float *dup = du + (size_t)p * Cv * Fv;
        for (int c0 = 0; c0 < wg->C; c0 += DU_ROWS) {
            for (int f0 = 0; f0 < wg->Fv; f0 += 32) {
                float *d = dup + (size_t)c0 * Fv + f0;
                if (wg->Fv - f0 >= 32) {
                    du_step(vp + c0, Cv, mp + f0, Fv, nt, d, Fv, 2);
                } else {
                    du_step(vp + c0, Cv, mp + f0, Fv, nt, d, Fv, 1);
                }
            }
        }
    }
    size_t n = 16 * Cv * Fv;
    for (size_t e = 0; e < n; e++) {
        dus[e] += (double)du[e];
    }
}

static int min_int(int a, int b) {
    return a < b ? a : b;
}

static int max_int(int a, int b) {
    return a > b ? a : b;
}

// Transposes map rows lo .. hi-1 of planes (n_ch x H x W) into the rows
// of dst, ld floats each.
static RowBlock load_rows(const NnWino *wg, const float *planes, int n_ch, int lo, int hi,
                          float *dst, size_t ld) {
    size_t area = (size_t)wg->H * (size_t)wg->W;
    nn_rows_from_planes(planes + (size_t)lo * wg->W, n_ch, area, (hi - lo) * wg->W, dst, ld);
    RowBlock rb = {dst, lo, hi, ld};
    return rb;
}

WINO_AVX512 void nn_wino_forward(const NnWino *wg, const float *u, const float *x,
                                 const float *bias, float *y, int ta, int tb, float *work) {
    WinoWork w = work_layout(wg, work);
    size_t Cv = (size_t)wg->Cv, Fv = (size_t)wg->Fv;
    int y0 = 2 * ta, y1 = min_int(2 * tb, wg->H);
    memset(w.zero, 0, sizeof(float) * (Cv > Fv ? Cv : Fv));
    RowBlock xb = load_rows(wg, x, wg->C, max_int(y0 - 1, 0), min_int(y1 + 1, wg->H), w.xt, Cv);
    for (int t0 = ta * wg->TQ; t0 < tb * wg->TQ; t0 += CHUNK) {
        int nt = min_int(tb * wg->TQ - t0, CHUNK), rows = round_up(nt, STEP);
        transform_input(wg, xb, w.zero, t0, nt, rows, w.v);
        for (int p = 0; p < 16; p++) {
            products(w.v + (size_t)p * CHUNK * Cv, Cv, wg->C, u + (size_t)p * Cv * Fv, Fv,
                     wg->Fv, w.m + (size_t)p * CHUNK * Fv, Fv, rows);
        }
        transform_output(wg, w.m, t0, nt, w.yt, y0);
    }
    size_t area = (size_t)wg->H * (size_t)wg->W;
    planes_from_rows(w.yt, Fv, (y1 - y0) * wg->W, wg->F, bias, y + (size_t)y0 * wg->W, area);
}

void nn_wino_backward_begin(const NnWino *wg, float *work) {
    WinoWork w = work_layout(wg, work);
    size_t n = 16 * (size_t)wg->Cv * (size_t)wg->Fv;
    memset(w.du, 0, sizeof(float) * n);
    for (size_t e = 0; e < n; e++) {
        w.dus[e] = 0.0;
    }
    for (int f = 0; f < wg->Fv; f++) {
        w.db[f] = 0.0;
    }
}

// Positions per float partial sum of the bias gradient. Longer float
// sums lost 1.2e-5 of db on rows of 2100 positions.
#define DB_BLOCK 64

// db sums += the sums of each column of dyt (rows x W positions of Fv
// floats), in float over each map row, or each block of DB_BLOCK
// positions of a longer row, and in double over those.
WINO_AVX512 static void add_bias_grad(const NnWino *wg, const float *dyt, int rows,
                                      double *db) {
    size_t Fv = (size_t)wg->Fv;
    for (int r = 0; r < rows; r++) {
        for (int q0 = 0; q0 < wg->W; q0 += DB_BLOCK) {
            int q1 = q0 + DB_BLOCK < wg->W ? q0 + DB_BLOCK : wg->W;
            const float *row = dyt + ((size_t)r * wg->W + (size_t)q0) * Fv;
            for (size_t fv = 0; fv < Fv; fv += 16) {
                __m512 s = _mm512_setzero_ps();
                for (int q = 0; q < q1 - q0; q++) {
                    s = _mm512_add_ps(s, _mm512_load_ps(row + (size_t)q * Fv + fv));
                }
                float lanes[16];
                _mm512_storeu_ps(lanes, s);
                for (int l = 0; l < 16; l++) {
                    db[fv + (size_t)l] += (double)lanes[l];
                }
            }
        }
    }
}

WINO_AVX512 void nn_wino_backward(const NnWino *wg, const float *u, const float *x,
                                  const float *dy, float *dx, int ta, int tb, float *work) {
    WinoWork w = work_layout(wg, work);
    size_t Cv = (size_t)wg->Cv, Fv = (size_t)wg->Fv;
    const float *ut = u + 16 * Cv * Fv;
    int W = wg->W, y0 = 2 * ta, y1 = min_int(2 * tb, wg->H);

    // dx rows y0 .. y1-1 also take the blocks of the tile rows next to the
    // band, so those tiles join the band for dM and dV (not for dU)
    int ea = dx ? max_int(ta - 1, 0) : ta, eb = dx ? min_int(tb + 1, wg->TP) : tb;
    memset(w.zero, 0, sizeof(float) * (Cv > Fv ? Cv : Fv));
    RowBlock xb = load_rows(wg, x, wg->C, max_int(2 * ea - 1, 0), min_int(2 * eb + 1, wg->H),
                            w.xt, Cv);
    RowBlock db = load_rows(wg, dy, wg->F, 2 * ea, min_int(2 * eb, wg->H), w.yt, Fv);
    add_bias_grad(wg, w.yt + (size_t)(y0 - db.lo) * W * Fv, y1 - y0, w.db);
    if (dx) {
        memset(w.dxt, 0, sizeof(float) * (size_t)(y1 - y0) * W * Cv);
    }
    int own_lo = ta * wg->TQ, own_hi = tb * wg->TQ;
    for (int t0 = ea * wg->TQ; t0 < eb * wg->TQ; t0 += CHUNK) {
        int nt = min_int(eb * wg->TQ - t0, CHUNK), rows = round_up(nt, STEP);
        transform_input(wg, xb, w.zero, t0, nt, rows, w.v);
        transform_dy(wg, db, w.zero, t0, nt, rows, w.m);
        int i0 = max_int(own_lo - t0, 0), i1 = min_int(own_hi - t0, nt);
        if (i1 > i0) {
            add_weight_grad(wg, w.v + (size_t)i0 * Cv, w.m + (size_t)i0 * Fv, i1 - i0, w.du,
                            w.dus);
        }
        if (!dx) {
            continue;
        }
        for (int p = 0; p < 16; p++) {
            products(w.m + (size_t)p * CHUNK * Fv, Fv, wg->F, ut + (size_t)p * Fv * Cv, Cv,
                     wg->Cv, w.dv + (size_t)p * CHUNK * Cv, Cv, rows);
        }
        add_input_grad(wg, w.dv, t0, nt, w.dxt, y0, y1);
    }
    if (dx) {
        size_t area = (size_t)wg->H * (size_t)W;
        planes_from_rows(w.dxt, Cv, (y1 - y0) * W, wg->C, NULL, dx + (size_t)y0 * W, area);
    }
}

void nn_wino_backward_end(const NnWino *wg, const float *work, float *dw, float *db) {
    // the layout only computes addresses, so the const cast writes nothing
    WinoWork w = work_layout(wg, (float *)(uintptr_t)work);
    size_t Cv = (size_t)wg->Cv, Fv = (size_t)wg->Fv;
    for (int f = 0; f < wg->F; f++) {
        for (int c = 0; c < wg->C; c++) {
            double du[16], e[3][4];
            for (int p = 0; p < 16; p++) {
                du[p] = w.dus[((size_t)p * Cv + c) * Fv + f];
            }
            // G^T dU G: down the columns, then along the rows
            for (int l = 0; l < 4; l++) {
                e[0][l] = du[l] + 0.5 * (du[4 + l] + du[8 + l]);
                e[1][l] = 0.5 * (du[4 + l] - du[8 + l]);
                e[2][l] = 0.5 * (du[4 + l] + du[8 + l]) + du[12 + l];
            }
            float *g = dw + ((size_t)f * wg->C + c) * 9;
            for (int k = 0; k < 3; k++) {
                g[3 * k] = (float)(e[k][0] + 0.5 * (e[k][1] + e[k][2]));
                g[3 * k + 1] = (float)(0.5 * (e[k][1] - e[k][2]));
                g[3 * k + 2] = (float)(0.5 * (e[k][1] + e[k][2]) + e[k][3]);
            }
        }
        db[f] = (float)w.db[f];
    }
}

#else
// Without GNU C on x86-64 nn/conv.c never calls these kernels.
typedef int nn_winograd_unused;
#endif
