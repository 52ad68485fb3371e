#include "strlist.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int mets_strlist_add(mets_strlist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            return METS_ENOMEM;
        l->v = grown, l->cap = cap;
    }
    if (!(l->v[l->n] = strndup(s, len)))
        return METS_ENOMEM;
    l->n++;
    return 0;
}

long mets_strlist_find(const mets_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return (long)i;
    return -1;
}

void mets_strlist_free(mets_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (mets_strlist){0};
}
