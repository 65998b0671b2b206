/* Shared by hostd's unit tests of transient units' property lists (builds, steamcmd): the
 * properties an append function puts into a real StartTransientUnit message, sealed and read
 * back as "Name" = "value" text (containers as [a, b] and (a b), booleans yes/no, fds "fd"). */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>

#define MAX_PROPS 128
struct props {
        char *name[MAX_PROPS];
        char *value[MAX_PROPS];
        size_t n;
};

/* Builds the message with append(m, spec) and reads it into *out. Returns append's error (and
 * *out is untouched) if it fails; the test fails if the message cannot be read back. */
int props_read(int (*append)(sd_bus_message *m, const void *spec), const void *spec, struct props *out);
void props_free(struct props *p);
/* The value of the nth (from 0) property called name, or NULL if there are fewer. */
const char *prop_nth(const struct props *p, const char *name, unsigned nth);
const char *prop(const struct props *p, const char *name);
