#include "netaddr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int mets_listen_address(const char *what, const char *host_port, struct addrinfo **ai, mets_err *err)
{
    const char *colon = host_port ? strrchr(host_port, ':') : NULL;
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || !isdigit((unsigned char)colon[1]) || *end || port > 65535)
        return mets_err_set(err, METS_EINVAL, "%s '%s': expected host:port", what, host_port ? host_port : "");
    const char *host = host_port;
    size_t n = (size_t)(colon - host_port);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        host++, n -= 2;
    char name[256];
    if (n >= sizeof name)
        return mets_err_set(err, METS_EINVAL, "%s '%s': host name too long", what, host_port);
    memcpy(name, host, n);
    name[n] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int rc = getaddrinfo(n ? name : NULL, colon + 1, &hints, ai);
    if (rc)
        return mets_err_set(err, METS_EINVAL, "%s '%s': %s", what, host_port, gai_strerror(rc));
    return 0;
}
