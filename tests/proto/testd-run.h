/* Starts left4me-testd (the protocol test daemon) on a temporary socket for in-process tests
 * of the client adapters, and stops it. Criterion runs each test in its own process, so one
 * daemon per test. */
#pragma once

#include <stdbool.h>

#ifndef LEFT4ME_TESTD
#define LEFT4ME_TESTD "build/left4me-testd"
#endif

/* Returns the socket path (static storage), or NULL if the daemon did not start listening. */
const char *testd_start(void);
/* Kills it (SIGKILL: the tests use this to break connections mid-call) and waits for it. */
void testd_kill(void);
/* Kills it if running and removes its files. */
void testd_cleanup(void);
