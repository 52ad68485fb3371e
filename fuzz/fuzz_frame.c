/* libFuzzer target for decode + validate (pipeline/frame.c): any bytes must give a valid frame or a
 * reason, never a crash, a leak or undefined behaviour; and a frame that decodes must encode and decode
 * again to the same shape. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"

/* The promises a decoded frame makes to the window stage. */
static int frame_ok(const mets_frame *f)
{
    unsigned seen = 0;
    if (f->nleads < 1 || f->nleads > METS_NLEADS || f->nsamples < 1 || f->nsamples > METS_FRAME_MAX_SAMPLES ||
        !(f->rate_hz >= METS_FRAME_MIN_RATE_HZ && f->rate_hz <= METS_FRAME_MAX_RATE_HZ))
        return 0;
    for (int i = 0; i < f->nleads; i++) {
        if (!mets_lead_name(f->leads[i]) || seen & 1u << f->leads[i])
            return 0;
        seen |= 1u << f->leads[i];
    }
    for (size_t j = 0; j < (size_t)f->nleads * f->nsamples; j++)
        if (isinf(f->mv[j]) || (isnan(f->mv[j]) && !f->has_invalid))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mets_frame f = {0}, g = {0};
    mets_frame_reason why;
    mets_err err;
    if (mets_frame_decode(data, size, &f, &why, &err) == 0) {
        uint8_t *buf;
        size_t len;
        if (!frame_ok(&f))
            __builtin_trap();
        if (mets_frame_encode(&f, &buf, &len, &err) == 0) {
            if (mets_frame_decode(buf, len, &g, &why, &err) || g.nleads != f.nleads || g.nsamples != f.nsamples)
                __builtin_trap(); /* the encoder wrote what the decoder refuses */
            free(buf);
        }
    } else if (why == METS_FRAME_OK) {
        __builtin_trap(); /* refused without a reason */
    }
    mets_frame_release(&f);
    mets_frame_release(&g);
    return 0;
}
