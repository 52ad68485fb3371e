/* The log of mets's long-running programs (metsd, mets pcd): one line per message on stderr with its syslog
 * priority as a <N> prefix, which journald reads as the priority. No patient data at info level.
 *
 *     mets_log_init("metsd", METS_LOG_INFO);   // levels: daemon/config.h METS_LOG_*
 *     mets_log(LOG_WARNING, "commit failed: %s", why);
 */
#ifndef METS_LOG_H
#define METS_LOG_H

#include <syslog.h>

/* The program's name on every line and the least severe level shown (0 debug ... 4 error, as METS_LOG_*).
 * Call before the program starts threads that log; mets_log_level may change the level later. */
void mets_log_init(const char *program, int level);
void mets_log_level(int level);
/* prio: a syslog priority, LOG_ERR ... LOG_DEBUG. */
void mets_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
