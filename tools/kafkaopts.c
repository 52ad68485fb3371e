#include "kafkaopts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends NAME=VALUE (the text up to the first '='): 0, or why it cannot. */
static const char *append(mets_kafka_opts *o, const char *text, size_t len)
{
    const char *eq = memchr(text, '=', len);
    if (!eq || eq == text)
        return "expected NAME=VALUE";
    char **names = realloc(o->names, (size_t)(o->n + 1) * sizeof *names);
    if (names)
        o->names = names;
    char **values = names ? realloc(o->values, (size_t)(o->n + 1) * sizeof *values) : NULL;
    if (values)
        o->values = values;
    char *name = values ? strndup(text, (size_t)(eq - text)) : NULL;
    char *value = name ? strndup(eq + 1, len - (size_t)(eq - text) - 1) : NULL;
    if (!value) {
        free(name);
        return "out of memory";
    }
    o->names[o->n] = name, o->values[o->n++] = value;
    return NULL;
}

int mets_kafka_opts_add(mets_kafka_opts *o, const char *tool, const char *arg)
{
    const char *why = append(o, arg, strlen(arg));
    if (why)
        fprintf(stderr, "%s: -X %s: %s\n", tool, arg, why);
    return why ? 2 : 0;
}

int mets_kafka_opts_file(mets_kafka_opts *o, const char *tool, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: -F %s: cannot open it\n", tool, path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    const char *why = NULL;
    int no = 0;
    for (ssize_t len; !why && (len = getline(&line, &cap, f)) >= 0;) {
        no++;
        while (len > 0 && isspace((unsigned char)line[len - 1]))
            line[--len] = 0;
        size_t lead = strspn(line, " \t");
        if (line[lead] && line[lead] != '#')
            why = append(o, line + lead, (size_t)len - lead);
    }
    if (why)
        fprintf(stderr, "%s: %s:%d: %s\n", tool, path, no, why);
    free(line);
    fclose(f);
    return why ? 2 : 0;
}

void mets_kafka_opts_free(mets_kafka_opts *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->names[i]), free(o->values[i]);
    free(o->names), free(o->values);
    *o = (mets_kafka_opts){0};
}

rd_kafka_conf_t *mets_kafka_conf(const char *tool, const char *bootstrap, const char *const own[][2],
                                 const mets_kafka_opts *user)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    const char *name = "bootstrap.servers";
    int bad = rd_kafka_conf_set(conf, name, bootstrap, errstr, sizeof errstr) != RD_KAFKA_CONF_OK;
    for (int i = 0; !bad && own && own[i][0]; i++)
        bad = rd_kafka_conf_set(conf, name = own[i][0], own[i][1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK;
    for (int i = 0; !bad && user && i < user->n; i++)
        bad = rd_kafka_conf_set(conf, name = user->names[i], user->values[i], errstr, sizeof errstr) !=
              RD_KAFKA_CONF_OK;
    if (!bad)
        return conf;
    fprintf(stderr, "%s: %s: %s\n", tool, name, errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}
