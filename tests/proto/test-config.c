/* The configuration file: defaults, every key, unknown keys warned, bad values named. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

#include "daemon/config.h"

static int warnings;
static char last_warning[512];
static void on_warn(const char *msg, void *ud) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

static int load(const char *yaml, struct l4m_config *c, char *err) {
        cr_assert_eq(config_init_defaults(c), 0);
        warnings = 0;
        return config_load_string(c, yaml, strlen(yaml), "left4me.yaml", err, 600, on_warn, NULL);
}

Test(config, defaults) {
        struct l4m_config c;
        char err[600];
        cr_assert_eq(load("", &c, err), 0);
        cr_assert_str_eq(c.root, "/var/lib/left4me");
        cr_assert_str_eq(c.run_dir, "/run/left4me");
        cr_assert_eq(c.port_start, 27015u);
        cr_assert_eq(c.web_port, 8080u);
        cr_assert_eq(c.sandbox_memory_max, 4ULL << 30);
        cr_assert_eq(c.sandbox_overlay_max_bytes, 20ULL << 30, "20 GiB");
        cr_assert_eq(c.web_audit_retention_days, 365u);
        config_done(&c);
}

Test(config, every_key) {
        struct l4m_config c;
        char err[600];
        const char *y = "paths: {root: /srv/l4m, steamcmd: /opt/steam/steamcmd.sh, run: /run/x}\n"
                        "ports: {start: 27000, end: 27999}\n"
                        "web: {bind: 0.0.0.0, port: 9000, audit_retention_days: 30}\n"
                        "limits: {idle_exit_sec: 3, max_message_bytes: 65536, max_connections: 10,\n"
                        "         idle_connection_sec: 5, message_timeout_sec: 2}\n"
                        "jobs: {workers: 2}\n"
                        "sandbox: {memory_max: 512M, tasks_max: 64, cpu_quota: 150%, runtime_max_sec: 60,\n"
                        "          overlay_max_bytes: 1M}\n";
        cr_assert_eq(load(y, &c, err), 0, "%s", err);
        cr_assert_str_eq(c.root, "/srv/l4m");
        cr_assert_str_eq(c.steamcmd, "/opt/steam/steamcmd.sh");
        cr_assert_str_eq(c.run_dir, "/run/x");
        cr_assert_eq(c.port_start, 27000u);
        cr_assert_eq(c.port_end, 27999u);
        cr_assert_str_eq(c.web_bind, "0.0.0.0");
        cr_assert_eq(c.web_port, 9000u);
        cr_assert_eq(c.web_audit_retention_days, 30u);
        cr_assert_eq(c.idle_exit_sec, 3u);
        cr_assert_eq(c.max_message_bytes, 65536u);
        cr_assert_eq(c.max_connections, 10u);
        cr_assert_eq(c.idle_connection_sec, 5u);
        cr_assert_eq(c.message_timeout_sec, 2u);
        cr_assert_eq(c.job_workers, 2u);
        cr_assert_eq(c.sandbox_memory_max, 512ULL << 20);
        cr_assert_eq(c.sandbox_tasks_max, 64u);
        cr_assert_eq(c.sandbox_cpu_quota_percent, 150u);
        cr_assert_eq(c.sandbox_runtime_max_sec, 60u);
        cr_assert_eq(c.sandbox_overlay_max_bytes, 1ULL << 20);
        cr_assert_eq(warnings, 0);
        config_done(&c);
}

/* 0 keeps the audit log forever; 36500 days (100 years) is the most. */
Test(config, audit_retention_bounds) {
        struct l4m_config c;
        char err[600];

        cr_assert_eq(load("web: {audit_retention_days: 0}\n", &c, err), 0, "%s", err);
        cr_assert_eq(c.web_audit_retention_days, 0u);
        config_done(&c);
        cr_assert_eq(load("web: {audit_retention_days: 36500}\n", &c, err), 0, "%s", err);
        cr_assert_eq(c.web_audit_retention_days, 36500u);
        config_done(&c);
}

Test(config, unknown_keys_warn_with_line) {
        struct l4m_config c;
        char err[600];
        cr_assert_eq(load("ports:\n  start: 27000\n  ned: 5\nextra: 1\n", &c, err), 0);
        cr_assert_eq(warnings, 2);
        cr_assert(strstr(last_warning, "'extra'"));
        config_done(&c);
}

#define BAD(name, yaml, want)                                                                               \
        Test(config, name) {                                                                                \
                struct l4m_config c;                                                                        \
                char err[600] = "";                                                                         \
                cr_assert_eq(load(yaml, &c, err), -EINVAL);                                                 \
                cr_assert(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);                   \
                config_done(&c);                                                                            \
        }

BAD(port_not_number, "ports: {start: abc}\n", "ports.start: must be a whole number")
BAD(port_too_big, "ports:\n  end: 70000\n", "left4me.yaml:2: ports.end")
BAD(port_inverted, "ports: {start: 28000, end: 27000}\n", "ports.start (28000) must not be above ports.end")
BAD(relative_root, "paths: {root: var/lib}\n", "paths.root: must be an absolute path")
BAD(dotdot_root, "paths: {root: /var/../etc}\n", "paths.root: must be an absolute path")
BAD(bad_size, "sandbox: {memory_max: 4X}\n", "sandbox.memory_max")
BAD(zero_size, "sandbox: {memory_max: 0}\n", "sandbox.memory_max")
BAD(bad_overlay_max, "sandbox: {overlay_max_bytes: 20GB}\n", "sandbox.overlay_max_bytes")
BAD(bad_percent, "sandbox: {cpu_quota: lots}\n", "sandbox.cpu_quota")
BAD(section_not_map, "limits: 5\n", "limits: must be a mapping")
BAD(top_not_map, "- a\n- b\n", "the top level must be a mapping")
BAD(syntax, "ports: {start: [\n", "left4me.yaml")
BAD(small_messages, "limits: {max_message_bytes: 10}\n", "limits.max_message_bytes")
BAD(idle_connection_zero, "limits: {idle_connection_sec: 0}\n", "limits.idle_connection_sec")
BAD(message_timeout_huge, "limits: {message_timeout_sec: 3601}\n", "limits.message_timeout_sec")
BAD(bind_space, "web: {bind: 'a b'}\n", "web.bind")
BAD(audit_retention_huge, "web: {audit_retention_days: 36501}\n", "web.audit_retention_days")
BAD(audit_retention_negative, "web: {audit_retention_days: -1}\n", "web.audit_retention_days")
BAD(audit_retention_words, "web: {audit_retention_days: forever}\n", "web.audit_retention_days")

Test(config, missing_explicit_file_is_an_error) {
        struct l4m_config c;
        char err[600];
        cr_assert_eq(config_init_defaults(&c), 0);
        cr_assert_eq(config_load(&c, "/nonexistent/left4me.yaml", err, sizeof(err), NULL, NULL), -ENOENT);
        cr_assert(strstr(err, "/nonexistent/left4me.yaml"));
        config_done(&c);
}
