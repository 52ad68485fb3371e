/* Label groups and their text prompts, from YAML (conf/labels.yaml), and the prompt bank that scores ECG
 * embeddings against them zero-shot: embed every prompt with the frozen language model, project it with
 * the ECG model's text head, average the prompts of each label (prompt ensembling) and renormalise; a
 * window's score is then one matrix product (cosines) and a softmax over the labels of each group.
 *
 * The file:
 *
 *     version: 1
 *     groups:
 *       rhythm:                      # a label group: its labels compete in one softmax
 *         AFIB:                      # a label
 *           prompts:                 # one or more phrasings, averaged
 *             - atrial fibrillation
 *             - irregularly irregular rhythm without p waves
 *         SR:
 *           prompts: [sinus rhythm]
 *
 * Errors name file:line:column and what was expected; unknown keys are errors, not ignored.
 *
 * Thread-safety: a loaded mets_labels and a built mets_promptbank are immutable; scoring may run in
 * any number of threads with their own output buffers.
 */
#ifndef METS_LABELS_H
#define METS_LABELS_H

#include <stddef.h>

#include "ecgenc.h"
#include "err.h"
#include "textenc.h"

typedef struct mets_label {
    const char *group, *name;
    int group_index;
    int first_prompt, nprompts; /* into mets_labels.prompts */
} mets_label;

typedef struct mets_label_group {
    const char *name;
    int first_label, nlabels;
} mets_label_group;

typedef struct mets_labels {
    int ngroups, nlabels, nprompts;
    mets_label_group *groups;
    mets_label *labels;
    const char **prompts;
    /* every string is owned by the struct: freed by mets_labels_free */
} mets_labels;

mets_labels *mets_labels_load(const char *path, mets_err *err);
/* Parses YAML text; `name` is the file name used in messages. What the fuzzer drives. */
mets_labels *mets_labels_parse(const char *text, size_t len, const char *name, mets_err *err);
void mets_labels_free(mets_labels *l);
/* Index of label `name` in group `group`, or -1. */
int mets_labels_find(const mets_labels *l, const char *group, const char *name);
/* The identity of the prompt set as loaded: METS_DIGEST_HEX hex digits of the SHA-256 over every group,
 * label and prompt in order (NUL-separated), so it changes with any prompt and not with comments or layout.
 * out needs 17 bytes. METS_ENOMEM when out of memory. */
int mets_labels_fingerprint(const mets_labels *l, char *out);

typedef struct mets_promptbank mets_promptbank;

/* Embeds and projects every prompt (uses one text-encoder context of its own). */
mets_promptbank *mets_promptbank_new(const mets_labels *l, const mets_textenc *te, const mets_ecgenc *enc,
                                     mets_err *err);
void mets_promptbank_free(mets_promptbank *pb);
int mets_promptbank_nlabels(const mets_promptbank *pb);
/* The label embeddings [nlabels, dim] in the shared space, unit length. */
const float *mets_promptbank_matrix(const mets_promptbank *pb);

/* For n window embeddings emb[n, dim]: cosines cos[n, nlabels] (one GEMM) and, if prob is not NULL,
 * prob[n, nlabels] = softmax over each group's labels of scale * cosine. */
void mets_promptbank_score(const mets_promptbank *pb, const float *emb, int n, float scale, float *cos, float *prob);

#endif
