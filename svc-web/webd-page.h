/* The page shell every HTML page shares (head, nav, flash, footer) and the few building
 * blocks forms are made of. Pages are written through the HTML writer only (webd-html.h):
 *
 *     struct html h;
 *     html_init(&h, 0);
 *     page_begin(rq, &h, "Profile");
 *     ... html_elem / html_text ...
 *     page_end(rq, &h);
 *     return webd_rq_send_html(rq, 200, &h);
 *
 * Flash messages are derived, not stored: a redirect after a change carries ?m=CODE, and
 * the shell shows that code's fixed sentence (unknown codes are ignored), so nothing a user
 * did depends on webd staying up and no text from the URL reaches the page. */
#pragma once

#include "svc-web/webd-html.h"
#include "svc-web/webd-request.h"

void page_begin(struct webd_rq *rq, struct html *h, const char *title);
void page_end(struct webd_rq *rq, struct html *h);

/* <form method="post" action="..."> with the CSRF token as a hidden field; the caller
 * closes the form. token NULL = the session's. */
void page_form_begin(struct webd_rq *rq, struct html *h, const char *action, const char *token);
/* A labelled input in a <div class="field">. autocomplete may be NULL. */
void page_input(struct html *h, const char *label, const char *type, const char *name, const char *value,
                const char *autocomplete, bool required);
void page_button(struct html *h, const char *text, const char *klass);
/* A labelled <select id name> in a <div class="KLASS"> ("field" if NULL): the caller adds the
 * options (page_option) and calls page_select_end. */
void page_select_begin(struct html *h, const char *klass, const char *label, const char *id,
                       const char *name, bool required);
void page_option(struct html *h, const char *value, const char *text, bool selected);
void page_select_end(struct html *h);
/* A live log panel that left4me.js fills from an event stream: <pre class="log" id=ID
 * data-KIND=href> (KIND "job-log": a job's lines, "journal": a server's) and the line that
 * says how the stream is doing. A job's lines are announced to screen readers, a journal's
 * are not (too many). */
void page_log_panel(struct html *h, const char *id, const char *kind, const char *href);
/* A one-button form posting to action (activate, delete, log out): the common case. confirm
 * non-NULL asks first (through a <dialog>, left4me.js; without JS the form just posts). */
void page_action(struct webd_rq *rq, struct html *h, const char *action, const char *text, const char *klass,
                 const char *confirm);
/* An error or notice box inside a page (role=alert). */
void page_alert(struct html *h, const char *klass, const char *text);
/* The message of a flash code, or NULL. */
const char *page_flash_text(const char *code);
/* "2026-12-03 09:15" (UTC) */
void page_time(struct html *h, int64_t usec);
/* One <dt>term</dt><dd>...</dd> pair of a <dl class="facts">: text, or a time (nothing if
 * usec is 0). */
void page_fact(struct html *h, const char *term, const char *value);
void page_fact_time(struct html *h, const char *term, int64_t usec);

/* ---- the audit log ---------------------------------------------------------------------------- */

/* The columns beyond When, Who, What, Result and Detail: the admin log has both; an object's
 * own history leaves them out (the object is the page's, and an owner is not shown the
 * addresses admins acted from). */
enum {
        PAGE_AUDIT_OBJECT = 1u << 0,
        PAGE_AUDIT_ADDRESS = 1u << 1,
};
/* f's page of the audit log as <table id=ID>, newest first; Who is the actor and "via token
 * NAME" for an entry made with an API token. "Nothing recorded." when empty, an alert when
 * web.db cannot be read. *ret_next: the before_id of the next page, 0 if none. Returns the
 * rows shown, or -errno. */
int page_audit_table(struct webd_rq *rq, struct html *h, const char *id, const struct webd_audit_filter *f,
                     unsigned columns, int64_t *ret_next);
/* <p><a rel=next href="BASE[?&]before=NEXT">Older entries</a></p> when next > 0; base is a
 * path with an already escaped query, or none. */
void page_audit_more(struct html *h, const char *base, int64_t next);
/* The "History" card of an object's page ("server:3", "overlay:5"): its last 20 entries and
 * a link to all_href, the object's history page. */
void page_audit_section(struct webd_rq *rq, struct html *h, const char *object, const char *all_href);
/* GET <object's page>/history: the object's whole history, 100 entries a page (?before=),
 * with a link back to its page. The caller decides who may see it. */
int page_audit_history(struct webd_rq *rq, const char *title, const char *object, const char *back,
                       const char *back_text);
