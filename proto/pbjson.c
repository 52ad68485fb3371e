#include "pbjson.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every enum starts with NAME_UNSPECIFIED = 0 (proto/README.md, rule 3), so that value's name gives the
 * prefix that all the values share. */
static size_t enum_prefix_len(const ProtobufCEnumDescriptor *d)
{
    static const char unspecified[] = "UNSPECIFIED";
    const char *first = d->n_values ? d->values[0].name : "";
    size_t n = strlen(first);
    return n >= sizeof unspecified - 1 ? n - (sizeof unspecified - 1) : 0;
}

const char *mets_pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value, char *buf, size_t size)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    if (!v) {
        snprintf(buf, size, "%d", value);
        return buf;
    }
    snprintf(buf, size, "%s", v->name + enum_prefix_len(d));
    for (char *c = buf; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return buf;
}

int mets_pbjson_enum_value(const ProtobufCEnumDescriptor *d, const char *name)
{
    char buf[128];
    for (unsigned i = 0; i < d->n_values; i++)
        if (!strcmp(mets_pbjson_enum_name(d, d->values[i].value, buf, sizeof buf), name))
            return d->values[i].value;
    return -1;
}

const char *mets_pbjson_iso_time(int64_t us, char *buf, size_t size)
{
    int64_t s = us / 1000000, frac = us % 1000000;
    if (frac < 0) /* floor, so that times before 1970 still read forwards */
        s--, frac += 1000000;
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, size, "%" PRId64, us);
        return buf;
    }
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%06" PRId64 "Z", frac);
    return buf;
}

/* The shortest decimal that reads back as the same float, so that 0.87f prints as 0.87. */
static json_t *float_json(float f)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return json_real(strtod(buf, NULL));
}

static json_t *base64_json(const ProtobufCBinaryData *b)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((b->len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t v = (uint32_t)b->data[i] << 16 | (i + 1 < b->len ? (uint32_t)b->data[i + 1] << 8 : 0) |
                     (i + 2 < b->len ? b->data[i + 2] : 0);
        *o++ = abc[v >> 18], *o++ = abc[v >> 12 & 63];
        *o++ = i + 1 < b->len ? abc[v >> 6 & 63] : '=';
        *o++ = i + 2 < b->len ? abc[v & 63] : '=';
    }
    *o = '\0';
    json_t *j = json_string(out);
    free(out);
    return j;
}

/* One value of field f stored at p. */
static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p, int payloads)
{
    char buf[128];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t)*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT: return float_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return json_string(mets_pbjson_enum_name(f->descriptor, *(const int *)p, buf, sizeof buf));
    case PROTOBUF_C_TYPE_STRING: return json_string(*(char *const *)p ? *(char *const *)p : "");
    case PROTOBUF_C_TYPE_BYTES: return base64_json(p);
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p ? mets_pbjson_message(*(ProtobufCMessage *const *)p, payloads) : json_null();
    }
    return json_null();
}

static size_t value_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    default: return 4;
    }
}

static json_t *repeated_json(const ProtobufCFieldDescriptor *f, const char *array, size_t n, int payloads)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, value_json(f, array + i * value_size(f->type), payloads));
    return a;
}

/* Adds field f of message base to o: a payload as its length unless wanted, a time also in ISO 8601. */
static void add_field(json_t *o, const ProtobufCFieldDescriptor *f, const char *base, int payloads)
{
    char name[160], iso[40];
    const void *p = base + f->offset;
    int payload = f->type == PROTOBUF_C_TYPE_BYTES ||
                  (f->label == PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_MESSAGE);
    size_t n = f->label == PROTOBUF_C_LABEL_REPEATED ? *(const size_t *)(base + f->quantifier_offset)
               : f->type == PROTOBUF_C_TYPE_BYTES    ? ((const ProtobufCBinaryData *)p)->len
                                                     : 1;
    if (payload && !payloads) {
        snprintf(name, sizeof name, "%s_length", f->name);
        json_object_set_new(o, name, json_integer((json_int_t)n));
        return;
    }
    json_object_set_new(o, f->name, f->label == PROTOBUF_C_LABEL_REPEATED
                                        ? repeated_json(f, *(char *const *)p, n, payloads)
                                        : value_json(f, p, payloads));
    size_t len = strlen(f->name);
    if (f->type == PROTOBUF_C_TYPE_INT64 && f->label != PROTOBUF_C_LABEL_REPEATED && len > 3 &&
        !strcmp(f->name + len - 3, "_us")) {
        snprintf(name, sizeof name, "%.*s", (int)(len - 3), f->name);
        json_object_set_new(o, name, json_string(mets_pbjson_iso_time(*(const int64_t *)p, iso, sizeof iso)));
    }
}

json_t *mets_pbjson_message(const ProtobufCMessage *m, int payloads)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_t *o = json_object();
    for (unsigned i = 0; o && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        /* A oneof member is there only when the oneof's case names it. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        add_field(o, f, base, payloads);
    }
    return o;
}
