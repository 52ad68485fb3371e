#include "yamldoc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool line_break(const char *text, size_t len, size_t i)
{
    return text[i] == '\n' || (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n'));
}

/* libyaml's reader errors carry a byte offset and no mark: the line and column of that byte, counted in
 * characters as libyaml counts them. */
static yaml_mark_t mark_of_offset(const char *text, size_t len, size_t offset)
{
    yaml_mark_t m = {0};
    size_t i = len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0; /* a BOM is not a column */
    for (; i < offset && i < len; i++)
        if (line_break(text, len, i))
            m.line++, m.column = 0;
        else if (((unsigned char)text[i] & 0xc0) != 0x80) /* not a continuation byte */
            m.column++;
    return m;
}

/* Whether the line of `at` is indented with a tab: libyaml's messages for one ("found character that cannot
 * start any token") do not say so. */
static bool tab_at(const char *text, size_t len, yaml_mark_t at)
{
    size_t i = 0;
    for (size_t line = 0; line < at.line && i < len; i++)
        line += line_break(text, len, i);
    for (; i < len && (text[i] == ' ' || text[i] == '\t'); i++)
        if (text[i] == '\t')
            return true;
    return false;
}

static int syntax_error(const yaml_parser_t *p, const char *text, size_t len, const char *name, mets_err *err)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    if (p->error == YAML_READER_ERROR) {
        char value[16] = "";
        if (p->problem_value >= 0)
            snprintf(value, sizeof value, " (0x%02x)", (unsigned)p->problem_value);
        return mets_yaml_fail(err, name, mark_of_offset(text, len, p->problem_offset), "%s%s%s", problem, value,
                              strstr(problem, "control") ? "" : ": expected UTF-8 text");
    }
    if (!strstr(problem, "tab") && tab_at(text, len, p->problem_mark))
        return mets_yaml_fail(err, name, p->problem_mark, "%s: this line is indented with a tab, YAML indents with "
                              "spaces only", problem);
    return mets_yaml_fail(err, name, p->problem_mark, "%s", problem);
}

/* What a mets file never needs, in one parse event. */
static int check_event(const yaml_event_t *e, int *documents, const char *name, mets_err *err)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*documents > 1)
            return mets_yaml_fail(err, name, e->start_mark, "a second YAML document: expected one document");
        return 0;
    case YAML_ALIAS_EVENT:
        return mets_yaml_fail(err, name, e->start_mark, "an alias (*%s): anchors and aliases are not supported, "
                              "expected the value written out", e->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        if (strlen((const char *)e->data.scalar.value) != e->data.scalar.length)
            return mets_yaml_fail(err, name, e->start_mark, "a NUL character (\\0) in a string: expected text");
        anchor = e->data.scalar.anchor, tag = e->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT: anchor = e->data.sequence_start.anchor, tag = e->data.sequence_start.tag; break;
    case YAML_MAPPING_START_EVENT: anchor = e->data.mapping_start.anchor, tag = e->data.mapping_start.tag; break;
    default: return 0;
    }
    if (anchor)
        return mets_yaml_fail(err, name, e->start_mark, "an anchor (&%s): anchors and aliases are not supported, "
                              "expected the value written out where it applies", anchor);
    static const char core[] = "tag:yaml.org,2002:"; /* written !! */
    if (tag && !strncmp((const char *)tag, core, sizeof core - 1))
        return mets_yaml_fail(err, name, e->start_mark, "a tag (!!%s): tags are not supported, a value's type is "
                              "its key's", tag + sizeof core - 1);
    if (tag)
        return mets_yaml_fail(err, name, e->start_mark, "a tag (%s): tags are not supported, a value's type is "
                              "its key's", tag);
    return 0;
}

/* The whole text as parse events, before it is loaded: libyaml's loader takes the first document only and
 * resolves aliases without a trace. */
static int check_events(const char *text, size_t len, const char *name, mets_err *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, documents = 0;
    bool ended = false; /* the first document ended with '...': what follows starts another */
    for (bool end = false; !rc && !end;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e)) {
            rc = ended ? mets_yaml_fail(err, name, parser.problem_mark, "a second YAML document (%s): expected one "
                                        "document", parser.problem ? parser.problem : "invalid YAML")
                       : syntax_error(&parser, text, len, name, err);
            break;
        }
        rc = check_event(&e, &documents, name, err);
        ended |= e.type == YAML_DOCUMENT_END_EVENT && !e.data.document_end.implicit;
        end = e.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int mets_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *name, mets_err *err)
{
    /* libyaml would read UTF-16 after its byte order mark; our columns and messages are UTF-8's. */
    if (len >= 2 && (!memcmp(text, "\xff\xfe", 2) || !memcmp(text, "\xfe\xff", 2)))
        return mets_yaml_fail(err, name, (yaml_mark_t){0}, "a UTF-16 byte order mark: expected UTF-8 text");
    int rc = check_events(text, len, name, err);
    if (rc)
        return rc;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, doc))
        rc = syntax_error(&parser, text, len, name, err);
    yaml_parser_delete(&parser);
    return rc;
}

int mets_yaml_fail(mets_err *err, const char *name, yaml_mark_t at, const char *fmt, ...)
{
    char what[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return mets_err_set(err, METS_EFORMAT, "%s:%zu:%zu: %s", name, at.line + 1, at.column + 1, what);
}

const char *mets_yaml_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

size_t mets_yaml_decimal_len(const char *s)
{
    size_t i = s[0] == '+' || s[0] == '-', digits = strspn(s + i, "0123456789");
    i += digits;
    if (s[i] == '.') {
        size_t frac = strspn(s + i + 1, "0123456789");
        digits += frac, i += 1 + frac;
    }
    if (!digits)
        return 0;
    if (s[i] != 'e' && s[i] != 'E')
        return i;
    size_t e = i + 1 + (s[i + 1] == '+' || s[i + 1] == '-');
    return isdigit((unsigned char)s[e]) ? e + strspn(s + e, "0123456789") : i;
}

static bool one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcmp(s, *words))
            return true;
    return false;
}

const char *mets_yaml_plain_kind(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true",  "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no",
                                        "No",    "NO",   "on",   "On",    "ON",    "off",   "Off", "OFF", NULL};
    static const char *const special[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
                                          "-.INF", ".nan", ".NaN", ".NAN", NULL};
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return NULL;
    const char *s = (const char *)n->data.scalar.value;
    size_t hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'o') ? strspn(s + 2, "0123456789abcdefABCDEF") : 0;
    if (one_of(s, nulls))
        return "null";
    if (one_of(s, bools))
        return "a boolean";
    if ((mets_yaml_decimal_len(s) && !s[mets_yaml_decimal_len(s)]) || (hex && !s[2 + hex]) || one_of(s, special))
        return "a number";
    return NULL;
}

bool mets_yaml_is_null(const yaml_node_t *n)
{
    const char *kind = mets_yaml_plain_kind(n);
    return kind && !strcmp(kind, "null");
}

bool mets_yaml_is_quoted(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
}
