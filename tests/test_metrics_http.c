/* The Prometheus registry and endpoint (daemon/prometheus.c): counters with labels, gauges and histograms
 * render as the exact text exposition format 0.0.4; bad registrations fail with a reason; and a real
 * HTTP client over loopback gets /metrics, /healthz in both states, 404 and 405. */
#include <arpa/inet.h>
#include <math.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "prometheus.h"

static char *render(mets_metrics *m)
{
    char *text;
    size_t len;
    mets_err err;
    CHECK(mets_metrics_render(m, &text, &len, &err) == 0, "%s", err.msg);
    CHECK(text && strlen(text) == len);
    return text;
}

static void expect_text(mets_metrics *m, const char *want)
{
    char *got = render(m);
    CHECK(got && !strcmp(got, want), "got:\n%s\nwant:\n%s", got, want);
    free(got);
}

static void counters_render_with_escaped_labels(void)
{
    mets_err err;
    mets_metrics *m = mets_metrics_new(&err);
    static const char *const reasons[] = {"sample_rate", "say \"hi\"\\\n"};
    mets_counter *dl = mets_metrics_add_counter(m, "mets_frames_dead_lettered_total",
                                                "Frames sent to the dead-letter topic,\nby reason \\.", "reason",
                                                reasons, 2, &err);
    mets_counter *in = mets_metrics_add_counter(m, "mets_frames_total", "Frames read.", NULL, NULL, 0, &err);
    CHECK(dl && in, "%s", err.msg);
    mets_counter_inc(dl, 0);
    mets_counter_add(dl, 0, 41);
    mets_counter_inc(dl, 1);
    mets_counter_add(in, 0, 7);
    expect_text(m, "# HELP mets_frames_dead_lettered_total Frames sent to the dead-letter topic,\\nby reason \\\\.\n"
                   "# TYPE mets_frames_dead_lettered_total counter\n"
                   "mets_frames_dead_lettered_total{reason=\"sample_rate\"} 42\n"
                   "mets_frames_dead_lettered_total{reason=\"say \\\"hi\\\"\\\\\\n\"} 1\n"
                   "# HELP mets_frames_total Frames read.\n"
                   "# TYPE mets_frames_total counter\n"
                   "mets_frames_total 7\n");
    mets_metrics_destroy(m);
}

static void gauges_render_shortest_exact_values(void)
{
    mets_err err;
    mets_metrics *m = mets_metrics_new(&err);
    static const char *const topics[] = {"ecg.frames", "ecg.alerts"};
    mets_gauge *lag = mets_metrics_add_gauge(m, "mets_consumer_lag", "Messages behind.", "topic", topics, 2, &err);
    mets_gauge *up = mets_metrics_add_gauge(m, "mets_streams", "Open streams.", NULL, NULL, 0, &err);
    CHECK(lag && up, "%s", err.msg);
    mets_gauge_set(lag, 0, 0.1);
    mets_gauge_add(lag, 0, 0.2);
    mets_gauge_set(lag, 1, -INFINITY);
    mets_gauge_set(up, 0, 12);
    mets_gauge_add(up, 0, -2.5);
    expect_text(m, "# HELP mets_consumer_lag Messages behind.\n"
                   "# TYPE mets_consumer_lag gauge\n"
                   "mets_consumer_lag{topic=\"ecg.frames\"} 0.30000000000000004\n"
                   "mets_consumer_lag{topic=\"ecg.alerts\"} -Inf\n"
                   "# HELP mets_streams Open streams.\n"
                   "# TYPE mets_streams gauge\n"
                   "mets_streams 9.5\n");
    mets_metrics_destroy(m);
}

static void write_answer(FILE *out, void *ctx)
{
    fprintf(out, "# TYPE answer gauge\nanswer %d\n", *(int *)ctx);
}

/* A relabelled gauge starts over with its new values; collectors write in registration order; the process
 * collector gives the standard names with plausible values. */
static void relabels_collectors_and_process(void)
{
    mets_err err;
    mets_metrics *m = mets_metrics_new(&err);
    static const char *const two[] = {"rhythm/AFIB", "technical/signal_lost"}, *const one[] = {"rhythm/VF"};
    mets_gauge *g = mets_metrics_add_gauge(m, "mets_alerts_raised", "Raised.", "alert", two, 2, &err);
    int answer = 42;
    CHECK(g && mets_metrics_add_collector(m, "answer", write_answer, &answer, &err) == 0, "%s", err.msg);
    mets_gauge_set(g, 1, 3);
    CHECK(mets_metrics_relabel_gauge(m, g, one, 1, &err) == 0, "%s", err.msg);
    mets_gauge_set(g, 0, 1);
    expect_text(m, "# HELP mets_alerts_raised Raised.\n"
                   "# TYPE mets_alerts_raised gauge\n"
                   "mets_alerts_raised{alert=\"rhythm/VF\"} 1\n"
                   "# TYPE answer gauge\nanswer 42\n");
    static const char *const dup[] = {"x", "x"};
    CHECK(mets_metrics_relabel_gauge(m, g, dup, 2, &err) == METS_EINVAL, "repeated values refused");
    CHECK(mets_metrics_add_collector(m, "answer", write_answer, &answer, &err) == METS_EINVAL, "a name once");
    mets_metrics_destroy(m);
    char *text;
    size_t len;
    FILE *out = open_memstream(&text, &len);
    mets_metrics_process(out, NULL);
    fclose(out);
    double cpu = -1, rss = 0, start = 0, fds = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        sscanf(line, "process_cpu_seconds_total %lf", &cpu);
        sscanf(line, "process_resident_memory_bytes %lf", &rss);
        sscanf(line, "process_start_time_seconds %lf", &start);
        sscanf(line, "process_open_fds %lf", &fds);
    }
    CHECK(cpu >= 0 && rss > 1e6 && fabs(start - (double)time(NULL)) < 3600 && fds >= 3,
          "cpu %g rss %g start %g fds %g", cpu, rss, start, fds);
    free(text);
}

static void histograms_render_cumulative_buckets(void)
{
    mets_err err;
    mets_metrics *m = mets_metrics_new(&err);
    static const char *const stages[] = {"window", "score"};
    static const double le[] = {0.001, 0.01, 0.1};
    mets_histogram *h = mets_metrics_add_histogram(m, "mets_stage_seconds", "Time per stage.", "stage", stages, 2,
                                                   le, 3, &err);
    mets_histogram *plain = mets_metrics_add_histogram(m, "mets_batch_seconds", "Batch time.", NULL, NULL, 0, le, 1,
                                                       &err);
    CHECK(h && plain, "%s", err.msg);
    mets_histogram_observe(h, 0, 0.0005);
    mets_histogram_observe(h, 0, 0.01); /* on a bound: counted in that bucket (le is "less or equal") */
    mets_histogram_observe(h, 0, 0.25);
    mets_histogram_observe(h, 0, 0.05);
    mets_histogram_observe(plain, 0, 2);
    expect_text(m, "# HELP mets_stage_seconds Time per stage.\n"
                   "# TYPE mets_stage_seconds histogram\n"
                   "mets_stage_seconds_bucket{stage=\"window\",le=\"0.001\"} 1\n"
                   "mets_stage_seconds_bucket{stage=\"window\",le=\"0.01\"} 2\n"
                   "mets_stage_seconds_bucket{stage=\"window\",le=\"0.1\"} 3\n"
                   "mets_stage_seconds_bucket{stage=\"window\",le=\"+Inf\"} 4\n"
                   "mets_stage_seconds_sum{stage=\"window\"} 0.3105\n"
                   "mets_stage_seconds_count{stage=\"window\"} 4\n"
                   "mets_stage_seconds_bucket{stage=\"score\",le=\"0.001\"} 0\n"
                   "mets_stage_seconds_bucket{stage=\"score\",le=\"0.01\"} 0\n"
                   "mets_stage_seconds_bucket{stage=\"score\",le=\"0.1\"} 0\n"
                   "mets_stage_seconds_bucket{stage=\"score\",le=\"+Inf\"} 0\n"
                   "mets_stage_seconds_sum{stage=\"score\"} 0\n"
                   "mets_stage_seconds_count{stage=\"score\"} 0\n"
                   "# HELP mets_batch_seconds Batch time.\n"
                   "# TYPE mets_batch_seconds histogram\n"
                   "mets_batch_seconds_bucket{le=\"0.001\"} 0\n"
                   "mets_batch_seconds_bucket{le=\"+Inf\"} 1\n"
                   "mets_batch_seconds_sum 2\n"
                   "mets_batch_seconds_count 1\n");
    mets_metrics_destroy(m);
}

static void bad_registrations_fail_with_reason(void)
{
    mets_err err;
    mets_metrics *m = mets_metrics_new(&err);
    static const char *const twice[] = {"a", "a"};
    static const double unsorted[] = {0.1, 0.1};
    CHECK(!mets_metrics_add_counter(m, "9lives", "", NULL, NULL, 0, &err) && strstr(err.msg, "invalid metric name"));
    CHECK(!mets_metrics_add_counter(m, "x_total", "", "r", twice, 2, &err) && strstr(err.msg, "repeated"), "%s",
          err.msg);
    CHECK(!mets_metrics_add_histogram(m, "h", "", "le", twice, 1, unsorted, 1, &err) &&
          strstr(err.msg, "invalid label name 'le'"), "%s", err.msg);
    CHECK(!mets_metrics_add_histogram(m, "h", "", NULL, NULL, 0, unsorted, 2, &err) && strstr(err.msg, "bound 1"),
          "%s", err.msg);
    CHECK(mets_metrics_add_gauge(m, "g", "", NULL, NULL, 0, &err));
    CHECK(!mets_metrics_add_counter(m, "g", "", NULL, NULL, 0, &err) && strstr(err.msg, "already registered"));
    mets_metrics_destroy(m);
}

/* ---- a plain HTTP/1.0 client ---- */

typedef struct reply {
    int status;
    char raw[8192];
    const char *head, *body; /* into raw */
} reply;

/* Sends one request and reads the whole answer: HTTP/1.0 makes the server close when done. */
static bool http(int port, const char *method, const char *path, reply *r)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    size_t got = 0;
    ssize_t k = write(fd, req, (size_t)n);
    while (k > 0 && got < sizeof r->raw - 1 && (k = read(fd, r->raw + got, sizeof r->raw - 1 - got)) > 0)
        got += (size_t)k;
    close(fd);
    r->raw[got] = '\0';
    char *sep = strstr(r->raw, "\r\n\r\n");
    if (!sep || sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
        return false;
    *sep = '\0';
    r->head = r->raw;
    r->body = sep + 4;
    return true;
}

typedef struct health_state {
    atomic_bool healthy; /* read on the server's thread */
} health_state;

static bool health(void *ctx, char *reason, size_t size)
{
    health_state *h = ctx;
    bool ok = atomic_load(&h->healthy);
    if (!ok)
        snprintf(reason, size, "no progress for 30 s");
    return ok;
}

static void server_answers_over_loopback(void)
{
    mets_err err;
    mets_metrics *m = mets_metrics_new(&err);
    mets_counter *c = mets_metrics_add_counter(m, "mets_frames_total", "Frames read.", NULL, NULL, 0, &err);
    mets_counter_add(c, 0, 3);
    health_state hs = {.healthy = true};
    mets_metrics_server *s = mets_metrics_server_start(m, "127.0.0.1:0", health, &hs, &err);
    CHECK(s, "%s", err.msg);
    if (!s) {
        mets_metrics_destroy(m);
        return;
    }
    int port = mets_metrics_server_port(s);
    CHECK(port > 0);
    reply r;
    CHECK(http(port, "GET", "/metrics", &r) && r.status == 200);
    CHECK(strstr(r.head, "Content-Type: text/plain; version=0.0.4"), "%s", r.head);
    char *want = render(m);
    CHECK(!strcmp(r.body, want), "%s", r.body);
    free(want);
    CHECK(http(port, "GET", "/healthz", &r) && r.status == 200 && !strcmp(r.body, "ok\n"));
    atomic_store(&hs.healthy, false);
    CHECK(http(port, "GET", "/healthz", &r) && r.status == 503 && !strcmp(r.body, "no progress for 30 s\n"),
          "%d %s", r.status, r.body);
    CHECK(http(port, "GET", "/nope", &r) && r.status == 404);
    CHECK(http(port, "POST", "/metrics", &r) && r.status == 405);
    mets_metrics_server_stop(s);
    mets_metrics_destroy(m);
}

static void bad_listen_addresses_fail(void)
{
    mets_err err;
    mets_metrics *m = mets_metrics_new(&err);
    CHECK(!mets_metrics_server_start(m, "127.0.0.1", NULL, NULL, &err) && strstr(err.msg, "expected host:port"));
    CHECK(!mets_metrics_server_start(m, "127.0.0.1:70000", NULL, NULL, &err) && strstr(err.msg, "host:port"));
    mets_metrics_server *s = mets_metrics_server_start(m, "[::1]:0", NULL, NULL, &err);
    mets_metrics_server *busy = NULL;
    if (s) { /* IPv6 loopback may be absent in a container; then only the port-in-use case below is skipped */
        char taken[64];
        snprintf(taken, sizeof taken, "[::1]:%d", mets_metrics_server_port(s));
        busy = mets_metrics_server_start(m, taken, NULL, NULL, &err);
        CHECK(!busy && strstr(err.msg, "cannot listen on"), "%s", err.msg);
    }
    mets_metrics_server_stop(busy);
    mets_metrics_server_stop(s);
    mets_metrics_destroy(m);
}

int main(void)
{
    RUN(relabels_collectors_and_process);
    RUN(counters_render_with_escaped_labels);
    RUN(gauges_render_shortest_exact_values);
    RUN(histograms_render_cumulative_buckets);
    RUN(bad_registrations_fail_with_reason);
    RUN(server_answers_over_loopback);
    RUN(bad_listen_addresses_fail);
    return mets_test_summary();
}
