#include "digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mets_digest {
    EVP_MD_CTX *ctx;
};

mets_digest *mets_digest_new(void)
{
    mets_digest *d = malloc(sizeof *d);
    if (d && !(d->ctx = EVP_MD_CTX_new()))
        free(d), d = NULL;
    if (d && EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(d->ctx);
        free(d), d = NULL;
    }
    return d;
}

void mets_digest_add(mets_digest *d, const void *data, size_t n)
{
    EVP_DigestUpdate(d->ctx, data, n);
}

void mets_digest_finish(mets_digest *d, char out[METS_DIGEST_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(d->ctx, md, &n);
    EVP_MD_CTX_free(d->ctx);
    free(d);
    for (int i = 0; i < METS_DIGEST_HEX / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[METS_DIGEST_HEX] = '\0';
}

int mets_digest_file(const char *path, char out[METS_DIGEST_HEX + 1], mets_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mets_err_set(err, errno == ENOENT ? METS_ENOTFOUND : METS_EIO, "%s: %s", path, strerror(errno));
    mets_digest *d = mets_digest_new();
    unsigned char buf[1 << 16];
    size_t n;
    while (d && (n = fread(buf, 1, sizeof buf, f)) > 0)
        mets_digest_add(d, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (!d)
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
    mets_digest_finish(d, out);
    return bad ? mets_err_set(err, METS_EIO, "%s: read error", path) : 0;
}
