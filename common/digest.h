/* SHA-256 (OpenSSL's EVP) as short hex identities: the version of a model file and of a prompt set that
 * every output carries, so an alert can be traced to the exact weights and prompts that made it. */
#ifndef METS_DIGEST_H
#define METS_DIGEST_H

#include <stddef.h>

#include "err.h"

/* Hex digits kept of the 64 (64 bits: enough to tell versions apart, short enough to read). */
#define METS_DIGEST_HEX 16

typedef struct mets_digest mets_digest;

mets_digest *mets_digest_new(void); /* NULL when out of memory */
void mets_digest_add(mets_digest *d, const void *data, size_t n);
/* Writes the first METS_DIGEST_HEX hex digits of the SHA-256 of everything added, and frees d. */
void mets_digest_finish(mets_digest *d, char out[METS_DIGEST_HEX + 1]);

/* The same over a whole file: METS_ENOTFOUND / METS_EIO naming the file. */
int mets_digest_file(const char *path, char out[METS_DIGEST_HEX + 1], mets_err *err);

#endif
