/* The network painters' two widest pointwise chains, each fused into one pass forward
 * and one backward (neuralpaint/painters/pointwise_kernel.py compiles this on first use):
 *
 * - masks: sigmoid(max((z - shift) * s, floor)), s = below for z < shift, else above:
 *   the calibrated, floored sigmoid of every network painter's 64x64 logits;
 * - distance channels: d = sqrt(max(q, 1e-8)) * scale and exp(-d), the fast painter's
 *   full-resolution distance to the curve in brush radii and its exponential.
 *
 * Through torch each is five to nine passes over a 4 MB tensor per 256 strokes, and as
 * many more backward. The exponential is Cephes' single-precision polynomial with the
 * argument reduced by ln 2, written so that gcc vectorises it (no call, no branch);
 * it is within two units in the last place of libm's expf, and held at exp(-87) and
 * exp(88) beyond them, so exp(-d) for a distance d over 87 radii is 1.6e-38, where
 * expf gives a denormal or 0. */
#include <math.h>
#include <stdint.h>

#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define ROUNDER 12582912.0f /* 1.5 * 2^23: adding and subtracting it rounds to integer */
#define EXP_LOW -87.0f       /* exp(-87) is the smallest result kept normal */
#define EXP_HIGH 88.0f
#define DISTANCE_FLOOR 1e-8f

static inline float fast_exp(float x) {
    x = x < EXP_LOW ? EXP_LOW : (x > EXP_HIGH ? EXP_HIGH : x);
    float whole = x == x ? x : 0.0f; /* NaN passes through r, never through the cast */
    float n = (whole * LOG2E + ROUNDER) - ROUNDER;
    float r = x - n * LN2_HI - n * LN2_LO;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}

/* exp over a whole array, for the tests' comparison with libm. */
void pointwise_exp(int64_t n, const float *x, float *out) {
    for (int64_t i = 0; i < n; i++)
        out[i] = fast_exp(x[i]);
}

void masks_forward(int64_t n, const float *z, float shift, float below, float above,
                   float floor_, float *m) {
    for (int64_t i = 0; i < n; i++) {
        float t = z[i] - shift;
        float y = t * (t < 0.0f ? below : above);
        y = y < floor_ ? floor_ : y;
        m[i] = 1.0f / (1.0f + fast_exp(-y));
    }
}

/* dL/dz = g m (1 - m) s where the floor did not bind (clamp's gradient passes at the
 * floor itself, as torch's does), and 0 where it did or the logit is NaN, as torch's. */
void masks_backward(int64_t n, const float *z, const float *m, const float *g, float shift,
                    float below, float above, float floor_, float *gz) {
    for (int64_t i = 0; i < n; i++) {
        float t = z[i] - shift;
        float s = t < 0.0f ? below : above;
        float product = g[i] * m[i] * (1.0f - m[i]) * s;
        gz[i] = t * s >= floor_ ? product : 0.0f;
    }
}

/* q: (batch, per) squared distances; out: (batch, 2 per), d then exp(-d) per stroke. */
void distance_forward(int64_t batch, int64_t per, const float *q, const float *scale,
                      float *out) {
    for (int64_t b = 0; b < batch; b++) {
        const float *qb = q + b * per;
        float *d = out + 2 * b * per, *e = d + per, k = scale[b];
        for (int64_t i = 0; i < per; i++) {
            float v = qb[i] < DISTANCE_FLOOR ? DISTANCE_FLOOR : qb[i];
            float di = sqrtf(v) * k;
            d[i] = di;
            e[i] = fast_exp(-di);
        }
    }
}

/* From the output's gradient (gd, ge): t = gd - ge exp(-d); dL/dq = t k / (2 sqrt(q))
 * where q >= 1e-8, dL/dk = sum of t sqrt(max(q, 1e-8)), summed in eight float lanes
 * per stroke and then in double. */
void distance_backward(int64_t batch, int64_t per, const float *q, const float *scale,
                       const float *out, const float *grad, float *gq, float *gscale) {
    for (int64_t b = 0; b < batch; b++) {
        const float *qb = q + b * per, *e = out + (2 * b + 1) * per;
        const float *gd = grad + 2 * b * per, *ge = gd + per;
        float *gqb = gq + b * per, k = scale[b];
        float lanes[8] = {0};
        int64_t i = 0;
        for (; i + 8 <= per; i += 8)
            for (int j = 0; j < 8; j++) {
                float v = qb[i + j] < DISTANCE_FLOOR ? DISTANCE_FLOOR : qb[i + j];
                float r = sqrtf(v), t = gd[i + j] - ge[i + j] * e[i + j];
                gqb[i + j] = qb[i + j] >= DISTANCE_FLOOR ? t * k * 0.5f / r : 0.0f;
                lanes[j] += t * r;
            }
        double total = 0.0;
        for (; i < per; i++) {
            float v = qb[i] < DISTANCE_FLOOR ? DISTANCE_FLOOR : qb[i];
            float r = sqrtf(v), t = gd[i] - ge[i] * e[i];
            gqb[i] = qb[i] >= DISTANCE_FLOOR ? t * k * 0.5f / r : 0.0f;
            total += (double)t * r;
        }
        for (int j = 0; j < 8; j++)
            total += lanes[j];
        gscale[b] = (float)total;
    }
}
