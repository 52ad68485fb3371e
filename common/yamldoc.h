/* What every YAML reader of mets shares (labels, daemon config): loading a whole document with libyaml
 * and errors that name file:line:column, so that an operator can go straight to the culprit. */
#ifndef METS_YAMLDOC_H
#define METS_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "err.h"

/* Parses `text` into `doc` (free it with yaml_document_delete on success); `name` is the file name used
 * in messages. Any problem is METS_EFORMAT "name:line:column: problem": a syntax error (with a word on
 * tabs, which libyaml's messages never give), bytes that are not UTF-8 (where they are, not at 1:1), and
 * what a mets file never needs and would only hide a mistake: a second document, an anchor or alias
 * (one value in two places, its errors at one of them), a tag (a value's type is its key's) and a NUL
 * character in a string (C strings would cut it short). An empty text gives a document without a root
 * node. */
int mets_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *name, mets_err *err);

/* Fills `err` with METS_EFORMAT "name:line:column: " + the formatted message and returns the code. */
int mets_yaml_fail(mets_err *err, const char *name, yaml_mark_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The text of a scalar node, or NULL for a mapping or sequence. */
const char *mets_yaml_scalar(const yaml_node_t *n);

/* What YAML makes of a plain scalar other than a string: "null" (`~`, `null`, nothing at all as in `key:`),
 * "a boolean" (`true`, `False`, and YAML 1.1's `yes`, `off` ... as PyYAML reads them) or "a number" (`2`,
 * `-0.5`, `1e3`, `0x1f`, `.inf`); NULL for a string, a quoted scalar or a mapping or sequence. */
const char *mets_yaml_plain_kind(const yaml_node_t *n);

/* Whether n is YAML's null (mets_yaml_plain_kind). */
bool mets_yaml_is_null(const yaml_node_t *n);

/* The length of the decimal number s starts with (2, -0.5, .5, 1e-3), 0 if none: what strtod reads of it,
 * less hex floats, inf and nan. */
size_t mets_yaml_decimal_len(const char *s);

/* Whether n is a scalar written with quotes or as a block (`|`, `>`): a string, never a number or a bool. */
bool mets_yaml_is_quoted(const yaml_node_t *n);

#endif
