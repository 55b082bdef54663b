// 2-D convolution: direct AVX-512 kernels, or im2col and sgemm; see conv.h.
#include "nn/conv.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"
#include "nn/winograd.h"

// The direct kernels use AVX-512 intrinsics in functions built for that
// target, and run only when the CPU reports AVX-512F at run time. Other
// compilers and machines take the im2col path for every layer.
#if defined(__GNUC__) && defined(__x86_64__)
#define CONV_DIRECT_BUILT 1
#include <immintrin.h>
#define CONV_AVX512 __attribute__((target("avx512f")))
#else
#define CONV_DIRECT_BUILT 0
#endif

size_t nn_conv2d_n_params(int n_in, int n_out, int kernel) {
    return (size_t)n_out * (size_t)n_in * (size_t)kernel * (size_t)kernel + (size_t)n_out;
}

void nn_conv2d_bind(NnConv2d *conv, int n_in, int n_out, int kernel, int stride, int pad,
                    float *params, float *grads) {
    ASSERT(n_in > 0 && n_out > 0 && kernel > 0, "nn_conv2d_bind: bad sizes C=%d F=%d K=%d",
           n_in, n_out, kernel);
    ASSERT(stride >= 1 && pad >= 0, "nn_conv2d_bind: stride %d must be >= 1, pad %d >= 0",
           stride, pad);
    size_t n_w = (size_t)n_out * (size_t)n_in * (size_t)kernel * (size_t)kernel;
    conv->n_in = n_in;
    conv->n_out = n_out;
    conv->kernel = kernel;
    conv->stride = stride;
    conv->pad = pad;
    conv->w = params;
    conv->b = params ? params + n_w : NULL;
    conv->dw = grads;
    conv->db = grads ? grads + n_w : NULL;
}

int nn_conv2d_out_size(const NnConv2d *conv, int in) {
    int span = in + 2 * conv->pad - conv->kernel;
    ASSERT(in > 0 && span >= 0, "nn_conv2d: kernel %d does not fit input %d with pad %d",
           conv->kernel, in, conv->pad);
    return span / conv->stride + 1;
}

// Column count of one sgemm. Small maps are lowered several images at a
// time and large maps a band of output rows at a time, so each product has
// about this many columns. That is wide enough for sgemm to run near its
// peak and narrow enough for the column block (C*K*K x cols) to stay in
// cache; 1024 and 2048 measured alike in conv_bench, 4096 and 8192 slower.
#define CONV_COLS 2048

// Output positions of the direct path per item: small maps are grouped up
// to about DIRECT_GROUP, and larger maps split into bands of at most
// DIRECT_BAND.
#define DIRECT_GROUP 2048
#define DIRECT_BAND 4096

// The forward kernel's step: 48 positions (three AVX-512 vectors) by 8
// filters. The weight-gradient kernel's block: 4 filters by 6 taps.
#define DIRECT_STEP 48
#define DIRECT_FB 8
#define DIRECT_GF 4
#define DIRECT_GR 6

// The block of the weight-gradient kernel on transposed dy: 32 filters
// (two vectors) by 12 taps.
#define DIRECT_TF 32
#define DIRECT_TR 12

// Work plan for an input size. The im2col path lowers images per group
// (small maps) or output rows per band (large maps) into column blocks.
// The direct path (stride 1, pad < K) works on an image, or on a band of
// rows of a large image, at a time. Forward copies the input K times, once
// per kernel column kj, into planes of rows of Q floats, shifted by kj and
// zero-padded. Tap (c, ki, kj) is then one offset into the copies, and the
// output positions run as one flat vector straight over y. The weight
// gradient reads the same copies, or, with 32 filters or more, one padded
// copy and dy transposed. The input gradient convolves dy, padded by
// K - 1 - pad into rows of ldd floats, with the flipped weights. The K - 1
// positions at the end of each of its rows fall outside dx, so they are
// dropped when the stage is copied out.
typedef struct ConvPlan {
    int direct;          // 1: direct kernels, 0: im2col and sgemm
    int P, Q, N, R;      // output rows, columns, area; taps C*K*K
    int group;           // images per item (1 for banded maps)
    int n_bands;         // items per image (1 for the im2col path)
    int band;            // output rows per sgemm (im2col) or per item (direct)
    int cols;            // im2col: widest column block
    int dband;           // direct: input-gradient rows per item
    int ldd;             // direct: padded row length of dy
    int Ld;              // direct: positions of the dx stage
    int Fp, Cp, Rp;      // direct: F, C rounded up to 8 and R up to 6
    size_t plane;        // direct: floats per shifted copy of an input channel
    size_t dplane;       // direct: floats per padded channel of dy
    size_t xlen, dlen;   // direct: floats of the shifted x and padded dy blocks
    int ld;              // direct: row length of x padded on both sides
    size_t pplane;       // direct: floats per channel of x padded on all sides
    int Ft;              // direct: F rounded up to 32 when dy is transposed, else 0
    size_t tlen;         // direct: floats of one image's transposed dy
    int wino;            // 1: Winograd kernels (nn/winograd.h) on the direct plan's items
    NnWino wg;           // their sizes
} ConvPlan;

static int round_up(int n, int m) {
    return (n + m - 1) / m * m;
}

// 1 when this layer runs on the direct kernels: stride 1, padding below the
// kernel size (the input gradient is then a convolution of dy padded by
// K - 1 - pad), and a CPU with AVX-512F.
static int conv_direct(const NnConv2d *conv) {
#if CONV_DIRECT_BUILT
    if (conv->stride != 1 || conv->pad >= conv->kernel) {
        return 0;
    }
    // libgcc fills in the CPU model before main, so no __builtin_cpu_init
    // here, where team threads may plan layers at the same time
    return __builtin_cpu_supports("avx512f") != 0;
#else
    (void)conv;
    return 0;
#endif
}

static void plan_direct(const NnConv2d *conv, int H, int W, ConvPlan *pl) {
    int K = conv->kernel, pad_d = K - 1 - conv->pad;
    pl->ldd = pl->Q + 2 * pad_d;
    if (pl->N > DIRECT_BAND) {
        pl->group = 1;
        pl->n_bands = (pl->N + DIRECT_BAND - 1) / DIRECT_BAND;
        pl->band = (pl->P + pl->n_bands - 1) / pl->n_bands;
        pl->n_bands = (pl->P + pl->band - 1) / pl->band;
    } else {
        pl->group = DIRECT_GROUP / pl->N > 1 ? DIRECT_GROUP / pl->N : 1;
        pl->n_bands = 1;
        pl->band = pl->P;
    }
    pl->dband = (H + pl->n_bands - 1) / pl->n_bands;
    pl->Ld = round_up(pl->dband * pl->ldd, 16);
    pl->Fp = round_up(conv->n_out, DIRECT_FB);
    pl->Cp = round_up(conv->n_in, DIRECT_FB);
    pl->Rp = round_up(pl->R, DIRECT_GR);
    pl->plane = (size_t)(pl->band + K - 1) * (size_t)pl->Q;
    pl->dplane = (size_t)(pl->dband + K - 1) * (size_t)pl->ldd;

    // The kernels read whole vectors of positions, up to 47 floats past the
    // last one, from (K - 1) rows into the last plane. A zero tail covers
    // them.
    pl->xlen = (size_t)conv->n_in * (size_t)K * pl->plane + (size_t)DIRECT_STEP + 16;
    pl->ld = W + 2 * conv->pad;
    pl->pplane = (size_t)(pl->band + K - 1) * (size_t)pl->ld;
    if ((size_t)conv->n_in * pl->pplane > pl->xlen) {
        pl->xlen = (size_t)conv->n_in * pl->pplane;
    }
    pl->dlen = (size_t)conv->n_out * pl->dplane + (size_t)pl->Ld + (size_t)K + 16;

    // with 32 filters or more, the weight gradient runs on dy transposed
    // to positions x filters (see direct_weight_kernel_t)
    pl->Ft = conv->n_out >= DIRECT_TF ? round_up(conv->n_out, DIRECT_TF) : 0;
    pl->tlen = (size_t)pl->band * (size_t)pl->Q * (size_t)pl->Ft;
}

// Smallest channel and filter counts for the Winograd kernels. They
// transform 16 channels per vector, so fewer leave most lanes idle.
// NOTE: set from that lane count; conv_bench has no layer with 8 to 15
// channels, so the crossover against the direct kernels is not measured.
#define WINO_MIN_CHANNELS 16

// 1 when a direct plan runs on the Winograd kernels: 3x3 kernels with
// padding 1, and 16 or more channels and filters.
static int conv_winograd(const NnConv2d *conv, const ConvPlan *pl) {
    return pl->direct && conv->kernel == 3 && conv->pad == 1 &&
           conv->n_in >= WINO_MIN_CHANNELS && conv->n_out >= WINO_MIN_CHANNELS;
}

// Items of the Winograd kernels: the direct plan's groups of small
// images, or bands of about DIRECT_BAND output positions (whole rows of
// 2x2 tiles) of a large image.
static void plan_winograd(const NnConv2d *conv, int H, int W, ConvPlan *pl) {
    int tile_rows = (H + 1) / 2, band = tile_rows;
    if (pl->n_bands > 1) {
        band = DIRECT_BAND / (2 * W) > 1 ? DIRECT_BAND / (2 * W) : 1;
        pl->n_bands = (tile_rows + band - 1) / band;
    }
    pl->wino = 1;
    nn_wino_shape(&pl->wg, conv->n_in, conv->n_out, H, W, band);
}

static ConvPlan conv_plan(const NnConv2d *conv, int H, int W) {
    ConvPlan pl;
    memset(&pl, 0, sizeof pl);
    pl.P = nn_conv2d_out_size(conv, H);
    pl.Q = nn_conv2d_out_size(conv, W);
    pl.N = pl.P * pl.Q;
    pl.R = conv->n_in * conv->kernel * conv->kernel;
    pl.n_bands = 1;
    if (conv_direct(conv)) {
        pl.direct = 1;
        plan_direct(conv, H, W, &pl);
        if (conv_winograd(conv, &pl)) {
            plan_winograd(conv, H, W, &pl);
        }
    } else if (pl.N >= CONV_COLS) {
        pl.group = 1;
        pl.band = CONV_COLS / pl.Q > 0 ? CONV_COLS / pl.Q : 1;
        pl.cols = pl.band * pl.Q;
    } else {
        pl.group = (CONV_COLS + pl.N - 1) / pl.N;
        pl.band = pl.P;
        pl.cols = pl.group * pl.N;
    }
    return pl;
}

void nn_conv2d_init(NnConv2d *conv, RngState *rng) {
    int fan_in = conv->n_in * conv->kernel * conv->kernel;
    float bound = 1.0f / sqrtf((float)fan_in);
    size_t n = nn_conv2d_n_params(conv->n_in, conv->n_out, conv->kernel);
    for (size_t i = 0; i < n; i++) {
        conv->w[i] = (2.0f * rng_uniform_f(rng) - 1.0f) * bound;
    }
}

// Output columns [lo, hi) whose input column q * S - pad + kj lies inside
// [0, W); the others read zero padding.
static void valid_cols(int Q, int W, int S, int pad, int kj, int *lo, int *hi) {
    int a = 0, b = Q;
    while (a < Q && a * S - pad + kj < 0) {
        a++;
    }
    while (b > a && (b - 1) * S - pad + kj >= W) {
        b--;
    }
    *lo = a;
    *hi = b;
}

// Unfolds output rows [p0, p1) of one image x (C x H x W) into col, whose
// row r = (c K + ki) K + kj starts at col + r * ld; zero outside the image.
static void im2col(const NnConv2d *conv, const float *x, int H, int W, int p0, int p1, int Q,
                   float *col, size_t ld) {
    int K = conv->kernel, S = conv->stride, pad = conv->pad;
    for (int c = 0; c < conv->n_in; c++) {
        const float *xc = x + (size_t)c * H * W;
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                float *row = col + (size_t)((c * K + ki) * K + kj) * ld;
                int lo, hi;
                valid_cols(Q, W, S, pad, kj, &lo, &hi);
                for (int p = p0; p < p1; p++) {
                    int ih = p * S - pad + ki;
                    float *out = row + (size_t)(p - p0) * Q;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        memset(out, 0, sizeof(float) * (size_t)Q);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * W + (lo * S - pad + kj);
                    for (int q = 0; q < lo; q++) {
                        out[q] = 0.0f;
                    }
                    if (S == 1) {
                        memcpy(out + lo, xr, sizeof(float) * (size_t)(hi - lo));
                    } else {
                        for (int q = lo; q < hi; q++) {
                            out[q] = xr[(q - lo) * S];
                        }
                    }
                    for (int q = hi; q < Q; q++) {
                        out[q] = 0.0f;
                    }
                }
            }
        }
    }
}

// Adds col (laid out as im2col writes it for rows [p0, p1)) back onto dx
// (C x H x W), summing where windows overlap.
static void col2im_add(const NnConv2d *conv, const float *col, size_t ld, int H, int W, int p0,
                       int p1, int Q, float *dx) {
    int K = conv->kernel, S = conv->stride, pad = conv->pad;
    for (int c = 0; c < conv->n_in; c++) {
        float *dxc = dx + (size_t)c * H * W;
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                const float *row = col + (size_t)((c * K + ki) * K + kj) * ld;
                int lo, hi;
                valid_cols(Q, W, S, pad, kj, &lo, &hi);
                for (int p = p0; p < p1; p++) {
                    int ih = p * S - pad + ki;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        continue;
                    }
                    float *dr = dxc + (size_t)ih * W + (lo * S - pad + kj);
                    const float *in = row + (size_t)(p - p0) * Q + lo;
                    int n = hi - lo;
                    if (S == 1) {
                        for (int q = 0; q < n; q++) {
                            dr[q] += in[q];
                        }
                    } else {
                        for (int q = 0; q < n; q++) {
                            dr[q * S] += in[q];
                        }
                    }
                }
            }
        }
    }
}

// ---- parallel forward and backward ----
//
// The work splits into items. An item is one of:
// - a group of images;
// - one image of a banded im2col plan, because its bands would fold onto
//   shared input rows;
// - one band of an image of a banded direct plan, whose bands write
//   disjoint rows of y and dx.
// Item i runs on team thread i % T and uses that
// thread's slot of the scratch. Each item writes its own outputs, and
// backward writes its weight and bias gradients into its own partial
// block. These are then added to dW and db in item order, so the results
// do not depend on the thread count.

typedef struct ConvJob {
    NnConv2d *conv;
    ConvPlan pl;
    int B, H, W, n_items;
    const float *x;        // (B x C x H x W)
    float *y;              // (B x F x P x Q) forward output
    const float *dy;       // (B x F x P x Q) backward input
    float *dx;             // (B x C x H x W) or NULL
    float *wf;             // direct: packed weights of forward (Fp x R), or Winograd's U
    float *wb;             // direct: packed flipped weights of dx (Cp x F*K*K)
    float *slots;          // (T x slot_n) per-thread working blocks
    float *parts;          // (n_items x (F*R + F)) per-item dW then db
    size_t slot_n;         // floats per slot
} ConvJob;

static int n_items(const ConvPlan *pl, int B) {
    if (pl->direct) {
        return (B + pl->group - 1) / pl->group * pl->n_bands;
    }
    return pl->group > 1 ? (B + pl->group - 1) / pl->group : B;
}

// Floats of one thread's slot. im2col: the columns (R x cols), then the
// staging block (F x cols). Direct: per image of an item the copies of its
// input, then the padded dy block and the dx stage (Cp x Ld) of the input
// gradient, then per image the transposed dy (with 32 filters or more).
// Winograd: the working block of nn/winograd.h for one image or band.
static size_t slot_floats(const NnConv2d *conv, const ConvPlan *pl) {
    if (!pl->direct) {
        return (size_t)(pl->R + conv->n_out) * (size_t)pl->cols;
    }
    if (pl->wino) {
        return nn_wino_work_floats(&pl->wg);
    }
    return (size_t)pl->group * (pl->xlen + pl->tlen) + pl->dlen +
           (size_t)pl->Cp * (size_t)pl->Ld + 16;
}

// Floats of the packed weights that the direct path shares between threads
// (the transformed weights on the Winograd kernels).
static size_t shared_floats(const NnConv2d *conv, const ConvPlan *pl) {
    if (!pl->direct) {
        return 0;
    }
    if (pl->wino) {
        return nn_wino_weight_floats(&pl->wg);
    }
    return (size_t)pl->Fp * (size_t)pl->R +
           (size_t)pl->Cp * (size_t)conv->n_out * (size_t)conv->kernel * (size_t)conv->kernel;
}

size_t nn_conv2d_scratch_size(const NnConv2d *conv, int B, int H, int W, int threads) {
    ASSERT(B > 0 && threads > 0, "nn_conv2d_scratch_size: batch %d, threads %d", B, threads);
    ConvPlan pl = conv_plan(conv, H, W);
    size_t part = (size_t)conv->n_out * (size_t)pl.R + (size_t)conv->n_out;
    return shared_floats(conv, &pl) + (size_t)threads * slot_floats(conv, &pl) +
           (size_t)n_items(&pl, B) * part;
}

static ConvJob conv_job(NnConv2d *conv, int B, int H, int W, float *scratch) {
    ConvJob j;
    memset(&j, 0, sizeof j);
    j.conv = conv;
    j.pl = conv_plan(conv, H, W);
    j.B = B;
    j.H = H;
    j.W = W;
    j.n_items = n_items(&j.pl, B);
    j.slot_n = slot_floats(conv, &j.pl);
    j.wf = scratch;
    j.wb = scratch + (size_t)j.pl.Fp * (size_t)j.pl.R;
    j.slots = scratch + shared_floats(conv, &j.pl);
    j.parts = j.slots + (size_t)nn_threads() * j.slot_n;
    return j;
}

// Start of item i's thread slot.
static float *item_cols(const ConvJob *j, int i) {
    return j->slots + (size_t)(i % nn_threads()) * j->slot_n;
}

#if CONV_DIRECT_BUILT
// ---- direct kernels ----

// Lanes lo..hi-1 of a 16-lane mask, clipped to 0..16.
static inline __mmask16 lane_mask(int lo, int hi) {
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo) {
        return 0;
    }
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Copies rows of src (Cin planes of Hin x Win) into dst, Cin planes of
// `plane` floats, cstride apart, with rows of ld: row u of a plane contains
// source row r0 + u - top from column `left` on (a negative `left` drops
// the first columns), cut at ld and with zeros around it, or zeros when
// that row is outside the source or u >= rows. Floats of a plane past its
// last whole row are zeroed too. Masked loads touch no float outside src.
CONV_AVX512 static void direct_pad_block(const float *src, int Cin, int Hin, int Win, int top,
                                         int left, int r0, int rows, int ld, size_t plane,
                                         size_t cstride, float *dst) {
    int n_rows = (int)(plane / (size_t)ld);
    for (int c = 0; c < Cin; c++) {
        const float *sc = src + (size_t)c * Hin * Win;
        float *dc = dst + (size_t)c * cstride;
        for (int u = 0; u < n_rows; u++) {
            float *d = dc + (size_t)u * ld;
            int ih = r0 + u - top;
            int live = u < rows && ih >= 0 && ih < Hin;
            const float *s = live ? sc + (size_t)ih * Win : sc;
            for (int q0 = 0; q0 < ld; q0 += 16) {
                __mmask16 m = live ? lane_mask(left - q0, left + Win - q0) : 0;
                // masked lanes are never read, so s + q0 - left may point
                // outside the row there
                __m512 v = _mm512_maskz_loadu_ps(m, s + q0 - left);
                _mm512_mask_storeu_ps(d + q0, lane_mask(0, ld - q0), v);
            }
        }
        if (plane > (size_t)n_rows * ld) {
            memset(dc + (size_t)n_rows * ld, 0, sizeof(float) * (plane - (size_t)n_rows * ld));
        }
    }
}

// Copies `rows` rows of w floats, every ld floats of each of n_ch stage
// planes of `plane` floats, to dst rows of dst_w in planes of dst_plane.
CONV_AVX512 static void direct_copy_out(const float *stage, size_t plane, int ld, int n_ch,
                                        int rows, int w, float *dst, size_t dst_plane,
                                        int dst_w) {
    for (int c = 0; c < n_ch; c++) {
        for (int i = 0; i < rows; i++) {
            const float *s = stage + (size_t)c * plane + (size_t)i * ld;
            float *d = dst + (size_t)c * dst_plane + (size_t)i * dst_w;
            for (int q0 = 0; q0 < w; q0 += 16) {
                __mmask16 m = lane_mask(0, w - q0);
                _mm512_mask_storeu_ps(d + q0, m, _mm512_maskz_loadu_ps(m, s + q0));
            }
        }
    }
}

// Where the taps of a block of input sit: tap (c, ki, kj) starts at
// c * cs + ki * rs + kj * ks floats from the block.
typedef struct TapLayout {
    size_t cs, rs, ks;
} TapLayout;

// One step of direct_conv_kernel: NV vectors of positions from o by
// DIRECT_FB outputs from f0. NV is a constant in every call, so the
// accumulators stay in registers. Positions from n on are not stored.
CONV_AVX512 static inline __attribute__((always_inline)) void
direct_conv_step(const float *in, int Cin, TapLayout tl, int K, const float *w,
                 const float *bias, int n_out, int f0, float *out, size_t os, int n, int o,
                 int NV) {
    __m512 a[DIRECT_FB][3];
    for (int f = 0; f < DIRECT_FB; f++) {
        for (int v = 0; v < NV; v++) {
            a[f][v] = _mm512_setzero_ps();
        }
    }
    for (int c = 0; c < Cin; c++) {
        for (int ki = 0; ki < K; ki++) {
            const float *xr = in + (size_t)c * tl.cs + (size_t)ki * tl.rs + o;
            for (int kj = 0; kj < K; kj++, w += DIRECT_FB) {
                __m512 xv[3];
                for (int v = 0; v < NV; v++) {
                    xv[v] = _mm512_loadu_ps(xr + (size_t)kj * tl.ks + 16 * v);
                }
                for (int f = 0; f < DIRECT_FB; f++) {
                    __m512 wv = _mm512_set1_ps(w[f]);
                    for (int v = 0; v < NV; v++) {
                        a[f][v] = _mm512_fmadd_ps(wv, xv[v], a[f][v]);
                    }
                }
            }
        }
    }
    // the bias joins after the taps, as in sgemm with beta 1 onto it
    for (int f = 0; f < DIRECT_FB && f0 + f < n_out; f++) {
        __m512 b0 = _mm512_set1_ps(bias ? bias[f0 + f] : 0.0f);
        float *yo = out + (size_t)(f0 + f) * os + o;
        for (int v = 0; v < NV; v++) {
            __m512 r = _mm512_add_ps(a[f][v], b0);
            if (o + 16 * v + 16 <= n) {
                _mm512_storeu_ps(yo + 16 * v, r);
            } else {
                _mm512_mask_storeu_ps(yo + 16 * v, lane_mask(0, n - o - 16 * v), r);
            }
        }
    }
}

// Output planes f < n_out of out, os floats apart, positions 0..n-1, =
// bias + the convolution of `in` (taps laid out as tl gives). wp holds the weights
// in blocks of DIRECT_FB outputs: per block all Cin*K*K taps in order,
// DIRECT_FB floats per tap. bias may be NULL. Three vectors of positions
// by eight outputs fill 24 of the 32 registers, so each tap costs three
// loads and eight broadcasts for 24 multiply-adds. The last positions go
// one vector at a time. `in` must be readable 47 floats past the last
// position of every tap.
CONV_AVX512 static void direct_conv_kernel(const float *in, int Cin, TapLayout tl, int K,
                                           const float *wp, const float *bias, int n_out,
                                           int Fp, float *out, size_t os, int n) {
    size_t R = (size_t)Cin * (size_t)K * (size_t)K;
    int o = 0;
    for (; o + DIRECT_STEP <= n + 15; o += DIRECT_STEP) {
        for (int f0 = 0; f0 < Fp; f0 += DIRECT_FB) {
            direct_conv_step(in, Cin, tl, K, wp + (size_t)f0 * R, bias, n_out, f0, out, os, n,
                             o, 3);
        }
    }
    for (; o < n; o += 16) {
        for (int f0 = 0; f0 < Fp; f0 += DIRECT_FB) {
            direct_conv_step(in, Cin, tl, K, wp + (size_t)f0 * R, bias, n_out, f0, out, os, n,
                             o, 1);
        }
    }
}

// One vector of positions of direct_weight_kernel's block: dy of four
// filters (loaded with LOAD) times x at six taps, into the sums a.
#define WEIGHT_STEP(LOAD, d, x)                                                               \
    do {                                                                                      \
        __m512 dv[DIRECT_GF];                                                                 \
        for (int f = 0; f < DIRECT_GF; f++) {                                                 \
            dv[f] = LOAD((d) + fo[f]);                                                        \
        }                                                                                     \
        for (int t = 0; t < DIRECT_GR; t++) {                                                 \
            __m512 xv = _mm512_loadu_ps((x) + xs[t]);                                         \
            for (int f = 0; f < DIRECT_GF; f++) {                                             \
                a[f][t] = _mm512_fmadd_ps(dv[f], xv, a[f][t]);                                \
            }                                                                                 \
        }                                                                                     \
    } while (0)
#define TAIL_LOAD(p) _mm512_maskz_loadu_ps(tail, (p))

// The item's part of dW (F x R) and db (F) from `units` images:
// dw[f][r] = sum of dy[f] * (in shifted to tap r), db[f] = sum of dy[f],
// over n positions. Unit u reads dy + u * dstep (F planes, fs apart) and
// in + u * xstep. Each block of 4 filters by 6 taps keeps its 24 vector
// sums in registers over all units, and their lanes are added at the end
// in the fixed order of the reduction sequence. Filters from F to Fp read
// filter 0 and taps from R to Rp read offset 0; both are dropped.
CONV_AVX512 static void direct_weight_kernel(const float *dy, size_t dstep, size_t fs,
                                             const float *in, size_t xstep, TapLayout tl,
                                             int units, int n, int K, int R, int F, int Fp,
                                             int Rp, float *dw, float *db) {
    int nv = n / 16;
    __mmask16 tail = lane_mask(0, n - nv * 16);
    for (int f0 = 0; f0 < Fp; f0 += DIRECT_GF) {
        size_t fo[DIRECT_GF];
        for (int f = 0; f < DIRECT_GF; f++) {
            fo[f] = f0 + f < F ? (size_t)(f0 + f) * fs : 0;
        }
        // (c, ki, kj) of tap r0, stepped without divisions
        int c = 0, ki = 0, kj = 0;
        for (int r0 = 0; r0 < Rp; r0 += DIRECT_GR) {
            size_t xs[DIRECT_GR];
            for (int t = 0; t < DIRECT_GR; t++) {
                xs[t] = r0 + t < R ? (size_t)c * tl.cs + (size_t)ki * tl.rs + (size_t)kj * tl.ks
                                   : 0;
                if (++kj == K) {
                    kj = 0;
                    if (++ki == K) {
                        ki = 0;
                        c++;
                    }
                }
            }
            __m512 a[DIRECT_GF][DIRECT_GR];
            for (int f = 0; f < DIRECT_GF; f++) {
                for (int t = 0; t < DIRECT_GR; t++) {
                    a[f][t] = _mm512_setzero_ps();
                }
            }
            // whole vectors of every image first, then the partial last
            // vectors, each nest short enough to keep the sums in registers
            for (int u = 0; u < units; u++) {
                const float *d = dy + (size_t)u * dstep, *x = in + (size_t)u * xstep;
                for (int v = 0; v < nv; v++) {
                    WEIGHT_STEP(_mm512_loadu_ps, d + (size_t)v * 16, x + (size_t)v * 16);
                }
            }
            for (int u = 0; u < units && tail; u++) {
                const float *d = dy + (size_t)u * dstep + (size_t)nv * 16;
                const float *x = in + (size_t)u * xstep + (size_t)nv * 16;
                WEIGHT_STEP(TAIL_LOAD, d, x);
            }
            for (int f = 0; f < DIRECT_GF && f0 + f < F; f++) {
                for (int t = 0; t < DIRECT_GR && r0 + t < R; t++) {
                    dw[(size_t)(f0 + f) * (size_t)R + (size_t)(r0 + t)] =
                        _mm512_reduce_add_ps(a[f][t]);
                }
            }
        }
        for (int f = 0; f < DIRECT_GF && f0 + f < F; f++) {
            __m512 sum = _mm512_setzero_ps();
            for (int u = 0; u < units; u++) {
                const float *d = dy + (size_t)u * dstep + fo[f];
                for (int v = 0; v * 16 < n; v++) {
                    __mmask16 m = v < nv ? (__mmask16)0xFFFF : tail;
                    sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(m, d + (size_t)v * 16));
                }
            }
            db[f0 + f] = _mm512_reduce_add_ps(sum);
        }
    }
}

// Computes the item's part of dW (F x R) and db (F) from `units` images, as
// direct_weight_kernel does, but from dy transposed. For unit u, dyt +
// u * tstep contains rows x Q rows of Ft floats: the filters of one position
// (zero from F on), 64-byte aligned. Output row p reads the input from
// in + u * xstep + p * tl.rs. The input may therefore be padded on all sides
// (one copy, rows of ld floats) rather than shifted.
// Each block of 32 filters by 12 taps keeps its 24 vectors (one per tap and
// half of the filters) in registers over all units. Two aligned loads and
// twelve broadcasts feed them per position, so no lanes need adding up at
// the end.
CONV_AVX512 static void direct_weight_kernel_t(const float *dyt, size_t tstep, int Ft,
                                               const float *in, size_t xstep, TapLayout tl,
                                               int units, int rows, int Q, int K, int R, int F,
                                               float *dw, float *db) {
    int n = rows * Q;
    int c = 0, ki = 0, kj = 0;
    for (int r0 = 0; r0 < R; r0 += DIRECT_TR) {
        size_t xs[DIRECT_TR];
        for (int t = 0; t < DIRECT_TR; t++) {
            xs[t] = r0 + t < R ? (size_t)c * tl.cs + (size_t)ki * tl.rs + (size_t)kj * tl.ks : 0;
            if (++kj == K) {
                kj = 0;
                if (++ki == K) {
                    ki = 0;
                    c++;
                }
            }
        }
        for (int f0 = 0; f0 < Ft; f0 += DIRECT_TF) {
            __m512 a[DIRECT_TR][2];
            for (int t = 0; t < DIRECT_TR; t++) {
                a[t][0] = a[t][1] = _mm512_setzero_ps();
            }
            for (int u = 0; u < units; u++) {
                const float *d = dyt + (size_t)u * tstep + f0;
                for (int p = 0; p < rows; p++) {
                    const float *x = in + (size_t)u * xstep + (size_t)p * tl.rs;
                    for (int q = 0; q < Q; q++, d += Ft) {
                        __m512 d0 = _mm512_load_ps(d), d1 = _mm512_load_ps(d + 16);
                        for (int t = 0; t < DIRECT_TR; t++) {
                            __m512 xv = _mm512_set1_ps(x[xs[t] + (size_t)q]);
                            a[t][0] = _mm512_fmadd_ps(d0, xv, a[t][0]);
                            a[t][1] = _mm512_fmadd_ps(d1, xv, a[t][1]);
                        }
                    }
                }
            }
            for (int t = 0; t < DIRECT_TR && r0 + t < R; t++) {
                float lanes[DIRECT_TF];
                _mm512_storeu_ps(lanes, a[t][0]);
                _mm512_storeu_ps(lanes + 16, a[t][1]);
                for (int f = 0; f < DIRECT_TF && f0 + f < F; f++) {
                    dw[(size_t)(f0 + f) * (size_t)R + (size_t)(r0 + t)] = lanes[f];
                }
            }
        }
    }
    for (int f0 = 0; f0 < Ft; f0 += DIRECT_TF) {
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        for (int u = 0; u < units; u++) {
            const float *d = dyt + (size_t)u * tstep + f0;
            for (int o = 0; o < n; o++, d += Ft) {
                s0 = _mm512_add_ps(s0, _mm512_load_ps(d));
                s1 = _mm512_add_ps(s1, _mm512_load_ps(d + 16));
            }
        }
        float lanes[DIRECT_TF];
        _mm512_storeu_ps(lanes, s0);
        _mm512_storeu_ps(lanes + 16, s1);
        for (int f = 0; f < DIRECT_TF && f0 + f < F; f++) {
            db[f0 + f] = lanes[f];
        }
    }
}

// ---- direct items ----

// The images [*b0, *b0 + *nb) and the band *k of a direct item.
static void item_span(const ConvJob *j, int item, int *b0, int *nb, int *k) {
    const ConvPlan *pl = &j->pl;
    if (pl->n_bands > 1) {
        *b0 = item / pl->n_bands;
        *nb = 1;
        *k = item % pl->n_bands;
    } else {
        *b0 = item * pl->group;
        *nb = j->B - *b0 < pl->group ? j->B - *b0 : pl->group;
        *k = 0;
    }
}

// Forward weights in blocks of DIRECT_FB filters, tap-major inside a block.
static void pack_forward_weights(const NnConv2d *conv, const ConvPlan *pl, float *wf) {
    int F = conv->n_out, R = pl->R;
    for (int f0 = 0; f0 < pl->Fp; f0 += DIRECT_FB) {
        for (int r = 0; r < R; r++) {
            for (int f = 0; f < DIRECT_FB; f++) {
                float v = f0 + f < F ? conv->w[(size_t)(f0 + f) * R + r] : 0.0f;
                wf[(size_t)f0 * R + (size_t)r * DIRECT_FB + f] = v;
            }
        }
    }
}

// Weights of the input gradient, a convolution of dy padded by K - 1 - pad
// with C outputs and F inputs: tap (f, ki, kj) of output c is
// W[f][c][K-1-ki][K-1-kj]. Packed like pack_forward_weights.
static void pack_input_weights(const NnConv2d *conv, const ConvPlan *pl, float *wb) {
    int C = conv->n_in, F = conv->n_out, K = conv->kernel;
    size_t Rb = (size_t)F * K * K;
    for (int c0 = 0; c0 < pl->Cp; c0 += DIRECT_FB) {
        for (int f = 0; f < F; f++) {
            for (int ki = 0; ki < K; ki++) {
                for (int kj = 0; kj < K; kj++) {
                    size_t r = (size_t)(f * K + ki) * K + kj;
                    for (int cc = 0; cc < DIRECT_FB; cc++) {
                        int c = c0 + cc;
                        float v = c < C ? conv->w[((size_t)(f * C + c) * K + (K - 1 - ki)) * K +
                                                   (K - 1 - kj)]
                                        : 0.0f;
                        wb[(size_t)c0 * Rb + r * DIRECT_FB + cc] = v;
                    }
                }
            }
        }
    }
}

// Copies the input rows that output rows [p0, p1) of image b read into
// xs. Per channel c and kernel column kj, plane c K + kj has
// (band + K - 1) rows of Q floats, and its row u is input row p0 + u - pad
// from column kj - pad on. A zero tail, which the kernels read past the
// last plane, follows.
static void shift_input(const ConvJob *j, int b, int p0, int p1, float *xs) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int C = conv->n_in, K = conv->kernel;
    const float *xb = j->x + (size_t)b * C * j->H * j->W;
    for (int kj = 0; kj < K; kj++) {
        direct_pad_block(xb, C, j->H, j->W, conv->pad, conv->pad - kj, p0, p1 - p0 + K - 1,
                         pl->Q, pl->plane, (size_t)K * pl->plane, xs + (size_t)kj * pl->plane);
    }
    size_t used = (size_t)C * K * pl->plane;
    memset(xs + used, 0, sizeof(float) * (pl->xlen - used));
}

// Copies the input rows that output rows [p0, p1) of image b read into
// xp: C planes of (band + K - 1) rows of ld floats, zero-padded on all
// sides.
static void pad_input(const ConvJob *j, int b, int p0, int p1, float *xp) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int C = conv->n_in;
    direct_pad_block(j->x + (size_t)b * C * j->H * j->W, C, j->H, j->W, conv->pad, conv->pad,
                     p0, p1 - p0 + conv->kernel - 1, pl->ld, pl->pplane, pl->pplane, xp);
}

// Tap layout of the shifted copies.
static TapLayout shifted_taps(const ConvJob *j) {
    TapLayout tl = {(size_t)j->conv->kernel * j->pl.plane, (size_t)j->pl.Q, j->pl.plane};
    return tl;
}

// Forward of a direct item: per image (or band), the shifted copies, then
// the kernel straight into the rows of y.
static void direct_forward(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int F = conv->n_out, b0, nb, k;
    float *xs = item_cols(j, item);
    item_span(j, item, &b0, &nb, &k);
    int p0 = k * pl->band, p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
    for (int b = b0; b < b0 + nb; b++) {
        shift_input(j, b, p0, p1, xs);
        direct_conv_kernel(xs, conv->n_in, shifted_taps(j), conv->kernel, j->wf, conv->b, F,
                           pl->Fp, j->y + (size_t)b * F * pl->N + (size_t)p0 * pl->Q,
                           (size_t)pl->N, (p1 - p0) * pl->Q);
    }
}

// Input gradient of dx rows [i0, i1) of image b: dy padded by K - 1 - pad,
// convolved with the flipped weights into the dx stage, copied to dx.
static void direct_input_grad(const ConvJob *j, int b, int i0, int i1, float *dp, float *dxs) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int C = conv->n_in, F = conv->n_out, K = conv->kernel, pad_d = K - 1 - conv->pad;
    int n = round_up((i1 - i0) * pl->ldd, 16);
    direct_pad_block(j->dy + (size_t)b * F * pl->N, F, pl->P, pl->Q, pad_d, pad_d, i0,
                     i1 - i0 + K - 1, pl->ldd, pl->dplane, pl->dplane, dp);
    size_t used = (size_t)F * pl->dplane;
    memset(dp + used, 0, sizeof(float) * (pl->dlen - used));
    TapLayout tl = {pl->dplane, (size_t)pl->ldd, 1};
    direct_conv_kernel(dp, F, tl, K, j->wb, NULL, C, pl->Cp, dxs, (size_t)n, n);
    size_t area = (size_t)j->H * j->W;
    direct_copy_out(dxs, (size_t)n, pl->ldd, C, i1 - i0, j->W,
                    j->dx + (size_t)b * C * area + (size_t)i0 * j->W, area, j->W);
}

// Rounds p up to the next 64-byte boundary (the slot keeps 16 floats spare).
static float *align64(float *p) {
    uintptr_t a = (uintptr_t)p;
    return p + ((64 - a % 64) % 64) / sizeof(float);
}

// Backward of a direct item. It copies each image's input (and transposes
// its dy with 32 filters or more), writes the rows of dx the item owns,
// and then dW and db over all its images into the item's part.
static void direct_backward(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int F = conv->n_out, b0, nb, k;
    float *xs = item_cols(j, item), *dp = xs + (size_t)pl->group * pl->xlen;
    float *dxs = dp + pl->dlen;
    float *dw = j->parts + (size_t)item * ((size_t)F * pl->R + F), *db = dw + (size_t)F * pl->R;
    item_span(j, item, &b0, &nb, &k);
    int p0 = k * pl->band, p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
    int i0 = k * pl->dband, i1 = i0 + pl->dband < j->H ? i0 + pl->dband : j->H;
    int n = (p1 - p0) * pl->Q;
    float *dyt = align64(dxs + (size_t)pl->Cp * pl->Ld);

    for (int i = 0; i < nb; i++) {
        const float *dyb = j->dy + (size_t)(b0 + i) * F * pl->N + (size_t)p0 * pl->Q;
        if (pl->Ft) {
            pad_input(j, b0 + i, p0, p1, xs + (size_t)i * pl->xlen);
            nn_rows_from_planes(dyb, F, (size_t)pl->N, n, dyt + (size_t)i * pl->tlen,
                                (size_t)pl->Ft);
        } else {
            shift_input(j, b0 + i, p0, p1, xs + (size_t)i * pl->xlen);
        }
        if (j->dx && i1 > i0) {
            direct_input_grad(j, b0 + i, i0, i1, dp, dxs);
        }
    }

    const float *dyb0 = j->dy + (size_t)b0 * F * pl->N + (size_t)p0 * pl->Q;
    if (pl->Ft) {
        TapLayout tl = {pl->pplane, (size_t)pl->ld, 1};
        direct_weight_kernel_t(dyt, pl->tlen, pl->Ft, xs, pl->xlen, tl, nb, p1 - p0, pl->Q,
                               conv->kernel, pl->R, F, dw, db);
    } else {
        direct_weight_kernel(dyb0, (size_t)F * pl->N, (size_t)pl->N, xs, pl->xlen,
                             shifted_taps(j), nb, n, conv->kernel, pl->R, F, pl->Fp, pl->Rp,
                             dw, db);
    }
}

// Tile rows [*ta, *tb) of band k.
static void wino_band(const ConvPlan *pl, int k, int *ta, int *tb) {
    *ta = k * pl->wg.band;
    *tb = *ta + pl->wg.band < pl->wg.TP ? *ta + pl->wg.band : pl->wg.TP;
}

// Forward of a Winograd item, one image at a time.
static void wino_forward(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int b0, nb, k;
    item_span(j, item, &b0, &nb, &k);
    int ta, tb;
    wino_band(pl, k, &ta, &tb);
    for (int b = b0; b < b0 + nb; b++) {
        nn_wino_forward(&pl->wg, j->wf, j->x + (size_t)b * conv->n_in * pl->N, conv->b,
                        j->y + (size_t)b * conv->n_out * pl->N, ta, tb, item_cols(j, item));
    }
}

// Backward of a Winograd item: its images' gradients summed into the
// working block, then written as the item's part of dW and db.
static void wino_backward(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int F = conv->n_out, b0, nb, k;
    float *work = item_cols(j, item);
    float *dw = j->parts + (size_t)item * ((size_t)F * pl->R + F), *db = dw + (size_t)F * pl->R;
    item_span(j, item, &b0, &nb, &k);
    int ta, tb;
    wino_band(pl, k, &ta, &tb);
    nn_wino_backward_begin(&pl->wg, work);
    for (int b = b0; b < b0 + nb; b++) {
        size_t in = (size_t)b * conv->n_in * pl->N;
        nn_wino_backward(&pl->wg, j->wf, j->x + in, j->dy + (size_t)b * F * pl->N,
                         j->dx ? j->dx + in : NULL, ta, tb, work);
    }
    nn_wino_backward_end(&pl->wg, work, dw, db);
}

// Packs the weights the pass needs into the shared part of the scratch.
static void direct_prepare(ConvJob *j, int forward) {
    if (j->pl.wino) {
        if (forward || j->dx) {
            nn_wino_pack(&j->pl.wg, j->conv->w, j->wf);
        }
        return;
    }
    if (forward) {
        pack_forward_weights(j->conv, &j->pl, j->wf);
    } else if (j->dx) {
        pack_input_weights(j->conv, &j->pl, j->wb);
    }
}
#endif


// Forward of a group item: the group's columns side by side, then one
// sgemm per image straight into y, whose rows start with the bias.
static void forward_group(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int b0 = item * pl->group, g = j->B - b0 < pl->group ? j->B - b0 : pl->group;
    size_t ld = (size_t)g * pl->N, img = (size_t)conv->n_in * j->H * j->W;
    int F = conv->n_out;
    float *col = item_cols(j, item);
    for (int i = 0; i < g; i++) {
        im2col(conv, j->x + (size_t)(b0 + i) * img, j->H, j->W, 0, pl->P, pl->Q,
               col + (size_t)i * pl->N, ld);
    }
    for (int i = 0; i < g; i++) {
        float *yb = j->y + (size_t)(b0 + i) * F * pl->N;
        for (int f = 0; f < F; f++) {
            float *yf = yb + (size_t)f * pl->N;
            for (int n = 0; n < pl->N; n++) {
                yf[n] = conv->b[f];
            }
        }
        nn_sgemm(0, 0, F, pl->N, pl->R, 1.0f, conv->w, pl->R, col + (size_t)i * pl->N,
                 (int)ld, 1.0f, yb, pl->N);
    }
}

// Forward of one image of a banded plan: the bias fills y, then one sgemm
// per band of output rows accumulates W col onto it in place.
static void forward_bands(const ConvJob *j, int b) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int F = conv->n_out;
    const float *xb = j->x + (size_t)b * conv->n_in * j->H * j->W;
    float *yb = j->y + (size_t)b * F * pl->N, *col = item_cols(j, b);
    for (int f = 0; f < F; f++) {
        float *yf = yb + (size_t)f * pl->N;
        for (int n = 0; n < pl->N; n++) {
            yf[n] = conv->b[f];
        }
    }
    for (int p0 = 0; p0 < pl->P; p0 += pl->band) {
        int p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
        int cols = (p1 - p0) * pl->Q;
        im2col(conv, xb, j->H, j->W, p0, p1, pl->Q, col, (size_t)cols);
        nn_sgemm(0, 0, F, cols, pl->R, 1.0f, conv->w, pl->R, col, cols, 1.0f,
                 yb + (size_t)p0 * pl->Q, pl->N);
    }
}

static void forward_item(void *ctx, int item) {
    const ConvJob *j = ctx;
#if CONV_DIRECT_BUILT
    if (j->pl.wino) {
        wino_forward(j, item);
        return;
    }
    if (j->pl.direct) {
        direct_forward(j, item);
        return;
    }
#endif
    if (j->pl.group > 1) {
        forward_group(j, item);
    } else {
        forward_bands(j, item);
    }
}

void nn_conv2d_forward(const NnConv2d *conv, const float *x, float *y, int B, int H, int W,
                       float *scratch) {
    ASSERT(B > 0, "nn_conv2d_forward: batch %d", B);
    // forward writes no gradient: the cast lets one job type serve both passes
    ConvJob j = conv_job((NnConv2d *)(uintptr_t)conv, B, H, W, scratch);
    j.x = x;
    j.y = y;
#if CONV_DIRECT_BUILT
    if (j.pl.direct) {
        direct_prepare(&j, 1);
    }
#endif
    nn_parallel_run(forward_item, &j, j.n_items);
}

// Sums of each row of m (F x n) into db, in double.
static void row_sums(const float *m, int F, size_t n, size_t ld, float *db) {
    for (int f = 0; f < F; f++) {
        const float *r = m + (size_t)f * ld;
        double s = 0.0;
        for (size_t i = 0; i < n; i++) {
            s += (double)r[i];
        }
        db[f] = (float)s;
    }
}

// Backward of a group item: dy is staged side by side (F x g*N), the
// item's dW part = stage col^T, and dcol = W^T stage is folded back.
static void backward_group(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int b0 = item * pl->group, g = j->B - b0 < pl->group ? j->B - b0 : pl->group;
    size_t ld = (size_t)g * pl->N, img = (size_t)conv->n_in * j->H * j->W;
    int F = conv->n_out;
    float *col = item_cols(j, item), *stage = col + (size_t)pl->R * pl->cols;
    float *dw = j->parts + (size_t)item * ((size_t)F * pl->R + F), *db = dw + (size_t)F * pl->R;
    for (int i = 0; i < g; i++) {
        const float *dyb = j->dy + (size_t)(b0 + i) * F * pl->N;
        for (int f = 0; f < F; f++) {
            memcpy(stage + (size_t)f * ld + (size_t)i * pl->N, dyb + (size_t)f * pl->N,
                   sizeof(float) * (size_t)pl->N);
        }
        im2col(conv, j->x + (size_t)(b0 + i) * img, j->H, j->W, 0, pl->P, pl->Q,
               col + (size_t)i * pl->N, ld);
    }
    row_sums(stage, F, ld, ld, db);
    nn_sgemm(0, 1, F, pl->R, (int)ld, 1.0f, stage, (int)ld, col, (int)ld, 0.0f, dw, pl->R);
    if (!j->dx) {
        return;
    }
    nn_sgemm(1, 0, pl->R, (int)ld, F, 1.0f, conv->w, pl->R, stage, (int)ld, 0.0f, col,
             (int)ld);
    for (int i = 0; i < g; i++) {
        float *dxb = j->dx + (size_t)(b0 + i) * img;
        memset(dxb, 0, sizeof(float) * img);
        col2im_add(conv, col + (size_t)i * pl->N, ld, j->H, j->W, 0, pl->P, pl->Q, dxb);
    }
}

// Backward of one image of a banded plan, one band of output rows at a time.
static void backward_bands(const ConvJob *j, int b) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int F = conv->n_out;
    size_t img = (size_t)conv->n_in * j->H * j->W;
    const float *xb = j->x + (size_t)b * img, *dyb = j->dy + (size_t)b * F * pl->N;
    float *dxb = j->dx ? j->dx + (size_t)b * img : NULL, *col = item_cols(j, b);
    float *dw = j->parts + (size_t)b * ((size_t)F * pl->R + F), *db = dw + (size_t)F * pl->R;
    row_sums(dyb, F, (size_t)pl->N, (size_t)pl->N, db);
    if (dxb) {
        memset(dxb, 0, sizeof(float) * img);
    }
    for (int p0 = 0; p0 < pl->P; p0 += pl->band) {
        int p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
        int cols = (p1 - p0) * pl->Q;
        const float *d = dyb + (size_t)p0 * pl->Q;

        // dW part (F x R) += dy_band (F x cols) col^T (cols x R)
        im2col(conv, xb, j->H, j->W, p0, p1, pl->Q, col, (size_t)cols);
        nn_sgemm(0, 1, F, pl->R, cols, 1.0f, d, pl->N, col, cols, p0 == 0 ? 0.0f : 1.0f, dw,
                 pl->R);
        if (!dxb) {
            continue;
        }

        // dcol (R x cols) = W^T dy_band, folded back onto the image
        nn_sgemm(1, 0, pl->R, cols, F, 1.0f, conv->w, pl->R, d, pl->N, 0.0f, col, cols);
        col2im_add(conv, col, (size_t)cols, j->H, j->W, p0, p1, pl->Q, dxb);
    }
}

static void backward_item(void *ctx, int item) {
    const ConvJob *j = ctx;
#if CONV_DIRECT_BUILT
    if (j->pl.wino) {
        wino_backward(j, item);
        return;
    }
    if (j->pl.direct) {
        direct_backward(j, item);
        return;
    }
#endif
    if (j->pl.group > 1) {
        backward_group(j, item);
    } else {
        backward_bands(j, item);
    }
}

// dW and db += the items' parts, added in item order for each element.
static void add_parts(void *ctx, size_t lo, size_t hi) {
    const ConvJob *j = ctx;
    size_t n_w = (size_t)j->conv->n_out * (size_t)j->pl.R, stride = n_w + j->conv->n_out;
    for (size_t e = lo; e < hi; e++) {
        float *dst = e < n_w ? j->conv->dw + e : j->conv->db + (e - n_w);
        float s = *dst;
        for (int i = 0; i < j->n_items; i++) {
            s += j->parts[(size_t)i * stride + e];
        }
        *dst = s;
    }
}

void nn_conv2d_backward(NnConv2d *conv, const float *x, const float *dy, float *dx, int B,
                        int H, int W, float *scratch) {
    ASSERT(B > 0, "nn_conv2d_backward: batch %d", B);
    ConvJob j = conv_job(conv, B, H, W, scratch);
    j.x = x;
    j.dy = dy;
    j.dx = dx;
#if CONV_DIRECT_BUILT
    if (j.pl.direct) {
        direct_prepare(&j, 0);
    }
#endif
    nn_parallel_run(backward_item, &j, j.n_items);
    size_t n = (size_t)conv->n_out * (size_t)j.pl.R + (size_t)conv->n_out;
    nn_parallel_ranges(add_parts, &j, n, n * (size_t)j.n_items);
}

double nn_conv2d_flops_forward(const NnConv2d *conv, int B, int H, int W) {
    double R = (double)conv->n_in * conv->kernel * conv->kernel;
    double N = (double)nn_conv2d_out_size(conv, H) * nn_conv2d_out_size(conv, W);
    return 2.0 * B * conv->n_out * R * N;
}
