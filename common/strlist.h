/* A growable list of owned strings: readers collect words, records and lines with it. */
#ifndef METS_STRLIST_H
#define METS_STRLIST_H

#include <stddef.h>

typedef struct mets_strlist {
    char **v;
    size_t n, cap;
} mets_strlist;

/* Appends a copy of s[0, len); 0 or METS_ENOMEM (the list is unchanged then). */
int mets_strlist_add(mets_strlist *l, const char *s, size_t len);
/* Index of the first string equal to s, or -1. */
long mets_strlist_find(const mets_strlist *l, const char *s);
void mets_strlist_free(mets_strlist *l);

#endif
