/* Writes the seed corpus of fuzz_frame with the real encoder, so the seeds follow proto/mets.proto:
 *     frame_seeds fuzz/corpus/fuzz_frame
 * Rerun it (and commit the result) whenever the EcgFrame message changes. */
#include "frame.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_seed(const mets_frame *f, const char *dir, const char *name)
{
    char path[1024];
    uint8_t *buf;
    size_t len;
    mets_err err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mets_frame_encode(f, &buf, &len, &err)) {
        fprintf(stderr, "frame_seeds: %s: %s\n", name, err.msg);
        return 1;
    }
    FILE *fp = fopen(path, "wb");
    int rc = !fp || fwrite(buf, 1, len, fp) != len;
    if (fp && fclose(fp))
        rc = 1;
    if (rc)
        fprintf(stderr, "frame_seeds: cannot write %s\n", path);
    free(buf);
    return rc;
}

/* A frame of `nleads` leads from I on, `n` samples of a 1 Hz sine at 250 Hz, 200 ADC units per mV. */
static mets_frame seed_frame(float *mv, int nleads, int n)
{
    mets_frame f = {.schema_version = METS_FRAME_SCHEMA_MAJOR, .seq = 1, .t0_us = 1700000000000000LL,
                    .rate_hz = 250, .nleads = nleads, .nsamples = n, .has_invalid = 1, .invalid_sample = -32768,
                    .mv = mv};
    strcpy(f.stream_id, "bed-7");
    strcpy(f.source, "gateway-3");
    for (int i = 0; i < nleads; i++) {
        f.leads[i] = (mets_lead)i;
        f.gain[i] = 200;
        for (int j = 0; j < n; j++)
            mv[i * n + j] = (float)(round(200 * sin(6.283185307 * j / 250) * (i + 1) / 4) / 200);
    }
    return f;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: frame_seeds DIR\n");
        return 2;
    }
    static float mv[METS_NLEADS * 100];
    mets_frame twelve = seed_frame(mv, METS_NLEADS, 50);
    int rc = write_seed(&twelve, argv[1], "twelve_leads.pb");

    mets_frame paced = seed_frame(mv, 2, 100);
    paced.leads[0] = METS_LEAD_II, paced.leads[1] = METS_LEAD_V1;
    paced.pacing = 1, paced.npace = 2, paced.pace[0] = 3, paced.pace[1] = 60;
    mv[5] = NAN;
    rc |= write_seed(&paced, argv[1], "paced_ii_v1.pb");

    mets_frame off = seed_frame(mv, 1, 20);
    off.lead_off[0] = 1;
    for (int j = 0; j < 20; j++)
        mv[j] = NAN;
    rc |= write_seed(&off, argv[1], "lead_off.pb");
    return rc;
}
