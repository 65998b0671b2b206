/* A strict parser of multipart/form-data bodies (RFC 7578 over RFC 2046), for the uploads a
 * browser without JavaScript sends from <form enctype="multipart/form-data">.
 *
 * h2o hands webd the whole body in memory (capped by limits.max_message_bytes), so this is
 * a parser over one buffer, not a stream: part data points into the body (no copy), only
 * names and filenames are decoded, into fixed arrays inside struct multipart (no
 * allocation at all). Everything in the body is peer-controlled, so every dimension is
 * capped (parts, header bytes and lines per part, name and filename length) and every
 * refusal has its own code (multipart_err) so a handler can answer 400/413/415 with a
 * reason and a test can tell the cases apart.
 *
 * Strict where a lenient reading would let two parsers disagree on the same bytes: lines
 * end in CRLF (a bare LF or CR is refused), a part ends at the first CRLF--boundary, a
 * repeated Content-Disposition or parameter is refused, and a filename must be a plain base
 * name (browsers send only that; '/', '\', "..", NUL or a control character is an attack or
 * a broken client). No I/O, no logging. */
#pragma once

#include <stddef.h>

#define MULTIPART_MAX_BYTES        (1u << 20) /* webd passes its limits.max_message_bytes */
#define MULTIPART_MAX_PARTS        32u
#define MULTIPART_MAX_HEADER_BYTES (8u << 10) /* one part's header block, blank line included */
#define MULTIPART_MAX_HEADER_LINES 16u
#define MULTIPART_MAX_NAME         128u
#define MULTIPART_MAX_FILENAME     255u
#define MULTIPART_MAX_BOUNDARY     70u /* RFC 2046 §5.1.1 */

enum multipart_err {
        MULTIPART_ERR_NONE,
        MULTIPART_ERR_TOO_BIG,            /* body longer than max_bytes (-E2BIG) */
        MULTIPART_ERR_NOT_FORM_DATA,      /* Content-Type is not multipart/form-data (-EMEDIUMTYPE) */
        MULTIPART_ERR_BAD_CONTENT_TYPE,   /* its parameters malformed or repeated (-EINVAL) */
        MULTIPART_ERR_NO_BOUNDARY,        /* no boundary parameter (-EINVAL) */
        MULTIPART_ERR_BAD_BOUNDARY,       /* empty, over 70 bytes, outside RFC 2046's set (-EINVAL) */
        MULTIPART_ERR_NO_DELIMITER,       /* no --boundary line in the body (-EBADMSG) */
        MULTIPART_ERR_BARE_LF,            /* a line ended by LF without CR (-EBADMSG) */
        MULTIPART_ERR_BAD_DELIMITER_LINE, /* --boundary followed by other than CRLF or "--" (-EBADMSG) */
        MULTIPART_ERR_TRUNCATED,          /* the body ends before --boundary-- (-ENODATA) */
        MULTIPART_ERR_TOO_MANY_PARTS,     /* more than max_parts parts (-E2BIG) */
        MULTIPART_ERR_HEADERS_TOO_BIG,    /* a part's header block over max_header_bytes (-E2BIG) */
        MULTIPART_ERR_TOO_MANY_HEADERS,   /* more than max_header_lines header lines (-E2BIG) */
        MULTIPART_ERR_BAD_HEADER,         /* no ':', bad name, folded, bare CR, control byte, or no
                                           * empty line before the next delimiter (-EINVAL) */
        MULTIPART_ERR_NO_DISPOSITION,     /* a part without Content-Disposition (-EINVAL) */
        MULTIPART_ERR_BAD_DISPOSITION,    /* not form-data, malformed, or repeated (-EINVAL) */
        MULTIPART_ERR_BAD_ESCAPE,         /* '\' in a quoted string not before '"' or '\' (-EINVAL) */
        MULTIPART_ERR_NO_NAME,            /* no name parameter, or an empty one (-EINVAL) */
        MULTIPART_ERR_NAME_TOO_LONG,      /* a name over max_name bytes (-E2BIG) */
        MULTIPART_ERR_BAD_NAME,           /* a NUL or control character in a name (-EINVAL) */
        MULTIPART_ERR_FILENAME_TOO_LONG,  /* a filename over max_filename bytes (-E2BIG) */
        MULTIPART_ERR_BAD_FILENAME,       /* '/', '\', NUL, a control, "." or ".." (-EINVAL) */
        MULTIPART_ERR_BAD_UTF8,           /* a name or filename that is not UTF-8 (-EILSEQ) */
        _MULTIPART_ERR_MAX,
};

/* A short phrase for a 400 page ("part headers too long"); "unknown" out of range. */
const char *multipart_err_to_string(enum multipart_err e);

/* Caps; a value above the MULTIPART_MAX_* of an array below (parts, name, filename) is
 * lowered to it; 0 takes the default. NULL = the defaults. */
struct multipart_limits {
        size_t max_bytes, max_parts, max_header_bytes, max_header_lines, max_name, max_filename;
};

struct multipart_part {
        const char *name; /* NUL-terminated, 1..max_name bytes of UTF-8, no control byte */
        size_t name_len;
        /* NULL for a plain field. "" when a file input was left empty (browsers send
         * filename="" then); else a base name: UTF-8, no '/', '\', NUL or control, not "."
         * or "..". Taken as sent: "%22" (how browsers send '"') is not decoded. */
        const char *filename;
        size_t filename_len;
        const char *data; /* into the body: the part's bytes, any content, not NUL-terminated */
        size_t len;
};

/* About 13 KiB (the names live here): keep it off small stacks. */
struct multipart {
        struct multipart_part parts[MULTIPART_MAX_PARTS];
        size_t n;
        enum multipart_err err;
        size_t err_offset; /* where parsing stopped: in the body, or in the Content-Type for
                            * NOT_FORM_DATA .. BAD_BOUNDARY */
        char _names[MULTIPART_MAX_PARTS][MULTIPART_MAX_NAME + 1];
        char _filenames[MULTIPART_MAX_PARTS][MULTIPART_MAX_FILENAME + 1];
        char _delim[4 + MULTIPART_MAX_BOUNDARY + 1]; /* "\r\n--" boundary */
        size_t _delim_len;
};

/* Parses body (len bytes) as multipart/form-data with the boundary from content_type, the
 * request's Content-Type value (ct_len bytes, "multipart/form-data; boundary=..."; the
 * boundary quoted or not). The preamble before the first delimiter and the epilogue after
 * the closing one are ignored; each part needs Content-Disposition: form-data with a
 * name (a filename makes it a file), its Content-Type and any other header are ignored.
 * Quoted strings take '\' only before '"' or '\' (old Firefox escaped '"' that way).
 * Returns 0 with m->parts[0..n) in body order (duplicates kept), or a negative errno with
 * m->err and m->err_offset set and m->n = 0. Needs no cleanup; the parts are valid as long
 * as body is. */
int multipart_parse(struct multipart *m, const char *content_type, size_t ct_len, const char *body,
                    size_t len, const struct multipart_limits *lim);

/* The part named name if there is exactly one, else NULL (none, or two "csrf_token"
 * parts: an attack or a bug, not a choice). File and plain parts alike. */
const struct multipart_part *multipart_field(const struct multipart *m, const char *name);
/* How many parts are named name (several "file" parts are normal). */
size_t multipart_count(const struct multipart *m, const char *name);
