/* What every YAML reader of mets shares (labels, daemon config): loading a whole document with libyaml
 * and errors that name file:line:column, so that an operator can go straight to the culprit. */
#ifndef METS_YAMLDOC_H
#define METS_YAMLDOC_H

#include <stddef.h>
#include <yaml.h>

#include "err.h"

/* Parses `text` into `doc` (free it with yaml_document_delete on success); `name` is the file name used
 * in messages. A syntax error is METS_EFORMAT "name:line:column: problem". An empty text gives a
 * document without a root node. */
int mets_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *name, mets_err *err);

/* Fills `err` with METS_EFORMAT "name:line:column: " + the formatted message and returns the code. */
int mets_yaml_fail(mets_err *err, const char *name, yaml_mark_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The text of a scalar node, or NULL for a mapping or sequence. */
const char *mets_yaml_scalar(const yaml_node_t *n);

#endif
