#include "web.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "netaddr.h"

extern const char mets_station_html[]; /* station.html, embedded at build time */

#define MIN_GAP_S 0.25    /* between two updates of one event stream */
#define KEEPALIVE_MS 15000

struct mets_station_web {
    struct MHD_Daemon *daemon;
    mets_ward *ward;
    atomic_bool stopping;
    int port;
    char log[256];
};

static void server_log(void *cls, const char *fmt, va_list ap)
{
    mets_station_web *s = cls;
    vsnprintf(s->log, sizeof s->log, fmt, ap);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                               enum MHD_ResponseMemoryMode mode, const char *type)
{
    struct MHD_Response *r = body ? MHD_create_response_from_buffer(len, body, mode) : NULL;
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return respond(conn, status, (char *)msg, strlen(msg), MHD_RESPMEM_MUST_COPY, "text/plain; charset=utf-8");
}

/* ---- GET /events ---- */

typedef struct stream {
    mets_station_web *s;
    char *buf;
    size_t len, off;
    uint64_t seen;
    double sent_at;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    stream *st = cls;
    (void)pos;
    while (st->off == st->len) {
        free(st->buf);
        st->buf = NULL, st->len = st->off = 0;
        double gap = st->sent_at + MIN_GAP_S - mets_monotonic_s();
        if (gap > 0)
            nanosleep(&(struct timespec){0, (long)(gap * 1e9)}, NULL);
        uint64_t v = st->seen;
        for (int waited = 0; v == st->seen && waited < KEEPALIVE_MS && !atomic_load(&st->s->stopping); waited += 500)
            v = mets_ward_wait(st->s->ward, st->seen, 500);
        if (atomic_load(&st->s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        char *json = v != st->seen ? mets_ward_json(st->s->ward) : NULL;
        if (v != st->seen && !json)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        size_t n = json ? strlen(json) + 9 : 16;
        if (!(st->buf = malloc(n))) {
            free(json);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        st->len = (size_t)snprintf(st->buf, n, json ? "data: %s\n\n" : ": keepalive\n\n", json);
        free(json);
        st->seen = v;
        st->sent_at = mets_monotonic_s();
    }
    size_t n = st->len - st->off < max ? st->len - st->off : max;
    memcpy(out, st->buf + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    free(st->buf);
    free(st);
}

static enum MHD_Result serve_events(mets_station_web *s, struct MHD_Connection *conn)
{
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return MHD_NO;
    *st = (stream){.s = s, .seen = UINT64_MAX}; /* the first update at once */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, st,
                                                               stream_free);
    if (!r) {
        free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- GET /bed/ID ---- */

static void html_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
}

/* A path segment as it goes into a link: what is not unreserved, percent-encoded. */
static void url_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

static void utc(FILE *f, json_int_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "%s.%03d", buf, (int)(ms % 1000));
}

static enum MHD_Result serve_bed(mets_station_web *s, struct MHD_Connection *conn, const char *id, bool as_json)
{
    char *json = mets_ward_bed_json(s->ward, id);
    if (!json)
        return text(conn, MHD_HTTP_NOT_FOUND, "no such bed\n");
    if (as_json)
        return respond(conn, MHD_HTTP_OK, json, strlen(json), MHD_RESPMEM_MUST_FREE, "application/json");
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    char *page = NULL;
    size_t len = 0;
    FILE *f = j ? open_memstream(&page, &len) : NULL;
    if (!f) {
        json_decref(j);
        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    static const char *const priorities[] = {"", "high", "medium", "low"};
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    html_escaped(f, id);
    fputs(" - mets station</title><link rel=\"icon\" href=\"data:,\"><style>body{font:14px sans-serif;margin:1.5em;"
          "background:#111;color:#ddd}a{color:#8cf}table{border-collapse:collapse}td,th{padding:.25em .8em;"
          "border-bottom:1px solid #333;text-align:left}.p1{color:#f55}.p2{color:#fd4}.p3{color:#6df}"
          "</style></head><body>\n<p><a href=\"/\">&larr; the station</a></p>\n<h1>",
          f);
    html_escaped(f, id);
    fputs("</h1>\n<table id=\"history\"><tr><th>time (UTC)</th><th>alert</th><th>event</th><th>priority</th>"
          "<th>probability</th><th>since (UTC)</th><th></th></tr>\n",
          f);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "events"), i, e)
    {
        int prio = (int)json_integer_value(json_object_get(e, "priority"));
        const char *aid = json_string_value(json_object_get(e, "alert_id"));
        fprintf(f, "<tr class=\"p%d\" data-label=\"", prio);
        html_escaped(f, json_string_value(json_object_get(e, "label")));
        fputs("\" data-state=\"", f);
        html_escaped(f, json_string_value(json_object_get(e, "state")));
        fputs("\"><td>", f);
        utc(f, json_integer_value(json_object_get(e, "window_end_ms")));
        fputs("</td><td>", f);
        html_escaped(f, json_string_value(json_object_get(e, "group")));
        fputc('/', f);
        html_escaped(f, json_string_value(json_object_get(e, "label")));
        fputs(json_is_true(json_object_get(e, "technical")) ? " (technical)" : "", f);
        fputs("</td><td>", f);
        html_escaped(f, json_string_value(json_object_get(e, "state")));
        fputs(json_is_true(json_object_get(e, "stale")) ? ", stale" : "", f);
        fprintf(f, "</td><td>%s</td><td>%.2f</td><td>", priorities[prio >= 1 && prio <= 3 ? prio : 0],
                json_real_value(json_object_get(e, "probability")));
        utc(f, json_integer_value(json_object_get(e, "onset_ms")));
        fputs("</td><td><a href=\"/plot/", f);
        url_escaped(f, aid);
        fputs(".svg\">figure</a></td></tr>\n", f);
    }
    fputs("</table>\n</body></html>\n", f);
    fclose(f);
    json_decref(j);
    return respond(conn, MHD_HTTP_OK, page, len, MHD_RESPMEM_MUST_FREE, "text/html; charset=utf-8");
}

static enum MHD_Result serve_plot(mets_station_web *s, struct MHD_Connection *conn, const char *alert_id)
{
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    if (!f)
        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    mets_err err = {0};
    int rc = mets_ward_plot_svg(s->ward, alert_id, f, &err);
    fclose(f);
    if (!rc)
        return respond(conn, MHD_HTTP_OK, svg, len, MHD_RESPMEM_MUST_FREE, "image/svg+xml");
    free(svg);
    char msg[sizeof err.msg + 1];
    snprintf(msg, sizeof msg, "%s\n", err.msg);
    return text(conn, rc == METS_ENOTFOUND ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
}

/* The part of url after prefix when it ends with suffix, into out; false otherwise. */
static bool route(const char *url, const char *prefix, const char *suffix, char *out, size_t size)
{
    size_t p = strlen(prefix), n = strlen(url), sfx = strlen(suffix);
    if (strncmp(url, prefix, p) || n < p + sfx + 1 || strcmp(url + n - sfx, suffix) || n - p - sfx >= size)
        return false;
    snprintf(out, size, "%.*s", (int)(n - p - sfx), url + p);
    return !strchr(out, '/');
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    mets_station_web *s = cls;
    char arg[256];
    (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only\n");
    if (!strcmp(url, "/"))
        return respond(conn, MHD_HTTP_OK, (char *)mets_station_html, strlen(mets_station_html), MHD_RESPMEM_PERSISTENT,
                       "text/html; charset=utf-8");
    if (!strcmp(url, "/events"))
        return serve_events(s, conn);
    if (!strcmp(url, "/ward.json")) {
        char *json = mets_ward_json(s->ward);
        return respond(conn, MHD_HTTP_OK, json, json ? strlen(json) : 0, MHD_RESPMEM_MUST_FREE, "application/json");
    }
    if (route(url, "/bed/", ".json", arg, sizeof arg))
        return serve_bed(s, conn, arg, true);
    if (route(url, "/bed/", "", arg, sizeof arg))
        return serve_bed(s, conn, arg, false);
    if (route(url, "/plot/", ".svg", arg, sizeof arg))
        return serve_plot(s, conn, arg);
    return text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

mets_station_web *mets_station_web_start(mets_ward *w, const char *host_port, mets_err *err)
{
    struct addrinfo *ai;
    if (mets_listen_address("--listen", host_port, &ai, err))
        return NULL;
    mets_station_web *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        mets_err_set(err, METS_ENOMEM, "out of memory");
        return NULL;
    }
    s->ward = w;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* a thread per connection: an event stream blocks in its reader until the ward changes */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_EXTERNAL_LOGGER, server_log, s, MHD_OPTION_CONNECTION_LIMIT, 64u,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    const union MHD_DaemonInfo *info = s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        mets_err_set(err, METS_EIO, "cannot listen on %s: %s", host_port, s->log[0] ? s->log : "failed");
        mets_station_web_stop(s);
        return NULL;
    }
    s->port = info->port;
    return s;
}

int mets_station_web_port(const mets_station_web *s)
{
    return s->port;
}

void mets_station_web_stop(mets_station_web *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free(s);
}
