/* ISO 8601 UTC times as the tools print and read them: "2026-01-01T00:00:05[.250000][Z]". One parser for
 * every tool that reads a time (mets replay, mets tail, mets eval --alarms). */
#ifndef METS_ISOTIME_H
#define METS_ISOTIME_H

#include <stdint.h>

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac][Z]" (UTC) into *us, microseconds since 1970; 0, or -1 when `s` is
 * not such a time (trailing text included). */
int mets_iso_parse_us(const char *s, int64_t *us);

#endif
