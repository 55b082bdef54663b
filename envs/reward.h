// Shaping functions of Meta-World's v2 rewards, and the quaternion
// conversion some observations use.
//
// These are pure functions of their arguments: no MuJoCo state, no
// allocation. They reject out-of-domain input (bounds in the wrong order, a
// negative margin, Hamacher inputs outside [0, 1]) through ASSERT, because
// the task code only ever passes values it has computed itself.
#ifndef ENVS_REWARD_H
#define ENVS_REWARD_H

// Sigmoids that shape tolerance() outside its bounds. Meta-World's MT10
// rewards use only long-tail and Gaussian; the others complete the family.
typedef enum EnvSigmoid {
    ENV_SIGMOID_GAUSSIAN,
    ENV_SIGMOID_LONG_TAIL,
    ENV_SIGMOID_RECIPROCAL,
    ENV_SIGMOID_HYPERBOLIC,
    ENV_SIGMOID_COSINE,
    ENV_SIGMOID_LINEAR,
    ENV_SIGMOID_QUADRATIC,
    ENV_SIGMOID_TANH_SQUARED,
} EnvSigmoid;

// The value every MT10 reward passes as value_at_margin: the sigmoid equals
// 0.1 at a distance of one margin outside the bounds.
#define ENV_VALUE_AT_MARGIN 0.1

// Returns 1 when lo <= x <= hi; otherwise 0 for margin 0, else the sigmoid
// of d = (distance outside the bounds) / margin, scaled so that d = 1 gives
// ENV_VALUE_AT_MARGIN. Requires lo <= hi and margin >= 0.
double env_tolerance(double x, double lo, double hi, double margin, EnvSigmoid sigmoid);

// Same with an explicit value_at_margin in (0, 1).
double env_tolerance_at(double x, double lo, double hi, double margin, EnvSigmoid sigmoid,
                        double value_at_margin);

// Hamacher t-norm a*b / (a + b - a*b), 0 when the denominator is 0.
// Requires a, b in [0, 1].
double env_hamacher(double a, double b);

// Inside the axis-aligned box spanned by corners zero and one (either order
// per axis, inclusive), returns the product over axes of
// (curr - zero) / (one - zero); outside the box returns 1.
double env_rect_prism_tolerance(const double curr[3], const double zero[3],
                                const double one[3]);

// Converts a row-major rotation matrix to the quaternion (x, y, z, w) that
// scipy's Rotation.from_matrix(...).as_quat() returns: the branch is chosen by
// the largest of (M00, M11, M22, trace), the first on ties, and the sign is
// not canonicalised. This differs from MuJoCo's mju_mat2Quat in sign.
void env_quat_xyzw_from_mat(const double mat[9], double quat[4]);

#endif
