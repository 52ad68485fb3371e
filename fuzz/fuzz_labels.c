/* libFuzzer target for the label-prompt YAML loader (models/labels.c): any bytes must give a labels set
 * or a clear error, never a crash, a leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mets_err err;
    mets_labels *l = mets_labels_parse((const char *)data, size, "fuzz.yaml", &err);
    if (!l)
        return 0;
    for (int i = 0; i < l->nlabels; i++) {
        const mets_label *lab = &l->labels[i];
        if (mets_labels_find(l, lab->group, lab->name) < 0 || lab->first_prompt + lab->nprompts > l->nprompts ||
            strlen(l->prompts[lab->first_prompt]) == 0)
            __builtin_trap(); /* an invariant of a parsed set is broken */
    }
    mets_labels_free(l);
    return 0;
}
