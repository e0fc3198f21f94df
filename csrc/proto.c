/* The fields of one protobuf message, from the wire format (the ONNX reader:
 * dnnl_py/model/onnx_proto.py). Python's loop over a model's ~3,400 fields was half of
 * read_model, which comes before the weights' hashing can start. Every read is
 * bounds-checked against the message's end; a malformed field stops the scan with an
 * error code, never a read past it. */
#include "dnnl_kernels.h"

/* *value = the varint at buf[*at], *at past it; 0, or -1 where it is cut off by end or
 * longer than 10 bytes */
static int varint(const unsigned char *buf, int64_t *at, int64_t end, uint64_t *value) {
    uint64_t v = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
        if (*at >= end) return -1;
        const unsigned char b = buf[(*at)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

int64_t dnnl_proto_fields(const unsigned char *buf, int64_t *at, int64_t end,
                          dnnl_proto_field_t *out, int64_t cap, int *error) {
    int64_t n = 0;
    *error = 0;
    for (; *at < end && n < cap; ++n) {
        uint64_t tag, v;
        dnnl_proto_field_t *f = &out[n];
        f->number = f->value = 0;
        f->wire = 0;
        f->length = 0;
        if (varint(buf, at, end, &tag)) return *error = DNNL_PROTO_BAD_VARINT, n;
        f->number = tag >> 3;
        f->wire = (int)(tag & 7);
        switch (f->wire) {
        case 0: /* varint */
            if (varint(buf, at, end, &v)) return *error = DNNL_PROTO_BAD_VARINT, n;
            f->value = v;
            break;
        case 2: /* length-delimited: its offset and length */
            if (varint(buf, at, end, &v)) return *error = DNNL_PROTO_BAD_VARINT, n;
            if (v > (uint64_t)(end - *at)) return *error = DNNL_PROTO_PAST_END, n;
            f->value = (uint64_t)*at;
            f->length = (int64_t)v;
            *at += (int64_t)v;
            break;
        case 1: /* fixed64 */
        case 5: { /* fixed32 */
            const int bytes = f->wire == 1 ? 8 : 4;
            if (end - *at < bytes) return *error = DNNL_PROTO_TRUNCATED, n;
            v = 0;
            for (int i = 0; i < bytes; ++i) v |= (uint64_t)buf[*at + i] << (8 * i);
            f->value = v;
            *at += bytes;
            break;
        }
        default:
            return *error = DNNL_PROTO_BAD_WIRE, n;
        }
    }
    return n;
}
