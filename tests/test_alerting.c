/* The Alert Reporter's parts (alerting/): HL7 text (escaping, times, acknowledgements), the PCD-04 message of
 * each kind of alert event, the event codes, its configuration, and the MLLP client against a scripted
 * receiver on a loopback port (an answer, none in time, a closed connection, another message's answer).
 * HAPI's reading of the messages is integration_tests/test_pcd.sh's. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "hl7.h"
#include "mllp.h"
#include "pcd.h"

static void text_is_escaped(void)
{
    mets_hl7 *m = mets_hl7_new();
    mets_hl7_segment(m, "PID");
    mets_hl7_fields(m, 3);
    mets_hl7_text(m, "a|b^c&d~e\\f\rg");
    mets_hl7_raw(m, "^^^X");
    mets_hl7_segment(m, "MSH");
    mets_hl7_fields(m, 1);
    mets_hl7_time(m, 1714564810250000); /* 2024-05-01T12:00:10.25Z */
    size_t len;
    const char *s = mets_hl7_data(m, &len);
    CHECK(s && !strcmp(s, "PID|||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D\\g^^^X\r"
                          "MSH|^~\\&|20240501120010.250+0000\r"), "%s", s);
    CHECK(len == strlen(s));
    CHECK(!mets_hl7_failed(m));
    mets_hl7_free(m);
}

static void acknowledgements_are_read(void)
{
    mets_hl7_ack ack;
    const char *aa = "MSH|^~\\&|ACM|ACM|METS|METS|20240501||ACK^R41^ACK|1|P|2.6\rMSA|AA|abc-R-1\r";
    CHECK(mets_hl7_parse_ack(aa, strlen(aa), &ack));
    CHECK(!strcmp(ack.code, "AA") && !strcmp(ack.control_id, "abc-R-1") && !*ack.text && mets_hl7_ack_accepted(&ack));
    /* HAPI's negative acknowledgement: the reason in ERR-3's text and ERR-8, escapes undone */
    const char *ae = "MSH|^~\\&|ACM|ACM|METS|METS|20240501||ACK^R41^ACK|2|P|2.6\rMSA|AE|abc-U-2\r"
                     "ERR||^^^207&Application internal error&HL70357|207^Application internal error^HL70357|E||||"
                     "busy \\F\\ try later\r";
    CHECK(mets_hl7_parse_ack(ae, strlen(ae), &ack));
    CHECK(!strcmp(ack.code, "AE") && !mets_hl7_ack_accepted(&ack));
    CHECK(!strcmp(ack.text, "207 Application internal error HL70357; busy | try later"), "%s", ack.text);
    /* other delimiters declared in MSH-1 and MSH-2 */
    const char *other = "MSH#$~\\&#ACM\nMSA#CA#x$y\n";
    CHECK(mets_hl7_parse_ack(other, strlen(other), &ack) && !strcmp(ack.code, "CA") && !strcmp(ack.control_id, "x y"));
    const char *none[] = {"", "MSH|^~\\&|A\r", "MSA|AA|x\r", "MSH|^~\\&|A\rMSA|A|x\r", "garbage that is long"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        CHECK(!mets_hl7_parse_ack(none[i], strlen(none[i]), &ack), "%s", none[i]);
}

static int load_pcd(const char *text, mets_pcd_config *cfg, mets_err *err)
{
    return mets_pcd_config_parse(text, strlen(text), "conf/pcd.yaml", cfg, err);
}

static void configuration(void)
{
    mets_pcd_config cfg;
    mets_err err = {0};
    CHECK(!load_pcd("kafka: {bootstrap_servers: k:9092}\nmanager: {address: acm:2575}\n", &cfg, &err), "%s", err.msg);
    CHECK(!strcmp(cfg.kafka.topic, "ecg.alerts") && !strcmp(cfg.kafka.group_id, "mets-pcd"));
    CHECK(cfg.manager.ack_timeout_s == 10 && cfg.manager.retry_min_s == 0.5 && cfg.hl7.processing_id == 0);
    mets_pcd_config_free(&cfg);
    static const struct {
        const char *text, *where, *what;
    } bad[] = {
        {"kafka: {bootstrap_servers: k:9092}\n", "conf/pcd.yaml:1:1", "missing key 'manager.address'"},
        {"kafka: {bootstrap_servers: k:9092}\nmanager: {address: acm:2575, retry_min_s: 2min}\n", "2:", "retry_min_s"},
        {("kafka: {bootstrap_servers: k:9092}\nmanager: {address: acm:2575}\n"
          "hl7:\n  events: {rhythm/AFIB: \"1^A^MDC\"}\n"), "4:25", "four non-empty parts"},
        {"kafka: {bootstrap_servers: k:9092}\nmanager: {address: acm:2575}\nhl7:\n  events: {AFIB: \"1^A^MDC^af\"}\n",
         "4:18", "expected a key group/label"},
        {"kafka: {bootstrap_servers: k:9092}\nmanager: {address: acm:2575}\nhl7:\n  events: {r/A: \"1^A|B^MDC^af\"}\n",
         "4:", "'|' is an HL7 delimiter"},
        {"kafka: {bootstrap_servers: k:9092, properties: {enable.auto.commit: 'true'}}\nmanager: {address: a:1}\n",
         "1:", "offsets are committed once"},
        {"kafka: {bootstrap_servers: k:9092}\nmanager: {adress: acm:2575}\n", "2:", "unknown key 'manager.adress'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = load_pcd(bad[i].text, &cfg, &err);
        CHECK(rc && strstr(err.msg, bad[i].where) && strstr(err.msg, bad[i].what), "case %zu: %s", i, err.msg);
    }
}

static Mets__V1__Alert alert(Mets__V1__AlertState state)
{
    Mets__V1__Alert a = METS__V1__ALERT__INIT;
    a.alert_id = "0123456789abcdef0123456789abcdef";
    a.stream_id = "bed|7";
    a.label_group = "rhythm";
    a.label = "AFIB";
    a.state = state;
    a.probability = 0.875f;
    a.onset_us = 1714564800000000;
    a.window_end_us = 1714564810000000;
    a.priority = 2;
    return a;
}

static void messages_of_each_phase(void)
{
    mets_pcd_config cfg;
    mets_err err = {0};
    CHECK(!load_pcd("kafka: {bootstrap_servers: k:9092}\nmanager: {address: acm:2575}\nhl7: {point_of_care: ICU}\n",
                    &cfg, &err), "%s", err.msg);
    char id[METS_PCD_CONTROL_ID_MAX];
    size_t len;
    Mets__V1__Alert a = alert(METS__V1__ALERT_STATE__ALERT_STATE_RAISED);
    char *m = mets_pcd_message(&cfg, &a, 1714564811000000, &len, id, &err);
    CHECK(m && len == strlen(m), "%s", err.msg);
    CHECK(!strcmp(id, "0123456789abcdef0123456789abcdef-R-1714564810000000"), "%s", id);
    const char *want[] = {
        ("MSH|^~\\&|METS|METS|ACM|ACM|20240501120011.000+0000||ORU^R40^ORU_R40|"
         "0123456789abcdef0123456789abcdef-R-1714564810000000|P|2.6|||AL|NE||UNICODE UTF-8|||"
         "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO\r"),
        "PID|||bed\\F\\7^^^METS\r",
        "PV1||I|ICU^^bed\\F\\7\r",
        "OBR|1||0123456789abcdef0123456789abcdef^METS|196616^MDC_EVT_ALARM^MDC|||20240501120000.000+0000\r",
        ("OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.0.0.0.1|199736^MDC_EVT_ECG_ATR_FIB^MDC^^^^^^atrial fibrillation|||"
         "PM~SP|||F|||20240501120010.000+0000\r"),
        "OBX|3|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.3|start||||||F\r",
        "OBX|4|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.0.0.0.4|active||||||F\r",
        "OBX|6|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.0.0.0.6|PM||||||F\r",
        "OBX|7|ST|68485^MDC_ATTR_ALERT_TYPE^MDC|1.0.0.0.7|SP||||||F\r",
        "OBX|8|NM|PROBABILITY^probability within the label group^99METS|1.0.0.0.8|0.8750||||||F\r",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(m && strstr(m, want[i]), "segment %zu missing from\n%s", i, m);
    free(m);

    /* updated: continue, or update when it went stale; cleared: end, inactive, the end time in OBR-8 */
    a = alert(METS__V1__ALERT_STATE__ALERT_STATE_UPDATED);
    m = mets_pcd_message(&cfg, &a, 0, &len, id, &err);
    CHECK(m && strstr(m, "|continue|") && strstr(m, "|active|") && strstr(id, "-U-"));
    free(m);
    a.stale = true;
    m = mets_pcd_message(&cfg, &a, 0, &len, id, &err);
    CHECK(m && strstr(m, "|update|") && strstr(m, "1.0.0.0.9|Y|"));
    free(m);
    a = alert(METS__V1__ALERT_STATE__ALERT_STATE_CLEARED);
    m = mets_pcd_message(&cfg, &a, 0, &len, id, &err);
    CHECK(m && strstr(m, "|end|") && strstr(m, "|inactive|") &&
          strstr(m, "|||20240501120000.000+0000|20240501120010.000+0000\r"), "%s", m);
    free(m);
    /* a technical alert: type ST, priority high */
    a = alert(METS__V1__ALERT_STATE__ALERT_STATE_RAISED);
    a.label_group = "technical", a.label = "signal_lost", a.technical = true, a.priority = 1;
    m = mets_pcd_message(&cfg, &a, 0, &len, id, &err);
    CHECK(m && strstr(m, "|technical.signal_lost^signal lost^99METS^^^^^^ECG signal lost|||PH~ST|"), "%s", m);
    free(m);
    /* what a message cannot be made of */
    a = alert(METS__V1__ALERT_STATE__ALERT_STATE_UNSPECIFIED);
    CHECK(!mets_pcd_message(&cfg, &a, 0, &len, id, &err) && err.code == METS_EINVAL);
    a = alert(METS__V1__ALERT_STATE__ALERT_STATE_RAISED);
    a.alert_id = "";
    CHECK(!mets_pcd_message(&cfg, &a, 0, &len, id, &err));
    mets_pcd_config_free(&cfg);
}

static void event_codes(void)
{
    mets_pcd_config cfg;
    mets_err err = {0};
    CHECK(!load_pcd("kafka: {bootstrap_servers: k:9092}\nmanager: {address: acm:2575}\n"
                    "hl7:\n  events: {rhythm/VF: \"VFIB^ventricular fibrillation^L^VF!\"}\n", &cfg, &err),
          "%s", err.msg);
    mets_pcd_event ev;
    mets_pcd_event_code(&cfg, "rhythm", "VF", &ev); /* configured over built in */
    CHECK(!strcmp(ev.code, "VFIB") && !strcmp(ev.name, "ventricular fibrillation") && !strcmp(ev.system, "L") &&
          !strcmp(ev.text, "VF!"));
    mets_pcd_event_code(&cfg, "rhythm", "AFLT", &ev);
    CHECK(!strcmp(ev.code, "199884") && !strcmp(ev.system, "MDC") && !strcmp(ev.text, "atrial flutter"));
    mets_pcd_event_code(&cfg, "superclass", "M^I", &ev); /* not in any table: local, and escaped when written */
    CHECK(!strcmp(ev.code, "superclass.M^I") && !strcmp(ev.system, "99METS") && !strcmp(ev.text, "M^I"));
    Mets__V1__Alert a = alert(METS__V1__ALERT_STATE__ALERT_STATE_RAISED);
    a.label_group = "superclass", a.label = "M^I";
    char id[METS_PCD_CONTROL_ID_MAX];
    size_t len;
    char *m = mets_pcd_message(&cfg, &a, 0, &len, id, &err);
    CHECK(m && strstr(m, "|superclass.M\\S\\I^M\\S\\I^99METS^^^^^^M\\S\\I|"), "%s", m);
    free(m);
    mets_pcd_config_free(&cfg);
}

/* A receiver on a loopback port: each letter of its script serves one connection. */
typedef struct receiver {
    int listener, port;
    const char *script; /* per connection: 'a' answer right, 'n' no answer, 'w' the wrong control id, 'c' close */
} receiver;

static void *serve(void *arg)
{
    receiver *r = arg;
    for (const char *s = r->script; *s; s++) {
        int fd = accept(r->listener, NULL, NULL);
        char buf[8192], id[256] = "";
        size_t n = 0;
        for (ssize_t k; n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0;) {
            n += (size_t)k;
            if (n >= 2 && buf[n - 2] == 0x1c && buf[n - 1] == 0x0d)
                break;
        }
        buf[n] = 0;
        char *f = buf;
        for (int i = 0; f && i < 9; i++) /* MSH-10 is after the 9th '|' */
            f = strchr(f + 1, '|');
        if (f)
            snprintf(id, sizeof id, "%.*s", (int)strcspn(f + 1, "|"), f + 1);
        char reply[512];
        int len = snprintf(reply, sizeof reply,
                           "\x0bMSH|^~\\&|ACM|ACM|METS|METS|1||ACK^R41^ACK|9|P|2.6\rMSA|AA|%s\r\x1c\r",
                           *s == 'w' ? "another" : id);
        if (*s == 'a' || *s == 'w')
            CHECK(write(fd, reply, (size_t)len) == len);
        if (*s == 'n')
            usleep(400 * 1000);
        close(fd);
    }
    return NULL;
}

static void mllp_exchanges(void)
{
    receiver r = {.script = "ancwa"};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    r.listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(!bind(r.listener, (struct sockaddr *)&sa, sizeof sa) && !listen(r.listener, 4) &&
          !getsockname(r.listener, (struct sockaddr *)&sa, &sl));
    r.port = ntohs(sa.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, serve, &r);
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", r.port);
    mets_err err = {0};
    mets_mllp *c = mets_mllp_new(address, NULL, &err);
    const char *msg = "MSH|^~\\&|METS|METS|ACM|ACM|1||ORU^R40^ORU_R40|id-1|P|2.6\r";
    mets_hl7_ack ack;
    CHECK(!mets_mllp_exchange(c, msg, strlen(msg), "id-1", 2, 2, &ack, &err), "%s", err.msg);
    CHECK(mets_hl7_ack_accepted(&ack) && !strcmp(ack.control_id, "id-1"));
    /* the same connection is kept; the receiver hangs up after the first: a new one is made */
    CHECK(mets_mllp_exchange(c, msg, strlen(msg), "id-1", 2, 0.2, &ack, &err) == METS_EIO &&
              strstr(err.msg, "no acknowledgement in time"), "%s", err.msg);
    CHECK(!mets_mllp_connected(c));
    CHECK(mets_mllp_exchange(c, msg, strlen(msg), "id-1", 2, 2, &ack, &err) == METS_EIO &&
              strstr(err.msg, "closed the connection before acknowledging"), "%s", err.msg);
    CHECK(mets_mllp_exchange(c, msg, strlen(msg), "id-1", 2, 2, &ack, &err) == METS_EFORMAT &&
              strstr(err.msg, "not an acknowledgement of id-1"), "%s", err.msg);
    CHECK(!mets_mllp_exchange(c, msg, strlen(msg), "id-1", 2, 2, &ack, &err), "%s", err.msg);
    pthread_join(t, NULL);
    mets_mllp_free(c);
    close(r.listener);
    /* nobody listening */
    c = mets_mllp_new(address, NULL, &err);
    CHECK(mets_mllp_exchange(c, msg, strlen(msg), "id-1", 1, 1, &ack, &err) == METS_EIO &&
              strstr(err.msg, "cannot connect"), "%s", err.msg);
    mets_mllp_free(c);
    CHECK(!mets_mllp_new("no-port", NULL, &err) && strstr(err.msg, "expected host:port"));
}

int main(void)
{
    RUN(text_is_escaped);
    RUN(acknowledgements_are_read);
    RUN(configuration);
    RUN(messages_of_each_phase);
    RUN(event_codes);
    RUN(mllp_exchanges);
    return mets_test_summary();
}
