/* Shared by hostd's file-system unit tests: the temporary root they work in, and a shell
 * to lay out trees in it. */
#pragma once

#include "base/util.h"

/* The test's temporary root (each test file creates and removes it in its fixtures). */
extern char *root;

/* /bin/sh -c cmd; returns its exit status, or -1. */
int run_shell(const char *cmd);

/* Runs a shell command in root with `set -e`; the test fails if it fails. */
void sh(const char *fmt, ...) _printf_(1, 2);
