/* The frozen language model's embeddings of training texts, computed once and cached in a model file
 * (texts as a string array, embeddings as a tensor, the language model's name), so a second run over
 * the same data embeds nothing. */
#ifndef METS_TEXTCACHE_H
#define METS_TEXTCACHE_H

#include "err.h"
#include "textenc.h"

/* Fills out[n, METS_TEXTENC_DIM] for texts[n], taking what `cache_path` already holds and embedding the
 * rest; when anything was new, the cache is rewritten with exactly these texts. Progress goes to
 * stderr unless quiet. */
int mets_textcache_embed(const char *cache_path, const mets_textenc *te, char *const *texts, int n, float *out,
                         int quiet, mets_err *err);

#endif
