/* hostd's start-up check of its own privileges (hostd-self.c). */
#pragma once

#include <stdbool.h>

/* 0, or < 0 (logged) when hostd must not run: not root, a needed capability missing, or, when
 * under_systemd, a capability in the bounding set that it does not need. */
int hostd_check_privileges(bool under_systemd);
