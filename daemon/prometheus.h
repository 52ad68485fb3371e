/* Prometheus metrics of metsd: a small registry of counters, gauges and histograms, rendered in the text
 * exposition format 0.0.4, and an HTTP endpoint on libmicrohttpd serving GET /metrics and GET /healthz.
 *
 * Thread-safety: register every metric at start-up (registration and rendering share the registry's
 * mutex, so a late registration is safe, merely unusual). Updates (mets_counter_add, mets_gauge_set,
 * mets_histogram_observe, ...) are lock-free relaxed atomics, callable from any thread. A scrape reads
 * each value atomically but not all of them at one instant; a histogram's _count is always the sum of
 * its buckets. The health callback runs on the server's thread. Stop the server before destroying the
 * registry.
 *
 *     static const char *const reasons[] = {"sample_rate", "gap"};   // indexes: an enum of the caller
 *     mets_err err;
 *     mets_metrics *m = mets_metrics_new(&err);
 *     mets_counter *dl = mets_metrics_add_counter(m, "mets_frames_dead_lettered_total",
 *                                                 "Frames sent to the dead-letter topic.", "reason", reasons, 2, &err);
 *     static const double le[] = {0.001, 0.01, 0.1, 1};
 *     mets_histogram *lat = mets_metrics_add_histogram(m, "mets_stage_seconds", "Time per stage.",
 *                                                      NULL, NULL, 0, le, 4, &err);
 *     mets_metrics_server *srv = mets_metrics_server_start(m, cfg.metrics.listen, health, ctx, &err);
 *     ...
 *     mets_counter_inc(dl, 0);
 *     mets_histogram_observe(lat, 0, 0.004);
 *     ...
 *     mets_metrics_server_stop(srv);
 *     mets_metrics_destroy(m);
 */
#ifndef METS_PROMETHEUS_H
#define METS_PROMETHEUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef struct mets_metrics mets_metrics;
typedef struct mets_counter mets_counter;
typedef struct mets_gauge mets_gauge;
typedef struct mets_histogram mets_histogram;
typedef struct mets_metrics_server mets_metrics_server;

mets_metrics *mets_metrics_new(mets_err *err);
/* Frees the registry and every metric in it. */
void mets_metrics_destroy(mets_metrics *m);

/* Each metric has either no label (label NULL, values NULL, n_values 0; index 0 in updates) or one label
 * with a fixed set of n_values distinct values, addressed by index in updates. Names follow Prometheus
 * rules; a name already registered is an error. The registry copies every string. Returns NULL on error. */
mets_counter *mets_metrics_add_counter(mets_metrics *m, const char *name, const char *help, const char *label,
                                       const char *const *values, int n_values, mets_err *err);
mets_gauge *mets_metrics_add_gauge(mets_metrics *m, const char *name, const char *help, const char *label,
                                   const char *const *values, int n_values, mets_err *err);
/* `bounds`: the n_bounds finite, strictly increasing upper bounds; the +Inf bucket is implicit. */
mets_histogram *mets_metrics_add_histogram(mets_metrics *m, const char *name, const char *help, const char *label,
                                           const char *const *values, int n_values, const double *bounds,
                                           int n_bounds, mets_err *err);

/* A family (or several) that writes itself at every scrape, on the server's thread, in the text format with
 * its own HELP and TYPE lines: for values read when asked (process figures, ages of events). `name` only
 * keeps it apart from others. */
typedef void (*mets_metrics_collector)(FILE *out, void *ctx);
int mets_metrics_add_collector(mets_metrics *m, const char *name, mets_metrics_collector collect, void *ctx,
                               mets_err *err);
/* The standard process_* metrics of Prometheus clients (CPU, memory, start time, file descriptors), from
 * /proc: a collector. */
void mets_metrics_process(FILE *out, void *ctx);

/* Gives a gauge another set of label values (all children start at 0): for a label set that a reload
 * changes. Call it from the thread that updates the gauge. */
int mets_metrics_relabel_gauge(mets_metrics *m, mets_gauge *g, const char *const *values, int n_values,
                               mets_err *err);

/* Updates; `i` is the label value's index (0 for a metric without label). */
void mets_counter_add(mets_counter *c, int i, uint64_t n);
void mets_counter_inc(mets_counter *c, int i);
void mets_gauge_set(mets_gauge *g, int i, double v);
void mets_gauge_add(mets_gauge *g, int i, double delta);
void mets_histogram_observe(mets_histogram *h, int i, double v);

/* The text exposition (format 0.0.4) of every metric, in registration order, into a malloc'd,
 * NUL-terminated buffer the caller frees. */
int mets_metrics_render(mets_metrics *m, char **text, size_t *len, mets_err *err);

/* Health of the daemon for GET /healthz: returns true when healthy; otherwise writes why (one line,
 * e.g. "no progress for 30 s") into `reason`. Called on the server's thread. */
typedef bool (*mets_health_fn)(void *ctx, char *reason, size_t reason_size);

/* Listens on `host_port` ("host:port", "[v6]:port"; port 0 picks a free one) on a thread of its own and
 * serves GET /metrics (text/plain; version=0.0.4), GET /healthz (200 "ok\n", or 503 with the reason and
 * a newline; always 200 when `health` is NULL), 404 for other paths and 405 for other methods.
 * Returns NULL on error. */
mets_metrics_server *mets_metrics_server_start(mets_metrics *m, const char *host_port, mets_health_fn health,
                                               void *ctx, mets_err *err);
/* The port it is bound to (what port 0 became). */
int mets_metrics_server_port(const mets_metrics_server *s);
/* Stops serving, joins its thread and frees it; NULL is a no-op. */
void mets_metrics_server_stop(mets_metrics_server *s);

#endif
