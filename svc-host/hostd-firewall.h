/* The suite's network rules, one nftables table `inet left4me` (docs/sandbox.md, "Network"):
 *   - a build (its socket's uid is one of the build users') reaches nothing local to this
 *     host: every destination that `fib daddr type local` names (loopback, and the host's own
 *     addresses, public ones included, which IPAddressDeny= cannot list) is rejected;
 *   - TCP to the game port range (RCON) is accepted only on loopback, to a loopback address;
 *     UDP (the game itself, A2S) stays open.
 * `left4me-hostd firewall` prints the rule set for left4me-firewall.service, which loads it
 * with `nft -f -` (one transaction: the old table is replaced, never merged) and deletes the
 * table when stopped. hostd itself needs no CAP_NET_ADMIN and no netlink for it. */
#pragma once

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define FIREWALL_TABLE "left4me"

/* Writes the rule set for the build users' uids (at least one) and the inclusive game port
 * range to f. -EINVAL: no uid or a bad range; -EIO: a write failed. */
int firewall_ruleset(FILE *f, const uid_t *build_uids, size_t n, unsigned port_start, unsigned port_end);
/* The subcommand: resolves the pool's users and prints the rule set to stdout. */
int hostd_firewall(unsigned port_start, unsigned port_end);
