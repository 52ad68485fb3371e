#include "prometheus.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "err.h"
#include "netaddr.h"

enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM, KIND_COLLECTOR };
static const char *const kind_names[] = {"counter", "gauge", "histogram"};

/* One metric family. Values are 64-bit atomics: counts as integers, gauges and sums as the bits of a
 * double, since C11 has no atomic add on doubles. */
typedef struct family {
    struct family *next;
    int kind;
    char *name, *help, *label; /* label NULL: no label */
    char **values;
    int n_children; /* label values, or 1 without label */
    int n_bounds;
    double *bounds;
    /* counter, gauge: one cell a child; histogram: n_bounds + 1 non-cumulative bucket counts a child */
    _Atomic uint64_t *cells;
    _Atomic uint64_t *sums; /* histogram: one a child */
    mets_metrics_collector collect; /* KIND_COLLECTOR: writes its families itself */
    void *ctx;
} family;

/* The public handles are a family and nothing else, so a family pointer converts to them; distinct types
 * keep a gauge from being passed as a counter. */
struct mets_counter {
    family f;
};
struct mets_gauge {
    family f;
};
struct mets_histogram {
    family f;
};

struct mets_metrics {
    pthread_mutex_t lock; /* guards the list: a scrape may run while a late metric is registered */
    family *head, **tail;
};

mets_metrics *mets_metrics_new(mets_err *err)
{
    mets_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        mets_err_set(err, METS_ENOMEM, "metrics: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->tail = &m->head;
    return m;
}

static void family_free(family *f)
{
    if (!f)
        return;
    free(f->name);
    free(f->help);
    free(f->label);
    for (int i = 0; f->values && i < f->n_children; i++)
        free(f->values[i]);
    free(f->values);
    free(f->bounds);
    free(f->cells);
    free(f->sums);
    free(f);
}

void mets_metrics_destroy(mets_metrics *m)
{
    if (!m)
        return;
    for (family *f = m->head, *next; f; f = next) {
        next = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- registration ---- */

static bool valid_name(const char *s, bool colon_ok)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_' || (colon_ok && *s == ':')))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || (colon_ok && *s == ':')))
            return false;
    return true;
}

static int check_labels(const char *name, int kind, const char *label, const char *const *values, int n,
                        mets_err *err)
{
    if (!label)
        return n == 0 ? 0 : mets_err_set(err, METS_EINVAL, "metric %s: label values without a label name", name);
    /* "__" names are reserved to Prometheus; "le" is the histogram's own bucket label. */
    if (!valid_name(label, false) || !strncmp(label, "__", 2) || (kind == KIND_HISTOGRAM && !strcmp(label, "le")))
        return mets_err_set(err, METS_EINVAL, "metric %s: invalid label name '%s'", name, label);
    if (n < 1 || !values)
        return mets_err_set(err, METS_EINVAL, "metric %s: label '%s' needs at least one value", name, label);
    for (int i = 0; i < n; i++) {
        bool repeated = false;
        for (int j = 0; j < i && values[i]; j++)
            repeated |= !strcmp(values[i], values[j]);
        if (!values[i] || repeated)
            return mets_err_set(err, METS_EINVAL, "metric %s: label '%s' value %d is missing or repeated",
                                name, label, i);
    }
    return 0;
}

static int check_bounds(const char *name, const double *bounds, int n, mets_err *err)
{
    if (n < 1 || !bounds)
        return mets_err_set(err, METS_EINVAL, "histogram %s: needs at least one bucket bound", name);
    for (int i = 0; i < n; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return mets_err_set(err, METS_EINVAL, "histogram %s: bound %d (%g) is not finite and above the last",
                                name, i, bounds[i]);
    return 0;
}

static bool registered(const mets_metrics *m, const char *name)
{
    for (const family *f = m->head; f; f = f->next)
        if (!strcmp(f->name, name))
            return true;
    return false;
}

/* Fills the copies and the zeroed value arrays; on failure the caller frees what was filled. */
static int family_fill(family *f, const char *name, const char *help, const char *label,
                       const char *const *values, int n_values, const double *bounds, int n_bounds)
{
    f->n_children = n_values > 0 ? n_values : 1;
    f->n_bounds = n_bounds;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->label = label ? strdup(label) : NULL;
    f->values = n_values > 0 ? calloc((size_t)n_values, sizeof *f->values) : NULL;
    f->bounds = n_bounds > 0 ? malloc((size_t)n_bounds * sizeof *f->bounds) : NULL;
    f->cells = calloc((size_t)f->n_children * (size_t)(n_bounds + 1), sizeof *f->cells);
    f->sums = n_bounds > 0 ? calloc((size_t)f->n_children, sizeof *f->sums) : NULL;
    if (!f->name || !f->help || (label && !f->label) || (n_values > 0 && !f->values) ||
        (n_bounds > 0 && (!f->bounds || !f->sums)) || !f->cells)
        return METS_ENOMEM;
    for (int i = 0; i < n_values; i++)
        if (!(f->values[i] = strdup(values[i])))
            return METS_ENOMEM;
    if (n_bounds > 0)
        memcpy(f->bounds, bounds, (size_t)n_bounds * sizeof *bounds);
    return 0;
}

static family *add_family(mets_metrics *m, int kind, const char *name, const char *help, const char *label,
                          const char *const *values, int n_values, const double *bounds, int n_bounds,
                          mets_err *err)
{
    if (!valid_name(name, true)) {
        mets_err_set(err, METS_EINVAL, "invalid metric name '%s'", name ? name : "(null)");
        return NULL;
    }
    if (check_labels(name, kind, label, values, n_values, err) ||
        (kind == KIND_HISTOGRAM && check_bounds(name, bounds, n_bounds, err)))
        return NULL;
    family *f = calloc(1, sizeof *f);
    if (!f || family_fill(f, name, help, label, values, n_values, bounds, n_bounds)) {
        family_free(f);
        mets_err_set(err, METS_ENOMEM, "metric %s: out of memory", name);
        return NULL;
    }
    f->kind = kind;
    pthread_mutex_lock(&m->lock);
    bool dup = registered(m, name);
    if (!dup) {
        *m->tail = f;
        m->tail = &f->next;
    }
    pthread_mutex_unlock(&m->lock);
    if (dup) {
        family_free(f);
        mets_err_set(err, METS_EINVAL, "metric %s is already registered", name);
        return NULL;
    }
    return f;
}

mets_counter *mets_metrics_add_counter(mets_metrics *m, const char *name, const char *help, const char *label,
                                       const char *const *values, int n_values, mets_err *err)
{
    return (mets_counter *)add_family(m, KIND_COUNTER, name, help, label, values, n_values, NULL, 0, err);
}

mets_gauge *mets_metrics_add_gauge(mets_metrics *m, const char *name, const char *help, const char *label,
                                   const char *const *values, int n_values, mets_err *err)
{
    return (mets_gauge *)add_family(m, KIND_GAUGE, name, help, label, values, n_values, NULL, 0, err);
}

mets_histogram *mets_metrics_add_histogram(mets_metrics *m, const char *name, const char *help, const char *label,
                                           const char *const *values, int n_values, const double *bounds,
                                           int n_bounds, mets_err *err)
{
    return (mets_histogram *)add_family(m, KIND_HISTOGRAM, name, help, label, values, n_values, bounds, n_bounds,
                                        err);
}

int mets_metrics_add_collector(mets_metrics *m, const char *name, mets_metrics_collector collect, void *ctx,
                               mets_err *err)
{
    family *f = add_family(m, KIND_COLLECTOR, name, NULL, NULL, NULL, 0, NULL, 0, err);
    if (!f)
        return err->code;
    f->collect = collect, f->ctx = ctx;
    return 0;
}

int mets_metrics_relabel_gauge(mets_metrics *m, mets_gauge *g, const char *const *values, int n_values,
                               mets_err *err)
{
    family *f = &g->f, nf = {0};
    if (check_labels(f->name, KIND_GAUGE, f->label, values, n_values, err))
        return err->code;
    if (family_fill(&nf, f->name, f->help, f->label, values, n_values, NULL, 0)) {
        free(nf.name), free(nf.help), free(nf.label), free(nf.cells);
        for (int i = 0; nf.values && i < n_values; i++)
            free(nf.values[i]);
        free(nf.values);
        return mets_err_set(err, METS_ENOMEM, "metric %s: out of memory", f->name);
    }
    pthread_mutex_lock(&m->lock); /* no scrape sees it half swapped */
    char **values_old = f->values;
    _Atomic uint64_t *cells_old = f->cells;
    int n_old = f->n_children;
    f->values = nf.values, f->cells = nf.cells, f->n_children = nf.n_children;
    pthread_mutex_unlock(&m->lock);
    for (int i = 0; i < n_old; i++)
        free(values_old[i]);
    free(values_old), free(cells_old), free(nf.name), free(nf.help), free(nf.label);
    return 0;
}

/* ---- updates ---- */

static uint64_t double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void atomic_add_double(_Atomic uint64_t *cell, double delta)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(cell, &old, double_bits(bits_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void mets_counter_add(mets_counter *c, int i, uint64_t n)
{
    METS_ASSERT(i >= 0 && i < c->f.n_children, "%s: child %d of %d", c->f.name, i, c->f.n_children);
    atomic_fetch_add_explicit(&c->f.cells[i], n, memory_order_relaxed);
}

void mets_counter_inc(mets_counter *c, int i)
{
    mets_counter_add(c, i, 1);
}

void mets_gauge_set(mets_gauge *g, int i, double v)
{
    METS_ASSERT(i >= 0 && i < g->f.n_children, "%s: child %d of %d", g->f.name, i, g->f.n_children);
    atomic_store_explicit(&g->f.cells[i], double_bits(v), memory_order_relaxed);
}

void mets_gauge_add(mets_gauge *g, int i, double delta)
{
    METS_ASSERT(i >= 0 && i < g->f.n_children, "%s: child %d of %d", g->f.name, i, g->f.n_children);
    atomic_add_double(&g->f.cells[i], delta);
}

void mets_histogram_observe(mets_histogram *h, int i, double v)
{
    const family *f = &h->f;
    METS_ASSERT(i >= 0 && i < f->n_children, "%s: child %d of %d", f->name, i, f->n_children);
    int b = 0;
    while (b < f->n_bounds && !(v <= f->bounds[b])) /* NaN falls through to +Inf */
        b++;
    atomic_fetch_add_explicit(&f->cells[(size_t)i * (size_t)(f->n_bounds + 1) + (size_t)b], 1, memory_order_relaxed);
    atomic_add_double(&f->sums[i], v);
}

/* ---- text exposition format 0.0.4 ---- */

/* Shortest of %.15g / %.17g that reads back exactly, so that 0.1 prints as 0.1 and not 0.10000000000000001. */
static const char *format_double(char buf[static 32], double v)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    snprintf(buf, 32, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, 32, "%.17g", v);
    return buf;
}

/* HELP escapes backslash and newline; label values also the double quote. */
static void put_escaped(FILE *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (quote && *s == '"')
            fputs("\\\"", out);
        else
            fputc(*s, out);
    }
}

/* `name{label="value",le="bound"} `, up to the value; `le` NULL outside histogram buckets. */
static void put_series(FILE *out, const family *f, const char *suffix, int child, const char *le)
{
    fprintf(out, "%s%s", f->name, suffix);
    if (f->label || le) {
        fputc('{', out);
        if (f->label) {
            fprintf(out, "%s=\"", f->label);
            put_escaped(out, f->values[child], true);
            fputs(le ? "\"," : "\"", out);
        }
        if (le)
            fprintf(out, "le=\"%s\"", le);
        fputc('}', out);
    }
    fputc(' ', out);
}

/* Buckets are stored per bucket and summed here, so _count always equals the +Inf bucket. */
static void put_histogram_child(FILE *out, const family *f, int c)
{
    const _Atomic uint64_t *counts = &f->cells[(size_t)c * (size_t)(f->n_bounds + 1)];
    uint64_t total = 0;
    char buf[32];
    for (int b = 0; b <= f->n_bounds; b++) {
        total += atomic_load_explicit(&counts[b], memory_order_relaxed);
        put_series(out, f, "_bucket", c, b < f->n_bounds ? format_double(buf, f->bounds[b]) : "+Inf");
        fprintf(out, "%" PRIu64 "\n", total);
    }
    put_series(out, f, "_sum", c, NULL);
    fprintf(out, "%s\n", format_double(buf, bits_double(atomic_load_explicit(&f->sums[c], memory_order_relaxed))));
    put_series(out, f, "_count", c, NULL);
    fprintf(out, "%" PRIu64 "\n", total);
}

static void put_family(FILE *out, const family *f)
{
    fprintf(out, "# HELP %s ", f->name);
    put_escaped(out, f->help, false);
    fprintf(out, "\n# TYPE %s %s\n", f->name, kind_names[f->kind]);
    char buf[32];
    for (int c = 0; c < f->n_children; c++) {
        if (f->kind == KIND_HISTOGRAM) {
            put_histogram_child(out, f, c);
            continue;
        }
        uint64_t v = atomic_load_explicit(&f->cells[c], memory_order_relaxed);
        put_series(out, f, "", c, NULL);
        if (f->kind == KIND_COUNTER)
            fprintf(out, "%" PRIu64 "\n", v);
        else
            fprintf(out, "%s\n", format_double(buf, bits_double(v)));
    }
}

int mets_metrics_render(mets_metrics *m, char **text, size_t *len, mets_err *err)
{
    *text = NULL;
    *len = 0;
    FILE *out = open_memstream(text, len);
    if (!out)
        return mets_err_set(err, METS_ENOMEM, "metrics: out of memory");
    pthread_mutex_lock(&m->lock);
    for (const family *f = m->head; f; f = f->next)
        if (f->kind == KIND_COLLECTOR)
            f->collect(out, f->ctx);
        else
            put_family(out, f);
    pthread_mutex_unlock(&m->lock);
    bool failed = ferror(out);
    if (fclose(out) || failed) {
        free(*text);
        *text = NULL;
        *len = 0;
        return mets_err_set(err, METS_ENOMEM, "metrics: out of memory rendering");
    }
    return 0;
}

/* ---- the process ---- */

/* /proc/self/stat's fields from the 14th on (after the command name, which may hold spaces). */
static bool read_stat(unsigned long long *utime, unsigned long long *stime, unsigned long long *start,
                      unsigned long long *vsize, long long *rss)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
     * priority nice threads itrealvalue starttime vsize rss */
    return p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu "
                              "%llu %lld", utime, stime, start, vsize, rss) == 5;
}

static int open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; dir && (e = readdir(dir));)
        n += e->d_name[0] != '.';
    if (dir)
        closedir(dir);
    return n - (dir != NULL); /* not the directory's own */
}

void mets_metrics_process(FILE *out, void *ctx)
{
    (void)ctx;
    unsigned long long utime, stime, start, vsize;
    long long rss;
    double tick = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE), boot = 0;
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lf", &boot) == 1)
            break;
    if (f)
        fclose(f);
    struct rlimit lim;
    if (read_stat(&utime, &stime, &start, &vsize, &rss))
        fprintf(out,
                "# HELP process_cpu_seconds_total user and system CPU time spent, in seconds\n"
                "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
                "# HELP process_resident_memory_bytes resident memory size in bytes\n"
                "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %.0f\n"
                "# HELP process_virtual_memory_bytes virtual memory size in bytes\n"
                "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
                "# HELP process_start_time_seconds start time of the process since the Unix epoch, in seconds\n"
                "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
                (double)(utime + stime) / tick, (double)rss * page, vsize, boot + (double)start / tick);
    fprintf(out, "# HELP process_open_fds open file descriptors\n# TYPE process_open_fds gauge\nprocess_open_fds %d\n",
            open_fds());
    if (!getrlimit(RLIMIT_NOFILE, &lim))
        fprintf(out, "# HELP process_max_fds the most open file descriptors\n# TYPE process_max_fds gauge\n"
                     "process_max_fds %.0f\n", lim.rlim_cur == RLIM_INFINITY ? -1.0 : (double)lim.rlim_cur);
}

/* ---- HTTP endpoint ---- */

struct mets_metrics_server {
    struct MHD_Daemon *daemon;
    mets_metrics *metrics;
    mets_health_fn health;
    void *ctx;
    int port;
    char log[256]; /* libmicrohttpd's last message, for the error when it fails to start */
};

static void server_log(void *cls, const char *fmt, va_list ap)
{
    mets_metrics_server *s = cls;
    vsnprintf(s->log, sizeof s->log, fmt, ap);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                               enum MHD_ResponseMemoryMode mode, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return respond(conn, status, (char *)text, strlen(text), MHD_RESPMEM_MUST_COPY, "text/plain; charset=utf-8");
}

static enum MHD_Result serve_metrics(mets_metrics_server *s, struct MHD_Connection *conn)
{
    char *text;
    size_t len;
    if (mets_metrics_render(s->metrics, &text, &len, NULL))
        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return respond(conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE, "text/plain; version=0.0.4; charset=utf-8");
}

static enum MHD_Result serve_health(mets_metrics_server *s, struct MHD_Connection *conn)
{
    char reason[256] = "unhealthy", body[sizeof reason + 1];
    if (!s->health || s->health(s->ctx, reason, sizeof reason))
        return respond_text(conn, MHD_HTTP_OK, "ok\n");
    reason[sizeof reason - 1] = '\0'; /* in case the callback filled it to the brim */
    snprintf(body, sizeof body, "%s\n", reason);
    return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    mets_metrics_server *s = cls;
    bool metrics = !strcmp(url, "/metrics"), health = !strcmp(url, "/healthz");
    if (!metrics && !health)
        return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    /* libmicrohttpd answers HEAD from the GET response, without the body. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    return metrics ? serve_metrics(s, conn) : serve_health(s, conn);
}

static struct MHD_Daemon *start_daemon(mets_metrics_server *s, const struct addrinfo *ai)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* A few connections and a short timeout: a stuck scraper must not hold the endpoint. */
    return MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_EXTERNAL_LOGGER, server_log, s, MHD_OPTION_CONNECTION_LIMIT, 16u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
}

mets_metrics_server *mets_metrics_server_start(mets_metrics *m, const char *host_port, mets_health_fn health,
                                               void *ctx, mets_err *err)
{
    struct addrinfo *ai;
    if (mets_listen_address("metrics.listen", host_port, &ai, err))
        return NULL;
    mets_metrics_server *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        mets_err_set(err, METS_ENOMEM, "metrics: out of memory");
        return NULL;
    }
    *s = (mets_metrics_server){.metrics = m, .health = health, .ctx = ctx};
    s->daemon = start_daemon(s, ai);
    freeaddrinfo(ai);
    const union MHD_DaemonInfo *info = s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        mets_err_set(err, METS_EIO, "metrics: cannot listen on %s: %s", host_port, s->log[0] ? s->log : "failed");
        mets_metrics_server_stop(s);
        return NULL;
    }
    s->port = info->port;
    return s;
}

int mets_metrics_server_port(const mets_metrics_server *s)
{
    return s->port;
}

void mets_metrics_server_stop(mets_metrics_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free(s);
}
