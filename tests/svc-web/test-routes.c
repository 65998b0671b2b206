/* Unit tests of the route lookup (svc-web/webd-http.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "svc-web/page-fleet.h"
#include "svc-web/webd-http.h"

static int h(struct webd_rq *rq) {
        return 0;
}

static const struct webd_route table[] = {
        {"GET", "/", h},
        {"GET", "/health", h},
        {"POST", "/api/servers/", h},
        {"GET", "/api/servers/", h},
};

static const struct webd_route *find(const char *m, const char *p, bool *known) {
        return webd_route_find(table, sizeof(table) / sizeof(table[0]), m, strlen(m), p, strlen(p), known);
}

Test(routes, exact) {
        bool known;

        cr_assert_eq(find("GET", "/health", &known), &table[1]);
        cr_assert_eq(find("GET", "/", &known), &table[0]);
        cr_assert_null(find("GET", "/healthz", &known));
        cr_assert_not(known);
        cr_assert_null(find("GET", "/health/", &known));
        cr_assert_not(known);
}

Test(routes, head_matches_get) {
        bool known;

        cr_assert_eq(find("HEAD", "/health", &known), &table[1]);
}

Test(routes, wrong_method_is_known_path) {
        bool known = false;

        cr_assert_null(find("DELETE", "/health", &known));
        cr_assert(known);
        cr_assert_null(find("get", "/health", &known)); /* methods are case-sensitive */
        cr_assert(known);
}

Test(routes, prefix) {
        bool known;

        cr_assert_eq(find("POST", "/api/servers/7", &known), &table[2]);
        cr_assert_eq(find("GET", "/api/servers/7/logs", &known), &table[3]);
        cr_assert_null(find("GET", "/api/servers", &known));
        cr_assert_null(find("PUT", "/api/servers/1", &known));
        cr_assert(known);
}

Test(routes, root_is_not_a_prefix) {
        bool known;

        cr_assert_null(find("GET", "/anything", &known));
        cr_assert_not(known);
}

/* The drift rule of the server pages: desired running but not up, desired stopped but up;
 * never while a job moves it, while it is being deleted, or while the state is unknown. */
Test(routes, needs_restart_rule) {
        cr_assert(page_needs_restart("running", true, NULL, NULL), "a rebuilt overlay");
        cr_assert(page_needs_restart("running", false, "aa", "bb"), "another spec");
        cr_assert_not(page_needs_restart("running", false, "aa", "aa"), "the same spec");
        cr_assert_not(page_needs_restart("running", false, NULL, "aa"), "never started from here");
        cr_assert_not(page_needs_restart("running", false, "aa", NULL), "the spec cannot be rendered");
        cr_assert_not(page_needs_restart("stopped", true, "aa", "bb"), "not running");
        cr_assert_not(page_needs_restart("starting", true, "aa", "bb"), "not running yet");
}

Test(routes, drift_rule) {
        cr_assert_null(page_drift(WEBD_DESIRED_RUNNING, "running", false));
        cr_assert_null(page_drift(WEBD_DESIRED_RUNNING, "starting", false));
        cr_assert_not_null(page_drift(WEBD_DESIRED_RUNNING, "stopped", false));
        cr_assert_not_null(page_drift(WEBD_DESIRED_RUNNING, "failed", false));
        cr_assert_not_null(page_drift(WEBD_DESIRED_RUNNING, "absent", false));
        cr_assert_null(page_drift(WEBD_DESIRED_RUNNING, "stopped", true), "a job is moving it");
        cr_assert_null(page_drift(WEBD_DESIRED_STOPPED, "stopped", false));
        cr_assert_null(page_drift(WEBD_DESIRED_STOPPED, "absent", false));
        cr_assert_not_null(page_drift(WEBD_DESIRED_STOPPED, "running", false));
        cr_assert_null(page_drift(WEBD_DESIRED_DELETING, "running", false));
        cr_assert_null(page_drift(WEBD_DESIRED_RUNNING, "unknown", false), "hostd away: nothing to say");
}
