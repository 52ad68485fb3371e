/* Failure injection, for the tests of error paths that real input cannot reach (an allocation that fails,
 * a message the broker refuses): METS_FAILPOINTS="name=N[,name=N...]" makes the Nth pass through point
 * `name` fail, once. Points are named stage.what ("output.alert", "metsd.commit"); docs/delivery.md lists
 * them. Unset, as in production, a pass costs a load and a branch.
 *
 * Thread-safety: the environment is read once, by the first call; passes are counted without locks, so
 * every point must be passed by one thread only (metsd's are all on its consuming thread).
 */
#ifndef METS_FAILPOINT_H
#define METS_FAILPOINT_H

#include <stdbool.h>

/* Whether this pass through `name` is to fail. */
bool mets_failpoint(const char *name);

#endif
