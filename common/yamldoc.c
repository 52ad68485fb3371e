#include "yamldoc.h"

#include <stdarg.h>
#include <stdio.h>

int mets_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *name, mets_err *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, doc))
        rc = mets_yaml_fail(err, name, parser.problem_mark, "%s", parser.problem ? parser.problem : "invalid YAML");
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
