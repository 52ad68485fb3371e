/* Addresses to listen on, as the configuration writes them: "host:port", "[v6]:port" or ":port" (every
 * interface); port 0 picks a free one. For the HTTP endpoints of metsd, mets pcd and mets station. */
#ifndef METS_NETADDR_H
#define METS_NETADDR_H

#include <netdb.h>

#include "err.h"

/* The socket address of host_port (freeaddrinfo it); `what` names it in messages ("metrics.listen"). */
int mets_listen_address(const char *what, const char *host_port, struct addrinfo **ai, mets_err *err);

#endif
