/* The subcommands other areas implement in cli/cmd-<area>.c: declare the function and add
 * one line to the table (the order is that of `l4d2ctl --help`). NULL-terminated. */
#pragma once

int cmd_host(int argc, char **argv, const struct cli_ctx *ctx);    /* cli/cmd-host.c */
int cmd_overlay(int argc, char **argv, const struct cli_ctx *ctx); /* cli/cmd-host.c */
int cmd_logs(int argc, char **argv, const struct cli_ctx *ctx);    /* cli/cmd-logs.c */
int cmd_jobs(int argc, char **argv, const struct cli_ctx *ctx);    /* cli/cmd-jobs.c */
int cmd_web(int argc, char **argv, const struct cli_ctx *ctx);     /* cli/cmd-web.c */

static const struct cli_command area_commands[] = {
        {"install", "install or update the game with steamcmd (host)", cmd_host},
        {"initialize", "write an instance from a spec: initialize NAME -f SPEC.yaml (host)", cmd_host},
        {"start", "enable and start an instance's server unit (host)", cmd_host},
        {"stop", "disable and stop an instance's server unit (host)", cmd_host},
        {"delete", "stop an instance and remove its files (host)", cmd_host},
        {"reset", "stop an instance and wipe its files; the next start re-initializes (host)", cmd_host},
        {"status", "an instance's unit, mount and game state: status NAME [--json] (host)", cmd_host},
        {"spec", "print an instance's stored spec: spec NAME (host)", cmd_host},
        {"list", "every instance with its state (host)", cmd_host},
        {"overlay",
         "build an overlay in the sandbox, delete it, list them: overlay build ID -f SCRIPT | overlay "
         "delete ID | overlay list (host)",
         cmd_overlay},
        {"jobs", "list, show, watch, cancel and submit jobs (jobs)", cmd_jobs},
        {"logs", "journal of a server, build or service: logs NAME [--follow] [--lines N] (logs)", cmd_logs},
        {"web", "the web UI's accounts and audit log: web user create NAME [--admin] | web audit (web)",
         cmd_web},
        {NULL, NULL, NULL},
};
