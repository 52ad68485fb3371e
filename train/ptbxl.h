/* PTB-XL as METS uses it: the 100 Hz 12-lead records of chosen folds, each one window through the
 * shared preprocessing, with its machine report translated to English (the training text) and its
 * labels for evaluation (the 5 diagnostic superclasses, the 12 rhythm statements; a statement counts
 * whatever its likelihood, as in the PTB-XL benchmark). Reads any data directory laid out as
 * `shared/data/unpack` leaves it, so held-out folds run through the same code.
 */
#ifndef METS_PTBXL_H
#define METS_PTBXL_H

#include <stdint.h>

#include "err.h"
#include "report.h"
#include "trainer.h"

#define METS_PTBXL_SUPER 5
#define METS_PTBXL_RHYTHM 12
extern const char *const mets_ptbxl_super_names[METS_PTBXL_SUPER];   /* NORM MI STTC CD HYP */
extern const char *const mets_ptbxl_rhythm_names[METS_PTBXL_RHYTHM]; /* SR AFIB STACH ... */

typedef struct mets_ptbxl_set {
    mets_train_data data;  /* windows, leads present, text index per window (text_emb not filled) */
    int *ecg_id;
    uint8_t *super;        /* [n, METS_PTBXL_SUPER] 0/1 */
    uint8_t *rhythm;       /* [n, METS_PTBXL_RHYTHM] 0/1 */
    char **texts;          /* [data.ntexts] distinct translated reports */
    int missing;           /* rows of the chosen folds whose waveform is not in the data directory */
} mets_ptbxl_set;

/* Loads the records of the folds whose bit is set in `folds` (bit 1 = fold 1 ... bit 10 = fold 10),
 * at most `limit` (0 = all), resampled to `rate_hz` and cut or zero-padded to `samples`. */
int mets_ptbxl_load(const char *data_dir, unsigned folds, int limit, int rate_hz, int samples,
                    const mets_report_translator *tr, mets_ptbxl_set *set, mets_err *err);
void mets_ptbxl_free(mets_ptbxl_set *set);

/* Parses a folds list such as "1-8" or "9" or "1,3,5-7" into the bit set above; -1 if malformed. */
int mets_ptbxl_parse_folds(const char *s, unsigned *folds);

#endif
