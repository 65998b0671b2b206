#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <yaml.h>

#include "daemon/config.h"
#include "base/util.h"

#define CONFIG_MAX_BYTES (256u * 1024u)

int config_init_defaults(struct l4m_config *c) {
        *c = (struct l4m_config){
                .port_start = 27015,
                .port_end = 27115,
                .web_port = 8080,
                .web_session_idle_sec = 12 * 3600,
                .web_session_max_sec = 30 * 86400,
                .idle_exit_sec = 30,
                .max_message_bytes = 1024 * 1024,
                .max_connections = 64,
                .web_sse_per_session = 4,
                .web_sse_per_address = 8,
                .web_audit_retention_days = 365,
                .idle_connection_sec = 60,
                .message_timeout_sec = 10,
                .job_workers = 4,
                .sandbox_memory_max = 4ULL << 30,
                .sandbox_tasks_max = 512,
                .sandbox_cpu_quota_percent = 200,
                .sandbox_runtime_max_sec = 3600,
                .sandbox_overlay_max_bytes = 20ULL << 30,
        };
        c->root = strdup("/var/lib/left4me");
        c->steamcmd = strdup("/var/lib/left4me/steam/steamcmd.sh");
        c->run_dir = strdup("/run/left4me");
        c->web_bind = strdup("127.0.0.1");
        if (!c->root || !c->steamcmd || !c->run_dir || !c->web_bind) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(struct l4m_config *c) {
        free(c->root);
        free(c->steamcmd);
        free(c->run_dir);
        free(c->web_bind);
        free(c->web_public_origin);
        strv_free(c->web_trusted_proxies);
        free(c->web_tls_cert);
        free(c->web_tls_key);
        free(c->source_path);
        memset(c, 0, sizeof(*c));
}

struct parse_ctx {
        const char *name;
        char *errbuf;
        size_t errlen;
        void (*warn)(const char *msg, void *userdata);
        void *userdata;
};

static int fail(struct parse_ctx *p, const yaml_node_t *n, const char *fmt, ...) _printf_(3, 4);
static int fail(struct parse_ctx *p, const yaml_node_t *n, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (n)
                snprintf(p->errbuf, p->errlen, "%s:%zu: %s", p->name, n->start_mark.line + 1, msg);
        else
                snprintf(p->errbuf, p->errlen, "%s: %s", p->name, msg);
        return -EINVAL;
}

static void warn(struct parse_ctx *p, const yaml_node_t *n, const char *key) {
        char msg[512];
        if (!p->warn)
                return;
        snprintf(msg, sizeof(msg), "%s:%zu: unknown key '%s', ignoring", p->name, n->start_mark.line + 1,
                 key);
        p->warn(msg, p->userdata);
}

static const char *scalar(const yaml_node_t *n) {
        return n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static int get_uint(struct parse_ctx *p, const yaml_node_t *n, const char *key, unsigned long long min,
                    unsigned long long max, unsigned long long *ret) {
        const char *s = scalar(n);
        long long v;
        if (!s ||
            safe_atoi64(s, (long long) min, (long long) MIN(max, (unsigned long long) LLONG_MAX), &v) < 0)
                return fail(p, n, "%s: must be a whole number from %llu to %llu", key, min, max);
        *ret = (unsigned long long) v;
        return 0;
}

static int get_path(struct parse_ctx *p, const yaml_node_t *n, const char *key, char **field) {
        const char *s = scalar(n);
        char *d;
        if (!s || s[0] != '/' || strlen(s) > 1024 || strstr(s, "/../") || strstr(s, "//"))
                return fail(p, n, "%s: must be an absolute path", key);
        d = strdup(s);
        if (!d)
                return -ENOMEM;
        free(*field);
        *field = d;
        return 0;
}

/* "4G", "512M", "1024K", "1073741824" */
static int get_bool(struct parse_ctx *p, const yaml_node_t *n, const char *key, bool *ret) {
        const char *s = scalar(n);
        if (s && (streq(s, "true") || streq(s, "yes") || streq(s, "on")))
                *ret = true;
        else if (s && (streq(s, "false") || streq(s, "no") || streq(s, "off")))
                *ret = false;
        else
                return fail(p, n, "%s: must be true or false", key);
        return 0;
}

/* "https://host" or "https://host:port", as a browser writes Origin: no path, no user info,
 * lowercase scheme. */
static bool origin_ok(const char *s) {
        const char *host;
        if (strneq(s, "https://", 8))
                host = s + 8;
        else if (strneq(s, "http://", 7))
                host = s + 7;
        else
                return false;
        if (!*host || strlen(s) > 255)
                return false;
        for (const char *c = host; *c; c++)
                if (!(((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')) || strchr(".-:[]", *c)))
                        return false;
        return true;
}

/* A list of numeric IP addresses (IPv4 or IPv6, no ranges). */
static int get_addresses(struct parse_ctx *p, yaml_document_t *doc, const yaml_node_t *n, const char *key,
                         char ***field) {
        _cleanup_strv_free_ char **v = NULL;
        size_t k = 0, count;

        if (n->type != YAML_SEQUENCE_NODE)
                return fail(p, n, "%s: must be a list of IP addresses", key);
        count = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
        if (count > L4M_TRUSTED_PROXIES_MAX)
                return fail(p, n, "%s: at most %u addresses", key, L4M_TRUSTED_PROXIES_MAX);
        v = calloc(count + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                const yaml_node_t *item = yaml_document_get_node(doc, *i);
                const char *s = item ? scalar(item) : NULL;
                unsigned char buf[sizeof(struct in6_addr)];

                if (!s || (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1))
                        return fail(p, item ?: n, "%s: '%s' is not an IP address", key, s ?: "");
                if (!(v[k++] = strdup(s)))
                        return -ENOMEM;
        }
        strv_free(*field);
        *field = TAKE_PTR(v);
        return 0;
}

static int get_size(struct parse_ctx *p, const yaml_node_t *n, const char *key, uint64_t *ret) {
        const char *s = scalar(n);
        char *end;
        unsigned long long v, mult = 1;
        if (!s || !*s || *s == '-')
                return fail(p, n, "%s: must be a size like 4G, 512M or a number of bytes", key);
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s)
                return fail(p, n, "%s: must be a size like 4G, 512M or a number of bytes", key);
        switch (*end) {
        case 'K':
                mult = 1ULL << 10;
                end++;
                break;
        case 'M':
                mult = 1ULL << 20;
                end++;
                break;
        case 'G':
                mult = 1ULL << 30;
                end++;
                break;
        case 'T':
                mult = 1ULL << 40;
                end++;
                break;
        case 0:
                break;
        default:
                return fail(p, n, "%s: unknown size suffix", key);
        }
        if (*end || v == 0 || v > UINT64_MAX / mult)
                return fail(p, n, "%s: must be a size like 4G, 512M or a number of bytes", key);
        *ret = v * mult;
        return 0;
}

static int get_percent(struct parse_ctx *p, const yaml_node_t *n, const char *key, unsigned *ret) {
        const char *s = scalar(n);
        char buf[32];
        size_t l;
        long long v;
        if (!s || (l = strlen(s)) == 0 || l >= sizeof(buf))
                return fail(p, n, "%s: must be a percentage like 200%%", key);
        memcpy(buf, s, l + 1);
        if (buf[l - 1] == '%')
                buf[l - 1] = 0;
        if (safe_atoi64(buf, 1, 100000, &v) < 0)
                return fail(p, n, "%s: must be a percentage from 1%% to 100000%%", key);
        *ret = (unsigned) v;
        return 0;
}

static int parse_section(struct parse_ctx *p, yaml_document_t *doc, const char *section, yaml_node_t *map,
                         struct l4m_config *c) {
        if (map->type != YAML_MAPPING_NODE)
                return fail(p, map, "%s: must be a mapping", section);
        for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
             pair++) {
                yaml_node_t *k = yaml_document_get_node(doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(doc, pair->value);
                const char *key = k ? scalar(k) : NULL;
                char full[128];
                unsigned long long u;
                int r = 0;

                if (!key || !v)
                        return fail(p, k, "%s: keys must be plain strings", section);
                snprintf(full, sizeof(full), "%s.%s", section, key);
#define IS(s, k) (streq(section, s) && streq(key, k))
                if (IS("paths", "root"))
                        r = get_path(p, v, full, &c->root);
                else if (IS("paths", "steamcmd"))
                        r = get_path(p, v, full, &c->steamcmd);
                else if (IS("paths", "run"))
                        r = get_path(p, v, full, &c->run_dir);
                else if (IS("ports", "start")) {
                        if ((r = get_uint(p, v, full, 1, 65535, &u)) == 0)
                                c->port_start = (unsigned) u;
                } else if (IS("ports", "end")) {
                        if ((r = get_uint(p, v, full, 1, 65535, &u)) == 0)
                                c->port_end = (unsigned) u;
                } else if (IS("web", "bind")) {
                        const char *s = scalar(v);
                        char *d;
                        if (!s || !*s || strlen(s) > 255 || strpbrk(s, " \t/"))
                                return fail(p, v, "%s: must be an IP address or host name", full);
                        if (!(d = strdup(s)))
                                return -ENOMEM;
                        free(c->web_bind);
                        c->web_bind = d;
                } else if (IS("web", "port")) {
                        if ((r = get_uint(p, v, full, 1, 65535, &u)) == 0)
                                c->web_port = (unsigned) u;
                } else if (IS("web", "session_idle_sec")) {
                        if ((r = get_uint(p, v, full, 60, 30 * 86400, &u)) == 0)
                                c->web_session_idle_sec = (unsigned) u;
                } else if (IS("web", "session_max_sec")) {
                        if ((r = get_uint(p, v, full, 300, 366 * 86400, &u)) == 0)
                                c->web_session_max_sec = (unsigned) u;
                } else if (IS("web", "public_origin")) {
                        const char *s = scalar(v);
                        char *d;
                        if (!s || !origin_ok(s))
                                return fail(p, v,
                                            "%s: must be an origin like https://l4d2.example or "
                                            "https://l4d2.example:8443 (no path)",
                                            full);
                        if (!(d = strdup(s)))
                                return -ENOMEM;
                        free(c->web_public_origin);
                        c->web_public_origin = d;
                } else if (IS("web", "trusted_proxies"))
                        r = get_addresses(p, doc, v, full, &c->web_trusted_proxies);
                else if (IS("web", "tls_cert"))
                        r = get_path(p, v, full, &c->web_tls_cert);
                else if (IS("web", "tls_key"))
                        r = get_path(p, v, full, &c->web_tls_key);
                else if (IS("web", "behind_proxy"))
                        r = get_bool(p, v, full, &c->web_behind_proxy);
                else if (IS("web", "sse_per_session")) {
                        if ((r = get_uint(p, v, full, 1, 100000, &u)) == 0)
                                c->web_sse_per_session = (unsigned) u;
                } else if (IS("web", "sse_per_address")) {
                        if ((r = get_uint(p, v, full, 1, 100000, &u)) == 0)
                                c->web_sse_per_address = (unsigned) u;
                } else if (IS("web", "audit_retention_days")) {
                        /* 100 years at most: days in microseconds stay far from int64's end. */
                        if ((r = get_uint(p, v, full, 0, 36500, &u)) == 0)
                                c->web_audit_retention_days = (unsigned) u;
                } else if (IS("limits", "idle_exit_sec")) {
                        if ((r = get_uint(p, v, full, 0, L4M_IDLE_EXIT_MAX_SEC, &u)) == 0)
                                c->idle_exit_sec = (unsigned) u;
                } else if (IS("limits", "max_message_bytes")) {
                        if ((r = get_uint(p, v, full, 4096, 64u * 1024 * 1024, &u)) == 0)
                                c->max_message_bytes = (size_t) u;
                } else if (IS("limits", "max_connections")) {
                        if ((r = get_uint(p, v, full, 1, 100000, &u)) == 0)
                                c->max_connections = (unsigned) u;
                } else if (IS("limits", "idle_connection_sec")) {
                        if ((r = get_uint(p, v, full, 1, 86400, &u)) == 0)
                                c->idle_connection_sec = (unsigned) u;
                } else if (IS("limits", "message_timeout_sec")) {
                        if ((r = get_uint(p, v, full, 1, 3600, &u)) == 0)
                                c->message_timeout_sec = (unsigned) u;
                } else if (IS("jobs", "workers")) {
                        if ((r = get_uint(p, v, full, 1, 64, &u)) == 0)
                                c->job_workers = (unsigned) u;
                } else if (IS("sandbox", "memory_max"))
                        r = get_size(p, v, full, &c->sandbox_memory_max);
                else if (IS("sandbox", "tasks_max")) {
                        if ((r = get_uint(p, v, full, 1, 1000000, &u)) == 0)
                                c->sandbox_tasks_max = (unsigned) u;
                } else if (IS("sandbox", "cpu_quota"))
                        r = get_percent(p, v, full, &c->sandbox_cpu_quota_percent);
                else if (IS("sandbox", "runtime_max_sec")) {
                        if ((r = get_uint(p, v, full, 1, 7 * 86400, &u)) == 0)
                                c->sandbox_runtime_max_sec = (unsigned) u;
                } else if (IS("sandbox", "overlay_max_bytes"))
                        r = get_size(p, v, full, &c->sandbox_overlay_max_bytes);
                else
                        warn(p, k, full);
#undef IS
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_document(struct parse_ctx *p, yaml_document_t *doc, struct l4m_config *c) {
        static const char *const sections[] = {"paths", "ports", "web", "limits", "jobs", "sandbox"};
        yaml_node_t *root = yaml_document_get_root_node(doc);
        int r;

        if (!root)
                return 0; /* an empty file: all defaults */
        if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)
                return 0;
        if (root->type != YAML_MAPPING_NODE)
                return fail(p, root, "the top level must be a mapping");
        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top;
             pair++) {
                yaml_node_t *k = yaml_document_get_node(doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(doc, pair->value);
                const char *key = k ? scalar(k) : NULL;
                bool known = false;
                if (!key || !v)
                        return fail(p, k, "keys must be plain strings");
                for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                        if (streq(key, sections[i])) {
                                known = true;
                                r = parse_section(p, doc, key, v, c);
                                if (r < 0)
                                        return r;
                        }
                if (!known)
                        warn(p, k, key);
        }
        if (c->port_start > c->port_end)
                return fail(p, NULL, "ports.start (%u) must not be above ports.end (%u)", c->port_start,
                            c->port_end);
        if (!c->web_tls_cert != !c->web_tls_key)
                return fail(p, NULL, "web.tls_cert and web.tls_key go together: give both or neither");
        if (c->port_end - c->port_start > 10000)
                return fail(p, NULL, "ports: the range may hold at most 10001 ports");
        return 0;
}

int config_load_string(struct l4m_config *c, const char *yaml, size_t len, const char *name, char *errbuf,
                       size_t errlen, void (*warnf)(const char *msg, void *userdata), void *userdata) {
        struct parse_ctx p = {name, errbuf, errlen, warnf, userdata};
        yaml_parser_t parser;
        yaml_document_t doc;
        int r;

        if (len > CONFIG_MAX_BYTES)
                return fail(&p, NULL, "file is larger than %u bytes", CONFIG_MAX_BYTES);
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) yaml, len);
        if (!yaml_parser_load(&parser, &doc)) {
                snprintf(errbuf, errlen, "%s:%zu: %s", name, parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "YAML syntax error");
                yaml_parser_delete(&parser);
                return -EINVAL;
        }
        r = parse_document(&p, &doc, c);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}

int config_load(struct l4m_config *c, const char *path, char *errbuf, size_t errlen,
                void (*warnf)(const char *msg, void *userdata), void *userdata) {
        bool explicit = path != NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *data = NULL;
        size_t n;
        int r;

        if (!path) {
                path = getenv("LEFT4ME_CONFIG");
                explicit = !isempty(path);
                if (!explicit)
                        path = LEFT4ME_DEFAULT_CONFIG;
        }
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                if (r == -ENOENT && !explicit)
                        return 0;
                snprintf(errbuf, errlen, "%s: %s", path, strerror(-r));
                return r;
        }
        data = malloc(CONFIG_MAX_BYTES + 1);
        if (!data)
                return -ENOMEM;
        n = fread(data, 1, CONFIG_MAX_BYTES + 1, f);
        if (ferror(f)) {
                snprintf(errbuf, errlen, "%s: read error", path);
                return -EIO;
        }
        r = config_load_string(c, data, n, path, errbuf, errlen, warnf, userdata);
        if (r < 0)
                return r;
        free(c->source_path);
        c->source_path = strdup(path);
        return 0;
}

int config_socket_path(const struct l4m_config *c, const char *service, char *buf, size_t len) {
        int k = snprintf(buf, len, "%s/%s.sock", c->run_dir, service);
        return k < 0 || (size_t) k >= len ? -ENAMETOOLONG : 0;
}
