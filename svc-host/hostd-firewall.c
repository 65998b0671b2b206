/* The suite's nftables rule set. See hostd-firewall.h. */
#include <errno.h>
#include <stdio.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-firewall.h"
#include "svc-host/hostd-pool.h"

int firewall_ruleset(FILE *f, const uid_t *uids, size_t n, unsigned port_start, unsigned port_end) {
        if (n == 0 || port_start == 0 || port_start > port_end || port_end > 65535)
                return -EINVAL;
        /* Declaring the table first makes the delete succeed when it is not there yet; all of
         * it is one transaction, so the rules are replaced without a moment of none. */
        fprintf(f, "table inet " FIREWALL_TABLE " {}\n"
                   "delete table inet " FIREWALL_TABLE "\n"
                   "table inet " FIREWALL_TABLE " {\n");
        fprintf(f, "\tset build_uids {\n\t\ttype uid\n\t\telements = { ");
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%u", i ? ", " : "", (unsigned) uids[i]);
        fprintf(f, " }\n\t}\n");
        /* Output: the socket's owner is the build's uid (meta skuid; set for every packet a
         * build's socket sends). A destination the routing table calls local is this host,
         * whatever its address: 127/8, ::1, and the host's own public addresses. An ICMP
         * admin-prohibited answer makes connect() fail at once with EHOSTUNREACH. */
        fprintf(f, "\tchain build_output {\n"
                   "\t\ttype filter hook output priority filter; policy accept;\n"
                   "\t\tmeta skuid @build_uids fib daddr type local counter reject with icmpx type "
                   "admin-prohibited\n"
                   "\t}\n");
        /* Input: RCON is TCP on the game's port (every game port is in the range: specs are
         * checked against it). Loopback only, and to a loopback address: a connection from this
         * host to its own public address arrives on lo too, so the interface alone is not
         * enough. */
        fprintf(f,
                "\tchain rcon_input {\n"
                "\t\ttype filter hook input priority filter; policy accept;\n"
                "\t\ttcp dport %u-%u iif != \"lo\" counter reject with tcp reset\n"
                "\t\tmeta nfproto ipv4 tcp dport %u-%u ip daddr != 127.0.0.0/8 counter reject with tcp "
                "reset\n"
                "\t\tmeta nfproto ipv6 tcp dport %u-%u ip6 daddr != ::1 counter reject with tcp reset\n"
                "\t}\n"
                "}\n",
                port_start, port_end, port_start, port_end, port_start, port_end);
        return ferror(f) ? -EIO : 0;
}

int hostd_firewall(unsigned port_start, unsigned port_end) {
        struct build_pool pool = {};
        uid_t uids[L4M_BUILD_USERS];
        size_t n;
        int r;

        n = build_pool_uids(&pool, uids, ELEMENTSOF(uids));
        if (n == 0)
                return log_error_errno(-ENOENT,
                                       "No build user exists (" L4M_BUILD_USER_PREFIX
                                       "0 .. %u; systemd-sysusers "
                                       "creates them): refusing to write rules that match nobody",
                                       L4M_BUILD_USERS - 1);
        if (n < L4M_BUILD_USERS)
                log_warning("Only %zu of the %u build users exist; the rules cover those", n,
                            L4M_BUILD_USERS);
        r = firewall_ruleset(stdout, uids, n, port_start, port_end);
        if (r >= 0 && fflush(stdout) != 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Cannot write the rule set: %m");
        return 0;
}
