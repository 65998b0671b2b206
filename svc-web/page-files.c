/* The files of a files overlay: a tree to browse, and folders and text files to make, edit,
 * rename, move and delete (docs/web.md, "Files"). webd decides who may (page-overlays.c
 * loads the row and checks the scope before calling here); hostd does every operation and
 * re-validates each path beneath the overlay (docs/host.md, "File operations"): webd never
 * opens a file of an overlay by name. Each change makes a new generation on the host, so a
 * running server keeps the files it started with.
 *
 * Downloads come as a descriptor with hostd's answer (docs/protocol.md, "Descriptors") and
 * are streamed from it in slices, so a file of any size passes through a fixed buffer; the
 * answer is an attachment with nosniff and a sandboxing CSP, never a page of our origin. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/map.h"
#include "proto/utf8.h"
#include "svc-web/page-fleet.h"
#include "svc-web/webd-form.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-spec.h"
#include "svc-web/webd-uploads.h"
#include "svc-web/webd-zip.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd.h"
#include "svc-web/webd-backend.h"

#define FILES_PATH_MAX 4095u
#define STREAM_SLICE   (64u * 1024u)

/* What the routes know of the overlay, copied from its row. */
struct files_ctx {
        int64_t id;
        char host[32];
        char name[WEBD_NAME_MAX + 1];
        char base[48];   /* "/overlays/<id>/files" or "/servers/<id>/files" */
        const char *key; /* how hostd's methods name it: "overlay" or (a server) "name" */
        bool may_change;
        const char *path; /* the folder or file the request is about, "" = the top */
        bool tree_only;   /* an htmx request for one folder's children in the tree */
        bool modal;       /* an htmx request for the editor alone (the listing's dialog) */
        bool changes;     /* a server's view: only what it changed over its layers (its upper dir) */
};

static const char *query_get(struct webd_rq *rq, struct form *q, const char *name) {
        if (!*rq->query || form_parse_query(q, rq->query, strlen(rq->query), NULL) < 0)
                return NULL;
        return form_get(q, name);
}

/* The parent folder of path ("" for a top-level name). */
static char *parent_of(struct webd_rq *rq, const char *path) {
        const char *slash = strrchr(path, '/');
        return h2o_strdup(&rq->req->pool, path, slash ? (size_t) (slash - path) : 0).base;
}

static const char *base_of(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

/* A folder and a name joined; NULL if too long. */
static char *join(struct webd_rq *rq, const char *dir, const char *name) {
        size_t n = strlen(dir) + 1 + strlen(name);
        char *p;

        if (n > FILES_PATH_MAX)
                return NULL;
        p = h2o_mem_alloc_pool(&rq->req->pool, n + 1);
        snprintf(p, n + 1, "%s%s%s", dir, *dir ? "/" : "", name);
        return p;
}

static void files_href(char *buf, size_t len, const struct files_ctx *c, const char *what,
                       const char *path) {
        _cleanup_free_ char *enc = form_urlencode(path ?: "");
        snprintf(buf, len, "%s%s?path=%s", c->base, what, enc ?: "");
}

/* The editor's language for a file name: bash scripts and Source cfg files get theirs. */
static const char *editor_language(const char *name) {
        const char *dot = strrchr(name, '.');
        if (!dot)
                return NULL;
        if (streq(dot, ".sh"))
                return "bash";
        if (streq(dot, ".cfg"))
                return "srccfg";
        return NULL;
}

/* A request to hostd: {overlay, path} and what the caller packs on q->pk. */
struct host_req {
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;
};

static msgpack_packer *target_begin(struct host_req *q, const struct files_ctx *c, const char *path) {
        rpc_buf_init(&q->b, 0);
        q->pk = rpc_params_begin(&q->m, &q->b.pk);
        rpc_pack_kv_str(q->pk, c->key, c->host);
        rpc_pack_kv_str(q->pk, "path", path);
        return q->pk;
}

static int call_host(struct webd_rq *rq, const char *method, struct host_req *q, webd_rq_reply_fn fn,
                     void *arg) {
        int r = rpc_map_end(&q->m);

        if (r >= 0)
                r = rpc_buf_ok(&q->b) ? webd_rq_call(rq, WEBD_PEER_HOST, method, &q->b, fn, arg) : -ENOMEM;
        rpc_buf_done(&q->b);
        return r < 0 ? webd_rq_unavailable(rq, WEBD_PEER_HOST, r) : r;
}

/* ---- the listing ------------------------------------------------------------------------------ */

struct entry {
        char name[256], type[16], target[FILES_PATH_MAX + 1];
        int64_t size, mtime_usec;
        bool broken;
};

static bool entry_from(const msgpack_object *o, struct entry *e) {
        obj_str(o, "name", e->name, sizeof(e->name));
        obj_str(o, "type", e->type, sizeof(e->type));
        obj_str(o, "target", e->target, sizeof(e->target));
        e->size = obj_int(o, "size", 0);
        e->mtime_usec = obj_int(o, "mtime_usec", 0);
        e->broken = obj_bool(o, "broken", false);
        /* A name hostd would never list (empty, a path) is skipped, not linked. */
        return *e->name && *e->type && !strchr(e->name, '/') && !streq(e->name, ".") &&
               !streq(e->name, "..");
}

/* bytes for people: "512 B", "1.5 MiB". */
static const char *size_text(char *buf, size_t size, uint64_t bytes) {
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = (double) bytes;
        unsigned u = 0;

        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, size, "%.1f %s", v, units[u]);
        return buf;
}

static void size_cell(struct html *h, int64_t bytes) {
        char text[32];
        html_text(h, size_text(text, sizeof(text), bytes > 0 ? (uint64_t) bytes : 0));
}

/* One folder's children as <li> of the lazy tree: a folder is a <details> whose first
 * opening fetches its own children (htmx), and a link that lists it on the right. */
static void tree_items(struct webd_rq *rq, struct html *h, const struct files_ctx *c,
                       const msgpack_object_array *entries) {
        char href[FILES_PATH_MAX * 3 + 96];

        for (uint32_t i = 0; entries && i < entries->size; i++) {
                struct entry e;
                char *path;

                if (!entry_from(&entries->ptr[i], &e) || !streq(e.type, "dir"))
                        continue;
                path = join(rq, c->path, e.name);
                if (!path)
                        continue;
                html_elem(h, "li");
                html_elem(h, "details");
                files_href(href, sizeof(href), c, "", path);
                strncat(href, "&tree=1", sizeof(href) - strlen(href) - 1);
                html_attr(h, "hx-get", href);
                html_attr(h, "hx-trigger", "toggle once");
                html_attr(h, "hx-target", "find ul");
                html_elem(h, "summary");
                files_href(href, sizeof(href), c, "", path);
                html_elem(h, "a");
                html_attr(h, "href", href);
                html_text(h, e.name);
                html_close(h, "a");
                html_close(h, "summary");
                html_elem(h, "ul");
                html_close(h, "ul");
                html_close(h, "details");
                html_close(h, "li");
        }
}

static void hidden(struct html *h, const char *name, const char *value) {
        html_elem(h, "input");
        html_attr(h, "type", "hidden");
        html_attr(h, "name", name);
        html_attr(h, "value", value);
}

/* <form method=post action=...>, open for more attributes; csrf_field() then adds its first
 * child. (page_form_begin() writes the token at once, so attributes after it would land on
 * the hidden input.) */
static void post_form(struct html *h, const char *action, const char *klass) {
        html_elem(h, "form");
        html_attr(h, "method", "post");
        html_attr(h, "action", action);
        if (klass)
                html_attr(h, "class", klass);
}

static void csrf_field(struct webd_rq *rq, struct html *h) {
        hidden(h, "csrf_token", rq->session.csrf);
}

/* A small form posting to /overlays/<id>/files/<what> with the entry's path, one text field
 * (rename, move) or none (delete), and a button. */
static void entry_form(struct webd_rq *rq, struct html *h, const struct files_ctx *c, const char *what,
                       const char *path, const char *field, const char *field_label, const char *value,
                       const char *button, const char *confirm) {
        char action[64];

        snprintf(action, sizeof(action), "/overlays/%" PRId64 "/files/%s", c->id, what);
        post_form(h, action, "inline");
        if (confirm)
                html_attr(h, "data-confirm", confirm);
        csrf_field(rq, h);
        hidden(h, "path", path);
        if (field) {
                html_elem(h, "input");
                html_attr(h, "type", "text");
                html_attr(h, "name", field);
                html_attr(h, "value", value);
                html_attr(h, "aria-label", field_label);
                html_attr(h, "required", NULL);
        }
        page_button(h, button, "link");
        html_close(h, "form");
}

static void entry_row(struct webd_rq *rq, struct html *h, const struct files_ctx *c, const struct entry *e) {
        char href[FILES_PATH_MAX * 3 + 96], confirm[320];
        char *path = join(rq, c->path, e->name);
        bool dir = streq(e->type, "dir"), file = streq(e->type, "file"), link = streq(e->type, "symlink");

        if (!path)
                return;
        html_elem(h, "tr");
        if (c->may_change && (dir || file)) {
                /* left4me.js: drag a row onto a folder (a row or a crumb) to move it there. */
                html_attr(h, "draggable", "true");
                html_attr(h, "data-path", path);
        }
        if (dir)
                html_attr(h, "data-folder", path);
        html_elem(h, "td");
        if (dir || file) {
                files_href(href, sizeof(href), c, dir ? "" : "/edit", path);
                html_elem(h, "a");
                html_attr(h, "href", href);
                if (file) {
                        /* With JS the editor opens in the page's dialog; without, as a page. */
                        char modal[sizeof(href) + 16];
                        snprintf(modal, sizeof(modal), "%s&modal=1", href);
                        html_attr(h, "hx-get", modal);
                        html_attr(h, "hx-target", "#file-dialog-body");
                        html_attr(h, "hx-push-url", "false");
                }
                html_text(h, e->name);
                if (dir)
                        html_text(h, "/");
                html_close(h, "a");
        } else
                html_text(h, e->name);
        if (link) {
                /* Shown, never followed: hostd refuses to read or write through it. */
                html_elem(h, "span");
                html_attr(h, "class", e->broken ? "badge warning" : "badge");
                html_textf(h, "%s → %s", e->broken ? "broken link" : "link", e->target);
                html_close(h, "span");
        }
        html_close(h, "td");
        html_elem_text(h, "td", dir ? "folder" : file ? "file" : link ? "symlink" : "other");
        html_elem(h, "td");
        if (file)
                size_cell(h, e->size);
        html_close(h, "td");
        html_elem(h, "td");
        if (e->mtime_usec)
                page_time(h, e->mtime_usec);
        html_close(h, "td");
        html_elem(h, "td");
        html_attr(h, "class", "actions");
        if (file || dir) {
                files_href(href, sizeof(href), c, "/download", path);
                html_elem(h, "a");
                html_attr(h, "href", href);
                html_attr(h, "download", NULL);
                html_attr(h, "hx-boost", "false"); /* a download, not a page for htmx */
                html_text(h, dir ? "Download as zip" : "Download");
                html_close(h, "a");
        }
        if (c->may_change) {
                entry_form(rq, h, c, "rename", path, "name", "New name", e->name, "Rename", NULL);
                entry_form(rq, h, c, "move", path, "to", "Move to folder", c->path, "Move", NULL);
                snprintf(confirm, sizeof(confirm),
                         dir ? "Delete the folder %s and everything in it?" : "Delete %s?", e->name);
                entry_form(rq, h, c, "delete", path, NULL, NULL, NULL, "Delete", confirm);
        }
        html_close(h, "td");
        html_close(h, "tr");
}

static void breadcrumbs(struct html *h, const struct files_ctx *c) {
        char href[FILES_PATH_MAX * 3 + 96], part[FILES_PATH_MAX + 1];
        const char *p = c->path;

        html_elem(h, "nav");
        html_attr(h, "class", "crumbs");
        html_attr(h, "aria-label", "Folder");
        files_href(href, sizeof(href), c, "", "");
        html_elem(h, "a");
        html_attr(h, "href", href);
        html_attr(h, "data-folder", "");
        html_text(h, c->name);
        html_close(h, "a");
        while (*p) {
                const char *slash = strchr(p, '/');
                size_t upto = slash ? (size_t) (slash - c->path) : strlen(c->path);
                snprintf(part, sizeof(part), "%.*s", (int) upto, c->path);
                html_text(h, " / ");
                files_href(href, sizeof(href), c, "", part);
                html_elem(h, "a");
                html_attr(h, "href", href);
                html_attr(h, "data-folder", part);
                html_textn(h, p, slash ? (size_t) (slash - p) : strlen(p));
                html_close(h, "a");
                p = slash ? slash + 1 : p + strlen(p);
        }
        files_href(href, sizeof(href), c, "/download", c->path);
        html_text(h, " · ");
        html_elem(h, "a");
        html_attr(h, "href", href);
        html_attr(h, "download", NULL);
        html_attr(h, "hx-boost", "false"); /* a download, not a page for htmx */
        html_attr(h, "class", "zip");
        html_text(h, "this folder as zip");
        html_close(h, "a");
        html_close(h, "nav");
}

static void toolbar(struct webd_rq *rq, struct html *h, const struct files_ctx *c) {
        char action[64];

        html_elem(h, "div");
        html_attr(h, "class", "toolbar");
        snprintf(action, sizeof(action), "/overlays/%" PRId64 "/files/mkdir", c->id);
        post_form(h, action, "inline");
        csrf_field(rq, h);
        hidden(h, "path", c->path);
        page_input(h, "New folder", "text", "name", "", "off", true);
        page_button(h, "Make folder", NULL);
        html_close(h, "form");
        snprintf(action, sizeof(action), "/overlays/%" PRId64 "/files/edit", c->id);
        html_elem(h, "form");
        html_attr(h, "method", "get");
        html_attr(h, "action", action);
        html_attr(h, "class", "inline");
        hidden(h, "dir", c->path);
        page_input(h, "New file", "text", "name", "", "off", true);
        page_button(h, "Write file", NULL);
        html_close(h, "form");
        html_close(h, "div");

        /* Without JS a multipart form (small files); left4me.js sends the same files in
         * slices instead (docs/web.md, "Uploads") and lists their progress. */
        html_elem(h, "div");
        html_attr(h, "class", "dropzone");
        snprintf(action, sizeof(action), "/overlays/%" PRId64 "/files/uploads", c->id);
        html_attr(h, "data-upload", action);
        html_attr(h, "data-folder", c->path);
        snprintf(action, sizeof(action), "/overlays/%" PRId64 "/files/upload", c->id);
        post_form(h, action, "inline upload-form");
        html_attr(h, "enctype", "multipart/form-data");
        html_attr(h, "hx-boost", "false"); /* left4me.js takes its submit */
        csrf_field(rq, h);
        hidden(h, "path", c->path);
        html_elem(h, "label");
        html_attr(h, "for", "f-file");
        html_text(h, "Upload files");
        html_close(h, "label");
        html_elem(h, "input");
        html_attr(h, "id", "f-file");
        html_attr(h, "type", "file");
        html_attr(h, "name", "file");
        html_attr(h, "multiple", NULL);
        html_elem(h, "label");
        html_attr(h, "class", "check");
        html_elem(h, "input");
        html_attr(h, "type", "checkbox");
        html_attr(h, "name", "replace");
        html_attr(h, "value", "1");
        html_text(h, "Replace files of the same name");
        html_close(h, "label");
        page_button(h, "Upload", NULL);
        html_close(h, "form");
        html_elem(h, "p");
        html_attr(h, "class", "muted hint");
        html_text(h, "or drop files here");
        html_close(h, "p");
        html_elem(h, "ul");
        html_attr(h, "class", "upload-progress");
        html_attr(h, "aria-live", "polite");
        html_close(h, "ul");
        html_close(h, "div");
}

/* The table of a folder's entries, up to its open <tbody>; with_layer adds the merged view's
 * "From" column. */
static void files_table_begin(struct html *h, bool with_layer) {
        html_elem(h, "div");
        html_attr(h, "class", "table-wrap");
        html_elem(h, "table");
        html_attr(h, "id", "files");
        html_elem(h, "thead");
        html_elem(h, "tr");
        html_elem_text(h, "th", "Name");
        html_elem_text(h, "th", "Type");
        html_elem_text(h, "th", "Size");
        html_elem_text(h, "th", "Changed");
        if (with_layer)
                html_elem_text(h, "th", "From");
        html_elem_text(h, "th", "");
        html_close(h, "tr");
        html_close(h, "thead");
        html_elem(h, "tbody");
}

/* The API's listing: hostd's entries as they came, checked as the page checks them. */
static int api_list(struct webd_rq *rq, const struct files_ctx *c, const msgpack_object_array *entries) {
        struct json j;

        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_kv_str(&j, "path", c->path);
        json_key(&j, "entries");
        json_array_begin(&j);
        for (uint32_t i = 0; entries && i < entries->size; i++) {
                struct entry e;

                if (!entry_from(&entries->ptr[i], &e))
                        continue;
                json_object_begin(&j);
                json_kv_str(&j, "name", e.name);
                json_kv_str(&j, "type", e.type);
                json_kv_int(&j, "size", e.size);
                json_kv_int(&j, "mtime_usec", e.mtime_usec);
                if (streq(e.type, "symlink")) {
                        json_kv_str(&j, "target", e.target);
                        json_kv_bool(&j, "broken", e.broken);
                }
                json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        return webd_send_json(rq->req, 200, "OK", &j);
}

static int list_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct files_ctx *c = arg;
        const msgpack_object_array *entries;
        char title[WEBD_NAME_MAX + 16];
        unsigned n = 0;
        struct html h;

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_HOST, r);
        entries = obj_array(r->result, "entries");
        if (rq->token_name)
                return api_list(rq, c, entries);
        html_init(&h, 0);
        if (c->tree_only) {
                tree_items(rq, &h, c, entries);
                return webd_rq_send_html(rq, 200, &h);
        }
        snprintf(title, sizeof(title), "Files of %s", c->name);
        page_begin(rq, &h, title);
        html_elem_text(&h, "h1", title);
        breadcrumbs(&h, c);
        html_elem(&h, "div");
        html_attr(&h, "class", "files");
        html_elem(&h, "aside");
        html_attr(&h, "class", "tree");
        html_elem(&h, "ul");
        {
                struct files_ctx top = *c;
                top.path = "";
                /* The tree starts at the top; below the top only the folder shown is open. */
                if (!*c->path)
                        tree_items(rq, &h, &top, entries);
        }
        html_close(&h, "ul");
        html_close(&h, "aside");
        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        if (c->may_change)
                toolbar(rq, &h, c);
        files_table_begin(&h, false);
        for (uint32_t i = 0; entries && i < entries->size; i++) {
                struct entry e;
                if (!entry_from(&entries->ptr[i], &e))
                        continue;
                entry_row(rq, &h, c, &e);
                n++;
        }
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        if (n == 0)
                html_elem_text(&h, "p", *c->path ? "This folder is empty." : "No files yet.");
        if (obj_bool(r->result, "truncated", false))
                page_alert(&h, "warning", "This folder has more entries than are listed here.");
        html_close(&h, "section");
        html_close(&h, "div");
        html_elem(&h, "dialog");
        html_attr(&h, "id", "file-dialog");
        html_attr(&h, "class", "wide");
        html_elem(&h, "div");
        html_attr(&h, "id", "file-dialog-body");
        html_close(&h, "div");
        html_elem(&h, "button");
        html_attr(&h, "type", "button");
        html_attr(&h, "class", "secondary");
        html_attr(&h, "data-close-dialog", NULL);
        html_text(&h, "Close");
        html_close(&h, "button");
        html_close(&h, "dialog");
        page_end(rq, &h);
        return webd_rq_send_html(rq, 200, &h);
}

/* ---- downloads --------------------------------------------------------------------------------- */

struct file_stream {
        h2o_generator_t super; /* first: h2o hands us &super */
        int fd;
        uint64_t left;
        struct webd_zip *zip; /* a folder: the archive being made, instead of fd */
        char buf[STREAM_SLICE];
};

static void stream_next(struct file_stream *s, h2o_req_t *req) {
        h2o_iovec_t v = {.base = s->buf};
        ssize_t k = 0;

        if (s->zip) {
                /* Each slice is a bounded amount of work (webd-zip.h), like a file's read. */
                k = webd_zip_next(s->zip, s->buf, sizeof(s->buf));
                if (k < 0) {
                        log_warning_errno((int) k, "zip download: %m");
                        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
                        return;
                }
                if (k == 0 && (webd_zip_skipped(s->zip) || webd_zip_changed(s->zip)))
                        log_info("zip download: %u entries left out (links, devices, over the caps), %u "
                                 "changed "
                                 "while read",
                                 webd_zip_skipped(s->zip), webd_zip_changed(s->zip));
                v.len = (size_t) k;
                h2o_send(req, &v, 1, k == 0 ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
                return;
        }

        if (s->left > 0) {
                do
                        k = read(s->fd, s->buf, (size_t) MIN((uint64_t) sizeof(s->buf), s->left));
                while (k < 0 && errno == EINTR);
        }
        if (k < 0) {
                log_warning_errno(errno, "download: read failed: %m");
                h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
                return;
        }
        v.len = (size_t) k;
        s->left -= (uint64_t) k;
        /* A file that shrank meanwhile ends early; the length told is then short: an error. */
        h2o_send(req, &v, 1,
                 s->left == 0 ? H2O_SEND_STATE_FINAL
                 : k == 0     ? H2O_SEND_STATE_ERROR
                              : H2O_SEND_STATE_IN_PROGRESS);
}

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req) {
        stream_next((struct file_stream *) g, req);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req) {
        struct file_stream *s = (struct file_stream *) g;
        s->fd = safe_close(s->fd);
        s->zip = webd_zip_free(s->zip);
}

static void stream_dispose(void *p) {
        struct file_stream *s = p;
        s->fd = safe_close(s->fd);
        s->zip = webd_zip_free(s->zip);
}

/* Content-Disposition: attachment with the name as RFC 6266's filename* (any bytes
 * percent-encoded) and a plain ASCII fallback. */
static void disposition(struct webd_rq *rq, const char *name) {
        _cleanup_free_ char *enc = form_urlencode(name);
        char ascii[128], *v;
        size_t i = 0, n;

        for (const char *p = name; *p && i + 1 < sizeof(ascii); p++)
                ascii[i++] = (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '%') ? *p : '_';
        ascii[i] = 0;
        n = strlen(ascii) + strlen(enc ?: "") + 64;
        v = h2o_mem_alloc_pool(&rq->req->pool, n);
        snprintf(v, n, "attachment; filename=\"%s\"; filename*=UTF-8''%s", *ascii ? ascii : "download",
                 enc ?: "");
        h2o_add_header(&rq->req->pool, &rq->req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL, v,
                       strlen(v));
}

/* The folder at path below the generation root hostd handed over, one name at a time with no
 * link followed (hostd checked the same path the same way, and a published generation does
 * not change). Returns the fd. */
static int folder_beneath(int root, const char *path) {
        char copy[FILES_PATH_MAX + 1], *save = NULL;
        _cleanup_close_ int cur = -1;

        if (strlen(path) > FILES_PATH_MAX)
                return -ENAMETOOLONG;
        snprintf(copy, sizeof(copy), "%s", path);
        cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        for (char *name = strtok_r(copy, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
                int next;

                if (streq(name, "..") || streq(name, "."))
                        return -EINVAL;
                next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                safe_close(cur);
                cur = next;
        }
        return TAKE_FD(cur);
}

static int download_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct files_ctx *c = arg;
        int64_t size = obj_int(r->result, "size", -1);
        struct file_stream *s;
        int fd;

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_HOST, r);
        fd = rpc_core_reply_take_fd(r);
        if (fd < 0 || (size < 0 && !obj_str_is(r->result, "type", "dir"))) {
                safe_close(fd);
                log_error("hostd's file.open of %s:%s came without a descriptor or size", c->host, c->path);
                return webd_rq_error(rq, 502, "That did not work",
                                     "The host service's answer was incomplete.");
        }
        s = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*s), stream_dispose);
        memset(s, 0, offsetof(struct file_stream, buf));
        s->super = (h2o_generator_t){stream_proceed, stream_stop};
        s->fd = -1;
        if (obj_str_is(r->result, "type", "dir")) {
                /* A folder: a zip made as the client reads, named after the folder. */
                const char *root = *c->path ? base_of(c->path) : c->name;
                char name[WEBD_NAME_MAX + 8];
                const char *beneath = NULL;
                char bbuf[FILES_PATH_MAX + 1];
                int k = 0;

                /* An overlay's folder: fd is its generation's root, and holding it keeps the
                 * generation from being collected until the zip is done (s->fd, closed at
                 * dispose). A server's merged view is its mount, kept by the fd itself. */
                if (obj_get(r->result, "beneath"))
                        beneath = obj_str(r->result, "beneath", bbuf, sizeof(bbuf));
                if (beneath) {
                        s->fd = fd;
                        fd = k = folder_beneath(s->fd, beneath);
                }
                if (k >= 0)
                        k = webd_zip_new(fd, *c->path ? root : "", &s->zip);
                if (k < 0)
                        return webd_rq_error(rq, 500, "That did not work", "The folder could not be read.");
                snprintf(name, sizeof(name), "%s.zip", root);
                h2o_add_header(&rq->req->pool, &rq->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                               H2O_STRLIT("application/zip"));
                disposition(rq, name);
        } else if (obj_str_is(r->result, "type", "file")) {
                s->fd = fd;
                s->left = (uint64_t) size;
                rq->req->res.content_length = s->left;
                h2o_add_header(&rq->req->pool, &rq->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                               H2O_STRLIT("application/octet-stream"));
                disposition(rq, base_of(c->path));
        } else {
                safe_close(fd);
                return webd_rq_error(rq, 400, "That did not work",
                                     "Only files and folders can be downloaded.");
        }
        rq->req->res.status = 200;
        rq->req->res.reason = "OK";
        /* Never rendered from our origin, whatever the bytes are. */
        h2o_add_header_by_str(&rq->req->pool, &rq->req->res.headers, H2O_STRLIT("x-content-type-options"), 0,
                              NULL, H2O_STRLIT("nosniff"));
        h2o_add_header_by_str(&rq->req->pool, &rq->req->res.headers, H2O_STRLIT("content-security-policy"),
                              0, NULL, H2O_STRLIT("sandbox; default-src 'none'"));
        h2o_add_header(&rq->req->pool, &rq->req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-store"));
        h2o_start_response(rq->req, &s->super);
        stream_next(s, rq->req);
        return 0;
}

/* ---- the editor -------------------------------------------------------------------------------- */

static void editor_page(struct webd_rq *rq, struct html *h, const struct files_ctx *c, const char *path,
                        const char *text, size_t len, bool create, const char *error) {
        char action[64], href[FILES_PATH_MAX * 3 + 96], title[FILES_PATH_MAX + 16];
        const char *lang = editor_language(base_of(path));

        rq->want_editor = lang != NULL;
        snprintf(title, sizeof(title), "%s %s", create ? "New file" : "Edit", path);
        if (!c->modal)
                page_begin(rq, h, title);
        html_elem_text(h, c->modal ? "h2" : "h1", title);
        if (error)
                page_alert(h, "error", error);
        html_elem(h, "section");
        html_attr(h, "class", "card");
        snprintf(action, sizeof(action), "/overlays/%" PRId64 "/files/save", c->id);
        page_form_begin(rq, h, action, NULL);
        hidden(h, "path", path);
        if (create)
                hidden(h, "create", "1");
        html_elem(h, "div");
        html_attr(h, "class", "field");
        html_elem(h, "label");
        html_attr(h, "for", "f-content");
        html_text(h, "Content");
        html_close(h, "label");
        html_elem(h, "textarea");
        html_attr(h, "id", "f-content");
        html_attr(h, "name", "content");
        html_attr(h, "rows", "24");
        html_attr(h, "spellcheck", "false");
        if (lang)
                html_attr(h, "data-editor", lang);
        if (!c->may_change)
                html_attr(h, "readonly", NULL);
        html_textn(h, text ?: "", len);
        html_close(h, "textarea");
        html_close(h, "div");
        if (c->may_change)
                page_button(h, create ? "Create file" : "Save", "primary");
        html_close(h, "form");
        files_href(href, sizeof(href), c, "", parent_of(rq, path));
        html_elem(h, "p");
        html_elem(h, "a");
        html_attr(h, "href", href);
        html_text(h, "Back to the folder");
        html_close(h, "a");
        html_close(h, "p");
        html_close(h, "section");
        if (!c->modal)
                page_end(rq, h);
}

static int read_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct files_ctx *c = arg;
        const msgpack_object *data;
        struct html h;

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_HOST, r);
        data = obj_get(r->result, "data");
        if (obj_bool(r->result, "binary", true) || !data ||
            (data->type != MSGPACK_OBJECT_BIN && data->type != MSGPACK_OBJECT_STR)) {
                char href[FILES_PATH_MAX * 3 + 96], msg[FILES_PATH_MAX * 3 + 200];
                files_href(href, sizeof(href), c, "/download", c->path);
                snprintf(msg, sizeof(msg), "%s is not a text file; download it instead.", base_of(c->path));
                return webd_rq_error(rq, 415, "Not a text file", msg);
        }
        html_init(&h, 0);
        if (data->via.bin.size > FORM_MAX_VALUE) {
                /* A form field carries at most that much: saving it would only fail. */
                c->may_change = false;
                editor_page(rq, &h, c, c->path, data->via.bin.ptr, data->via.bin.size, false,
                            "This file is larger than the 256 KiB the editor can save, so it is shown "
                            "read-only. "
                            "Download it to change it.");
        } else
                editor_page(rq, &h, c, c->path, data->via.bin.ptr, data->via.bin.size, false, NULL);
        return webd_rq_send_html(rq, 200, &h);
}

/* ---- changes ------------------------------------------------------------------------------------ */

static int changed_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct files_ctx *c = arg;
        char href[FILES_PATH_MAX * 3 + 128];

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_HOST, r);
        if (rq->token_name) {
                struct json j;

                json_init(&j, 4096);
                json_object_begin(&j);
                json_kv_str(&j, "path", c->path);
                json_kv_int(&j, "generation", obj_int(r->result, "generation", 0));
                json_object_end(&j);
                return webd_send_json(rq->req, 200, "OK", &j);
        }
        files_href(href, sizeof(href), c, "", c->path);
        strncat(href, "&m=files-changed", sizeof(href) - strlen(href) - 1);
        return webd_rq_redirect(rq, href);
}

/* A textarea posts CRLF line ends. */
static char *lf_only(struct webd_rq *rq, const char *s, size_t *ret_len) {
        size_t n = strlen(s), k = 0;
        char *out = h2o_mem_alloc_pool(&rq->req->pool, n + 1);

        for (size_t i = 0; i < n; i++)
                if (!(s[i] == '\r' && s[i + 1] == '\n'))
                        out[k++] = s[i];
        out[k] = 0;
        *ret_len = k;
        return out;
}

static int post_change(struct webd_rq *rq, struct files_ctx *c, const char *what) {
        const char *path = webd_rq_field(rq, "path");
        struct host_req q;
        char object[48];

        if (!path || strlen(path) > FILES_PATH_MAX)
                return webd_rq_error(rq, 400, "That did not work", "The form names no file or folder.");
        snprintf(object, sizeof(object), "overlay:%" PRId64, c->id);
        if (streq(what, "mkdir")) {
                const char *name = webd_rq_field(rq, "name") ?: "";
                char *full = join(rq, path, name);
                if (!*name || !full)
                        return webd_rq_error(rq, 400, "That did not work", "Name the new folder.");
                c->path = path;
                webd_rq_audit(rq, NULL, "files.mkdir", object, "ok", full);
                target_begin(&q, c, full);
                return call_host(rq, "file.mkdir", &q, changed_reply, c);
        }
        c->path = parent_of(rq, path);
        if (streq(what, "rename") || streq(what, "move")) {
                bool rename = streq(what, "rename");
                const char *v = webd_rq_field(rq, rename ? "name" : "to");
                if (!v || (rename && !*v))
                        return webd_rq_error(rq, 400, "That did not work",
                                             rename ? "Give the new name."
                                                    : "Name the folder to move it to.");
                webd_rq_audit(rq, NULL, rename ? "files.rename" : "files.move", object, "ok", path);
                rpc_pack_kv_str(target_begin(&q, c, path), rename ? "name" : "to", v);
                if (!rename)
                        c->path = v;
                return call_host(rq, rename ? "file.rename" : "file.move", &q, changed_reply, c);
        }
        if (streq(what, "delete")) {
                webd_rq_audit(rq, NULL, "files.delete", object, "ok", path);
                /* The confirmation (the page's dialog) named the folder and all in it. */
                rpc_pack_kv_bool(target_begin(&q, c, path), "recursive", true);
                return call_host(rq, "file.delete", &q, changed_reply, c);
        }
        if (streq(what, "save")) {
                const char *content = webd_rq_field(rq, "content");
                const char *cr = webd_rq_field(rq, "create");
                bool create = cr && streq(cr, "1");
                size_t len;
                char *text;
                if (!content)
                        return webd_rq_error(rq, 400, "That did not work", "The form has no content.");
                text = lf_only(rq, content, &len);
                webd_rq_audit(rq, NULL, "files.save", object, "ok", path);
                target_begin(&q, c, path);
                rpc_pack_str(q.pk, "data");
                (void) msgpack_pack_bin(q.pk, len);
                (void) msgpack_pack_bin_body(q.pk, text, len);
                rpc_pack_kv_bool(q.pk, "create", create);
                return call_host(rq, "file.write", &q, changed_reply, c);
        }
        return webd_rq_error(rq, 404, "Not found", "There is no such page.");
}

/* ---- uploads (docs/web.md, "Uploads") ------------------------------------------------------------ */

/* An upload may declare at most this; hostd's cap on the overlay (sandbox.overlay_max_bytes)
 * is checked again at the commit. */
#define UPLOAD_MAX_BYTES (64ull << 30)

struct upload_start {
        struct files_ctx *c;
        char *path;
        uint64_t size;
};

static void upload_json(struct webd_rq *rq, int status, const struct webd_upload *up, const char *error) {
        struct json j;

        json_init(&j, 0);
        json_object_begin(&j);
        if (error)
                json_kv_str(&j, "error", error);
        if (up) {
                json_kv_str(&j, "upload", up->token);
                json_kv_uint(&j, "offset", up->offset);
                json_kv_uint(&j, "size", up->size);
                json_kv_uint(&j, "chunk", rq->w->config->max_message_bytes);
        }
        json_object_end(&j);
        (void) webd_send_json(rq->req, status, status == 200 ? "OK" : "Conflict", &j);
}

static void abort_done(struct webd_call *call, const struct rpc_core_reply *r, void *userdata) {
        if (r->failed && r->transport_error == 0 && r->error.code != RPC_NOT_FOUND)
                log_warning("hostd's file.abort failed: %s", r->error.message);
}

static void host_abort(struct webd *w, int64_t overlay_id, const char *host_token) {
        char host[32];
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;

        webd_host_name(overlay_id, host, sizeof(host));
        rpc_buf_init(&b, 0);
        pk = rpc_params_begin(&m, &b.pk);
        rpc_pack_kv_str(pk, "overlay", host);
        rpc_pack_kv_str(pk, "upload", host_token);
        /* Best effort: hostd drops an upload nobody commits after an hour anyway. */
        if (rpc_map_end(&m) >= 0 && rpc_buf_ok(&b))
                (void) webd_call(w->backends, WEBD_PEER_HOST, "file.abort", &b, 5000, NULL, abort_done, NULL,
                                 NULL);
        rpc_buf_done(&b);
}

static void on_gone(const struct webd_upload *up, void *userdata) {
        host_abort(userdata, up->overlay_id, up->host_token);
}

static void sweep_arm(struct webd *w) {
        if (w->uploads_initialized && webd_uploads_count(w->uploads) > 0 &&
            !h2o_timeout_is_linked(&w->uploads_entry))
                h2o_timeout_link(w->loop, &w->uploads_sweep, &w->uploads_entry);
}

static void on_sweep(h2o_timeout_entry_t *entry) {
        struct webd *w = H2O_STRUCT_FROM_MEMBER(struct webd, uploads_entry, entry);

        if (webd_uploads_expire(w->uploads, now_usec(), on_gone, w) > 0)
                log_info("Dropped uploads that sent nothing for %llu minutes.",
                         (unsigned long long) (WEBD_UPLOAD_IDLE_USEC / 60000000));
        sweep_arm(w);
        webd_idle_check(w);
}

void page_files_init(struct webd *w) {
        h2o_timeout_init(w->loop, &w->uploads_sweep, 60 * 1000);
        w->uploads_entry.cb = on_sweep;
        w->uploads_initialized = true;
}

void page_files_done(struct webd *w) {
        if (!w->uploads_initialized)
                return;
        if (h2o_timeout_is_linked(&w->uploads_entry))
                h2o_timeout_unlink(&w->uploads_entry);
        h2o_timeout_dispose(w->loop, &w->uploads_sweep);
        w->uploads_initialized = false;
}

static int upload_started(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct upload_start *st = arg;
        char token[WEBD_UPLOAD_HOST_TOKEN + 1];
        struct webd_upload *up;
        struct statvfs vfs;
        int fd, k;

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_HOST, r);
        fd = rpc_core_reply_take_fd(r);
        obj_str(r->result, "upload", token, sizeof(token));
        /* Said now rather than at the last slice: the disk cannot hold what was declared. */
        if (fd >= 0 && fstatvfs(fd, &vfs) == 0 && st->size > (uint64_t) vfs.f_bavail * vfs.f_frsize) {
                char text[32], msg[128];
                safe_close(fd);
                if (*token)
                        host_abort(rq->w, st->c->id, token);
                snprintf(msg, sizeof(msg), "The host's disk has only %s free.",
                         size_text(text, sizeof(text), (uint64_t) vfs.f_bavail * vfs.f_frsize));
                return webd_rq_error(rq, 507, "Not enough space", msg);
        }
        k = webd_uploads_add(rq->w->uploads, rq->user.id, st->c->id, token, fd, st->size, st->path,
                             now_usec(), &up);
        if (k < 0) {
                if (*token)
                        host_abort(rq->w, st->c->id, token);
                if (k == -EMFILE || k == -EBUSY)
                        return webd_rq_error(
                                rq, 429, "Too many uploads",
                                k == -EMFILE ? "You have 4 uploads going already; let one finish first."
                                             : "Too many uploads are going on; try again shortly.");
                return webd_rq_error(rq, 502, "That did not work",
                                     "The host service's answer was incomplete.");
        }
        sweep_arm(rq->w);
        webd_idle_check(rq->w);
        upload_json(rq, 200, up, NULL);
        return 0;
}

/* POST /overlays/<id>/files/uploads: path (the folder), name, size. */
static int upload_start(struct webd_rq *rq, struct files_ctx *c) {
        const char *dir = webd_rq_field(rq, "path"), *name = webd_rq_field(rq, "name");
        const char *size = webd_rq_field(rq, "size");
        struct upload_start *st = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*st));
        struct host_req q;
        char *end = NULL;
        uint64_t cap;

        rq->json = true;
        *st = (struct upload_start){.c = c};
        if (!dir || !name || !*name || strchr(name, '/') || strlen(name) > 255)
                return webd_rq_error(rq, 400, "That did not work",
                                     "Name the file and the folder it goes to.");
        errno = 0;
        st->size = size && *size ? strtoull(size, &end, 10) : 0;
        if (!size || !*size || *end || errno || *size == '-')
                return webd_rq_error(rq, 400, "That did not work", "Give the file's size in bytes.");
        /* Space is reserved as declared: a file over an overlay's cap could never be committed,
         * and one user's uploads in progress reserve at most one overlay's worth between them. */
        cap = MIN(UPLOAD_MAX_BYTES, rq->w->config->sandbox_overlay_max_bytes);
        if (st->size > cap || st->size + webd_uploads_pending_bytes(rq->w->uploads, rq->user.id) > cap) {
                char text[32], msg[160];
                snprintf(msg, sizeof(msg),
                         st->size > cap ? "A file may be at most %s, what an overlay may hold."
                                        : "Your uploads in progress would come to more than %s, what an "
                                          "overlay may hold; let one finish first.",
                         size_text(text, sizeof(text), cap));
                return webd_rq_error(rq, 413, "Too large", msg);
        }
        st->path = join(rq, dir, name);
        if (!st->path)
                return webd_rq_error(rq, 400, "That did not work", "That path is too long.");
        webd_uploads_expire(rq->w->uploads, now_usec(), on_gone, rq->w);
        rpc_buf_init(&q.b, 0);
        q.pk = rpc_params_begin(&q.m, &q.b.pk);
        rpc_pack_kv_str(q.pk, "overlay", c->host);
        return call_host(rq, "file.upload", &q, upload_started, st);
}

struct upload_commit {
        struct files_ctx *c;
        char token[WEBD_UPLOAD_TOKEN_HEX + 1];
};

static int upload_committed(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct upload_commit *uc = arg;
        struct webd_upload *up = webd_uploads_find(rq->w->uploads, uc->token, rq->user.id, uc->c->id);
        struct json j;

        if (up)
                up->busy = false;
        if (r->failed) {
                /* A refusal the user can answer (the name is taken: replace it?) keeps the
                 * upload on both sides; anything else ends it. */
                if (r->error.code != RPC_CONFLICT && up) {
                        host_abort(rq->w, up->overlay_id, up->host_token);
                        webd_uploads_remove(rq->w->uploads, up);
                }
                return webd_rq_rpc_error(rq, WEBD_PEER_HOST, r);
        }
        if (up)
                webd_uploads_remove(rq->w->uploads, up);
        webd_idle_check(rq->w);
        json_init(&j, 0);
        json_object_begin(&j);
        json_kv_int(&j, "generation", obj_int(r->result, "generation", 0));
        json_kv_int(&j, "size", obj_int(r->result, "size", 0));
        json_object_end(&j);
        return webd_send_json(rq->req, 200, "OK", &j);
}

/* POST .../uploads/<token>/commit (replace=1 to overwrite) and .../abort. */
static int upload_finish(struct webd_rq *rq, struct files_ctx *c, const char *token, const char *what) {
        struct webd_upload *up = webd_uploads_find(rq->w->uploads, token, rq->user.id, c->id);
        struct upload_commit *uc;
        const char *replace = webd_rq_field(rq, "replace");
        char object[48];
        struct host_req q;

        rq->json = true;
        if (!up)
                return webd_rq_error(rq, 404, "Not found", "There is no such upload (it may have expired).");
        if (up->busy)
                return webd_rq_error(rq, 409, "Busy", "This upload is being committed already.");
        if (streq(what, "abort")) {
                host_abort(rq->w, up->overlay_id, up->host_token);
                webd_uploads_remove(rq->w->uploads, up);
                webd_idle_check(rq->w);
                upload_json(rq, 200, NULL, NULL);
                return 0;
        }
        if (!streq(what, "commit"))
                return webd_rq_error(rq, 404, "Not found", "There is no such page.");
        if (up->offset != up->size) {
                upload_json(rq, 409, up, "the upload is not complete");
                return 0;
        }
        /* hostd links the file in only once no writer is left: ours goes first. */
        webd_upload_close(up);
        up->busy = true;
        uc = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*uc));
        uc->c = c;
        snprintf(uc->token, sizeof(uc->token), "%s", up->token);
        snprintf(object, sizeof(object), "overlay:%" PRId64, c->id);
        webd_rq_audit(rq, NULL, "files.upload", object, "ok", up->path);
        target_begin(&q, c, up->path);
        rpc_pack_kv_str(q.pk, "upload", up->host_token);
        rpc_pack_kv_bool(q.pk, "replace", replace && streq(replace, "1"));
        return call_host(rq, "file.commit", &q, upload_committed, uc);
}

int page_files_put(struct webd_rq *rq, const struct webd_overlay *o, const char *rest) {
        _cleanup_(form_done) struct form q = {};
        const char *token = NULL, *off = query_get(rq, &q, "offset");
        struct webd_upload *up;
        uint64_t offset;
        char *end = NULL;
        int r;

        if (o->type != WEBD_OVERLAY_FILES || !strneq(rest, "/uploads/", 9))
                return webd_rq_error(rq, 404, "Not found", "There is no such page.");
        token = rest + 9;
        up = webd_uploads_find(rq->w->uploads, token, rq->user.id, o->id);
        if (!up)
                return webd_rq_error(rq, 404, "Not found", "There is no such upload (it may have expired).");
        errno = 0;
        offset = off && *off && *off != '-' ? strtoull(off, &end, 10) : 0;
        if (!off || !*off || *end || errno)
                return webd_rq_error(rq, 400, "That did not work", "Say at which offset the slice goes.");
        r = webd_upload_write(up, offset, rq->req->entity.base, rq->req->entity.len, now_usec());
        if (r == -ESPIPE) {
                /* The client resumes from where we are. */
                upload_json(rq, 409, up, "the slice is not where the upload stands");
                return 0;
        }
        if (r == -EFBIG)
                return webd_rq_error(rq, 413, "Too large",
                                     "The slice goes past the size the upload declared.");
        if (r == -EBADF)
                return webd_rq_error(rq, 409, "Busy", "This upload is being committed.");
        if (r < 0) {
                log_warning_errno(r, "Upload to overlay %" PRId64 ": write failed: %m", o->id);
                host_abort(rq->w, up->overlay_id, up->host_token);
                webd_uploads_remove(rq->w->uploads, up);
                return webd_rq_error(rq, r == -ENOSPC ? 507 : 500, "That did not work",
                                     r == -ENOSPC ? "The host's disk is full."
                                                  : "The upload could not be written.");
        }
        upload_json(rq, 200, up, NULL);
        return 0;
}

/* ---- a server's merged view ------------------------------------------------------------------------ */

/* Where an entry comes from, said for people: the server itself, which overlay, the game. */
static void layer_cell(struct webd_rq *rq, struct html *h, const char *layer) {
        int64_t id = webd_host_id(layer);
        struct webd_overlay o = {};

        if (!*layer)
                html_elem_text(h, "span", "unknown");
        else if (streq(layer, "upper"))
                page_state_badge(h, "running", "this server");
        else if (streq(layer, "installation"))
                html_text(h, "game install");
        else if (streq(layer, "workshop"))
                html_text(h, "workshop");
        else if (id > 0 && webd_db_overlay_get(rq->w->db, id, &o) >= 0) {
                /* The name is shown to whoever sees the server; the link works for those who
                 * may see the overlay (else its page says 404). */
                char href[48];
                snprintf(href, sizeof(href), "/overlays/%" PRId64, id);
                html_elem(h, "a");
                html_attr(h, "href", href);
                html_text(h, o.name);
                html_close(h, "a");
                webd_overlay_done(&o);
        } else
                html_text(h, layer);
}

static int view_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct files_ctx *c = arg;
        const msgpack_object_array *entries;
        char title[WEBD_NAME_MAX + 32], href[FILES_PATH_MAX * 3 + 96];
        unsigned n = 0;
        struct html h;

        if (r->failed) {
                if (r->transport_error == 0 && r->error.code == RPC_NOT_FOUND && !*c->path && !c->changes)
                        return webd_rq_error(rq, 404, "Not mounted",
                                             "The server is not running, so it has no merged view. "
                                             "Start it to see its files.");
                return webd_rq_rpc_error(rq, WEBD_PEER_HOST, r);
        }
        entries = obj_array(r->result, "entries");
        html_init(&h, 0);
        snprintf(title, sizeof(title), "%s of %s", c->changes ? "Changes" : "Files", c->name);
        page_begin(rq, &h, title);
        html_elem_text(&h, "h1", title);
        breadcrumbs(&h, c);
        html_elem(&h, "p");
        html_elem(&h, "a");
        snprintf(href, sizeof(href), "%s?path=%s", c->base, c->changes ? "" : "&changes=1");
        html_attr(&h, "href", href);
        html_text(&h, c->changes ? "The whole merged view, with where each file comes from"
                                 : "Only what this server changed over its layers");
        html_close(&h, "a");
        html_close(&h, "p");
        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        files_table_begin(&h, !c->changes);
        for (uint32_t i = 0; entries && i < entries->size; i++) {
                const msgpack_object *o = &entries->ptr[i];
                char layer[WEBD_UPLOAD_HOST_TOKEN + 1];
                struct entry e;
                char *path;

                if (!entry_from(o, &e) || !(path = join(rq, c->path, e.name)))
                        continue;
                n++;
                html_elem(&h, "tr");
                html_elem(&h, "td");
                if (streq(e.type, "dir")) {
                        files_href(href, sizeof(href), c, "", path);
                        if (c->changes)
                                strncat(href, "&changes=1", sizeof(href) - strlen(href) - 1);
                        html_elem(&h, "a");
                        html_attr(&h, "href", href);
                        html_textf(&h, "%s/", e.name);
                        html_close(&h, "a");
                } else
                        html_text(&h, e.name);
                if (streq(e.type, "symlink")) {
                        html_elem(&h, "span");
                        html_attr(&h, "class", "badge");
                        html_textf(&h, "link → %s", e.target);
                        html_close(&h, "span");
                }
                html_close(&h, "td");
                html_elem_text(&h, "td", streq(e.type, "dir") ? "folder" : e.type);
                html_elem(&h, "td");
                if (streq(e.type, "file"))
                        size_cell(&h, e.size);
                html_close(&h, "td");
                html_elem(&h, "td");
                if (e.mtime_usec)
                        page_time(&h, e.mtime_usec);
                html_close(&h, "td");
                if (!c->changes) {
                        html_elem(&h, "td");
                        html_attr(&h, "class", "layer");
                        layer_cell(rq, &h, obj_str(o, "layer", layer, sizeof(layer)));
                        html_close(&h, "td");
                }
                html_elem(&h, "td");
                if ((streq(e.type, "file") || streq(e.type, "dir")) && !c->changes) {
                        files_href(href, sizeof(href), c, "/download", path);
                        html_elem(&h, "a");
                        html_attr(&h, "href", href);
                        html_attr(&h, "download", NULL);
                        html_attr(&h, "hx-boost", "false"); /* a download, not a page for htmx */
                        html_text(&h, streq(e.type, "dir") ? "Download as zip" : "Download");
                        html_close(&h, "a");
                }
                html_close(&h, "td");
                html_close(&h, "tr");
        }
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        if (n == 0)
                html_elem_text(&h, "p",
                               c->changes ? "The server changed nothing here." : "This folder is empty.");
        if (obj_bool(r->result, "truncated", false))
                page_alert(&h, "warning", "This folder has more entries than are listed here.");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, 200, &h);
}

int page_server_files(struct webd_rq *rq, int64_t id, const char *name, const char *instance,
                      const char *rest) {
        struct files_ctx *c = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*c));
        _cleanup_(form_done) struct form q = {};
        const char *path = query_get(rq, &q, "path") ?: "";
        struct host_req hq;

        memset(c, 0, sizeof(*c));
        c->id = id;
        snprintf(c->host, sizeof(c->host), "%s", instance);
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->base, sizeof(c->base), "/servers/%" PRId64 "/files", id);
        c->key = "name";
        if (strlen(path) > FILES_PATH_MAX)
                return webd_rq_error(rq, 400, "That did not work", "That path is too long.");
        c->path = h2o_strdup(&rq->req->pool, path, SIZE_MAX).base;
        if (!*rest) {
                c->changes = form_get(&q, "changes") != NULL;
                target_begin(&hq, c, c->path);
                return call_host(rq, c->changes ? "instance.changes" : "instance.files", &hq, view_reply, c);
        }
        if (streq(rest, "/download")) {
                target_begin(&hq, c, c->path);
                return call_host(rq, "instance.open", &hq, download_reply, c);
        }
        return webd_rq_error(rq, 404, "Not found", "There is no such page.");
}

/* ---- uploads without JS: multipart, small files, one hostd write each ---------------------------- */

struct form_upload {
        struct files_ctx *c;
        const struct multipart *m;
        size_t next; /* the part to write next */
        bool replace;
        unsigned written;
};

static int form_upload_next(struct webd_rq *rq, struct form_upload *u);

static int form_upload_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct form_upload *u = arg;

        if (r->failed) {
                /* Those before it are in (each write is its own generation); say which one
                 * stopped the rest, and how to go on. */
                char msg[RPC_ERROR_MESSAGE_MAX + 160];
                const struct multipart_part *p = &u->m->parts[u->next - 1];
                if (r->transport_error < 0)
                        return webd_rq_unavailable(rq, WEBD_PEER_HOST, r->transport_error);
                snprintf(msg, sizeof(msg), "%s: %s.%s %u file(s) before it were uploaded.", p->filename,
                         r->error.message,
                         r->error.code == RPC_CONFLICT
                                 ? " Tick \"Replace files of the same name\" to overwrite it."
                                 : "",
                         u->written);
                return webd_rq_error(rq, r->error.code == RPC_CONFLICT ? 409 : 400, "Upload stopped", msg);
        }
        u->written++;
        return form_upload_next(rq, u);
}

static int form_upload_next(struct webd_rq *rq, struct form_upload *u) {
        char href[FILES_PATH_MAX * 3 + 128], object[48];
        struct host_req q;

        while (u->next < u->m->n &&
               (!u->m->parts[u->next].filename || !streq(u->m->parts[u->next].name, "file") ||
                !*u->m->parts[u->next].filename))
                u->next++;
        if (u->next == u->m->n) {
                files_href(href, sizeof(href), u->c, "", u->c->path);
                strncat(href, "&m=files-changed", sizeof(href) - strlen(href) - 1);
                return webd_rq_redirect(rq, href);
        }
        {
                const struct multipart_part *p = &u->m->parts[u->next++];
                char *path = join(rq, u->c->path, p->filename);
                if (!path)
                        return webd_rq_error(rq, 400, "That did not work", "That path is too long.");
                snprintf(object, sizeof(object), "overlay:%" PRId64, u->c->id);
                webd_rq_audit(rq, NULL, "files.upload", object, "ok", path);
                target_begin(&q, u->c, path);
                rpc_pack_str(q.pk, "data");
                (void) msgpack_pack_bin(q.pk, p->len);
                (void) msgpack_pack_bin_body(q.pk, p->data, p->len);
                rpc_pack_kv_bool(q.pk, "create", !u->replace);
                return call_host(rq, "file.write", &q, form_upload_reply, u);
        }
}

/* POST /overlays/<id>/files/upload (multipart: path, file..., replace). */
static int form_upload(struct webd_rq *rq, struct files_ctx *c) {
        struct form_upload *u;
        const char *path = webd_rq_field(rq, "path"), *replace = webd_rq_field(rq, "replace");

        if (!rq->multipart)
                return webd_rq_error(rq, 415, "That did not work", "Files are sent as multipart/form-data.");
        if (!path || strlen(path) > FILES_PATH_MAX)
                return webd_rq_error(rq, 400, "That did not work", "The form names no folder.");
        if (multipart_count(rq->multipart, "file") == 0)
                return webd_rq_error(rq, 400, "That did not work", "Choose at least one file.");
        u = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*u));
        *u = (struct form_upload){.c = c, .m = rq->multipart, .replace = replace && streq(replace, "1")};
        c->path = path;
        return form_upload_next(rq, u);
}

/* ---- entry points --------------------------------------------------------------------------------- */

static struct files_ctx *ctx_new(struct webd_rq *rq, const struct webd_overlay *o, bool may_change) {
        struct files_ctx *c = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*c));

        memset(c, 0, sizeof(*c));
        c->id = o->id;
        webd_host_name(o->id, c->host, sizeof(c->host));
        snprintf(c->base, sizeof(c->base), "/overlays/%" PRId64 "/files", o->id);
        c->key = "overlay";
        snprintf(c->name, sizeof(c->name), "%s", o->name);
        c->may_change = may_change;
        c->path = "";
        return c;
}

int page_files_get(struct webd_rq *rq, const struct webd_overlay *o, bool may_change, const char *rest) {
        struct files_ctx *c = ctx_new(rq, o, may_change);
        _cleanup_(form_done) struct form q = {};
        const char *path = query_get(rq, &q, "path") ?: "";
        struct host_req hq;

        if (o->type != WEBD_OVERLAY_FILES)
                return webd_rq_error(rq, 404, "Not found", "Only a files overlay has files to edit here.");
        if (strlen(path) > FILES_PATH_MAX)
                return webd_rq_error(rq, 400, "That did not work", "That path is too long.");
        c->path = h2o_strdup(&rq->req->pool, path, SIZE_MAX).base;
        if (!*rest) {
                c->tree_only = form_get(&q, "tree") && webd_rq_is_htmx(rq);
                target_begin(&hq, c, c->path);
                return call_host(rq, "file.list", &hq, list_reply, c);
        }
        if (strneq(rest, "/uploads/", 9)) {
                struct webd_upload *up = webd_uploads_find(rq->w->uploads, rest + 9, rq->user.id, o->id);
                rq->json = true;
                if (!up || !may_change)
                        return webd_rq_error(rq, 404, "Not found",
                                             "There is no such upload (it may have expired).");
                upload_json(rq, 200, up, NULL);
                return 0;
        }
        if (streq(rest, "/download")) {
                target_begin(&hq, c, c->path);
                return call_host(rq, "file.open", &hq, download_reply, c);
        }
        if (streq(rest, "/edit")) {
                const char *dir = form_get(&q, "dir"), *name = form_get(&q, "name");
                c->modal = form_get(&q, "modal") && webd_rq_is_htmx(rq);
                if (dir && name) {
                        /* "Write file": a new, empty one; hostd refuses a name taken on save. */
                        char *full = join(rq, dir, name);
                        struct html h;
                        if (!*name || !full)
                                return webd_rq_error(rq, 400, "That did not work", "Name the new file.");
                        html_init(&h, 0);
                        editor_page(rq, &h, c, full, "", 0, true, NULL);
                        return webd_rq_send_html(rq, 200, &h);
                }
                target_begin(&hq, c, c->path);
                return call_host(rq, "file.read", &hq, read_reply, c);
        }
        return webd_rq_error(rq, 404, "Not found", "There is no such page.");
}

int page_files_post(struct webd_rq *rq, const struct webd_overlay *o, const char *rest) {
        struct files_ctx *c = ctx_new(rq, o, true);

        if (o->type != WEBD_OVERLAY_FILES)
                return webd_rq_error(rq, 404, "Not found", "Only a files overlay has files to edit here.");
        if (*rest != '/')
                return webd_rq_error(rq, 404, "Not found", "There is no such page.");
        if (streq(rest, "/uploads"))
                return upload_start(rq, c);
        if (streq(rest, "/upload"))
                return form_upload(rq, c);
        if (strneq(rest, "/uploads/", 9)) {
                char token[WEBD_UPLOAD_TOKEN_HEX + 1];
                const char *slash = strchr(rest + 9, '/');
                if (!slash || (size_t) (slash - (rest + 9)) != WEBD_UPLOAD_TOKEN_HEX)
                        return webd_rq_error(rq, 404, "Not found", "There is no such upload.");
                snprintf(token, sizeof(token), "%.*s", (int) WEBD_UPLOAD_TOKEN_HEX, rest + 9);
                return upload_finish(rq, c, token, slash + 1);
        }
        return post_change(rq, c, rest + 1);
}

/* ---- the API's file calls (docs/api.md) ---------------------------------------------------------- */

int page_files_api(struct webd_rq *rq, const struct webd_overlay *o, bool may_change, const char *rest) {
        struct files_ctx *c = ctx_new(rq, o, may_change);
        _cleanup_(form_done) struct form q = {};
        const char *path = query_get(rq, &q, "path") ?: "";
        const char *method = rq->req->method.base;
        size_t mlen = rq->req->method.len;
        char object[48];
        struct host_req hq;

        if (o->type != WEBD_OVERLAY_FILES)
                return webd_rq_error(rq, 404, "Not found", "Only a files overlay has files.");
        if (strlen(path) > FILES_PATH_MAX)
                return webd_rq_error(rq, 400, "That did not work", "That path is too long.");
        c->path = h2o_strdup(&rq->req->pool, path, SIZE_MAX).base;
        if (h2o_memis(method, mlen, H2O_STRLIT("GET")) || h2o_memis(method, mlen, H2O_STRLIT("HEAD"))) {
                if (!*rest) {
                        target_begin(&hq, c, c->path);
                        return call_host(rq, "file.list", &hq, list_reply, c);
                }
                if (streq(rest, "/content")) {
                        target_begin(&hq, c, c->path);
                        return call_host(rq, "file.open", &hq, download_reply, c);
                }
                return webd_rq_error(rq, 404, "Not found", "There is no such call.");
        }
        if (!streq(rest, "/content"))
                return webd_rq_error(rq, 404, "Not found", "There is no such call.");
        if (!may_change)
                return webd_rq_error(rq, 403, "Forbidden", "You may not change this overlay.");
        if (!*c->path)
                return webd_rq_error(rq, 400, "That did not work", "Name a file: ?path=folder/name.");
        snprintf(object, sizeof(object), "overlay:%" PRId64, c->id);
        if (h2o_memis(method, mlen, H2O_STRLIT("PUT"))) {
                /* The body is the file (at most limits.max_message_bytes: h2o's one cap); larger
                 * files go up in slices like the page's (POST .../files/uploads). */
                webd_rq_audit(rq, NULL, "files.save", object, "ok", c->path);
                target_begin(&hq, c, c->path);
                rpc_pack_str(hq.pk, "data");
                (void) msgpack_pack_bin(hq.pk, rq->req->entity.len);
                (void) msgpack_pack_bin_body(hq.pk, rq->req->entity.base, rq->req->entity.len);
                return call_host(rq, "file.write", &hq, changed_reply, c);
        }
        if (h2o_memis(method, mlen, H2O_STRLIT("DELETE"))) {
                const char *rec = form_get(&q, "recursive");

                webd_rq_audit(rq, NULL, "files.delete", object, "ok", c->path);
                rpc_pack_kv_bool(target_begin(&hq, c, c->path), "recursive", rec && streq(rec, "1"));
                return call_host(rq, "file.delete", &hq, changed_reply, c);
        }
        return webd_rq_error(rq, 405, "Method not allowed", "GET, PUT or DELETE.");
}
