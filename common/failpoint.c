#include "failpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_POINTS = 16 };

static struct {
    char name[48];
    long fail_at, passes;
} points[MAX_POINTS];
static int npoints = -1; /* -1: the environment not read yet */

/* "name=N,name=N"; an entry that does not parse is reported and ignored, so that a typo is seen. */
static void read_env(void)
{
    npoints = 0;
    const char *spec = getenv("METS_FAILPOINTS");
    for (const char *p = spec; p && *p && npoints < MAX_POINTS;) {
        size_t len = strcspn(p, ",");
        char entry[64];
        snprintf(entry, sizeof entry, "%.*s", (int)len, p);
        char *eq = strchr(entry, '='), *end;
        long n = eq ? strtol(eq + 1, &end, 10) : 0;
        if (eq && eq > entry && eq - entry < (long)sizeof points[0].name && n >= 1 && !*end) {
            snprintf(points[npoints].name, sizeof points[0].name, "%.*s", (int)(eq - entry), entry);
            points[npoints++].fail_at = n;
        } else {
            fprintf(stderr, "METS_FAILPOINTS: '%s' is not name=N (N >= 1): ignored\n", entry);
        }
        p += len + (p[len] == ',');
    }
}

bool mets_failpoint(const char *name)
{
    if (npoints < 0)
        read_env();
    for (int i = 0; i < npoints; i++)
        if (!strcmp(points[i].name, name))
            return ++points[i].passes == points[i].fail_at;
    return false;
}
