/* Any protobuf-c message as a jansson object, driven by the generated descriptors so that a field added
 * to proto/mets.proto shows up without code here. Thread-safe; the result belongs to the caller.
 *
 *     json_t *o = mets_pbjson_message(msg, 0);
 *     json_dumpf(o, stdout, JSON_COMPACT | METS_PBJSON_REAL_PRECISION);
 *
 * Mapping: each field by its proto name; enums as the lower-case value name without the enum's prefix
 * ("raised" for ALERT_STATE_RAISED); an int64 field named *_us (UTC µs) also as an ISO 8601 string under
 * the name without _us; nested messages as objects; repeated scalars and bytes ("payloads": embedding
 * vectors, a dead letter's original) in full only with `payloads` set (bytes in base64), else as their
 * length under NAME_length. */
#ifndef METS_PBJSON_H
#define METS_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Floats are written with their shortest round-trip digits, which a dump at 9 digits keeps exactly. */
#define METS_PBJSON_REAL_PRECISION JSON_REAL_PRECISION(9)

json_t *mets_pbjson_message(const ProtobufCMessage *m, int payloads);

/* The value's lower-case name without its enum's prefix into buf, or its number if it has none. */
const char *mets_pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value, char *buf, size_t size);

/* The value of a short lower-case enum name ("raised"), or -1. */
int mets_pbjson_enum_value(const ProtobufCEnumDescriptor *d, const char *name);

/* "2024-05-01T12:00:00.250000Z" from µs since 1970 (UTC), into buf of at least 32 bytes. */
const char *mets_pbjson_iso_time(int64_t us, char *buf, size_t size);

#endif
