// MLP: block layout, end-to-end central-difference gradient checks against a
// double-precision reference network, accumulation and determinism.
//
// Dimension letters: B batch rows, L layers.
#include "nn/mlp.h"

#include <cblas.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/nn_check.h"

// Double-precision activation.
static double act_ref(NnActivation act, double x) {
    switch (act) {
    case NN_ACT_RELU: return x > 0.0 ? x : 0.0;
    case NN_ACT_TANH: return tanh(x);
    default: return x;
    }
}

// Double-precision forward of the MLP's architecture with parameters p laid
// out as W0 b0 W1 b1 ...; x is (B x sizes[0]), y is (B x sizes[L]).
static void forward_ref(const NnMlp *mlp, const double *p, const double *x, int B,
                        double *y) {
    int max_width = 0;
    for (int l = 0; l <= mlp->n_layers; l++) {
        max_width = mlp->sizes[l] > max_width ? mlp->sizes[l] : max_width;
    }
    double *in = malloc((size_t)B * max_width * sizeof(double));
    double *out = malloc((size_t)B * max_width * sizeof(double));
    memcpy(in, x, (size_t)B * mlp->sizes[0] * sizeof(double));
    for (int l = 0; l < mlp->n_layers; l++) {
        int n_in = mlp->sizes[l], n_out = mlp->sizes[l + 1];
        NnActivation act = l + 1 < mlp->n_layers ? mlp->hidden_act : mlp->out_act;
        const double *w = p, *b = p + (size_t)n_out * n_in;
        for (int r = 0; r < B; r++) {
            for (int o = 0; o < n_out; o++) {
                double s = b[o];
                for (int i = 0; i < n_in; i++) {
                    s += in[r * n_in + i] * w[o * n_in + i];
                }
                out[r * n_out + o] = act_ref(act, s);
            }
        }
        p += (size_t)n_out * n_in + n_out;
        double *tmp = in;
        in = out;
        out = tmp;
    }
    memcpy(y, in, (size_t)B * mlp->sizes[mlp->n_layers] * sizeof(double));
    free(in);
    free(out);
}

// Loss sum_k r_k y_k of the double reference.
static double loss_ref(const NnMlp *mlp, const double *p, const double *x, const float *r,
                       int B) {
    int n_out = mlp->sizes[mlp->n_layers];
    double *y = malloc((size_t)B * n_out * sizeof(double));
    forward_ref(mlp, p, x, B, y);
    double loss = 0.0;
    for (int k = 0; k < B * n_out; k++) {
        loss += (double)r[k] * y[k];
    }
    free(y);
    return loss;
}

static void count_params_mt_sac(void) {
    // 49-400-400-400-8: (49*400 + 400) + 2 (400*400 + 400) + (400*8 + 8)
    int sizes[] = {49, 400, 400, 400, 8};
    CHECK_EQ_INT(344008, nn_mlp_count_params(sizes, 5));
}

static void layers_tile_block(void) {
    int sizes[] = {5, 7, 3, 2};
    NnMlp *mlp = nn_mlp_create(sizes, 4, NN_ACT_RELU, NN_ACT_NONE, 4, NULL, NULL);
    CHECK(mlp != NULL);
    CHECK_EQ_INT(3, mlp->n_layers);
    CHECK_EQ_INT(nn_mlp_count_params(sizes, 4), mlp->n_params);

    // W0 b0 W1 b1 W2 b2 back to back, the gradient block in the same layout
    size_t offset = 0;
    for (int l = 0; l < mlp->n_layers; l++) {
        const NnLinear *layer = &mlp->layers[l];
        CHECK(layer->w == mlp->params + offset);
        CHECK(layer->dw == mlp->grads + offset);
        offset += (size_t)sizes[l] * sizes[l + 1];
        CHECK(layer->b == mlp->params + offset);
        CHECK(layer->db == mlp->grads + offset);
        offset += (size_t)sizes[l + 1];
    }
    CHECK_EQ_INT(mlp->n_params, offset);
    nn_mlp_destroy(mlp);
    nn_mlp_destroy(NULL);
}

static void borrowed_blocks(void) {
    int sizes[] = {3, 4, 2};
    size_t n = nn_mlp_count_params(sizes, 3);
    float *params = calloc(2 * n + 1, sizeof(float));
    float *grads = calloc(n, sizeof(float));

    // bind at an offset, as two networks sharing one optimiser block would
    NnMlp *mlp = nn_mlp_create(sizes, 3, NN_ACT_TANH, NN_ACT_NONE, 2, params + n + 1, grads);
    CHECK(mlp != NULL);
    CHECK_EQ_INT(1, mlp->borrowed);
    CHECK(mlp->layers[0].w == params + n + 1);
    CHECK(mlp->layers[1].db == grads + n - 2);
    nn_mlp_destroy(mlp);

    // the caller still owns the blocks: writing them after destroy is valid
    params[2 * n] = 1.0f;
    grads[n - 1] = 1.0f;
    free(params);
    free(grads);
}

// Heap calls made through malloc, calloc and realloc. The test links with
// -Wl,--wrap for the three, so every call from the nn library and this file
// passes through the counters below (calls inside OpenBLAS, a shared
// library, do not).
static long heap_calls;

void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n) {
    heap_calls++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t size) {
    heap_calls++;
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t n) {
    heap_calls++;
    return __real_realloc(p, n);
}

static void no_heap_on_hot_path(void) {
    int sizes[] = {49, 64, 64, 8};
    RngState rng;
    rng_init(&rng, 39);
    long before_create = heap_calls;
    NnMlp *mlp = nn_mlp_create(sizes, 4, NN_ACT_RELU, NN_ACT_TANH, 32, NULL, NULL);
    CHECK(heap_calls > before_create);  // the counters see nn's allocations
    nn_mlp_init(mlp, &rng);
    float x[32 * 49], dy[32 * 8], dx[32 * 49];
    fill_uniform(x, 32 * 49, &rng, -1.0, 1.0);
    fill_uniform(dy, 32 * 8, &rng, -1.0, 1.0);

    // forward and backward at several batch sizes, after create
    long before = heap_calls;
    for (int B = 1; B <= 32; B *= 2) {
        nn_mlp_forward(mlp, x, B);
        nn_mlp_backward(mlp, dy, dx, B);
        nn_mlp_backward(mlp, dy, NULL, B);
    }
    CHECK_EQ_INT(0, heap_calls - before);
    nn_mlp_destroy(mlp);
}

static char last_log[512];

// Log sink that keeps the last line, so tests can check error messages.
static void capture_log(LogLevel level, const char *line, void *ctx) {
    (void)level;
    (void)ctx;
    snprintf(last_log, sizeof last_log, "%s", line);
}

static void create_rejects_bad_sizes(void) {
    int zero[] = {4, 0, 2};
    int one[] = {4};
    int many[NN_MLP_MAX_LAYERS + 2] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    int ok[] = {4, 2};
    float params[10];
    log_set_sink(capture_log, NULL);
    CHECK(nn_mlp_create(zero, 3, NN_ACT_RELU, NN_ACT_NONE, 4, NULL, NULL) == NULL);
    CHECK_STR_CONTAINS(last_log, "layer size 0 at index 1");
    CHECK(nn_mlp_create(one, 1, NN_ACT_RELU, NN_ACT_NONE, 4, NULL, NULL) == NULL);
    CHECK_STR_CONTAINS(last_log, "1 layer sizes given, expected 2 to 9");
    CHECK(nn_mlp_create(many, NN_MLP_MAX_LAYERS + 2, NN_ACT_RELU, NN_ACT_NONE, 4, NULL,
                        NULL) == NULL);
    CHECK_STR_CONTAINS(last_log, "10 layer sizes given");
    CHECK(nn_mlp_create(ok, 2, NN_ACT_RELU, NN_ACT_NONE, 0, NULL, NULL) == NULL);
    CHECK_STR_CONTAINS(last_log, "max_batch 0 must be positive");
    CHECK(nn_mlp_create(ok, 2, NN_ACT_RELU, NN_ACT_NONE, 4, NULL, params) == NULL);
    CHECK_STR_CONTAINS(last_log, "gradient block was given without a parameter block");
    log_set_sink(NULL, NULL);
}

// Runs backward on an MLP created without a gradient block.
static void backward_forward_only(void *ctx) {
    NnMlp *mlp = ctx;
    float dy[2] = {1.0f, 1.0f};
    nn_mlp_backward(mlp, dy, NULL, 1);
}

static void forward_only_network(void) {
    // a target copy binds parameters without gradients
    int sizes[] = {3, 4, 2};
    size_t n = nn_mlp_count_params(sizes, 3);
    float *params = calloc(n, sizeof(float));
    NnMlp *mlp = nn_mlp_create(sizes, 3, NN_ACT_RELU, NN_ACT_NONE, 1, params, NULL);
    CHECK(mlp != NULL);
    CHECK(mlp->layers[0].dw == NULL);
    float x[3] = {1.0f, 2.0f, 3.0f};
    const float *y = nn_mlp_forward(mlp, x, 1);
    CHECK(y[0] == 0.0f);
    CHECK(expect_fatal(backward_forward_only, mlp));
    CHECK_STR_CONTAINS(fatal_message, "no gradient block");
    nn_mlp_destroy(mlp);
    free(params);
}

// Runs a gradient check of one architecture on a batch of B rows.
static void check_architecture(const int *sizes, int n_sizes, NnActivation hidden,
                               NnActivation out, int B, uint64_t seed) {
    RngState rng;
    rng_init(&rng, seed);
    NnMlp *mlp = nn_mlp_create(sizes, n_sizes, hidden, out, B + 3, NULL, NULL);
    nn_mlp_init(mlp, &rng);
    int n_in = sizes[0], n_out = sizes[n_sizes - 1];
    size_t n = mlp->n_params;
    float *x = malloc((size_t)B * n_in * sizeof(float));
    float *r = malloc((size_t)B * n_out * sizeof(float));
    float *dx = malloc((size_t)B * n_in * sizeof(float));
    fill_uniform(x, (size_t)B * n_in, &rng, -1.0, 1.0);
    fill_uniform(r, (size_t)B * n_out, &rng, -1.0, 1.0);

    // the float forward agrees with the double reference
    double *p = malloc(n * sizeof(double));
    double *xd = malloc((size_t)B * n_in * sizeof(double));
    double *yd = malloc((size_t)B * n_out * sizeof(double));
    for (size_t k = 0; k < n; k++) {
        p[k] = mlp->params[k];
    }
    for (int k = 0; k < B * n_in; k++) {
        xd[k] = x[k];
    }
    const float *y = nn_mlp_forward(mlp, x, B);
    forward_ref(mlp, p, xd, B, yd);
    double worst_y = 0.0;
    for (int k = 0; k < B * n_out; k++) {
        worst_y = fmax(worst_y, fabs(yd[k] - (double)y[k]));
    }
    CHECK_MSG(worst_y < 1e-5, "forward worst error %g", worst_y);

    // analytic gradients of loss = sum r * y
    nn_mlp_backward(mlp, r, dx, B);

    // central differences over every parameter and input. A step that
    // crosses a ReLU kink would show as one large error, so h is small and
    // the inputs are random, which makes a pre-activation within h of 0
    // improbable.
    double h = 1e-5, worst_p = 0.0, worst_x = 0.0;
    for (size_t k = 0; k < n; k++) {
        double keep = p[k];
        p[k] = keep + h;
        double up = loss_ref(mlp, p, xd, r, B);
        p[k] = keep - h;
        double down = loss_ref(mlp, p, xd, r, B);
        p[k] = keep;
        worst_p = fmax(worst_p, grad_rel_err(mlp->grads[k], (up - down) / (2 * h), 1e-5));
    }
    for (int k = 0; k < B * n_in; k++) {
        double keep = xd[k];
        xd[k] = keep + h;
        double up = loss_ref(mlp, p, xd, r, B);
        xd[k] = keep - h;
        double down = loss_ref(mlp, p, xd, r, B);
        xd[k] = keep;
        worst_x = fmax(worst_x, grad_rel_err(dx[k], (up - down) / (2 * h), 1e-5));
    }
    CHECK_MSG(worst_p < 1e-4, "%s/%s B=%d: parameter worst relative error %g",
              nn_activation_name(hidden), nn_activation_name(out), B, worst_p);
    CHECK_MSG(worst_x < 1e-4, "%s/%s B=%d: input worst relative error %g",
              nn_activation_name(hidden), nn_activation_name(out), B, worst_x);
    free(x);
    free(r);
    free(dx);
    free(p);
    free(xd);
    free(yd);
    nn_mlp_destroy(mlp);
}

static void gradient_check_relu_none(void) {
    int sizes[] = {5, 9, 7, 3};
    check_architecture(sizes, 4, NN_ACT_RELU, NN_ACT_NONE, 4, 31);
}

static void gradient_check_tanh_tanh(void) {
    int sizes[] = {6, 8, 4};
    check_architecture(sizes, 3, NN_ACT_TANH, NN_ACT_TANH, 3, 32);
}

static void gradient_check_single_row(void) {
    int sizes[] = {3, 5, 5, 5, 2};
    check_architecture(sizes, 5, NN_ACT_RELU, NN_ACT_TANH, 1, 33);
}

static void gradient_check_one_layer(void) {
    int sizes[] = {4, 3};
    check_architecture(sizes, 2, NN_ACT_RELU, NN_ACT_NONE, 2, 34);
}

static void backward_accumulates(void) {
    int sizes[] = {4, 6, 2};
    RngState rng;
    rng_init(&rng, 35);
    NnMlp *mlp = nn_mlp_create(sizes, 3, NN_ACT_TANH, NN_ACT_NONE, 3, NULL, NULL);
    nn_mlp_init(mlp, &rng);
    float x[3 * 4], dy[3 * 2];
    fill_uniform(x, 12, &rng, -1.0, 1.0);
    fill_uniform(dy, 6, &rng, -1.0, 1.0);
    nn_mlp_forward(mlp, x, 3);
    nn_mlp_backward(mlp, dy, NULL, 3);
    float *once = malloc(mlp->n_params * sizeof(float));
    memcpy(once, mlp->grads, mlp->n_params * sizeof(float));
    nn_mlp_backward(mlp, dy, NULL, 3);
    double worst = 0.0;
    for (size_t k = 0; k < mlp->n_params; k++) {
        worst = fmax(worst, fabs(2.0 * (double)once[k] - (double)mlp->grads[k]));
    }
    CHECK(worst < 1e-6);
    free(once);
    nn_mlp_destroy(mlp);
}

static void input_copied_on_forward(void) {
    // backward uses the cached input, not the caller's buffer
    int sizes[] = {3, 4, 2};
    RngState rng;
    rng_init(&rng, 36);
    NnMlp *a = nn_mlp_create(sizes, 3, NN_ACT_RELU, NN_ACT_NONE, 2, NULL, NULL);
    NnMlp *b = nn_mlp_create(sizes, 3, NN_ACT_RELU, NN_ACT_NONE, 2, NULL, NULL);
    nn_mlp_init(a, &rng);
    memcpy(b->params, a->params, a->n_params * sizeof(float));
    float x[6], dy[4];
    fill_uniform(x, 6, &rng, -1.0, 1.0);
    fill_uniform(dy, 4, &rng, -1.0, 1.0);
    nn_mlp_forward(a, x, 2);
    nn_mlp_forward(b, x, 2);
    nn_mlp_backward(a, dy, NULL, 2);
    memset(x, 0, sizeof x);
    nn_mlp_backward(b, dy, NULL, 2);
    CHECK(memcmp(a->grads, b->grads, a->n_params * sizeof(float)) == 0);
    nn_mlp_destroy(a);
    nn_mlp_destroy(b);
}

static void same_seed_same_network(void) {
    int sizes[] = {49, 64, 64, 8};
    RngState r1, r2;
    rng_init(&r1, 37);
    rng_init(&r2, 37);
    NnMlp *a = nn_mlp_create(sizes, 4, NN_ACT_RELU, NN_ACT_NONE, 16, NULL, NULL);
    NnMlp *b = nn_mlp_create(sizes, 4, NN_ACT_RELU, NN_ACT_NONE, 16, NULL, NULL);
    nn_mlp_init(a, &r1);
    nn_mlp_init(b, &r2);
    CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);

    // identical inputs give bit-identical outputs and gradients
    float x[16 * 49], dy[16 * 8];
    fill_uniform(x, 16 * 49, &r1, -1.0, 1.0);
    fill_uniform(dy, 16 * 8, &r1, -1.0, 1.0);
    const float *ya = nn_mlp_forward(a, x, 16);
    const float *yb = nn_mlp_forward(b, x, 16);
    CHECK(memcmp(ya, yb, 16 * 8 * sizeof(float)) == 0);
    nn_mlp_backward(a, dy, NULL, 16);
    nn_mlp_backward(b, dy, NULL, 16);
    CHECK(memcmp(a->grads, b->grads, a->n_params * sizeof(float)) == 0);
    nn_mlp_destroy(a);
    nn_mlp_destroy(b);
}

static void thread_count_invariant(void) {
    // OpenBLAS 0.3.21 splits sgemm across threads by blocks of the output,
    // not along the reduction, so one and two threads should give
    // bit-identical results. Runs then do not depend on the thread count.
    int sizes[] = {49, 400, 400, 8};
    enum { B = 256 };
    RngState rng;
    rng_init(&rng, 38);
    NnMlp *mlp = nn_mlp_create(sizes, 4, NN_ACT_RELU, NN_ACT_NONE, B, NULL, NULL);
    nn_mlp_init(mlp, &rng);
    float *x = malloc(B * 49 * sizeof(float)), *dy = malloc(B * 8 * sizeof(float));
    float *y1 = malloc(B * 8 * sizeof(float)), *g1 = malloc(mlp->n_params * sizeof(float));
    fill_uniform(x, B * 49, &rng, -1.0, 1.0);
    fill_uniform(dy, B * 8, &rng, -1.0, 1.0);
    int saved = openblas_get_num_threads();

    openblas_set_num_threads(1);
    memcpy(y1, nn_mlp_forward(mlp, x, B), B * 8 * sizeof(float));
    nn_mlp_backward(mlp, dy, NULL, B);
    memcpy(g1, mlp->grads, mlp->n_params * sizeof(float));

    openblas_set_num_threads(2);
    memset(mlp->grads, 0, mlp->n_params * sizeof(float));
    const float *y2 = nn_mlp_forward(mlp, x, B);
    CHECK(memcmp(y1, y2, B * 8 * sizeof(float)) == 0);
    nn_mlp_backward(mlp, dy, NULL, B);
    CHECK(memcmp(g1, mlp->grads, mlp->n_params * sizeof(float)) == 0);

    openblas_set_num_threads(saved);
    free(x);
    free(dy);
    free(y1);
    free(g1);
    nn_mlp_destroy(mlp);
}

static void flop_counts(void) {
    int sizes[] = {49, 400, 400, 400, 8};
    NnMlp *mlp = nn_mlp_create(sizes, 5, NN_ACT_RELU, NN_ACT_NONE, 1, NULL, NULL);
    double per_row = 2.0 * (49 * 400 + 400 * 400 + 400 * 400 + 400 * 8);
    CHECK_NEAR(1280 * per_row, nn_mlp_flops_forward(mlp, 1280), 0.5);
    CHECK_NEAR(2 * 1280 * per_row, nn_mlp_flops_backward(mlp, 1280, 1), 0.5);
    CHECK_NEAR(2 * 1280 * per_row - 1280 * 2.0 * 49 * 400, nn_mlp_flops_backward(mlp, 1280, 0),
               0.5);
    nn_mlp_destroy(mlp);
}

// Runs forward with one row more than the workspace holds.
static void forward_too_large(void *ctx) {
    NnMlp *mlp = ctx;
    float x[3 * 2] = {0};
    nn_mlp_forward(mlp, x, 3);
}

static void batch_over_max_rejected(void) {
    int sizes[] = {2, 2};
    NnMlp *mlp = nn_mlp_create(sizes, 2, NN_ACT_RELU, NN_ACT_NONE, 2, NULL, NULL);
    CHECK(expect_fatal(forward_too_large, mlp));
    CHECK_STR_CONTAINS(fatal_message, "batch 3 outside 1..2");
    nn_mlp_destroy(mlp);
}

int main(void) {
    RUN_TEST(count_params_mt_sac);
    RUN_TEST(layers_tile_block);
    RUN_TEST(borrowed_blocks);
    RUN_TEST(create_rejects_bad_sizes);
    RUN_TEST(forward_only_network);
    RUN_TEST(gradient_check_relu_none);
    RUN_TEST(gradient_check_tanh_tanh);
    RUN_TEST(gradient_check_single_row);
    RUN_TEST(gradient_check_one_layer);
    RUN_TEST(backward_accumulates);
    RUN_TEST(input_copied_on_forward);
    RUN_TEST(same_seed_same_network);
    RUN_TEST(thread_count_invariant);
    RUN_TEST(no_heap_on_hot_path);
    RUN_TEST(flop_counts);
    RUN_TEST(batch_over_max_rejected);
    return check_summary();
}
