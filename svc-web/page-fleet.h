/* What the blueprint, server and job pages share: ids in paths, who may see a row, the
 * job owner string, state badges, and submitting a job to jobd for a request. */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "svc-web/webd-fleet.h"
#include "svc-web/webd-html.h"
#include "svc-web/webd-request.h"

#define PAGE_JOB_OWNER_MAX 32u

/* "/servers/12/start" with prefix "/servers/": 12 and *ret_rest = "/start" ("" if none).
 * 0 if the path holds no valid id (→ 404). */
int64_t page_path_id(const char *path, const char *prefix, const char **ret_rest);
/* An owner sees their rows; an admin sees everyone's. Anybody else gets 404 (not 403: the
 * id's existence is not told). */
bool page_may_see(const struct webd_rq *rq, int64_t owner_id);
/* jobd's owner of the jobs made for user_id: "web:<id>". */
void page_job_owner(int64_t user_id, char buf[PAGE_JOB_OWNER_MAX]);
/* The user id of a job owner "web:<id>", 0 for any other owner (a CLI user, the system). */
int64_t page_job_owner_id(const char *owner);
/* <span class="state STATE">text</span> */
void page_state_badge(struct html *h, const char *state, const char *text);
/* Whether a job state is final. */
bool page_job_done(const char *state);
/* Submits a job: {kind, owner, subjects: ["user:<owner>", extra...], payload} with payload
 * already packed into a map by the caller (NULL = none). fn gets the reply ({job, coalesced}).
 * Returns what webd_rq_call returns. */
int page_submit_job(struct webd_rq *rq, const char *kind, int64_t owner_id, const char *extra_subject,
                    const struct rpc_buf *payload, webd_rq_reply_fn fn, void *arg);

/* /admin's unmanaged instances (page-servers.c): a form giving one an owner (a blueprint's),
 * and POST /admin/instances/NAME/adopt, which makes it a server that keeps its name. */
/* Whether rq may see the job (its user or an admin; a server-limited token: its servers'). */
bool page_may_see_job(struct webd_rq *rq, const msgpack_object *job);
/* start, stop or restart of server id for rq (svc-web/page-servers.c): the page's 303 to the
 * job, or through the API page_api_job_accepted's answer. */
int page_server_action(struct webd_rq *rq, int64_t id, const char *what);
/* The API's answer to a submitted (or, existing, an already queued) job of a server. */
int page_api_job_accepted(struct webd_rq *rq, int64_t job_id, int64_t server_id, bool existing);
void page_adopt_form(struct webd_rq *rq, struct html *h, const char *instance);
int page_server_adopt(struct webd_rq *rq, const char *instance);

/* hostd's overlay.list, then fn; with hostd away fn gets a failed reply (RPC_UNAVAILABLE), so
 * a page can still be shown without the host's side. */
int page_overlay_list(struct webd_rq *rq, webd_rq_reply_fn fn, void *arg);

/* The drift rule (page-servers.c): the warning when the desired state and the host's differ
 * and no job is moving the server, or NULL. Exposed for tests. */
const char *page_drift(enum webd_desired desired, const char *actual, bool job_active);

/* The needs-restart rule (page-servers.c): a running server whose run mounts an older
 * generation of one of its overlays, or whose last start sent another spec than the
 * current blueprint renders (the hashes; NULL = unknown: no claim). Exposed for tests. */
bool page_needs_restart(const char *state, bool overlays_changed, const char *run_spec_hash,
                        const char *spec_hash);

/* The job map of a {job} reply (jobs.get, jobs.submit), or NULL. */
const msgpack_object *page_reply_job(const struct rpc_core_reply *r);
/* A page that shows a row's last job: fn with jobs.get's job (NULL for job_id 0, an error,
 * or jobd away: the page is shown without it). Returns what fn returns, or 0 while the call
 * is out. */
typedef int (*page_job_render_fn)(struct webd_rq *rq, void *arg, const msgpack_object *job);
int page_with_job(struct webd_rq *rq, int64_t job_id, page_job_render_fn fn, void *arg);

/* What page-jobs.c gives the server pages: a job in a sentence ("server.start #12 running",
 * linked to the job), a page of jobs.list (filters from the query: state, kind, before; plus
 * owner and subject; back: a link back, or NULL), a job's event stream. */
void page_job_sentence(struct html *h, const msgpack_object *job);
int page_job_list(struct webd_rq *rq, const char *owner, const char *subject, const char *back);
int page_job_events(struct webd_rq *rq, int64_t job_id);

/* A files overlay's file pages (page-files.c): rest is what follows /overlays/<id>/files
 * ("", "/download", "/edit"; for POST "/mkdir", "/rename", "/move", "/delete", "/save").
 * The caller loaded the row and decided may_change; a POST comes only from those who may. */
struct webd_overlay;
int page_files_get(struct webd_rq *rq, const struct webd_overlay *o, bool may_change, const char *rest);
int page_files_post(struct webd_rq *rq, const struct webd_overlay *o, const char *rest);
/* PUT /overlays/<id>/files/uploads/<token>?offset=N: one slice of an upload. */
/* Creates (id 0) or updates blueprint id from rq's form, as POST /blueprints[/<id>] does
 * (the caller has checked that rq may see it); through the API the answer is JSON. */
int page_blueprint_save(struct webd_rq *rq, int64_t id);
/* The API's answer to a stored change: {"<what>": {"id": id}}. */
int page_api_saved(struct webd_rq *rq, const char *what, int64_t id, int status);
/* /api/v1/overlays/<id>/files[/content] (page-api.c has checked who may see o). */
int page_files_api(struct webd_rq *rq, const struct webd_overlay *o, bool may_change, const char *rest);
/* The overlay rules of the pages: a system overlay is everyone's to see, an admin's to change;
 * a private one its owner's (and the admins'). */
bool page_overlay_may_see(const struct webd_rq *rq, const struct webd_overlay *o);
bool page_overlay_may_change(const struct webd_rq *rq, const struct webd_overlay *o);
int page_files_put(struct webd_rq *rq, const struct webd_overlay *o, const char *rest);
/* A server's files (page-files.c): rest after /servers/<id>/files ("" the merged view, with
 * each entry's layer, ?changes=1 what the server changed; "/download" a file of it). The
 * caller checked the user may see the server. */
int page_server_files(struct webd_rq *rq, int64_t id, const char *name, const char *instance,
                      const char *rest);
/* The sweep of quiet uploads (a timer while there are any). */
struct webd;
void page_files_init(struct webd *w);
void page_files_done(struct webd *w);
