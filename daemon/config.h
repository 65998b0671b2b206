/* The one configuration file of the suite, /etc/left4me/left4me.yaml (overridable with
 * --config or $LEFT4ME_CONFIG). Every daemon and the CLI parse the whole file, so one typo
 * is reported the same way everywhere. Unknown keys are warned about (through the warn
 * callback); bad values are refused with the key's full name. A missing file means "all
 * defaults", unless the path was given explicitly. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define LEFT4ME_DEFAULT_CONFIG LEFT4ME_SYSCONFDIR "/left4me/left4me.yaml"

/* limits.idle_exit_sec and every daemon's --idle-exit: 0 (never) up to one day. An idle
 * daemon costs nothing to restart, so a longer wait has no use. */
#define L4M_IDLE_EXIT_MAX_SEC 86400u

/* The databases, below paths.root, each in a directory that only its daemon may enter
 * (units/left4me.tmpfiles). */
#define JOBS_DB_PATH "jobs/jobs.db"
#define WEB_DB_PATH  "web/web.db"

#define L4M_TRUSTED_PROXIES_MAX 32u

struct l4m_config {
        /* paths */
        char *root;     /* /var/lib/left4me */
        char *steamcmd; /* /var/lib/left4me/steam/steamcmd.sh */
        char *run_dir;  /* /run/left4me: the sockets */
        /* ports for game servers, inclusive */
        unsigned port_start, port_end;
        /* web */
        char *web_bind;
        unsigned web_port;
        unsigned web_session_idle_sec;     /* a session unused this long ends */
        unsigned web_session_max_sec;      /* and any session ends this long after its login */
        char *web_public_origin;           /* "https://l4d2.example": what Origin must be; NULL = the Host */
        char **web_trusted_proxies;        /* addresses whose X-Forwarded-For is believed; NULL-terminated */
        char *web_tls_cert, *web_tls_key;  /* PEM files; NULL = plain HTTP */
        bool web_behind_proxy;             /* plain HTTP on a non-loopback address is behind a TLS proxy */
        unsigned web_sse_per_session;      /* event streams a session may hold (default 4) */
        unsigned web_sse_per_address;      /* event streams one client address may hold (default 8) */
        unsigned web_audit_retention_days; /* audit entries older than this are deleted; 0 = kept forever */
        /* limits */
        unsigned idle_exit_sec;
        size_t max_message_bytes;
        unsigned max_connections;
        unsigned idle_connection_sec; /* a connection with nothing pending is closed after this */
        unsigned message_timeout_sec; /* a message that has begun must be whole within this */
        /* jobs */
        unsigned job_workers;
        /* build sandbox */
        uint64_t sandbox_memory_max; /* bytes */
        unsigned sandbox_tasks_max;
        unsigned sandbox_cpu_quota_percent;
        unsigned sandbox_runtime_max_sec;
        uint64_t sandbox_overlay_max_bytes; /* a generation a build makes, at most (default 20 GiB) */

        char *source_path; /* the file it was read from, or NULL for defaults */
};

/* Fills c with the built-in defaults. */
int config_init_defaults(struct l4m_config *c);
void config_done(struct l4m_config *c);

/* Reads path (NULL: $LEFT4ME_CONFIG, else the default path; a missing default file is not an
 * error). Errors go to errbuf ("left4me.yaml:12: ports.start: must be 1..65535"); warnings for
 * unknown keys go to warn() if non-NULL. Returns 0 or a negative errno. */
int config_load(struct l4m_config *c, const char *path, char *errbuf, size_t errlen,
                void (*warn)(const char *msg, void *userdata), void *userdata);
/* Same, from a string (tests). */
int config_load_string(struct l4m_config *c, const char *yaml, size_t len, const char *name, char *errbuf,
                       size_t errlen, void (*warn)(const char *msg, void *userdata), void *userdata);

/* The socket path of a service ("host", "jobs", "logs", "web") under c->run_dir. */
int config_socket_path(const struct l4m_config *c, const char *service, char *buf, size_t len);
