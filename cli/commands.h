/* The subcommands other areas implement in cli/cmd-<area>.c: declare the function and add
 * one line to the table (the order is that of `l4d2ctl --help`). NULL-terminated. */
#pragma once

static const struct cli_command area_commands[] = {
        { NULL, NULL, NULL },
};
