#define _GNU_SOURCE /* strptime and timegm, which gnu11 alone does not declare */
#include "isotime.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

int mets_iso_parse_us(const char *s, int64_t *us)
{
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    double frac = 0;
    if (*rest == '.') {
        char *end;
        frac = strtod(rest, &end), rest = end;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest)
        return -1;
    *us = (int64_t)timegm(&tm) * 1000000 + llround(frac * 1e6);
    return 0;
}
