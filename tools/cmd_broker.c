/* mets broker: the development broker (tools/devbroker.h) as a standalone process for the demo and
 * quick tests. librdkafka 2.0.2 cannot bind the mock cluster to a fixed port, so the address it got
 * is the first line on stdout ("bootstrap=127.0.0.1:PORT") and, with --bootstrap-file, the only line
 * of that file; clients take it from there (README, "Dev broker"). Runs until SIGINT or SIGTERM.
 * With --control it also applies fault-injection commands read from stdin (docs/reliability.md). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "devbroker.h"

#define DEFAULT_TOPICS "ecg.frames:4,ecg.embeddings,ecg.alerts,ecg.deadletter,metsd.state:4"

static const char usage_text[] =
    "usage: mets broker [options]\n"
    "  -b, --brokers N           mock brokers to start (default 1)\n"
    "  -t, --topics LIST         topics to create, NAME[:PARTITIONS],... (default\n"
    "                            " DEFAULT_TOPICS ")\n"
    "  -p, --partitions N        partitions of a topic listed without a count (default 1)\n"
    "  -f, --bootstrap-file FILE also write the bootstrap address to FILE (replaced atomically)\n"
    "  -c, --control             read fault-injection commands from stdin, one per line, and answer\n"
    "                            each on stdout with \"ok COMMAND\" or \"error: WHY\":\n"
    "                              down BROKER|all, up BROKER|all, rtt BROKER|all MS,\n"
    "                              errors API COUNT ERROR (e.g. errors Produce 3 NOT_LEADER_FOR_PARTITION),\n"
    "                              clear API, leader TOPIC PARTITION BROKER, coordinator txn|group KEY BROKER\n"
    "                            (brokers are 1..N; the end of stdin ends the commands, not the broker)\n"
    "Prints bootstrap=ADDRESS as the first line on stdout, logs to stderr, stops on SIGINT/SIGTERM.\n"
    "For the demo and fast tests only: no aborted-transaction filtering, no transactional offsets.\n";

typedef struct args {
    const char *topics, *bootstrap_file;
    int brokers, partitions, control;
} args;

/* A positive count or -1, so that "--brokers 0" and "--brokers x" are usage errors alike. */
static int count_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 && v <= 100000 ? (int)v : -1;
}

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},        {"topics", required_argument, NULL, 't'},
        {"partitions", required_argument, NULL, 'p'},     {"bootstrap-file", required_argument, NULL, 'f'},
        {"control", no_argument, NULL, 'c'},              {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *a = (args){.topics = DEFAULT_TOPICS, .brokers = 1, .partitions = 1};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:p:f:ch", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->brokers = count_arg(optarg); break;
        case 't': a->topics = optarg; break;
        case 'p': a->partitions = count_arg(optarg); break;
        case 'f': a->bootstrap_file = optarg; break;
        case 'c': a->control = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind != argc || a->brokers < 0 || a->partitions < 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    return -1;
}

/* Creates every topic of "NAME[:PARTITIONS],...", logging each one. */
static int create_topics(mets_devbroker *b, const char *list, int default_partitions, mets_err *err)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        int partitions = colon ? count_arg(colon + 1) : default_partitions;
        if (colon)
            *colon = '\0';
        if (!*t || partitions < 0)
            rc = mets_err_set(err, METS_EINVAL, "--topics '%s': expected NAME[:PARTITIONS],... with PARTITIONS >= 1",
                              list);
        rc = rc ?: mets_devbroker_topic_create(b, t, partitions, err);
        if (!rc)
            fprintf(stderr, "mets broker: topic %s, %d partition%s\n", t, partitions, partitions == 1 ? "" : "s");
    }
    free(copy);
    return rc;
}

/* Written to FILE.tmp and renamed, so that a script polling for FILE never reads half an address. */
static int write_bootstrap_file(const char *path, const char *bootstraps, mets_err *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return mets_err_set(err, METS_EINVAL, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mets_err_set(err, METS_EIO, "%s: cannot create", tmp);
    int bad = fprintf(f, "%s\n", bootstraps) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return mets_err_set(err, METS_EIO, "%s: cannot write", path);
    }
    return 0;
}

/* Blocks until SIGINT or SIGTERM. The two are blocked before librdkafka starts its threads (which
 * inherit the mask), so sigwait here is the only place either can arrive: no handler, no flag. */
static int wait_for_stop(const sigset_t *stop)
{
    int sig = 0;
    sigwait(stop, &sig);
    return sig;
}

/* A control answer goes to stdout (the script that sent the command waits for it) and to the log on
 * stderr, so that the log shows when each fault began. */
static void answer(const char *reply)
{
    printf("%s\n", reply);
    fflush(stdout);
    fprintf(stderr, "mets broker: control: %s\n", reply);
}

static void control_line(mets_devbroker *b, const char *line)
{
    char reply[640];
    if (mets_devbroker_control(b, line, reply, sizeof reply) != 1)
        answer(reply);
}

/* --control: commands from stdin, on a thread of their own while the main thread waits in sigwait.
 * (Only a thread in sigwait is sure to take SIGTERM: OpenBLAS starts threads before main, with every
 * signal unblocked.) The thread is cancelled only in read(), never in the middle of a command; the end
 * of stdin ends the commands, not the broker. */
static void *control_reader(void *arg)
{
    mets_devbroker *b = arg;
    char buf[1024];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, buf + len, sizeof buf - 1 - len);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (r <= 0) { /* the end (a last line without a newline still counts) or an unreadable stdin */
            buf[len] = '\0';
            control_line(b, buf);
            return NULL;
        }
        len += (size_t)r;
        char *nl;
        while ((nl = memchr(buf, '\n', len))) {
            *nl = '\0';
            control_line(b, buf);
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len);
        }
        if (len == sizeof buf - 1) {
            answer("error: a line longer than 1022 characters");
            len = 0;
        }
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    }
}

/* Announces the address on stdout (and in the file) once the topics exist, so that a client that
 * has read it finds everything in place. */
static int announce(const args *a, const char *bootstraps, mets_err *err)
{
    if (a->bootstrap_file && write_bootstrap_file(a->bootstrap_file, bootstraps, err))
        return -1;
    printf("bootstrap=%s\n", bootstraps);
    fflush(stdout); /* stdout is usually a pipe or a file, and the reader waits for this line */
    fprintf(stderr, "mets broker: %d broker%s at %s, for the demo and fast tests only: no aborted-transaction "
                    "filtering, no transactional offsets (exactly-once is tested on real Kafka)\n",
            a->brokers, a->brokers == 1 ? "" : "s", bootstraps);
    return 0;
}

static int serve(const args *a, const sigset_t *stop, mets_err *err)
{
    mets_devbroker *b = mets_devbroker_new(a->brokers, err);
    if (!b)
        return -1;
    const char *bootstraps = mets_devbroker_bootstraps(b);
    int rc = create_topics(b, a->topics, a->partitions, err);
    rc = rc ?: announce(a, bootstraps, err);
    pthread_t reader;
    int control = !rc && a->control && !pthread_create(&reader, NULL, control_reader, b);
    if (!rc && a->control && !control)
        rc = mets_err_set(err, METS_EIO, "--control: cannot start the thread that reads stdin");
    if (!rc)
        fprintf(stderr, "mets broker: %s, shutting down\n", strsignal(wait_for_stop(stop)));
    if (control) {
        pthread_cancel(reader);
        pthread_join(reader, NULL);
    }
    mets_devbroker_destroy(b);
    if (a->bootstrap_file)
        remove(a->bootstrap_file); /* a stale address would send the next client to a closed port */
    return rc;
}

int mets_cmd_broker(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    mets_err err = {0};
    if (serve(&a, &stop, &err)) {
        fprintf(stderr, "mets broker: %s\n", err.msg);
        return 1;
    }
    return 0;
}
