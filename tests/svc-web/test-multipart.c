/* Unit tests of the multipart/form-data parser (svc-web/webd-multipart.c): bodies as
 * browsers send them, and each way a hand-made one can be wrong. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "svc-web/webd-multipart.h"

/* A string literal with its length, NUL bytes inside included. */
#define LIT(s) s, sizeof(s) - 1

#define CHROME_CT "multipart/form-data; boundary=----WebKitFormBoundaryq3ZjK8sV0nT1bXyA"
#define CB        "------WebKitFormBoundaryq3ZjK8sV0nT1bXyA"

/* What Chromium sends for a form with csrf_token, path and a multiple file input holding
 * two files (byte for byte; the second file ends in a newline of its own). */
static const char chrome_body[] =
        CB "\r\n"
           "Content-Disposition: form-data; name=\"csrf_token\"\r\n"
           "\r\n"
           "0123456789abcdef0123456789abcdef\r\n" CB "\r\n"
           "Content-Disposition: form-data; name=\"path\"\r\n"
           "\r\n"
           "cfg/sourcemod\r\n" CB "\r\n"
           "Content-Disposition: form-data; name=\"file\"; filename=\"server.cfg\"\r\n"
           "Content-Type: application/octet-stream\r\n"
           "\r\n"
           "hostname \"left4me\"\r\nsv_cheats 0\r\n" CB "\r\n"
           "Content-Disposition: form-data; name=\"file\"; filename=\"motd.txt\"\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "Welcome!\n\r\n" CB "--\r\n";

static struct multipart m;

static int parse(const char *ct, const char *body, size_t len) {
        return multipart_parse(&m, ct, strlen(ct), body, len, NULL);
}

static void assert_data(const struct multipart_part *p, const char *s, size_t n) {
        cr_assert_eq(p->len, n, "len %zu, expected %zu", p->len, n);
        cr_assert_eq(memcmp(p->data, s, n), 0);
}

static void assert_refused(int r, int errno_expected, enum multipart_err e) {
        cr_assert_eq(r, errno_expected, "r=%d (%s), expected %d", r, multipart_err_to_string(m.err),
                     errno_expected);
        cr_assert_eq(m.err, e, "err %s, expected %s", multipart_err_to_string(m.err),
                     multipart_err_to_string(e));
        cr_assert_eq(m.n, 0);
}

Test(multipart, chromium_two_files_two_fields) {
        const struct multipart_part *p;

        cr_assert_eq(parse(CHROME_CT, LIT(chrome_body)), 0, "%s", multipart_err_to_string(m.err));
        cr_assert_eq(m.n, 4);
        p = multipart_field(&m, "csrf_token");
        cr_assert_not_null(p);
        cr_assert_null(p->filename);
        assert_data(p, LIT("0123456789abcdef0123456789abcdef"));
        p = multipart_field(&m, "path");
        cr_assert_not_null(p);
        assert_data(p, LIT("cfg/sourcemod"));
        cr_assert_null(multipart_field(&m, "file")); /* two of them */
        cr_assert_eq(multipart_count(&m, "file"), 2);
        cr_assert_str_eq(m.parts[2].name, "file");
        cr_assert_str_eq(m.parts[2].filename, "server.cfg");
        cr_assert_eq(m.parts[2].filename_len, 10);
        assert_data(&m.parts[2], LIT("hostname \"left4me\"\r\nsv_cheats 0"));
        cr_assert_str_eq(m.parts[3].filename, "motd.txt");
        assert_data(&m.parts[3], LIT("Welcome!\n"));
        /* Zero-copy: the data lies inside the body. */
        cr_assert(m.parts[3].data > chrome_body &&
                  m.parts[3].data + m.parts[3].len < chrome_body + sizeof(chrome_body));
}

/* The same kind of form written by Python's email package (an independent writer; policy
 * HTTP gives CRLF line ends, and its boundary has '=' in it, so the Content-Type quotes it),
 * saved as a fuzz seed: the first line is the Content-Type, the rest the body. Made with
 * MIMEMultipart('form-data'), two MIMEText parts and a MIMEApplication part without
 * transfer encoding, each given add_header('Content-Disposition', 'form-data', name=...). */
Test(multipart, python_email_generated) {
        const char *dir = getenv("MULTIPART_CORPUS") ?: "tests/svc-web/corpus-multipart";
        char path[512], buf[4096], *nl;
        _cleanup_fclose_ FILE *f = NULL;
        size_t len;

        snprintf(path, sizeof(path), "%s/python-email", dir);
        f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %m", path);
        len = fread(buf, 1, sizeof(buf), f);
        cr_assert(len > 0 && len < sizeof(buf));
        nl = memchr(buf, '\n', len);
        cr_assert_not_null(nl);
        cr_assert_eq(
                multipart_parse(&m, buf, (size_t) (nl - buf), nl + 1, len - (size_t) (nl + 1 - buf), NULL),
                0, "%s at %zu", multipart_err_to_string(m.err), m.err_offset);
        cr_assert_eq(m.n, 3);
        assert_data(multipart_field(&m, "csrf_token"), LIT("tok"));
        assert_data(multipart_field(&m, "path"), LIT("cfg"));
        cr_assert_str_eq(multipart_field(&m, "file")->filename, "a b.vpk");
        assert_data(multipart_field(&m, "file"), LIT("\x00\x01 bin\r\n"));
}

/* Old Firefox: a quoted boundary, a charset parameter, '"' escaped with a backslash. */
Test(multipart, quoted_boundary_and_backslash_escape) {
        static const char ct[] = "Multipart/Form-Data; charset=utf-8; boundary=\"b'()+_,-./:=? x\"";
        static const char body[] = "--b'()+_,-./:=? x\r\n"
                                   "content-disposition: form-data; name=\"say \\\"hi\\\"\"; "
                                   "filename=\"a \\\"q\\\".txt\"\r\n"
                                   "\r\n"
                                   "x\r\n"
                                   "--b'()+_,-./:=? x--";

        cr_assert_eq(parse(ct, LIT(body)), 0, "%s at %zu", multipart_err_to_string(m.err), m.err_offset);
        cr_assert_eq(m.n, 1);
        cr_assert_str_eq(m.parts[0].name, "say \"hi\"");
        cr_assert_str_eq(m.parts[0].filename, "a \"q\".txt");
        assert_data(&m.parts[0], LIT("x"));
}

Test(multipart, unquoted_values_preamble_epilogue_padding) {
        static const char body[] = "This is the preamble.\r\nIt is ignored, even --B here.\r\n"
                                   "--B \t\r\n"
                                   "Content-Disposition: form-data;name=path\r\n"
                                   "X-Other: ignored\r\n"
                                   "\r\n"
                                   "p\r\n"
                                   "--B-- \r\n"
                                   "epilogue\nwith bare LF, --B, anything";

        cr_assert_eq(parse("multipart/form-data;boundary=B", LIT(body)), 0, "%s at %zu",
                     multipart_err_to_string(m.err), m.err_offset);
        cr_assert_eq(m.n, 1);
        assert_data(multipart_field(&m, "path"), LIT("p"));
}

Test(multipart, empty_file_and_no_file_chosen) {
        static const char body[] =
                "--B\r\n"
                "Content-Disposition: form-data; name=\"file\"; filename=\"empty.txt\"\r\n"
                "Content-Type: text/plain\r\n"
                "\r\n"
                "\r\n"
                "--B\r\n"
                "Content-Disposition: form-data; name=\"file\"; filename=\"\"\r\n"
                "Content-Type: application/octet-stream\r\n"
                "\r\n"
                "\r\n"
                "--B\r\n"
                "Content-Disposition: form-data; name=\"note\"\r\n"
                "\r\n"
                "\r\n"
                "--B--\r\n";

        cr_assert_eq(parse("multipart/form-data; boundary=B", LIT(body)), 0, "%s at %zu",
                     multipart_err_to_string(m.err), m.err_offset);
        cr_assert_eq(m.n, 3);
        cr_assert_str_eq(m.parts[0].filename, "empty.txt");
        cr_assert_eq(m.parts[0].len, 0);
        cr_assert_str_eq(m.parts[1].filename, "");
        cr_assert_eq(m.parts[1].filename_len, 0);
        cr_assert_eq(m.parts[1].len, 0);
        cr_assert_null(m.parts[2].filename);
        cr_assert_eq(m.parts[2].len, 0);
}

Test(multipart, empty_form) {
        cr_assert_eq(parse("multipart/form-data; boundary=B", LIT("--B--\r\n")), 0);
        cr_assert_eq(m.n, 0);
        cr_assert_null(multipart_field(&m, "x"));
}

/* The boundary string inside data is data unless CRLF precedes it. */
Test(multipart, boundary_inside_data_is_kept) {
        static const char data[] =
                "x--B at the start\n--B after LF\r--B after CR\r\n-B\r\n--X x--B--\x00\xff";
        static const char body[] =
                "--B\r\n"
                "Content-Disposition: form-data; name=\"file\"; filename=\"tricky.bin\"\r\n"
                "\r\n"
                "x--B at the start\n--B after LF\r--B after CR\r\n-B\r\n--X x--B--\x00\xff"
                "\r\n--B--\r\n";

        cr_assert_eq(parse("multipart/form-data; boundary=B", LIT(body)), 0, "%s at %zu",
                     multipart_err_to_string(m.err), m.err_offset);
        cr_assert_eq(m.n, 1);
        assert_data(&m.parts[0], LIT(data));
}

/* A part ends at the first CRLF--boundary: what follows must be CRLF or "--". */
Test(multipart, delimiter_followed_by_junk) {
        assert_refused(parse("multipart/form-data; boundary=B",
                             LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--BB\r\n--B--")),
                       -EBADMSG, MULTIPART_ERR_BAD_DELIMITER_LINE);
        assert_refused(parse("multipart/form-data; boundary=B", LIT("--Bx\r\n")), -EBADMSG,
                       MULTIPART_ERR_BAD_DELIMITER_LINE);
        assert_refused(parse("multipart/form-data; boundary=B", LIT("--B--x")), -EBADMSG,
                       MULTIPART_ERR_BAD_DELIMITER_LINE);
}

Test(multipart, bare_lf_refused) {
        char lf[sizeof(chrome_body)];
        size_t n = 0;

        for (size_t i = 0; i < sizeof(chrome_body) - 1; i++)
                if (chrome_body[i] != '\r')
                        lf[n++] = chrome_body[i];
        assert_refused(parse(CHROME_CT, lf, n), -EBADMSG, MULTIPART_ERR_BARE_LF);
        cr_assert_eq(m.err_offset, strlen(CB));

        /* Only one header line ended by LF. */
        assert_refused(parse("multipart/form-data; boundary=B",
                             LIT("--B\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\nx\r\n--B--")),
                       -EBADMSG, MULTIPART_ERR_BARE_LF);
        /* The delimiter lines ended by LF, the rest by CRLF. */
        assert_refused(parse("multipart/form-data; boundary=B",
                             LIT("--B\nContent-Disposition: form-data; name=a\r\n\r\nx\n--B--\n")),
                       -EBADMSG, MULTIPART_ERR_BARE_LF);
        assert_refused(parse("multipart/form-data; boundary=B",
                             LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\n--B--\n")),
                       -EBADMSG, MULTIPART_ERR_BARE_LF);
        /* A bare CR in a header. */
        assert_refused(parse("multipart/form-data; boundary=B",
                             LIT("--B\r\nContent-Disposition: form-data; name=a\rX: y\r\n\r\nx\r\n--B--")),
                       -EINVAL, MULTIPART_ERR_BAD_HEADER);
}

Test(multipart, missing_closing_delimiter) {
        /* Everything but the final "--B--\r\n". */
        size_t cut = sizeof(chrome_body) - 1 - strlen(CB "--\r\n");

        assert_refused(parse(CHROME_CT, chrome_body, cut), -ENODATA, MULTIPART_ERR_TRUNCATED);
        cr_assert_eq(m.err_offset, cut);
        /* Ends with a delimiter that is not the closing one. */
        assert_refused(parse("multipart/form-data; boundary=B",
                             LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--B\r\n")),
                       -ENODATA, MULTIPART_ERR_TRUNCATED);
        assert_refused(parse("multipart/form-data; boundary=B", LIT("no delimiter at all\r\n")), -EBADMSG,
                       MULTIPART_ERR_NO_DELIMITER);
        assert_refused(parse("multipart/form-data; boundary=B", LIT("")), -EBADMSG,
                       MULTIPART_ERR_NO_DELIMITER);
}

/* Every prefix of a valid body: never a crash (the process would die), and only the
 * complete one (with or without the CRLF after the closing delimiter) is accepted. */
Test(multipart, truncated_at_every_offset) {
        size_t len = sizeof(chrome_body) - 1, close_end = len - 2;

        for (size_t cut = 0; cut <= len; cut++) {
                /* A copy of exactly cut bytes, so ASan sees any read past it. */
                char *b = malloc(cut ? cut : 1);
                int r;

                cr_assert_not_null(b);
                memcpy(b, chrome_body, cut);
                r = parse(CHROME_CT, b, cut);
                if (cut == len || cut == close_end)
                        cr_assert_eq(r, 0, "cut %zu: %s", cut, multipart_err_to_string(m.err));
                else {
                        cr_assert_lt(r, 0, "cut %zu accepted", cut);
                        cr_assert_eq(m.n, 0);
                        cr_assert_leq(m.err_offset, cut);
                }
                free(b);
        }
}

static char *parts_body(size_t n, size_t *ret_len) {
        size_t cap = 64 * n + 16, o = 0;
        char *b = malloc(cap);

        cr_assert_not_null(b);
        for (size_t i = 0; i < n; i++)
                o += (size_t) snprintf(b + o, cap - o,
                                       "--B\r\nContent-Disposition: form-data; name=\"f%zu\"\r\n\r\nv\r\n",
                                       i);
        o += (size_t) snprintf(b + o, cap - o, "--B--\r\n");
        *ret_len = o;
        return b;
}

Test(multipart, at_most_32_parts) {
        size_t len;
        _cleanup_free_ char *ok = parts_body(32, &len);
        _cleanup_free_ char *bad = NULL;

        cr_assert_eq(parse("multipart/form-data; boundary=B", ok, len), 0);
        cr_assert_eq(m.n, 32);
        cr_assert_str_eq(m.parts[31].name, "f31");
        bad = parts_body(33, &len);
        assert_refused(parse("multipart/form-data; boundary=B", bad, len), -E2BIG,
                       MULTIPART_ERR_TOO_MANY_PARTS);
}

static char *header_body(size_t lines, size_t pad, size_t *ret_len) {
        size_t cap = lines * 32 + pad + 256, o = 0;
        char *b = malloc(cap);

        cr_assert_not_null(b);
        o += (size_t) snprintf(b + o, cap - o, "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n");
        for (size_t i = 1; i < lines; i++)
                o += (size_t) snprintf(b + o, cap - o, "X-H%zu: v\r\n", i);
        if (pad) {
                o += (size_t) snprintf(b + o, cap - o, "X-Pad: ");
                memset(b + o, 'p', pad);
                o += pad;
                o += (size_t) snprintf(b + o, cap - o, "\r\n");
        }
        o += (size_t) snprintf(b + o, cap - o, "\r\nx\r\n--B--\r\n");
        *ret_len = o;
        return b;
}

Test(multipart, header_caps) {
        size_t len;
        char *b;

        b = header_body(16, 0, &len);
        cr_assert_eq(parse("multipart/form-data; boundary=B", b, len), 0);
        free(b);
        b = header_body(17, 0, &len);
        assert_refused(parse("multipart/form-data; boundary=B", b, len), -E2BIG,
                       MULTIPART_ERR_TOO_MANY_HEADERS);
        free(b);
        /* The block: 42 bytes of Content-Disposition line, the pad line, the empty line. */
        b = header_body(1, 8192 - 42 - 9 - 2, &len);
        cr_assert_eq(parse("multipart/form-data; boundary=B", b, len), 0, "%s",
                     multipart_err_to_string(m.err));
        free(b);
        b = header_body(1, 8192 - 42 - 9 - 2 + 1, &len);
        assert_refused(parse("multipart/form-data; boundary=B", b, len), -E2BIG,
                       MULTIPART_ERR_HEADERS_TOO_BIG);
        free(b);
        b = header_body(1, 100000, &len);
        assert_refused(parse("multipart/form-data; boundary=B", b, len), -E2BIG,
                       MULTIPART_ERR_HEADERS_TOO_BIG);
        free(b);
}

static int parse_cd(const char *cd) {
        char body[1024];
        int n = snprintf(body, sizeof(body), "--B\r\nContent-Disposition: %s\r\n\r\nx\r\n--B--\r\n", cd);

        cr_assert_lt((size_t) n, sizeof(body));
        return parse("multipart/form-data; boundary=B", body, (size_t) n);
}

static int parse_filename(const char *raw, size_t n) {
        char body[1024];
        size_t o = (size_t) snprintf(body, sizeof(body),
                                     "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");

        memcpy(body + o, raw, n);
        o += n;
        o += (size_t) snprintf(body + o, sizeof(body) - o, "\"\r\n\r\nx\r\n--B--\r\n");
        return parse("multipart/form-data; boundary=B", body, o);
}

Test(multipart, filenames) {
        char longname[300];

        cr_assert_eq(parse_filename(LIT("caf\xc3\xa9 %22x%22.cfg")), 0);
        cr_assert_str_eq(m.parts[0].filename, "caf\xc3\xa9 %22x%22.cfg");
        assert_refused(parse_filename(LIT("cfg/server.cfg")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT("/etc/passwd")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT("..\\x")), -EINVAL, MULTIPART_ERR_BAD_ESCAPE);
        assert_refused(parse_filename(LIT("..\\\\x")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT("a\x00.txt")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT("a\tb")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT("a\x7f")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT("..")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT(".")), -EINVAL, MULTIPART_ERR_BAD_FILENAME);
        assert_refused(parse_filename(LIT("\xc3(")), -EILSEQ, MULTIPART_ERR_BAD_UTF8);
        cr_assert_eq(parse_filename(LIT("...")), 0);
        memset(longname, 'n', sizeof(longname));
        cr_assert_eq(parse_filename(longname, 255), 0);
        cr_assert_eq(m.parts[0].filename_len, 255);
        assert_refused(parse_filename(longname, 256), -E2BIG, MULTIPART_ERR_FILENAME_TOO_LONG);
}

Test(multipart, dispositions) {
        char longname[200];
        char cd[300];

        cr_assert_eq(parse_cd("form-data; name=\"a\"; filename*=UTF-8''x.txt; foo=bar"), 0);
        cr_assert_null(m.parts[0].filename);
        cr_assert_eq(parse_cd("FORM-DATA ; NAME=\"a\" ; FileName=\"f\" "), 0);
        cr_assert_str_eq(m.parts[0].filename, "f");
        assert_refused(parse_cd("attachment; name=\"a\""), -EINVAL, MULTIPART_ERR_BAD_DISPOSITION);
        assert_refused(parse_cd("form-data"), -EINVAL, MULTIPART_ERR_NO_NAME);
        assert_refused(parse_cd("form-data; name=\"\""), -EINVAL, MULTIPART_ERR_NO_NAME);
        assert_refused(parse_cd("form-data; name=\"a\"; name=\"b\""), -EINVAL,
                       MULTIPART_ERR_BAD_DISPOSITION);
        assert_refused(parse_cd("form-data; name=\"a\"; filename=\"x\"; filename=\"y\""), -EINVAL,
                       MULTIPART_ERR_BAD_DISPOSITION);
        assert_refused(parse_cd("form-data; name=\"a"), -EINVAL, MULTIPART_ERR_BAD_DISPOSITION);
        assert_refused(parse_cd("form-data; name = \"a\""), -EINVAL, MULTIPART_ERR_BAD_DISPOSITION);
        assert_refused(parse_cd("form-data; name=\"a\" junk"), -EINVAL, MULTIPART_ERR_BAD_DISPOSITION);
        assert_refused(parse_cd("form-data; name=\"a\";"), -EINVAL, MULTIPART_ERR_BAD_DISPOSITION);
        assert_refused(parse_cd("form-data; name=\"a\x01\""), -EINVAL, MULTIPART_ERR_BAD_NAME);
        assert_refused(parse_cd("form-data; name=\"\xff\""), -EILSEQ, MULTIPART_ERR_BAD_UTF8);
        memset(longname, 'n', sizeof(longname));
        snprintf(cd, sizeof(cd), "form-data; name=\"%.128s\"", longname);
        cr_assert_eq(parse_cd(cd), 0);
        cr_assert_eq(m.parts[0].name_len, 128);
        snprintf(cd, sizeof(cd), "form-data; name=\"%.129s\"", longname);
        assert_refused(parse_cd(cd), -E2BIG, MULTIPART_ERR_NAME_TOO_LONG);
}

Test(multipart, headers) {
        static const char *const ct = "multipart/form-data; boundary=B";

        assert_refused(parse(ct, LIT("--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--")), -EINVAL,
                       MULTIPART_ERR_NO_DISPOSITION);
        assert_refused(parse(ct, LIT("--B\r\n\r\nx\r\n--B--")), -EINVAL, MULTIPART_ERR_NO_DISPOSITION);
        assert_refused(parse(ct, LIT("--B\r\nContent-Disposition: form-data; name=a\r\n"
                                     "Content-Disposition: form-data; name=b\r\n\r\nx\r\n--B--")),
                       -EINVAL, MULTIPART_ERR_BAD_DISPOSITION);
        /* Folded, no colon, a space before the colon, a control in another header. */
        assert_refused(
                parse(ct,
                      LIT("--B\r\nContent-Disposition: form-data; name=a\r\nX: a\r\n b\r\n\r\nx\r\n--B--")),
                -EINVAL, MULTIPART_ERR_BAD_HEADER);
        assert_refused(
                parse(ct, LIT("--B\r\nContent-Disposition: form-data; name=a\r\nnocolon\r\n\r\nx\r\n--B--")),
                -EINVAL, MULTIPART_ERR_BAD_HEADER);
        assert_refused(parse(ct, LIT("--B\r\nContent-Disposition : form-data; name=a\r\n\r\nx\r\n--B--")),
                       -EINVAL, MULTIPART_ERR_BAD_HEADER);
        assert_refused(parse(ct, LIT("--B\r\nContent-Disposition: form-data; name=a\r\nX: a\x00"
                                     "b\r\n\r\nx\r\n--B--")),
                       -EINVAL, MULTIPART_ERR_BAD_HEADER);
        /* The next delimiter comes before the empty line. */
        assert_refused(parse(ct, LIT("--B\r\nContent-Disposition: form-data; name=a\r\n--B--")), -EINVAL,
                       MULTIPART_ERR_BAD_HEADER);
        assert_refused(parse(ct, LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n--B--")), -EINVAL,
                       MULTIPART_ERR_BAD_HEADER);
}

Test(multipart, duplicate_field) {
        static const char body[] =
                "--B\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\none\r\n"
                "--B\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\ntwo\r\n"
                "--B\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\np\r\n"
                "--B--\r\n";

        cr_assert_eq(parse("multipart/form-data; boundary=B", LIT(body)), 0);
        cr_assert_eq(m.n, 3);
        cr_assert_null(multipart_field(&m, "csrf_token"));
        cr_assert_eq(multipart_count(&m, "csrf_token"), 2);
        cr_assert_not_null(multipart_field(&m, "path"));
        cr_assert_null(multipart_field(&m, "absent"));
}

Test(multipart, content_types) {
        static const char body[] = "--B--";
        char ct[200];

        assert_refused(parse("multipart/mixed; boundary=B", LIT(body)), -EMEDIUMTYPE,
                       MULTIPART_ERR_NOT_FORM_DATA);
        assert_refused(parse("application/x-www-form-urlencoded", LIT(body)), -EMEDIUMTYPE,
                       MULTIPART_ERR_NOT_FORM_DATA);
        assert_refused(parse("", LIT(body)), -EMEDIUMTYPE, MULTIPART_ERR_NOT_FORM_DATA);
        assert_refused(parse("multipart/form-data", LIT(body)), -EINVAL, MULTIPART_ERR_NO_BOUNDARY);
        assert_refused(parse("multipart/form-data; charset=utf-8", LIT(body)), -EINVAL,
                       MULTIPART_ERR_NO_BOUNDARY);
        assert_refused(parse("multipart/form-data; boundary=B; boundary=C", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_CONTENT_TYPE);
        assert_refused(parse("multipart/form-data; boundary=", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_CONTENT_TYPE);
        assert_refused(parse("multipart/form-data; boundary=\"\"", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_BOUNDARY);
        assert_refused(parse("multipart/form-data; boundary=\"B \"", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_BOUNDARY);
        assert_refused(parse("multipart/form-data; boundary=B@x", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_CONTENT_TYPE);
        assert_refused(parse("multipart/form-data; boundary=\"B@x\"", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_BOUNDARY);
        assert_refused(parse("multipart/form-data; boundary=\"B\\\\\"", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_BOUNDARY);
        assert_refused(parse("multipart/form-data; boundary=\"B", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_CONTENT_TYPE);
        assert_refused(parse("multipart/form-data boundary=B", LIT(body)), -EINVAL,
                       MULTIPART_ERR_BAD_CONTENT_TYPE);
        assert_refused(parse("multipart/form-datax; boundary=B", LIT(body)), -EMEDIUMTYPE,
                       MULTIPART_ERR_NOT_FORM_DATA);
        snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%070d", 7);
        cr_assert_eq(
                parse(ct, LIT("--0000000000000000000000000000000000000000000000000000000000000000000007--")),
                0);
        snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%071d", 7);
        assert_refused(parse(ct, LIT(body)), -EINVAL, MULTIPART_ERR_BAD_BOUNDARY);
}

Test(multipart, limits) {
        struct multipart_limits lim = {.max_bytes = 100,
                                       .max_parts = 1000,
                                       .max_header_bytes = 8192,
                                       .max_header_lines = 16,
                                       .max_name = 1000,
                                       .max_filename = 1000};
        size_t len;
        _cleanup_free_ char *b = parts_body(33, &len);

        cr_assert_eq(multipart_parse(&m, LIT("multipart/form-data; boundary=B"), b, len, &lim), -E2BIG);
        cr_assert_eq(m.err, MULTIPART_ERR_TOO_BIG);
        /* Above the arrays' sizes: lowered to them. */
        lim.max_bytes = len;
        cr_assert_eq(multipart_parse(&m, LIT("multipart/form-data; boundary=B"), b, len, &lim), -E2BIG);
        cr_assert_eq(m.err, MULTIPART_ERR_TOO_MANY_PARTS);
        lim.max_parts = 2;
        cr_assert_eq(multipart_parse(&m, LIT("multipart/form-data; boundary=B"), b, len, &lim), -E2BIG);
        cr_assert_eq(m.err, MULTIPART_ERR_TOO_MANY_PARTS);
}

Test(multipart, every_error_has_a_phrase) {
        for (int e = 0; e < _MULTIPART_ERR_MAX; e++) {
                cr_assert_not_null(multipart_err_to_string((enum multipart_err) e));
                cr_assert_str_neq(multipart_err_to_string((enum multipart_err) e), "unknown");
        }
        cr_assert_str_eq(multipart_err_to_string(_MULTIPART_ERR_MAX), "unknown");
}
