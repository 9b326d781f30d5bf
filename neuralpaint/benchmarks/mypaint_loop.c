/* The physical limit for the throughput benchmark: the same strokes, brush and
 * pixel read-back as neuralpaint's Python renderer (MyPaintRenderer.render_masks),
 * in a plain C loop over libmypaint. It declares the few functions it needs itself,
 * so only the runtime library is required (no -dev headers).
 *
 * Input file (native-endian): int32 n_strokes, int32 steps, int32 chunk, int32 size,
 * int32 n_chunks, int32 warmups[n_chunks], then per stroke float32 log radius followed
 * by steps x (x, y, pressure) float32.
 * Usage: mypaint_loop BRUSH.myb INPUT OUTPUT_MASKS
 * Prints the strokes per second of the timed loop (brush parsing and file I/O excluded
 * except the per-chunk fresh brush, which the Python renderer pays too).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

typedef struct MyPaintBrush MyPaintBrush;
typedef struct MyPaintSurface MyPaintSurface;
typedef struct MyPaintTiledSurface MyPaintTiledSurface;
typedef struct MyPaintFixedTiledSurface MyPaintFixedTiledSurface;
typedef struct { int tx, ty, readonly; uint16_t *buffer; void *context; int thread_id, mipmap_level; } TileRequest;

MyPaintBrush *mypaint_brush_new(void);
void mypaint_brush_unref(MyPaintBrush *);
int mypaint_brush_from_string(MyPaintBrush *, const char *);
void mypaint_brush_set_base_value(MyPaintBrush *, int, float);
void mypaint_brush_set_state(MyPaintBrush *, int, float);
int mypaint_brush_setting_from_cname(const char *);
int mypaint_brush_stroke_to(MyPaintBrush *, MyPaintSurface *, float, float, float, float, float, double);
MyPaintFixedTiledSurface *mypaint_fixed_tiled_surface_new(int, int);
MyPaintSurface *mypaint_fixed_tiled_surface_interface(MyPaintFixedTiledSurface *);
void mypaint_surface_begin_atomic(MyPaintSurface *);
void mypaint_surface_end_atomic(MyPaintSurface *, void *);
void mypaint_tile_request_init(TileRequest *, int, int, int, int);
void mypaint_tiled_surface_tile_request_start(MyPaintTiledSurface *, TileRequest *);
void mypaint_tiled_surface_tile_request_end(MyPaintTiledSurface *, TileRequest *);

#define ONE (1 << 15)
#define TILE 64

static char *read_all(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END); *len = ftell(f); fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len + 1);
    if (fread(buf, 1, *len, f) != (size_t)*len) { perror(path); exit(2); }
    buf[*len] = 0; fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s BRUSH INPUT OUTPUT\n", argv[0]); return 2; }
    long blen, ilen;
    char *brush_src = read_all(argv[1], &blen);
    char *in = read_all(argv[2], &ilen);
    int32_t *hdr = (int32_t *)in;
    int n = hdr[0], steps = hdr[1], chunk = hdr[2], size = hdr[3], n_chunks = hdr[4];
    int32_t *warmups = hdr + 5;
    float *data = (float *)(warmups + n_chunks);
    if (size != TILE) { fprintf(stderr, "the C loop measures 64x64 canvases only\n"); return 2; }
    float *masks = malloc(sizeof(float) * n * size * size);
    uint16_t white[TILE * TILE * 4];
    for (int i = 0; i < TILE * TILE * 4; i++) white[i] = ONE;
    int radius_id = mypaint_brush_setting_from_cname("radius_logarithmic");
    int color_v_id = mypaint_brush_setting_from_cname("color_v");

    MyPaintFixedTiledSurface *fixed = mypaint_fixed_tiled_surface_new(size, size);
    MyPaintSurface *surf = mypaint_fixed_tiled_surface_interface(fixed);
    MyPaintTiledSurface *tiled = (MyPaintTiledSurface *)fixed;
    MyPaintFixedTiledSurface *scratch_fixed = mypaint_fixed_tiled_surface_new(TILE, TILE);
    MyPaintSurface *scratch = mypaint_fixed_tiled_surface_interface(scratch_fixed);
    TileRequest req;
    MyPaintBrush *brush = NULL;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int s = 0; s < n; s++) {
        if (s % chunk == 0) {  /* a fresh, seeded brush per chunk, as the Python renderer */
            if (brush) mypaint_brush_unref(brush);
            brush = mypaint_brush_new();
            mypaint_brush_from_string(brush, brush_src);
            mypaint_brush_set_base_value(brush, color_v_id, 0.0f);
            mypaint_brush_set_base_value(brush, radius_id, -1.5f);
            mypaint_surface_begin_atomic(scratch);
            for (int i = 0; i <= warmups[s / chunk]; i++)
                mypaint_brush_stroke_to(brush, scratch, (float)(-50.0 - 0.03 * i), -50.0f, 1.0f, 0, 0, 0.1);
            mypaint_surface_end_atomic(scratch, NULL);
        }
        float *stroke = data + (size_t)s * (1 + 3 * steps);
        float *pts = stroke + 1;
        mypaint_tile_request_init(&req, 0, 0, 0, 0);
        mypaint_tiled_surface_tile_request_start(tiled, &req);
        memcpy(req.buffer, white, sizeof(white));
        mypaint_tiled_surface_tile_request_end(tiled, &req);
        mypaint_brush_set_base_value(brush, radius_id, stroke[0]);
        mypaint_surface_begin_atomic(surf);
        mypaint_brush_set_state(brush, 0, pts[0]);
        mypaint_brush_set_state(brush, 1, pts[1]);
        mypaint_brush_set_state(brush, 14, pts[0]);
        mypaint_brush_set_state(brush, 15, pts[1]);
        mypaint_brush_stroke_to(brush, surf, pts[0], pts[1], 0.0f, 0, 0, 0.1);
        for (int k = 0; k < steps; k++)
            mypaint_brush_stroke_to(brush, surf, pts[3 * k], pts[3 * k + 1], pts[3 * k + 2], 0, 0, 0.1);
        mypaint_surface_end_atomic(surf, NULL);
        mypaint_tile_request_init(&req, 0, 0, 0, 1);
        mypaint_tiled_surface_tile_request_start(tiled, &req);
        float *m = masks + (size_t)s * size * size;
        for (int p = 0; p < size * size; p++) {
            float v = 1.0f - (float)(req.buffer[4 * p] + req.buffer[4 * p + 1] + req.buffer[4 * p + 2]) / (3.0f * ONE);
            m[p] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
        mypaint_tiled_surface_tile_request_end(tiled, &req);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    FILE *out = fopen(argv[3], "wb");
    fwrite(masks, sizeof(float), (size_t)n * size * size, out);
    fclose(out);
    printf("%.3f\n", n / secs);
    return 0;
}
