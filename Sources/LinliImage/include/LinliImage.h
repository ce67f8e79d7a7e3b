#ifndef LINLI_IMAGE_H
#define LINLI_IMAGE_H
#include <stddef.h>

/// Starts libvips once per process; returns 0 on success.
int linli_image_init(void);

/// Decodes an image from memory, applies its EXIF orientation, shrinks it so that its longer side
/// is at most max_side, and re-encodes it as JPEG with every metadata block (EXIF, GPS, XMP, ICC
/// comments) stripped. Returns 0 on success and a buffer to release with linli_image_free; -5,
/// before any pixel is decoded, when the header claims more than max_pixels pixels.
int linli_image_reencode(const void *input, size_t input_length, int max_side, long long max_pixels,
                         void **output, size_t *output_length, int *width, int *height);

void linli_image_free(void *buffer);

/// The last libvips error message (for logs), cleared after reading.
const char *linli_image_error(void);
#endif
