/* fuzz_common_envelope.c: libFuzzer driver for envelope_decode(), the parser of every message that
 * crosses a process boundary. Any input must decode or be refused without a crash, a leak or a
 * read outside the input; what decodes must re-encode, decode again to the same message, and
 * re-encode to the same bytes (the encoder is deterministic, so equal bytes mean equal fields).
 * Seeds: fuzz/corpus/common_envelope/, one valid encoding per message type. */
#include "envelope.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msgpack_sbuffer first, second;
    envelope_t a, b;

    if (envelope_decode(data, size, &a) != 0)
        return 0;
    msgpack_sbuffer_init(&first);
    msgpack_sbuffer_init(&second);
    if (envelope_encode(&a, &first) != 0)
        abort();
    if (envelope_decode((const uint8_t *)first.data, first.size, &b) != 0 || b.type != a.type)
        abort();
    if (envelope_encode(&b, &second) != 0)
        abort();
    if (first.size != second.size || memcmp(first.data, second.data, first.size) != 0)
        abort();
    msgpack_sbuffer_destroy(&second);
    msgpack_sbuffer_destroy(&first);
    return 0;
}
