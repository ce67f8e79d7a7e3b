#include "LinliImage.h"
#include <vips/vips.h>
#include <string.h>

// Swift cannot call C variadic functions, so the libvips calls live here.

int linli_image_init(void) {
    static int started = 0;
    static int result = 0;
    if (!started) {
        started = 1;
        result = VIPS_INIT("linli") ? -1 : 0;
        // Photos are small; a modest cache keeps memory flat under load.
        vips_cache_set_max(0);
        vips_concurrency_set(1);
    }
    return result;
}

int linli_image_reencode(const void *input, size_t input_length, int max_side, long long max_pixels,
                         void **output, size_t *output_length, int *width, int *height) {
    *output = NULL;
    *output_length = 0;
    VipsImage *image = vips_image_new_from_buffer(input, input_length, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!image) return -1;
    // Opening reads only the header: a 335-byte JPEG may claim 65000 x 65000 pixels. Refuse it
    // before a single pixel is decoded.
    *width = vips_image_get_width(image);
    *height = vips_image_get_height(image);
    if ((long long)*width * (long long)*height > max_pixels) { g_object_unref(image); return -5; }
    VipsImage *rotated = NULL;
    if (vips_autorot(image, &rotated, NULL)) { g_object_unref(image); return -2; }
    g_object_unref(image);
    VipsImage *small = NULL;
    if (vips_thumbnail_image(rotated, &small, max_side, "height", max_side, "size", VIPS_SIZE_DOWN, NULL)) {
        g_object_unref(rotated);
        return -3;
    }
    g_object_unref(rotated);
    void *buffer = NULL;
    size_t length = 0;
    if (vips_jpegsave_buffer(small, &buffer, &length, "Q", 82, "strip", TRUE, NULL)) {
        g_object_unref(small);
        return -4;
    }
    *width = vips_image_get_width(small);
    *height = vips_image_get_height(small);
    g_object_unref(small);
    *output = buffer;
    *output_length = length;
    return 0;
}

void linli_image_free(void *buffer) { g_free(buffer); }

const char *linli_image_error(void) {
    static __thread char message[512];
    const char *e = vips_error_buffer();
    strncpy(message, e ? e : "", sizeof(message) - 1);
    message[sizeof(message) - 1] = 0;
    vips_error_clear();
    return message;
}
