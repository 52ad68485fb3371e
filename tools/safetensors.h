/* A reader for Hugging Face's safetensors files (8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw data). Used once, by
 * `mets convert-minilm`, to bring the frozen language model's weights into our model file format.
 *
 * Tensor bytes may be unaligned in the file: callers copy them (memcpy), never dereference as float.
 */
#ifndef METS_SAFETENSORS_H
#define METS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct mets_safetensors mets_safetensors;

mets_safetensors *mets_safetensors_open(const char *path, mets_err *err);
void mets_safetensors_free(mets_safetensors *st);

/* Finds tensor `name` of dtype F32: fills ndim (<= 4), shape and a pointer to its bytes. */
int mets_safetensors_f32(const mets_safetensors *st, const char *name, int *ndim, int64_t shape[4],
                         const void **bytes, mets_err *err);

#endif
