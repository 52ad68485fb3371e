#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static const char *program = "mets";
static atomic_int least = LOG_INFO; /* the least urgent syslog priority shown */

void mets_log_level(int level)
{
    /* 0 debug, 1 info, 2 notice, 3 warning, 4 error */
    static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR};
    atomic_store(&least, prio[level < 0 ? 0 : level > 4 ? 4 : level]);
}

void mets_log_init(const char *name, int level)
{
    program = name;
    mets_log_level(level);
}

void mets_log(int prio, const char *fmt, ...)
{
    if (prio > atomic_load(&least))
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "<%d>%s: %s\n", prio, program, line); /* one write per line: threads do not interleave */
}
