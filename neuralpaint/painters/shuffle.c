/* Pixel shuffles between channels-last tensors, for the fast painter's ShufflePack
 * (neuralpaint/painters/fast.py). Torch copies these permutations element by element
 * through strided views, several times slower than memory allows when a run of
 * channels is one to four floats; here each is one pass over rows in memory order.
 * Pure copies: the result is bit for bit torch's. Compiled on first use by
 * neuralpaint/painters/shuffle_kernel.py. */
#include <stdint.h>

/* dst[n, 2y + dy, 2x + dx, at + k] = src[n, y, x, 4k + 2dy + dx] for k < c: a
 * PixelShuffle by 2 of `src` (count, h, w, 4c) into channels at .. at + c - 1 of `dst`
 * (count, 2h, 2w, stride). */
void shuffle_pack(int64_t count, int64_t h, int64_t w, int64_t c, const float *src,
                  int64_t stride, int64_t at, float *dst) {
    for (int64_t n = 0; n < count; n++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t dy = 0; dy < 2; dy++) {
                const float *in = src + (n * h + y) * w * 4 * c + 2 * dy;
                float *out = dst + (n * 2 * h + 2 * y + dy) * 2 * w * stride + at;
                for (int64_t x = 0; x < w; x++)
                    for (int64_t dx = 0; dx < 2; dx++) {
                        const float *i = in + x * 4 * c + dx;
                        float *o = out + (2 * x + dx) * stride;
                        for (int64_t k = 0; k < c; k++)
                            o[k] = i[4 * k];
                    }
            }
}

/* The inverse, for the gradient: src[n, y, x, 4k + 2dy + dx] = dst[n, 2y + dy, 2x + dx,
 * at + k], every entry of `src` (count, h, w, 4c) written. */
void shuffle_unpack(int64_t count, int64_t h, int64_t w, int64_t c, const float *dst,
                    int64_t stride, int64_t at, float *src) {
    for (int64_t n = 0; n < count; n++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t dy = 0; dy < 2; dy++) {
                float *out = src + (n * h + y) * w * 4 * c + 2 * dy;
                const float *in = dst + (n * 2 * h + 2 * y + dy) * 2 * w * stride + at;
                for (int64_t x = 0; x < w; x++)
                    for (int64_t dx = 0; dx < 2; dx++) {
                        float *o = out + x * 4 * c + dx;
                        const float *i = in + (2 * x + dx) * stride;
                        for (int64_t k = 0; k < c; k++)
                            o[4 * k] = i[k];
                    }
            }
}
