/* The build users' pool: every running build has a kernel uid of its own, one of
 * left4me-build-0 .. left4me-build-15 (proto/names.h, units/left4me.sysusers), leased by
 * hostd for the build and given back when its unit is over. docs/sandbox.md, "One uid per
 * build", says why a uid each and why a pool rather than DynamicUser=.
 *
 * A lease is free when no build of this hostd holds it AND no process is left in its slice,
 * l4d2-build-<k>.slice (the build runs there): that second half is the kernel's view, so a
 * build that an earlier hostd started (a crash, a restart while a build was stopping) keeps
 * its uid to itself until its last process is gone, though this hostd never knew of it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto/names.h"

/* A child of l4d2-build.slice (systemd makes a slice from its name on first use). */
#define BUILD_POOL_SLICE_FMT "l4d2-build-%u.slice"
#define BUILD_POOL_CGROUP    "l4d2.slice/l4d2-build.slice"

struct build_lease {
        unsigned index; /* k of left4me-build-k */
        uid_t uid;
        gid_t gid;
        char user[32];
        char slice[40];
};

/* 0 and the user's uid and primary gid, or -ENOENT (tests replace the NSS lookup). */
typedef int (*build_pool_lookup_fn)(const char *name, uid_t *ret_uid, gid_t *ret_gid);

struct build_pool {
        bool held[L4M_BUILD_USERS];
        unsigned next;               /* where the next search starts: round robin */
        const char *cgroup_root;     /* the cgroup2 mount; NULL: found at first use */
        build_pool_lookup_fn lookup; /* NULL: getpwnam() */
};

/* Leases a free build user. -EBUSY: none is free; -ENOENT: no pool user exists at all;
 * -EOPNOTSUPP: there is no cgroup2 hierarchy to ask whether a slice is empty (hostd then
 * refuses rather than risk two builds on one uid); other -errno: reading the cgroup. */
int build_pool_take(struct build_pool *p, struct build_lease *ret);
void build_pool_give(struct build_pool *p, const struct build_lease *l);
/* The uids of the pool users that exist, at most n; returns how many. */
size_t build_pool_uids(struct build_pool *p, uid_t *uids, size_t n);
/* 1 if a process is left in the cgroup dir (relative to the cgroup2 root) or below, 0 if
 * not or if it does not exist, -errno. */
int cgroup_is_populated(const char *cgroup_root, const char *path);
