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
 * The expected-window kernels return 1 when they cannot allocate their scratch rows.
 * Single-threaded; compiled on first use by neuralpaint/painters/dab_kernel.py. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

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
    int inside, branch;
    /* torch's min and max pass the gradient to the smaller (larger) side and split it
     * in half at a tie: the share of each clamp's first argument, 0, 1/2 or 1 */
    float x_line, x_low, y_line, y_low;
    float nx, ny, fu, fv, near_sq, far_sq, near, far, den;
} Subpixel;

/* The share of max(a, b)'s gradient (`larger`) or min(a, b)'s that goes to a. */
static inline float share(float a, float b, int larger) {
    return a == b ? 0.5f : ((larger ? a > b : a < b) ? 1.0f : 0.0f);
}

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
        float mx = tx > right - 1.0f ? tx : right - 1.0f;
        float my = ty > bottom - 1.0f ? ty : bottom - 1.0f;
        s->x_line = share(tx, right - 1.0f, 1);
        s->x_low = share(mx, right, 0);
        s->y_line = share(ty, bottom - 1.0f, 1);
        s->y_low = share(my, bottom, 0);
        s->nx = mx < right ? mx : right;
        s->ny = my < bottom ? my : bottom;
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
    /* nx = min(max(cs * along, right - 1), right), along moving by cs with right and by sn
     * with bottom; ny likewise with sn * along and bottom */
    double x_on_line = s->x_low * s->x_line, y_on_line = s->y_low * s->y_line;
    double g_right = g_nx * (x_on_line * cs * cs + 1.0 - x_on_line) + g_ny * y_on_line * sn * cs;
    double g_bottom = g_nx * x_on_line * cs * sn + g_ny * (y_on_line * sn * sn + 1.0 - y_on_line);
    grad[GX] += g_right; /* right = x - pixel */
    grad[GY] += g_bottom;
}

/* One pixel of one dab: what its opacity's gradient needs again. */
typedef struct {
    float rr, across, along;
    float inner; /* the share of the gradient the inner line takes: 0, 1/2 or 1 */
    Subpixel s;
} Pixel;

static inline float plain_rr(const Coef *k, float dx, float dy, float *across, float *along) {
    float u = dy + 0.5f, v = dx + 0.5f;
    *across = u * k->a - v * k->b;
    *along = u * k->c + v * k->e;
    return *across * *across + *along * *along;
}

/* The dab's opacity at a pixel, before clamping at zero: two lines in rr, the lower
 * (concave) or the higher (convex). `dx`, `dy`: the pixel's corner minus the centre. */
static inline float pixel_opacity(const Coef *k, float cs, float sn, int64_t flags, float dx,
                                  float dy, Pixel *p) {
    p->rr = (flags & FLAG_ANTIALIASED) ? subpixel_rr(k, cs, sn, dx, dy, &p->s)
                                       : plain_rr(k, dx, dy, &p->across, &p->along);
    float inner = k->opaque + p->rr * k->slope, outer = k->outer_top * (1.0f - p->rr);
    int concave = (flags & FLAG_CONCAVE) != 0;
    p->inner = share(inner, outer, !concave);
    return (concave ? inner < outer : inner > outer) ? inner : outer;
}

/* Adds g * d(opacity)/d(coefficients) of one pixel to `grad`. */
static inline void pixel_grad(const Coef *k, float cs, float sn, int64_t flags, float dx,
                              float dy, const Pixel *p, float g, double *grad) {
    float g_inner = g * p->inner, g_outer = g - g_inner;
    grad[GOPAQUE] += g_inner;
    grad[GSLOPE] += g_inner * p->rr;
    grad[GOUTER] += g_outer * (1.0f - p->rr);
    float g_rr = g_inner * k->slope - g_outer * k->outer_top;
    if (flags & FLAG_ANTIALIASED) {
        subpixel_grad(k, cs, sn, &p->s, g_rr, grad);
        return;
    }
    float g_across = 2.0f * p->across * g_rr, g_along = 2.0f * p->along * g_rr;
    float u = dy + 0.5f, v = dx + 0.5f;
    grad[GA] += g_across * u;
    grad[GB] -= g_across * v;
    grad[GC] += g_along * u;
    grad[GE] += g_along * v;
    grad[GX] += g_across * k->b - g_along * k->e;
    grad[GY] -= g_across * k->a + g_along * k->c;
}

static inline int64_t clip(int64_t v, int64_t size) { return v < 0 ? 0 : v > size ? size : v; }

/* A product of clears that falls under FOLD_BELOW is folded into `folded` as a
 * logarithm and restarts at one, so that log(1 - alpha) = log(clear) + folded holds for
 * any number of nearly opaque dabs, where the product alone would underflow. */
#define FOLD_BELOW 1e-30f

/* The plain path (no anti-aliasing) of pixel_opacity for one row of pixels, without a
 * branch, so that the compiler vectorises it: the same operations in the same order. */
#define LANES 8

static inline float plain_opacity(const Coef *k, int concave, float ua, float uc, float v,
                                  float *across, float *along, float *rr, float *inner_share) {
    *across = ua - v * k->b;
    *along = uc + v * k->e;
    *rr = *across * *across + *along * *along;
    float inner = k->opaque + *rr * k->slope, outer = k->outer_top * (1.0f - *rr);
    float low = inner < outer ? inner : outer, high = inner > outer ? inner : outer;
    float beats = concave ? (inner < outer ? 1.0f : 0.0f) : (inner > outer ? 1.0f : 0.0f);
    *inner_share = inner == outer ? 0.5f : beats;
    return concave ? low : high;
}

/* One row of a plain dab: `row[first + i] *= 1 - opacity`, i < n. */
static inline void draw_row(const Coef *k, int concave, float ua, float uc, int32_t first,
                            int32_t n, float *row) {
    for (int32_t i = 0; i < n; i++) {
        float across, along, rr, inner_share;
        float v = ((float)(first + i) - k->x) + 0.5f;
        float opa = plain_opacity(k, concave, ua, uc, v, &across, &along, &rr, &inner_share);
        float keep = 1.0f - (opa < CLEAR_MAX ? opa : CLEAR_MAX);
        row[first + i] *= opa > 0.0f ? keep : 1.0f;
    }
}

/* One dab onto the canvas whose `clear` (and `folded`, or NULL) start at the given
 * pointers: the body of dab_raster_forward. */
static void draw_dab(const Coef *k, float cs, float sn, const int64_t *w, int64_t size,
                     float *clear, float *folded) {
    int64_t x0 = clip(w[0], size), x1 = clip(w[0] + w[2], size);
    int concave = (w[5] & FLAG_CONCAVE) != 0;
    for (int64_t py = clip(w[1], size); py < clip(w[1] + w[3], size); py++) {
        float *row = clear + py * size;
        if (w[5] & FLAG_ANTIALIASED) {
            for (int64_t px = x0; px < x1; px++) {
                Pixel p;
                float opa = pixel_opacity(k, cs, sn, w[5], px - k->x, py - k->y, &p);
                if (opa > 0.0f)
                    row[px] *= 1.0f - (opa < CLEAR_MAX ? opa : CLEAR_MAX);
            }
        } else {
            float u = (py - k->y) + 0.5f, ua = u * k->a, uc = u * k->c;
            int32_t first = (int32_t)x0, n = (int32_t)(x1 - x0);
            if (concave) /* a constant in each copy, so that neither branches */
                draw_row(k, 1, ua, uc, first, n, row);
            else
                draw_row(k, 0, ua, uc, first, n, row);
        }
        if (folded != NULL)
            for (int64_t px = x0; px < x1; px++)
                if (row[px] < FOLD_BELOW) {
                    folded[py * size + px] += logf(row[px]);
                    row[px] = 1.0f;
                }
    }
}

/* The plain path's gradient terms of one pixel, added to lane `l` of the dab's sums: the
 * profile's three coefficients, and the distance's terms along and across the ellipse,
 * alone and times the pixel's u and v (the dab's axes multiply those once a dab). */
enum {
    SOPAQUE,
    SSLOPE,
    SOUTER,
    SACROSS,
    SALONG,
    SACROSS_U,
    SALONG_U,
    SACROSS_V,
    SALONG_V,
    NSUM
};

static inline void plain_terms(const Coef *k, int concave, float u, float ua, float uc, float v,
                               float g, float sign, float sums[NSUM][LANES], int l) {
    float across, along, rr, inner_share;
    float opa = plain_opacity(k, concave, ua, uc, v, &across, &along, &rr, &inner_share);
    int skip = opa < 0.0f || opa > CLEAR_MAX || g == 0.0f;
    float gg = skip ? 0.0f : (sign * g) / (skip ? 1.0f : 1.0f - opa);
    float g_inner = gg * inner_share, g_outer = gg - g_inner;
    float g_rr = g_inner * k->slope - g_outer * k->outer_top;
    float g_across = 2.0f * across * g_rr, g_along = 2.0f * along * g_rr;
    sums[SOPAQUE][l] += g_inner;
    sums[SSLOPE][l] += g_inner * rr;
    sums[SOUTER][l] += g_outer * (1.0f - rr);
    sums[SACROSS][l] += g_across;
    sums[SALONG][l] += g_along;
    sums[SACROSS_U][l] += g_across * u;
    sums[SALONG_U][l] += g_along * u;
    sums[SACROSS_V][l] += g_across * v;
    sums[SALONG_V][l] += g_along * v;
}

/* plain_terms over `row[first + i]`, i < n, eight pixels at a time. */
static inline void grad_row(const Coef *k, int concave, float u, int32_t first, int32_t n,
                            const float *row, float sign, float sums[NSUM][LANES]) {
    float ua = u * k->a, uc = u * k->c;
    int32_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float v = ((float)(first + i + l) - k->x) + 0.5f;
            plain_terms(k, concave, u, ua, uc, v, row[first + i + l], sign, sums, l);
        }
    for (int l = 0; i < n; i++, l++) {
        float v = ((float)(first + i) - k->x) + 0.5f;
        plain_terms(k, concave, u, ua, uc, v, row[first + i], sign, sums, l);
    }
}

/* Adds one dab's gradient to its coefficients' `grad_coef`, for dL/dcanvas * (1 - canvas)
 * equal to `sign` * `weight` on the canvas at `weight`: the body of dab_raster_backward.
 * The plain path sums the dab's pixels in eight float lanes (so that it vectorises) and
 * the lanes in double; the anti-aliased path adds every pixel in double. */
static void dab_grad(const Coef *k, float cs, float sn, const int64_t *w, int64_t size,
                     const float *weight, float sign, float *grad_coef) {
    double grad[NCOEF] = {0};
    int64_t x0 = clip(w[0], size), x1 = clip(w[0] + w[2], size);
    int64_t y0 = clip(w[1], size), y1 = clip(w[1] + w[3], size);
    if (w[5] & FLAG_ANTIALIASED) {
        for (int64_t py = y0; py < y1; py++)
            for (int64_t px = x0; px < x1; px++) {
                Pixel p;
                float dx = px - k->x, dy = py - k->y, g = weight[py * size + px];
                float opa = pixel_opacity(k, cs, sn, w[5], dx, dy, &p);
                if (opa < 0.0f || opa > CLEAR_MAX || g == 0.0f)
                    continue;
                pixel_grad(k, cs, sn, w[5], dx, dy, &p, (sign * g) / (1.0f - opa), grad);
            }
    } else {
        float sums[NSUM][LANES] = {{0}};
        int32_t first = (int32_t)x0, n = (int32_t)(x1 - x0);
        for (int64_t py = y0; py < y1; py++) {
            float u = (py - k->y) + 0.5f;
            if (w[5] & FLAG_CONCAVE) /* a constant in each copy, so that neither branches */
                grad_row(k, 1, u, first, n, weight + py * size, sign, sums);
            else
                grad_row(k, 0, u, first, n, weight + py * size, sign, sums);
        }
        double s[NSUM] = {0};
        for (int j = 0; j < NSUM; j++)
            for (int l = 0; l < LANES; l++)
                s[j] += sums[j][l];
        grad[GOPAQUE] = s[SOPAQUE];
        grad[GSLOPE] = s[SSLOPE];
        grad[GOUTER] = s[SOUTER];
        grad[GA] = s[SACROSS_U];
        grad[GB] = -s[SACROSS_V];
        grad[GC] = s[SALONG_U];
        grad[GE] = s[SALONG_V];
        grad[GX] = s[SACROSS] * k->b - s[SALONG] * k->e;
        grad[GY] = -(s[SACROSS] * k->a + s[SALONG] * k->c);
    }
    for (int i = 0; i < NCOEF; i++)
        grad_coef[i] += (float)grad[i];
}

/* Dabs straight onto the canvases. `window`: (count, 6) corner x, y, width, height,
 * canvas, flags. `clear` starts as ones and is multiplied by 1 - opacity. */
void dab_raster_forward(int64_t count, const float *coef, const float *angle,
                        const int64_t *window, int64_t size, float *clear) {
    for (int64_t d = 0; d < count; d++) {
        const int64_t *w = window + 6 * d;
        draw_dab((const Coef *)(coef + NCOEF * d), angle[2 * d], angle[2 * d + 1], w, size,
                 clear + w[4] * size * size, NULL);
    }
}

void dab_raster_backward(int64_t count, const float *coef, const float *angle,
                         const int64_t *window, int64_t size, const float *weight,
                         float *grad_coef) {
    for (int64_t d = 0; d < count; d++) {
        const int64_t *w = window + 6 * d;
        dab_grad((const Coef *)(coef + NCOEF * d), angle[2 * d], angle[2 * d + 1], w, size,
                 weight + w[4] * size * size, 1.0f, grad_coef + NCOEF * d);
    }
}

/* Random dabs, one group of equal windows (`dab_expected_*`): each dab's mean opacity
 * over its `nodes` radius draws, sampled at `phases` offsets per pixel of its own
 * height x width window (fine row h * phases + b is pixel row h moved up by b / phases),
 * then blurred by its position noise onto the window grown by `shift` on each side:
 * E = down @ fine @ across^T. Both matrices are Toeplitz and banded, in one row of
 * 2 band + 1 `taps` per dab (`jitter_taps` in dabs.py, band = shift * phases): entry
 * (i, j * phases + a) is taps[(i - shift - j) * phases + a + band], zero outside the row.
 * Without noise (`taps` NULL) E is the fine window itself. `corner`: (count, 2) the own windows' corners. */
typedef struct {
    int64_t nodes, width, height, shift, phases, band, fw, fh, gw, gh;
} Group;

static Group group(int64_t nodes, int64_t width, int64_t height, int64_t shift, int64_t phases) {
    Group g = {nodes, width, height, shift, phases, shift * phases, width * phases,
               height * phases, width + 2 * shift, height + 2 * shift};
    return g;
}

/* Where entry (grown pixel i, fine sample f) of a jitter matrix sits in `taps`; the
 * entry is zero unless that is within 0..2 band. */
static inline int64_t tap(const Group *g, int64_t i, int64_t f) {
    return (i - g->shift) * g->phases - (f / g->phases) * g->phases + f % g->phases + g->band;
}

/* The grown pixels j in [lo, hi) whose entry (j, f) is within the band. */
static inline void span(const Group *g, int64_t f, int64_t *lo, int64_t *hi) {
    int64_t base = tap(g, 0, f), top = 2 * g->band - base;
    *lo = base >= 0 ? 0 : (-base + g->phases - 1) / g->phases;
    *hi = top < 0 ? 0 : top / g->phases + 1;
    if (*hi > g->gw)
        *hi = g->gw;
}

static inline float tap_value(const Group *g, const float *taps, int64_t i, int64_t f) {
    int64_t t = tap(g, i, f);
    return t < 0 || t > 2 * g->band ? 0.0f : taps[t];
}

static inline float fine_offset(int64_t corner, int64_t i, int64_t phases, float centre) {
    return (float)(corner + i / phases) - (float)(i % phases) / (float)phases - centre;
}

static void fine_window(const Group *g, const float *coef, const float *angle,
                        const int64_t *flags, const int64_t *corner, float *fine) {
    for (int64_t i = 0; i < g->fw * g->fh; i++)
        fine[i] = 0.0f;
    for (int64_t n = 0; n < g->nodes; n++) {
        const Coef *k = (const Coef *)(coef + NCOEF * n);
        for (int64_t r = 0; r < g->fh; r++) {
            float dy = fine_offset(corner[1], r, g->phases, k->y);
            for (int64_t c = 0; c < g->fw; c++) {
                Pixel p;
                float dx = fine_offset(corner[0], c, g->phases, k->x);
                float opa = pixel_opacity(k, angle[2 * n], angle[2 * n + 1], flags[n], dx, dy, &p);
                if (opa > 0.0f)
                    fine[r * g->fw + c] += opa / (float)g->nodes;
            }
        }
    }
}

/* half = fine @ across^T (fh x gw); zeros skipped */
static void blur_across(const Group *g, const float *taps, const float *fine, float *half) {
    for (int64_t i = 0; i < g->fh * g->gw; i++)
        half[i] = 0.0f;
    for (int64_t r = 0; r < g->fh; r++)
        for (int64_t c = 0; c < g->fw; c++) {
            float v = fine[r * g->fw + c], *row = half + r * g->gw;
            int64_t base = tap(g, 0, c), lo, hi; /* entry (j, c) is taps[base + j * phases] */
            span(g, c, &lo, &hi);
            if (v != 0.0f)
                for (int64_t j = lo; j < hi; j++)
                    row[j] += v * taps[base + j * g->phases];
        }
}

/* out = down @ half (gh x gw) */
static void blur_down(const Group *g, const float *taps, const float *half, float *out) {
    for (int64_t i = 0; i < g->gh * g->gw; i++)
        out[i] = 0.0f;
    for (int64_t i = 0; i < g->gh; i++)
        for (int64_t r = 0; r < g->fh; r++) {
            float w = tap_value(g, taps, i, r);
            if (w != 0.0f)
                for (int64_t j = 0; j < g->gw; j++)
                    out[i * g->gw + j] += w * half[r * g->gw + j];
        }
}

int dab_expected_forward(int64_t count, int64_t nodes, const float *coef, const float *angle,
                          const int64_t *flags, const int64_t *corner, int64_t width,
                          int64_t height, int64_t shift, int64_t phases, const float *taps,
                          float *expected) {
    Group g = group(nodes, width, height, shift, phases);
    int64_t ntaps = 2 * g.band + 1;
    float *fine = malloc(sizeof(float) * g.fh * g.fw), *half = malloc(sizeof(float) * g.fh * g.gw);
    if (!fine || !half) {
        free(fine);
        free(half);
        return 1;
    }
    for (int64_t d = 0; d < count; d++) {
        float *out = expected + d * g.gh * g.gw;
        fine_window(&g, coef + NCOEF * nodes * d, angle + 2 * nodes * d, flags + nodes * d,
                    corner + 2 * d, taps ? fine : out);
        if (taps) {
            blur_across(&g, taps + d * ntaps, fine, half);
            blur_down(&g, taps + d * ntaps, half, out);
        }
    }
    free(fine);
    free(half);
    return 0;
}

int dab_expected_backward(int64_t count, int64_t nodes, const float *coef, const float *angle,
                           const int64_t *flags, const int64_t *corner, int64_t width,
                           int64_t height, int64_t shift, int64_t phases, const float *taps,
                           const float *grad_expected, float *grad_coef, float *grad_taps) {
    Group g = group(nodes, width, height, shift, phases);
    int64_t ntaps = 2 * g.band + 1;
    float *fine = malloc(sizeof(float) * g.fh * g.fw), *half = malloc(sizeof(float) * g.fh * g.gw);
    float *grad_half = malloc(sizeof(float) * g.fh * g.gw);
    float *grad_fine = malloc(sizeof(float) * g.fh * g.fw);
    if (!fine || !half || !grad_half || !grad_fine) {
        free(fine);
        free(half);
        free(grad_half);
        free(grad_fine);
        return 1;
    }
    for (int64_t d = 0; d < count; d++) {
        const float *coef_d = coef + NCOEF * nodes * d, *angle_d = angle + 2 * nodes * d;
        const int64_t *flags_d = flags + nodes * d, *corner_d = corner + 2 * d;
        const float *grad_out = grad_expected + d * g.gh * g.gw, *g_fine = grad_out;
        if (taps) {
            const float *taps_d = taps + d * ntaps;
            float *grad_taps_d = grad_taps + d * ntaps;
            fine_window(&g, coef_d, angle_d, flags_d, corner_d, fine);
            blur_across(&g, taps_d, fine, half);
            /* out = down @ half: d down = d out @ half^T, d half = down^T @ d out */
            for (int64_t i = 0; i < g.fh * g.gw; i++)
                grad_half[i] = 0.0f;
            for (int64_t i = 0; i < g.gh; i++)
                for (int64_t r = 0; r < g.fh; r++) {
                    int64_t t = tap(&g, i, r);
                    if (t < 0 || t > 2 * g.band)
                        continue;
                    float sum = 0.0f, w = taps_d[t], *to = grad_half + r * g.gw;
                    const float *from = grad_out + i * g.gw, *row = half + r * g.gw;
                    for (int64_t j = 0; j < g.gw; j++)
                        sum += from[j] * row[j];
                    if (w != 0.0f)
                        for (int64_t j = 0; j < g.gw; j++)
                            to[j] += w * from[j];
                    grad_taps_d[t] += sum;
                }
            /* half = fine @ across^T: d across = d half^T @ fine, d fine = d half @ across */
            for (int64_t r = 0; r < g.fh; r++)
                for (int64_t c = 0; c < g.fw; c++) {
                    float v = fine[r * g.fw + c], sum = 0.0f, *row = grad_half + r * g.gw;
                    int64_t base = tap(&g, 0, c), lo, hi;
                    span(&g, c, &lo, &hi);
                    for (int64_t j = lo; j < hi; j++)
                        sum += row[j] * taps_d[base + j * g.phases];
                    if (v != 0.0f)
                        for (int64_t j = lo; j < hi; j++)
                            grad_taps_d[base + j * g.phases] += v * row[j];
                    grad_fine[r * g.fw + c] = sum;
                }
            g_fine = grad_fine;
        }
        for (int64_t n = 0; n < nodes; n++) {
            const Coef *k = (const Coef *)(coef_d + NCOEF * n);
            float cs = angle_d[2 * n], sn = angle_d[2 * n + 1];
            double grad[NCOEF] = {0};
            for (int64_t r = 0; r < g.fh; r++) {
                float dy = fine_offset(corner_d[1], r, g.phases, k->y);
                for (int64_t c = 0; c < g.fw; c++) {
                    float gv = g_fine[r * g.fw + c];
                    if (gv == 0.0f)
                        continue;
                    Pixel p;
                    float dx = fine_offset(corner_d[0], c, g.phases, k->x);
                    if (pixel_opacity(k, cs, sn, flags_d[n], dx, dy, &p) >= 0.0f)
                        pixel_grad(k, cs, sn, flags_d[n], dx, dy, &p, gv / (float)nodes, grad);
                }
            }
            for (int i = 0; i < NCOEF; i++)
                grad_coef[NCOEF * (nodes * d + n) + i] += (float)grad[i];
        }
    }
    free(fine);
    free(half);
    free(grad_half);
    free(grad_fine);
    return 0;
}

/* Windows of expected opacity onto the canvases (`dab_compose_*`): `values` holds each
 * window's rows one after another, `place` (count, 5) its corner x, y, width, height and
 * canvas. */
void dab_compose_forward(int64_t count, const float *values, const int64_t *place, int64_t size,
                         float *clear) {
    for (int64_t d = 0; d < count; d++) {
        const int64_t *w = place + 5 * d;
        float *canvas = clear + w[4] * size * size;
        for (int64_t py = clip(w[1], size); py < clip(w[1] + w[3], size); py++)
            for (int64_t px = clip(w[0], size); px < clip(w[0] + w[2], size); px++) {
                float v = values[(py - w[1]) * w[2] + (px - w[0])];
                if (v > 0.0f)
                    canvas[py * size + px] *= 1.0f - (v < CLEAR_MAX ? v : CLEAR_MAX);
            }
        values += w[2] * w[3];
    }
}

void dab_compose_backward(int64_t count, const float *values, const int64_t *place,
                          int64_t size, const float *weight, float *grad_values) {
    for (int64_t d = 0; d < count; d++) {
        const int64_t *w = place + 5 * d;
        const float *canvas = weight + w[4] * size * size;
        for (int64_t py = clip(w[1], size); py < clip(w[1] + w[3], size); py++)
            for (int64_t px = clip(w[0], size); px < clip(w[0] + w[2], size); px++) {
                int64_t i = (py - w[1]) * w[2] + (px - w[0]);
                if (values[i] <= CLEAR_MAX)
                    grad_values[i] = canvas[py * size + px] / (1.0f - values[i]);
            }
        values += w[2] * w[3];
        grad_values += w[2] * w[3];
    }
}

/* The fast expected stroke's blur (`render_dabs_fast`, `dab_fast_*`): a canvas of
 * log(clear) (side x side) times a banded Toeplitz matrix on both sides, out = W L W^T
 * with W[i, j] = taps[i - j + pad + shift] (size x side, one row of 2 shift + 1 taps per
 * canvas), nonzero only within `reach` of the middle tap. A stroke inks a small part of
 * its canvas, so each canvas is blurred only around its inked box (where L is nonzero:
 * outside it no dab has an opacity that float32 can tell from zero, about 6e-8, so no
 * gradient is needed there), and every inner loop runs along a row with increasing
 * indices so that it vectorises. */
typedef struct {
    int64_t r0, r1, c0, c1; /* the inked rows and columns, [r0, r1) x [c0, c1) */
} Box;

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One canvas's blur: T = W L (size x side) and O = T W^T (size x size), L nonzero only
 * inside `b`. Only the rows and columns the box reaches are written (zeroed first): T's
 * rows i0 .. i1 - 1 in the box's columns, O's same rows in columns k0 .. k1 - 1, as
 * blur_reach gives them. */
static void blur_reach(int64_t size, int64_t pad, int64_t r, Box b, Box *out) {
    out->r0 = max64(0, b.r0 - pad - r);
    out->r1 = min64(size, b.r1 - pad + r);
    out->c0 = max64(0, b.c0 - pad - r);
    out->c1 = min64(size, b.c1 - pad + r);
}

static void blur_one(int64_t side, int64_t size, int64_t pad, int64_t shift, int64_t r,
                     const float *t, const float *L, Box b, float *T, float *O) {
    Box o;
    blur_reach(size, pad, r, b, &o);
    for (int64_t i = o.r0; i < o.r1; i++) {
        for (int64_t x = b.c0; x < b.c1; x++)
            T[i * side + x] = 0.0f;
        for (int64_t k = o.c0; k < o.c1; k++)
            O[i * size + k] = 0.0f;
    }
    /* T[i, x] = sum_j t[i - j + pad + shift] L[j, x], i within r of j - pad */
    for (int64_t j = b.r0; j < b.r1; j++)
        for (int64_t i = max64(0, j - pad - r); i < min64(size, j - pad + r + 1); i++) {
            float w = t[i - j + pad + shift], *row = T + i * side;
            const float *src = L + j * side;
            for (int64_t x = b.c0; x < b.c1; x++)
                row[x] += w * src[x];
        }
    /* O[i, k] = sum_x T[i, x] t[k - x + pad + shift], k within r of x - pad */
    for (int64_t i = o.r0; i < o.r1; i++)
        for (int64_t x = b.c0; x < b.c1; x++) {
            float v = T[i * side + x], *row = O + i * size;
            int64_t at = pad + shift - x; /* row[k] takes t[k + at] */
            if (v != 0.0f)
                for (int64_t k = max64(0, x - pad - r); k < min64(size, x - pad + r + 1); k++)
                    row[k] += v * t[k + at];
        }
}

/* Scratch rows of a canvas's blur gradient. */
typedef struct {
    float *gT, *flipped, *g_flipped;
} BlurScratch;

static int blur_scratch(BlurScratch *s, int64_t side, int64_t size, int64_t shift) {
    s->gT = malloc(sizeof(float) * size * side);
    s->flipped = malloc(sizeof(float) * (2 * shift + 1)); /* flipped[m] = t[2 shift - m] */
    s->g_flipped = malloc(sizeof(float) * (2 * shift + 1));
    return s->gT == NULL || s->flipped == NULL || s->g_flipped == NULL;
}

static void free_blur_scratch(BlurScratch *s) {
    free(s->gT);
    free(s->flipped);
    free(s->g_flipped);
}

/* One canvas's share of the blur's gradient, added to `gL` (inside `b` only) and `gt`. */
static void blur_grad_one(int64_t side, int64_t size, int64_t pad, int64_t shift, int64_t r,
                          const float *t, const float *L, Box b, const float *T,
                          const float *gO, const BlurScratch *s, float *gL, float *gt) {
    int64_t width = 2 * shift + 1;
    float *gT = s->gT, *flipped = s->flipped, *g_flipped = s->g_flipped;
    if (b.r0 >= b.r1)
        return;
    for (int64_t m = 0; m < width; m++) {
        flipped[m] = t[2 * shift - m];
        g_flipped[m] = 0.0f;
    }
    int64_t i0 = max64(0, b.r0 - pad - r), i1 = min64(size, b.r1 - pad + r);
    /* the second product: gT[i, x] = sum_k gO[i, k] t[k - x + pad + shift] for x in
     * the box, and the taps' share sum gO[i, k] T[i, x]; both along x */
    for (int64_t i = i0; i < i1; i++) {
        float *g_row = gT + i * side;
        const float *T_row = T + i * side;
        for (int64_t x = b.c0; x < b.c1; x++)
            g_row[x] = 0.0f;
        for (int64_t k = 0; k < size; k++) {
            float g = gO[i * size + k];
            int64_t x0 = max64(b.c0, k + pad - r), x1 = min64(b.c1, k + pad + r + 1);
            /* t[k - x + pad + shift] = flipped[x + at] */
            int64_t at = shift - k - pad;
            if (g != 0.0f)
                for (int64_t x = x0; x < x1; x++) {
                    g_row[x] += g * flipped[x + at];
                    g_flipped[x + at] += g * T_row[x];
                }
        }
    }
    for (int64_t m = 0; m < width; m++)
        gt[2 * shift - m] += g_flipped[m];
    /* the first product: gL[j, x] += t[i - j + pad + shift] gT[i, x] and the taps'
     * share sum_x gT[i, x] L[j, x], in eight lanes so that it vectorises */
    for (int64_t j = b.r0; j < b.r1; j++) {
        const float *src = L + j * side;
        float *dst = gL + j * side;
        for (int64_t i = max64(0, j - pad - r); i < min64(size, j - pad + r + 1); i++) {
            int64_t at = i - j + pad + shift;
            const float *g = gT + i * side;
            float w = t[at], lane[8] = {0};
            int64_t x = b.c0;
            for (; x + 8 <= b.c1; x += 8)
                for (int l = 0; l < 8; l++) {
                    dst[x + l] += w * g[x + l];
                    lane[l] += g[x + l] * src[x + l];
                }
            float dot = 0.0f;
            for (; x < b.c1; x++) {
                dst[x] += w * g[x];
                dot += g[x] * src[x];
            }
            for (int l = 0; l < 8; l++)
                dot += lane[l];
            gt[at] += dot;
        }
    }
}

/* The rows and columns of a canvas (side x side) that dabs first .. to - 1 can touch. */
static Box window_box(const int64_t *window, int64_t first, int64_t to, int64_t side) {
    Box b = {side, 0, side, 0};
    for (int64_t d = first; d < to; d++) {
        const int64_t *w = window + 6 * d;
        int64_t r0 = clip(w[1], side), r1 = clip(w[1] + w[3], side);
        int64_t c0 = clip(w[0], side), c1 = clip(w[0] + w[2], side);
        if (r0 < r1 && c0 < c1) {
            b.r0 = min64(b.r0, r0), b.r1 = max64(b.r1, r1);
            b.c0 = min64(b.c0, c0), b.c1 = max64(b.c1, c1);
        }
    }
    return b;
}

/* The fast expected stroke in one pass per canvas (`dab_fast_*`): each of `canvases`
 * canvases (side x side) gets its dabs (`first[n]` to `first[n + 1]` of `coef`, `angle`
 * and `window`, whose canvas column is ignored) as L = log(clear) + folded, is blurred
 * (blur_one), and added to `total` (batch, size, size; zeros to start with) at stroke
 * `target[n]`. Every canvas stays in the cache through all three steps, where separate
 * passes would write and read each one several times over, and only the part its dabs'
 * windows cover is filled, taken the log of and blurred. `logs` (canvases, side, side),
 * `tmp` (canvases, size, side) and `boxes` (canvases, 8: the inked box, then the
 * windows' box) keep what the backward reads, or are all NULL. Returns 1 when it cannot
 * allocate its scratch rows. */
int dab_fast_forward(int64_t canvases, const int64_t *first, const int64_t *target,
                     int64_t side, int64_t size, int64_t pad, int64_t shift, const int64_t *reach,
                     const float *taps, const float *coef, const float *angle,
                     const int64_t *window, float *logs, float *tmp, int64_t *boxes,
                     float *total) {
    int64_t width = 2 * shift + 1, area = side * side;
    float *clear = malloc(sizeof(float) * area), *folded = malloc(sizeof(float) * area);
    float *own_L = malloc(sizeof(float) * area), *own_T = malloc(sizeof(float) * size * side);
    float *O = malloc(sizeof(float) * size * size);
    int failed = clear == NULL || folded == NULL || own_L == NULL || own_T == NULL || O == NULL;
    for (int64_t n = 0; n < canvases && !failed; n++) {
        float *L = logs == NULL ? own_L : logs + n * area;
        float *T = tmp == NULL ? own_T : tmp + n * size * side;
        Box wb = window_box(window, first[n], first[n + 1], side);
        for (int64_t j = wb.r0; j < wb.r1; j++)
            for (int64_t x = wb.c0; x < wb.c1; x++) {
                clear[j * side + x] = 1.0f;
                folded[j * side + x] = 0.0f;
            }
        for (int64_t d = first[n]; d < first[n + 1]; d++)
            draw_dab((const Coef *)(coef + NCOEF * d), angle[2 * d], angle[2 * d + 1],
                     window + 6 * d, side, clear, folded);
        Box b = {side, 0, side, 0};
        for (int64_t j = wb.r0; j < wb.r1; j++)
            for (int64_t x = wb.c0; x < wb.c1; x++) {
                int64_t i = j * side + x;
                L[i] = clear[i] == 1.0f ? folded[i] : logf(clear[i]) + folded[i];
                if (L[i] != 0.0f) {
                    b.r0 = j < b.r0 ? j : b.r0;
                    b.r1 = j + 1;
                    b.c0 = x < b.c0 ? x : b.c0;
                    b.c1 = x + 1 > b.c1 ? x + 1 : b.c1;
                }
            }
        if (boxes != NULL) {
            int64_t *box = boxes + 8 * n;
            box[0] = b.r0, box[1] = b.r1, box[2] = b.c0, box[3] = b.c1;
            box[4] = wb.r0, box[5] = wb.r1, box[6] = wb.c0, box[7] = wb.c1;
        }
        if (b.r0 >= b.r1)
            continue; /* nothing inked */
        blur_one(side, size, pad, shift, reach[n], taps + n * width, L, b, T, O);
        Box o;
        blur_reach(size, pad, reach[n], b, &o);
        float *dst = total + target[n] * size * size;
        for (int64_t i = o.r0; i < o.r1; i++)
            for (int64_t k = o.c0; k < o.c1; k++)
                dst[i * size + k] += O[i * size + k];
    }
    free(clear);
    free(folded);
    free(own_L);
    free(own_T);
    free(O);
    return failed;
}

/* The gradient of dab_fast_forward, from what it kept: `grad_coef` (as `coef`) and
 * `grad_taps` (as `taps`) are added to. The blur's gradient on a canvas is only inside
 * its inked box and reaches the dabs as dab_raster_backward's, with the sign of a log
 * canvas (dL/dopacity = -dL/dlog / (1 - opacity)). Returns 1 when it cannot allocate its scratch rows. */
int dab_fast_backward(int64_t canvases, const int64_t *first, const int64_t *target,
                      int64_t side, int64_t size, int64_t pad, int64_t shift,
                      const int64_t *reach, const float *taps, const float *coef,
                      const float *angle, const int64_t *window, const float *logs,
                      const float *tmp, const int64_t *boxes, const float *grad_total,
                      float *grad_coef, float *grad_taps) {
    int64_t width = 2 * shift + 1, area = side * side;
    BlurScratch s;
    float *gL = malloc(sizeof(float) * area);
    int failed = blur_scratch(&s, side, size, shift) || gL == NULL;
    for (int64_t n = 0; n < canvases && !failed; n++) {
        const int64_t *box = boxes + 8 * n;
        Box b = {box[0], box[1], box[2], box[3]}, wb = {box[4], box[5], box[6], box[7]};
        if (b.r0 >= b.r1)
            continue; /* nothing inked: no gradient reaches this canvas's dabs */
        for (int64_t j = wb.r0; j < wb.r1; j++) /* all the dabs read */
            for (int64_t x = wb.c0; x < wb.c1; x++)
                gL[j * side + x] = 0.0f;
        blur_grad_one(side, size, pad, shift, reach[n], taps + n * width, logs + n * area, b,
                      tmp + n * size * side, grad_total + target[n] * size * size, &s, gL,
                      grad_taps + n * width);
        for (int64_t d = first[n]; d < first[n + 1]; d++)
            dab_grad((const Coef *)(coef + NCOEF * d), angle[2 * d], angle[2 * d + 1],
                     window + 6 * d, side, gL, -1.0f, grad_coef + NCOEF * d);
    }
    free_blur_scratch(&s);
    free(gL);
    return failed;
}
