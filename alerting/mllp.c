#include "mllp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

#define MAX_REPLY (64 * 1024) /* an acknowledgement is a few hundred bytes */
#define SLICE_MS 200          /* how often a wait looks at `stop` */

struct mets_mllp {
    char host[256], port[16];
    const volatile sig_atomic_t *stop;
    int fd; /* -1: not connected */
    char *reply;
};

mets_mllp *mets_mllp_new(const char *address, const volatile sig_atomic_t *stop, mets_err *err)
{
    const char *colon = strrchr(address, ':');
    size_t hlen = colon ? (size_t)(colon - address) : 0;
    if (hlen > 1 && address[0] == '[' && address[hlen - 1] == ']')
        address++, hlen -= 2;
    mets_mllp *c = calloc(1, sizeof *c);
    if (!c || !(c->reply = malloc(MAX_REPLY + 1))) {
        free(c);
        mets_err_set(err, METS_ENOMEM, "out of memory");
        return NULL;
    }
    if (!colon || !hlen || hlen >= sizeof c->host || strlen(colon + 1) >= sizeof c->port || !colon[1]) {
        mets_mllp_free(c);
        mets_err_set(err, METS_EINVAL, "'%s': expected host:port", address);
        return NULL;
    }
    snprintf(c->host, sizeof c->host, "%.*s", (int)hlen, address);
    snprintf(c->port, sizeof c->port, "%s", colon + 1);
    c->stop = stop;
    c->fd = -1;
    return c;
}

static void disconnect(mets_mllp *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void mets_mllp_free(mets_mllp *c)
{
    if (!c)
        return;
    disconnect(c);
    free(c->reply);
    free(c);
}

bool mets_mllp_connected(const mets_mllp *c)
{
    return c->fd >= 0;
}

/* Waits until fd is ready for `events` or the deadline (monotonic s) passes: 1 ready, 0 timed out, -1 stopped
 * or failed (errno). */
static int wait_fd(mets_mllp *c, int fd, short events, double deadline)
{
    for (;;) {
        if (c->stop && *c->stop) {
            errno = EINTR;
            return -1;
        }
        double left = deadline - mets_monotonic_s();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, left * 1000 < SLICE_MS ? (int)(left * 1000) + 1 : SLICE_MS);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static int io_error(mets_mllp *c, mets_err *err, const char *what)
{
    int e = errno;
    disconnect(c);
    if (c->stop && *c->stop)
        return mets_err_set(err, METS_EIO, "%s:%s: stopped", c->host, c->port);
    return mets_err_set(err, METS_EIO, "%s:%s: %s%s%s", c->host, c->port, what, e ? ": " : "", e ? strerror(e) : "");
}

static int connect_to(mets_mllp *c, double timeout_s, mets_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(c->host, c->port, &hints, &ai);
    if (rc)
        return mets_err_set(err, METS_EIO, "%s:%s: %s", c->host, c->port, gai_strerror(rc));
    double deadline = mets_monotonic_s() + timeout_s;
    errno = 0;
    for (struct addrinfo *a = ai; a && c->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1, soerr = 0;
        socklen_t len = sizeof soerr;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* one small message, then its answer */
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && wait_fd(c, fd, POLLOUT, deadline) == 1 &&
             !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) && !(errno = soerr)))
            c->fd = fd;
        else
            close(fd);
    }
    freeaddrinfo(ai);
    return c->fd >= 0 ? 0 : io_error(c, err, errno ? "cannot connect" : "connect timed out");
}

static int send_all(mets_mllp *c, const char *p, size_t n, double deadline, mets_err *err)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w, n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return io_error(c, err, "send");
        int r = wait_fd(c, c->fd, POLLOUT, deadline);
        if (r <= 0)
            return io_error(c, err, r ? "send" : "send timed out");
    }
    return 0;
}

/* Reads one framed message into c->reply: its length, or < 0 with err filled. Bytes before the start byte
 * are skipped, as MLLP receivers do. */
static int read_reply(mets_mllp *c, double deadline, size_t *len, mets_err *err)
{
    size_t n = 0;
    bool started = false;
    for (;;) {
        char buf[4096];
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r == 0) {
            errno = 0;
            return io_error(c, err, "the receiver closed the connection before acknowledging");
        }
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return io_error(c, err, "recv");
            int w = wait_fd(c, c->fd, POLLIN, deadline);
            if (w <= 0) {
                errno = w ? errno : 0;
                return io_error(c, err, w ? "recv" : "no acknowledgement in time");
            }
            continue;
        }
        for (ssize_t i = 0; i < r; i++) {
            if (!started) {
                started = buf[i] == METS_MLLP_START;
                continue;
            }
            if (buf[i] == METS_MLLP_END) { /* the CR after it may follow in the next read: not needed */
                c->reply[n] = 0;
                *len = n;
                return 0;
            }
            if (n == MAX_REPLY) {
                errno = 0;
                return io_error(c, err, "reply too long");
            }
            c->reply[n++] = buf[i];
        }
    }
}

int mets_mllp_exchange(mets_mllp *c, const char *msg, size_t len, const char *control_id, double connect_timeout_s,
                       double ack_timeout_s, mets_hl7_ack *ack, mets_err *err)
{
    /* A reply left over from an earlier exchange (an acknowledgement that came after its deadline) would
     * be taken for this one's: drain what is waiting first. A connection the receiver closed while idle is
     * made again at once. */
    ssize_t r = 1;
    while (c->fd >= 0 && (r = recv(c->fd, c->reply, MAX_REPLY, MSG_DONTWAIT)) > 0)
        ;
    if (!r)
        disconnect(c);
    int rc = c->fd >= 0 ? 0 : connect_to(c, connect_timeout_s, err);
    double deadline = mets_monotonic_s() + ack_timeout_s;
    static const char start = METS_MLLP_START, end[] = {METS_MLLP_END, METS_MLLP_CR};
    size_t rlen = 0;
    rc = rc ? rc : send_all(c, &start, 1, deadline, err);
    rc = rc ? rc : send_all(c, msg, len, deadline, err);
    rc = rc ? rc : send_all(c, end, sizeof end, deadline, err);
    rc = rc ? rc : read_reply(c, deadline, &rlen, err);
    if (rc)
        return rc;
    if (!mets_hl7_parse_ack(c->reply, rlen, ack) || strcmp(ack->control_id, control_id)) {
        disconnect(c);
        return mets_err_set(err, METS_EFORMAT, "%s:%s: the reply is not an acknowledgement of %s: '%.120s'", c->host,
                            c->port, control_id, c->reply);
    }
    return 0;
}
