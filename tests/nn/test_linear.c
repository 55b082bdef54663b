// Dense layer: sgemm results against naive loops, central-difference
// gradient checks in double precision, and PyTorch's default init.
//
// Dimension letters: B batch rows, I input features, O output features.
#include "nn/linear.h"

#include <stdlib.h>

#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/nn_check.h"

typedef struct Shape {
    int B, n_in, n_out;
} Shape;

// Includes B = 1, single features and odd sizes that defeat any blocking.
static const Shape shapes[] = {
    {1, 1, 1}, {1, 49, 400}, {3, 5, 7}, {17, 13, 11}, {64, 33, 1}, {128, 400, 8}, {5, 1, 9},
};
static const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);

// A layer with its own parameter and gradient blocks.
typedef struct TestLayer {
    NnLinear layer;
    float *params;   // (O*I + O)
    float *grads;    // (O*I + O)
} TestLayer;

static void test_layer_init(TestLayer *t, int n_in, int n_out, RngState *rng) {
    size_t n = nn_linear_n_params(n_in, n_out);
    t->params = malloc(n * sizeof(float));
    t->grads = malloc(n * sizeof(float));
    nn_linear_bind(&t->layer, n_in, n_out, t->params, t->grads);
    nn_linear_init(&t->layer, rng);
    fill_uniform(t->grads, n, rng, -1.0, 1.0);
}

static void test_layer_deinit(TestLayer *t) {
    free(t->params);
    free(t->grads);
}

// Double-precision reference y = x W^T + b on float inputs.
static void forward_ref(const float *w, const float *b, const float *x, double *y, int B,
                        int n_in, int n_out) {
    for (int r = 0; r < B; r++) {
        for (int o = 0; o < n_out; o++) {
            double s = b[o];
            for (int i = 0; i < n_in; i++) {
                s += (double)x[r * n_in + i] * (double)w[o * n_in + i];
            }
            y[r * n_out + o] = s;
        }
    }
}

static void bind_layout(void) {
    float params[3 * 2 + 3], grads[3 * 2 + 3];
    NnLinear layer;
    CHECK_EQ_INT(9, nn_linear_n_params(2, 3));
    nn_linear_bind(&layer, 2, 3, params, grads);
    CHECK(layer.w == params);
    CHECK(layer.b == params + 6);
    CHECK(layer.dw == grads);
    CHECK(layer.db == grads + 6);
    nn_linear_bind(&layer, 2, 3, params, NULL);
    CHECK(layer.dw == NULL);
    CHECK(layer.db == NULL);
}

static void forward_matches_naive(void) {
    RngState rng;
    rng_init(&rng, 21);
    for (int s = 0; s < n_shapes; s++) {
        Shape sh = shapes[s];
        TestLayer t;
        test_layer_init(&t, sh.n_in, sh.n_out, &rng);
        float *x = malloc((size_t)sh.B * sh.n_in * sizeof(float));
        float *y = malloc((size_t)sh.B * sh.n_out * sizeof(float));
        double *ref = malloc((size_t)sh.B * sh.n_out * sizeof(double));
        fill_uniform(x, (size_t)sh.B * sh.n_in, &rng, -2.0, 2.0);
        nn_linear_forward(&t.layer, x, y, sh.B);
        forward_ref(t.layer.w, t.layer.b, x, ref, sh.B, sh.n_in, sh.n_out);

        // float sums of I products of size <= 2/sqrt(I): a few ulps each
        double worst = 0.0;
        for (int k = 0; k < sh.B * sh.n_out; k++) {
            double e = fabs(ref[k] - (double)y[k]);
            worst = e > worst ? e : worst;
        }
        CHECK_MSG(worst < 1e-5, "shape B=%d I=%d O=%d: worst error %g", sh.B, sh.n_in,
                  sh.n_out, worst);
        free(x);
        free(y);
        free(ref);
        test_layer_deinit(&t);
    }
}

static void backward_matches_naive(void) {
    RngState rng;
    rng_init(&rng, 22);
    for (int s = 0; s < n_shapes; s++) {
        Shape sh = shapes[s];
        int B = sh.B, n_in = sh.n_in, n_out = sh.n_out;
        TestLayer t;
        test_layer_init(&t, n_in, n_out, &rng);
        size_t n = nn_linear_n_params(n_in, n_out);
        float *before = malloc(n * sizeof(float));
        memcpy(before, t.grads, n * sizeof(float));
        float *x = malloc((size_t)B * n_in * sizeof(float));
        float *dy = malloc((size_t)B * n_out * sizeof(float));
        float *dx = malloc((size_t)B * n_in * sizeof(float));
        fill_uniform(x, (size_t)B * n_in, &rng, -2.0, 2.0);
        fill_uniform(dy, (size_t)B * n_out, &rng, -1.0, 1.0);
        fill_uniform(dx, (size_t)B * n_in, &rng, 5.0, 6.0);  // must be overwritten
        nn_linear_backward(&t.layer, x, dy, dx, B);

        // dW and db accumulate onto the old gradient; dx is overwritten
        double worst_dw = 0.0, worst_db = 0.0, worst_dx = 0.0;
        for (int o = 0; o < n_out; o++) {
            for (int i = 0; i < n_in; i++) {
                double ref = before[o * n_in + i];
                for (int r = 0; r < B; r++) {
                    ref += (double)dy[r * n_out + o] * (double)x[r * n_in + i];
                }
                worst_dw = fmax(worst_dw, fabs(ref - (double)t.layer.dw[o * n_in + i]));
            }
            double ref = before[n_out * n_in + o];
            for (int r = 0; r < B; r++) {
                ref += (double)dy[r * n_out + o];
            }
            worst_db = fmax(worst_db, fabs(ref - (double)t.layer.db[o]));
        }
        for (int r = 0; r < B; r++) {
            for (int i = 0; i < n_in; i++) {
                double ref = 0.0;
                for (int o = 0; o < n_out; o++) {
                    ref += (double)dy[r * n_out + o] * (double)t.layer.w[o * n_in + i];
                }
                worst_dx = fmax(worst_dx, fabs(ref - (double)dx[r * n_in + i]));
            }
        }

        // dW and db sum B products of size <= 2, so allow B-scaled rounding
        double tol = 1e-6 * (B + 4);
        CHECK_MSG(worst_dw < tol, "B=%d I=%d O=%d: dW error %g", B, n_in, n_out, worst_dw);
        CHECK_MSG(worst_db < tol, "B=%d I=%d O=%d: db error %g", B, n_in, n_out, worst_db);
        CHECK_MSG(worst_dx < 1e-5, "B=%d I=%d O=%d: dx error %g", B, n_in, n_out, worst_dx);
        free(before);
        free(x);
        free(dy);
        free(dx);
        test_layer_deinit(&t);
    }
}

static void backward_without_dx(void) {
    RngState rng;
    rng_init(&rng, 23);
    TestLayer a, b;
    test_layer_init(&a, 6, 4, &rng);
    rng_init(&rng, 23);
    test_layer_init(&b, 6, 4, &rng);
    float x[3 * 6], dy[3 * 4], dx[3 * 6];
    fill_uniform(x, 18, &rng, -1.0, 1.0);
    fill_uniform(dy, 12, &rng, -1.0, 1.0);
    nn_linear_backward(&a.layer, x, dy, dx, 3);
    nn_linear_backward(&b.layer, x, dy, NULL, 3);
    CHECK(memcmp(a.grads, b.grads, nn_linear_n_params(6, 4) * sizeof(float)) == 0);
    test_layer_deinit(&a);
    test_layer_deinit(&b);
}

// Loss sum_k r_k y_k in double for the layer parameters p (double copy).
static double loss_ref(const double *p, const double *x, const float *r, int B, int n_in,
                       int n_out) {
    double loss = 0.0;
    for (int row = 0; row < B; row++) {
        for (int o = 0; o < n_out; o++) {
            double y = p[n_out * n_in + o];
            for (int i = 0; i < n_in; i++) {
                y += x[row * n_in + i] * p[o * n_in + i];
            }
            loss += (double)r[row * n_out + o] * y;
        }
    }
    return loss;
}

static void gradient_check(void) {
    enum { B = 4, NI = 7, NO = 5 };
    RngState rng;
    rng_init(&rng, 24);
    TestLayer t;
    test_layer_init(&t, NI, NO, &rng);
    size_t n = nn_linear_n_params(NI, NO);
    memset(t.grads, 0, n * sizeof(float));
    float x[B * NI], r[B * NO], dx[B * NI];
    fill_uniform(x, B * NI, &rng, -1.0, 1.0);
    fill_uniform(r, B * NO, &rng, -1.0, 1.0);

    // analytic gradients of loss = sum r * y from the float layer
    nn_linear_backward(&t.layer, x, r, dx, B);

    double p[NO * NI + NO], xd[B * NI];
    for (size_t k = 0; k < n; k++) {
        p[k] = t.params[k];
    }
    for (int k = 0; k < B * NI; k++) {
        xd[k] = x[k];
    }

    // central differences over every weight, bias and input
    double h = 1e-4, worst_p = 0.0, worst_x = 0.0;
    for (size_t k = 0; k < n; k++) {
        double keep = p[k];
        p[k] = keep + h;
        double up = loss_ref(p, xd, r, B, NI, NO);
        p[k] = keep - h;
        double down = loss_ref(p, xd, r, B, NI, NO);
        p[k] = keep;
        worst_p = fmax(worst_p, grad_rel_err(t.grads[k], (up - down) / (2 * h), 1e-6));
    }
    for (int k = 0; k < B * NI; k++) {
        double keep = xd[k];
        xd[k] = keep + h;
        double up = loss_ref(p, xd, r, B, NI, NO);
        xd[k] = keep - h;
        double down = loss_ref(p, xd, r, B, NI, NO);
        xd[k] = keep;
        worst_x = fmax(worst_x, grad_rel_err(dx[k], (up - down) / (2 * h), 1e-6));
    }
    CHECK_MSG(worst_p < 1e-5, "dW/db worst relative error %g", worst_p);
    CHECK_MSG(worst_x < 1e-5, "dx worst relative error %g", worst_x);
    test_layer_deinit(&t);
}

static void init_bounds(void) {
    RngState rng;
    rng_init(&rng, 25);
    int n_in = 400, n_out = 300;
    TestLayer t;
    test_layer_init(&t, n_in, n_out, &rng);
    double bound = 1.0 / sqrt((double)n_in);
    size_t n = nn_linear_n_params(n_in, n_out);
    double max_abs = 0.0, sum = 0.0, sum_sq = 0.0;
    for (size_t k = 0; k < n; k++) {
        max_abs = fmax(max_abs, fabs(t.params[k]));
        sum += (double)t.params[k];
        sum_sq += (double)t.params[k] * (double)t.params[k];
    }
    CHECK(max_abs <= bound);
    CHECK(max_abs > 0.99 * bound);

    // U(-a, a) has mean 0 and variance a^2 / 3
    CHECK_NEAR(0.0, sum / (double)n, 0.01 * bound);
    CHECK_NEAR(bound * bound / 3.0, sum_sq / (double)n, 0.02 * bound * bound / 3.0);

    // the bias uses the same bound, 1/sqrt(I)
    double max_bias = 0.0;
    for (int o = 0; o < n_out; o++) {
        max_bias = fmax(max_bias, fabs(t.layer.b[o]));
    }
    CHECK(max_bias <= bound);
    CHECK(max_bias > 0.9 * bound);
    test_layer_deinit(&t);
}

static void init_same_seed_same_weights(void) {
    RngState r1, r2, r3;
    rng_init(&r1, 26);
    rng_init(&r2, 26);
    rng_init(&r3, 27);
    TestLayer a, b, c;
    test_layer_init(&a, 9, 4, &r1);
    test_layer_init(&b, 9, 4, &r2);
    test_layer_init(&c, 9, 4, &r3);
    size_t bytes = nn_linear_n_params(9, 4) * sizeof(float);
    CHECK(memcmp(a.params, b.params, bytes) == 0);
    CHECK(memcmp(a.params, c.params, bytes) != 0);
    test_layer_deinit(&a);
    test_layer_deinit(&b);
    test_layer_deinit(&c);
}

// Runs backward on a layer bound without gradients.
static void backward_without_grads(void *ctx) {
    NnLinear *layer = ctx;
    float x[2] = {1, 2}, dy[1] = {1};
    nn_linear_backward(layer, x, dy, NULL, 1);
}

static void backward_needs_grads(void) {
    float params[3];
    NnLinear layer;
    nn_linear_bind(&layer, 2, 1, params, NULL);
    CHECK(expect_fatal(backward_without_grads, &layer));
    CHECK_STR_CONTAINS(fatal_message, "no gradient block");
}

int main(void) {
    RUN_TEST(bind_layout);
    RUN_TEST(forward_matches_naive);
    RUN_TEST(backward_matches_naive);
    RUN_TEST(backward_without_dx);
    RUN_TEST(gradient_check);
    RUN_TEST(init_bounds);
    RUN_TEST(init_same_seed_same_weights);
    RUN_TEST(backward_needs_grads);
    return check_summary();
}
