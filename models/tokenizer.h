/* BERT WordPiece tokenizer (uncased), as Hugging Face's BertTokenizer for all-MiniLM-L6-v2:
 * basic tokenization (clean control characters, whitespace normalisation, spaces around CJK
 * ideographs, lower-casing, accent stripping by NFD, punctuation splitting), then greedy
 * longest-match-first WordPiece with "##" continuations, [UNK] for words it cannot cover or longer
 * than 100 characters, and [CLS] ... [SEP] around the result, truncated to max_len ids in total.
 * Unicode properties and normalisation come from libutf8proc.
 *
 * Thread-safety: immutable after mets_tokenizer_new; mets_tokenizer_encode may run concurrently.
 *
 *     mets_tokenizer *tok = mets_tokenizer_new(words, lens, 30522, &err);
 *     int32_t ids[256];
 *     int n = mets_tokenizer_encode(tok, "Sinus rhythm", ids, 256);   // n = 4: [CLS] sinus rhythm [SEP]
 */
#ifndef METS_TOKENIZER_H
#define METS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct mets_tokenizer mets_tokenizer;

/* `vocab[i]` (length lens[i], not NUL-terminated) is the token of id i. The vocabulary must hold
 * [PAD], [UNK], [CLS], [SEP]; anything else missing is an error too (duplicates, empty tokens). */
mets_tokenizer *mets_tokenizer_new(const char *const *vocab, const size_t *lens, size_t n, mets_err *err);
void mets_tokenizer_free(mets_tokenizer *tok);

/* Tokenizes the NUL-terminated UTF-8 `text` into at most `max_len` ids (max_len >= 2), [CLS] first and
 * [SEP] last, wordpieces beyond max_len - 2 dropped (as the reference truncates). Invalid UTF-8 bytes
 * are treated as U+FFFD and so dropped by cleaning. Returns the number of ids written, or METS_EINVAL
 * for NULL arguments or max_len < 2. */
int mets_tokenizer_encode(const mets_tokenizer *tok, const char *text, int32_t *ids, int max_len);

/* The token text of `id` (not NUL-terminated), or NULL when out of range. */
const char *mets_tokenizer_token(const mets_tokenizer *tok, int32_t id, size_t *len);
size_t mets_tokenizer_vocab_size(const mets_tokenizer *tok);

#endif
