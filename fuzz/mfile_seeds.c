/* Writes the seed corpus of fuzz_mfile with the real writer, so the seeds follow the format:
 *     mfile_seeds fuzz/corpus/fuzz_mfile
 * Rerun it (and commit the result) whenever models/FORMAT.md changes. */
#include "mfile.h"

#include <stdio.h>

static int write_seed(const mets_mfile_writer *w, const char *dir, const char *name)
{
    char path[1024];
    mets_err err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mets_mfile_writer_write(w, path, &err)) {
        fprintf(stderr, "mfile_seeds: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mfile_seeds DIR\n");
        return 2;
    }
    int rc = 0;
    mets_mfile_writer *w = mets_mfile_writer_new();
    rc |= write_seed(w, argv[1], "empty.mets");

    const char *labels[] = {"NORM", "", "MI"};
    size_t lens[] = {4, 0, 2};
    const float stem[2][3] = {{1, 2, 3}, {4, 5, 6}};
    const int32_t ids[3] = {7, -1, 0};
    const unsigned char cube[2 * 1 * 2 * 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float scalar = 0.5f;
    int64_t s_stem[] = {2, 3}, s_ids[] = {3}, s_cube[] = {2, 1, 2, 2}, s_empty[] = {0, 4};
    rc |= mets_mfile_writer_set_i64(w, "ecg.rate_hz", 100);
    rc |= mets_mfile_writer_set_f64(w, "ecg.scale", 0.25);
    rc |= mets_mfile_writer_set_str(w, "name", "tiny", 4);
    rc |= mets_mfile_writer_set_str(w, "blank", "", 0);
    rc |= mets_mfile_writer_set_strs(w, "labels", labels, lens, 3);
    rc |= mets_mfile_writer_set_strs(w, "none", NULL, NULL, 0);
    rc |= mets_mfile_writer_add_tensor(w, "stem.weight", METS_DT_F32, 2, s_stem, stem);
    rc |= mets_mfile_writer_add_tensor(w, "ids", METS_DT_I32, 1, s_ids, ids);
    rc |= mets_mfile_writer_add_tensor(w, "cube", METS_DT_U8, 4, s_cube, cube);
    rc |= mets_mfile_writer_add_tensor(w, "scalar", METS_DT_F32, 0, NULL, &scalar);
    rc |= mets_mfile_writer_add_tensor(w, "empty", METS_DT_F32, 2, s_empty, NULL);
    rc |= write_seed(w, argv[1], "small.mets");
    mets_mfile_writer_free(w);
    return rc ? 1 : 0;
}
