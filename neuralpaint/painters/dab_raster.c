/* The dab twin's rasteriser, fused: `render_dabs` without noise, in one pass per dab
 * window instead of one torch operation per pass (neuralpaint/painters/dabs.py holds
 * the torch version this must agree with, and the reasons behind each formula).
 *
 * Each dab has the 12 coefficients of `dab_coefficients` (x, y, the ellipse's four
 * axis terms, opacity, the profile's two lines, 1/r^2, where the anti-aliased path's
 * cheap estimate stops, the aspect ratio), the cosine and sine of its angle, and six
 * integers: its window's corner and size, the canvas it lands on and two flags (bit 0:
 * the anti-aliased path below radius 3, bit 1: a concave profile, hardness >= 1/2).
 *
 * Forward multiplies `clear` (ones to start with) by 1 - opacity of every dab pixel
 * inside the canvas: the canvas is 1 - clear, as the torch version's sum of logarithms.
 * Backward takes `weight` = dL/dcanvas * (1 - canvas) and adds each dab's gradient
 * with respect to its coefficients to `grad_coef`: dL/dopacity = weight / (1 - opacity).
 * Single-threaded; compiled on first use by neuralpaint/painters/dab_kernel.py. */
#include <math.h>
#include <stdint.h>

#define AREA_ONE_RADIUS 0.56418958354775628f /* sqrt(1 / pi) */
#define CLEAR_MAX (1.0f - 1e-6f)
#define FLAG_ANTIALIASED 1
#define FLAG_CONCAVE 2

typedef struct {
    float x, y, a, b, c, e, opaque, slope, outer_top, inv_r2, aa_start, ratio;
} Coef;

enum { GX, GY, GA, GB, GC, GE, GOPAQUE, GSLOPE, GOUTER, GINV_R2, GAA_START, GRATIO, NCOEF };

/* What the anti-aliased path needs again for its gradient. */
typedef struct {
    int inside, x_line, x_low, y_line, y_low, branch;
    float nx, ny, fu, fv, near_sq, far_sq, near, far, den;
} Subpixel;

static inline float squared(float u, float v, float cs, float sn, float ratio, float *p,
                            float *q) {
    *p = (v * cs - u * sn) * ratio;
    *q = v * sn + u * cs;
    return *p * *p + *q * *q;
}

/* Sub-pixel distance of libmypaint's anti-aliased dab (radius below 3). */
static inline float subpixel_rr(const Coef *k, float cs, float sn, float dx, float dy,
                                Subpixel *s) {
    float right = -dx, bottom = -dy, cx = right - 0.5f, cy = bottom - 0.5f, p, q;
    s->inside = right > 0.0f && right < 1.0f && bottom > 0.0f && bottom < 1.0f;
    if (s->inside) {
        s->nx = 0.0f;
        s->ny = 0.0f;
    } else {
        float along = cx * cs + cy * sn, tx = cs * along, ty = sn * along;
        s->x_line = tx > right - 1.0f;
        float mx = s->x_line ? tx : right - 1.0f;
        s->x_low = mx < right;
        s->nx = s->x_low ? mx : right;
        s->y_line = ty > bottom - 1.0f;
        float my = s->y_line ? ty : bottom - 1.0f;
        s->y_low = my < bottom;
        s->ny = s->y_low ? my : bottom;
    }
    s->near_sq = squared(s->nx, s->ny, cs, sn, k->ratio, &p, &q);
    s->near = s->near_sq * k->inv_r2;
    float step = ((cx - cs) * sn - cs * (cy + sn) < 0.0f) ? -AREA_ONE_RADIUS : AREA_ONE_RADIUS;
    s->fu = s->nx + sn * step;
    s->fv = s->ny - cs * step;
    s->far_sq = squared(s->fu, s->fv, cs, sn, k->ratio, &p, &q);
    s->far = s->far_sq * k->inv_r2;
    s->den = 1.0f + s->far - s->near;
    if (s->near > 1.0f) {
        s->branch = 0;
        return s->near;
    }
    if (s->far_sq < k->aa_start) {
        s->branch = 1;
        return (s->far + s->near) * 0.5f;
    }
    s->branch = 2;
    return 1.0f - (1.0f - s->near) / (s->den < 1e-6f ? 1e-6f : s->den);
}

/* dL/dS of one squared distance S = squared(u, v) into dL/du, dL/dv and dL/dratio. */
static inline void squared_grad(float g, float u, float v, float cs, float sn, float ratio,
                                double *gu, double *gv, double *gratio) {
    float p, q;
    squared(u, v, cs, sn, ratio, &p, &q);
    *gu += g * (2.0f * p * (-sn * ratio) + 2.0f * q * cs);
    *gv += g * (2.0f * p * (cs * ratio) + 2.0f * q * sn);
    *gratio += g * 2.0f * p * (v * cs - u * sn);
}

static inline void subpixel_grad(const Coef *k, float cs, float sn, const Subpixel *s,
                                 float g_rr, double *grad) {
    float g_near = 0.0f, g_far = 0.0f;
    if (s->branch == 0) {
        g_near = g_rr;
    } else if (s->branch == 1) {
        g_near = g_far = 0.5f * g_rr;
    } else if (s->den >= 1e-6f) {
        g_near = g_rr * s->far / (s->den * s->den);
        g_far = g_rr * (1.0f - s->near) / (s->den * s->den);
    } else {
        g_near = g_rr / 1e-6f;
    }
    grad[GINV_R2] += g_near * s->near_sq + g_far * s->far_sq;
    double g_nx = 0.0, g_ny = 0.0;
    squared_grad(g_near * k->inv_r2, s->nx, s->ny, cs, sn, k->ratio, &g_nx, &g_ny,
                 &grad[GRATIO]);
    squared_grad(g_far * k->inv_r2, s->fu, s->fv, cs, sn, k->ratio, &g_nx, &g_ny,
                 &grad[GRATIO]);
    if (s->inside)
        return;
    /* nx is cs * along, right - 1 or right; along moves by cs with right, sn with bottom */
    int x_on_line = s->x_low && s->x_line, y_on_line = s->y_low && s->y_line;
    double g_right = g_nx * (x_on_line ? cs * cs : 1.0) + g_ny * (y_on_line ? sn * cs : 0.0);
    double g_bottom = g_nx * (x_on_line ? cs * sn : 0.0) + g_ny * (y_on_line ? sn * sn : 1.0);
    grad[GX] += g_right; /* right = x - pixel */
    grad[GY] += g_bottom;
}

/* The opacity profile: two lines in rr, the lower (concave) or the higher (convex). */
static inline float profile(const Coef *k, float rr, int concave, int *inner_chosen) {
    float inner = k->opaque + rr * k->slope, outer = k->outer_top * (1.0f - rr);
    *inner_chosen = concave ? inner < outer : inner > outer;
    return *inner_chosen ? inner : outer;
}

static inline float plain_rr(const Coef *k, float dx, float dy, float *across, float *along) {
    float u = dy + 0.5f, v = dx + 0.5f;
    *across = u * k->a - v * k->b;
    *along = u * k->c + v * k->e;
    return *across * *across + *along * *along;
}

void dab_raster_forward(int64_t count, const float *coef, const float *angle,
                        const int64_t *window, int64_t size, float *clear) {
    for (int64_t d = 0; d < count; d++) {
        const Coef *k = (const Coef *)(coef + NCOEF * d);
        const int64_t *w = window + 6 * d;
        float cs = angle[2 * d], sn = angle[2 * d + 1];
        int antialiased = w[5] & FLAG_ANTIALIASED, concave = (w[5] & FLAG_CONCAVE) != 0;
        float *canvas = clear + w[4] * size * size;
        int64_t y0 = w[1] < 0 ? 0 : w[1], y1 = w[1] + w[3] > size ? size : w[1] + w[3];
        int64_t x0 = w[0] < 0 ? 0 : w[0], x1 = w[0] + w[2] > size ? size : w[0] + w[2];
        for (int64_t py = y0; py < y1; py++) {
            float dy = (float)py - k->y;
            for (int64_t px = x0; px < x1; px++) {
                float dx = (float)px - k->x, rr, across, along;
                Subpixel s;
                int inner;
                rr = antialiased ? subpixel_rr(k, cs, sn, dx, dy, &s)
                                 : plain_rr(k, dx, dy, &across, &along);
                float opa = profile(k, rr, concave, &inner);
                if (opa > 0.0f)
                    canvas[py * size + px] *= 1.0f - (opa < CLEAR_MAX ? opa : CLEAR_MAX);
            }
        }
    }
}

void dab_raster_backward(int64_t count, const float *coef, const float *angle,
                         const int64_t *window, int64_t size, const float *weight,
                         float *grad_coef) {
    for (int64_t d = 0; d < count; d++) {
        const Coef *k = (const Coef *)(coef + NCOEF * d);
        const int64_t *w = window + 6 * d;
        float cs = angle[2 * d], sn = angle[2 * d + 1];
        int antialiased = w[5] & FLAG_ANTIALIASED, concave = (w[5] & FLAG_CONCAVE) != 0;
        const float *canvas = weight + w[4] * size * size;
        double grad[NCOEF] = {0};
        int64_t y0 = w[1] < 0 ? 0 : w[1], y1 = w[1] + w[3] > size ? size : w[1] + w[3];
        int64_t x0 = w[0] < 0 ? 0 : w[0], x1 = w[0] + w[2] > size ? size : w[0] + w[2];
        for (int64_t py = y0; py < y1; py++) {
            float dy = (float)py - k->y;
            for (int64_t px = x0; px < x1; px++) {
                float dx = (float)px - k->x, rr, across = 0.0f, along = 0.0f;
                Subpixel s;
                int inner;
                rr = antialiased ? subpixel_rr(k, cs, sn, dx, dy, &s)
                                 : plain_rr(k, dx, dy, &across, &along);
                float opa = profile(k, rr, concave, &inner);
                if (opa < 0.0f || opa > CLEAR_MAX)
                    continue;
                float g = canvas[py * size + px] / (1.0f - opa), g_rr;
                if (g == 0.0f)
                    continue;
                if (inner) {
                    grad[GOPAQUE] += g;
                    grad[GSLOPE] += g * rr;
                    g_rr = g * k->slope;
                } else {
                    grad[GOUTER] += g * (1.0f - rr);
                    g_rr = -g * k->outer_top;
                }
                if (antialiased) {
                    subpixel_grad(k, cs, sn, &s, g_rr, grad);
                } else {
                    float g_across = 2.0f * across * g_rr, g_along = 2.0f * along * g_rr;
                    float u = dy + 0.5f, v = dx + 0.5f;
                    grad[GA] += g_across * u;
                    grad[GB] -= g_across * v;
                    grad[GC] += g_along * u;
                    grad[GE] += g_along * v;
                    grad[GX] += g_across * k->b - g_along * k->e;
                    grad[GY] -= g_across * k->a + g_along * k->c;
                }
            }
        }
        for (int i = 0; i < NCOEF; i++)
            grad_coef[NCOEF * d + i] += (float)grad[i];
    }
}
