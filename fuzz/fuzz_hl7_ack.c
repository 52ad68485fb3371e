/* libFuzzer target for what mets pcd reads from an alert manager (alerting/hl7.c mets_hl7_parse_ack): any
 * bytes give an acknowledgement or none, never a crash or undefined behaviour, and what it fills is bounded
 * text. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hl7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mets_hl7_ack ack;
    bool ok = mets_hl7_parse_ack((const char *)data, size, &ack);
    if (strnlen(ack.code, sizeof ack.code) >= sizeof ack.code ||
        strnlen(ack.control_id, sizeof ack.control_id) >= sizeof ack.control_id ||
        strnlen(ack.text, sizeof ack.text) >= sizeof ack.text || (ok && strlen(ack.code) != 2))
        __builtin_trap();
    return 0;
}
