/*
 * api.h — partage's resources over HTTP: the application context every
 * handler gets, the routing table, and the handlers (one file per
 * resource: upload.c, download.c, files.c, pages.c, metrics.c).
 */
#ifndef PT_API_H
#define PT_API_H

#include <stdint.h>

#include "../conf.h"
#include "../http/server.h"
#include "../store/blob.h"
#include "../store/db.h"
#include "../store/repo.h"

struct metrics;
struct counts;

struct app {
	const struct pt_conf *conf;
	struct blob_store *blobs;
	struct db_pool *db;
	const char *public_url;     /* no trailing slash */
	struct metrics *metrics;
	struct counts *counts;      /* batched download counters */
};

/* Terminated by an entry with handler == NULL. */
extern const struct route api_routes[];

/* Open the stores named by conf (data dir, blobs, database with its
 * migrations).  Returns 0, or a negative status after logging why. */
int app_open(struct app *app, const struct pt_conf *conf);
void app_close(struct app *app);
/* The calling thread's database connection, or NULL (database down). */
struct db *app_db(struct app *app);
/* Flush batched counters to the database (maintenance thread, shutdown). */
void app_flush(struct app *app);
/* Periodic work: expiry of abandoned uploads (maintenance thread). */
void app_maintain(struct app *app);

/* Handlers */
int api_upload_put(struct pt_req *r);
int api_upload_multipart(struct pt_req *r);
int api_download(struct pt_req *r);
int api_share(struct pt_req *r);       /* GET /{id}: page or bytes */
int api_page(struct pt_req *r);        /* the HTML page of a file */
int api_file_get(struct pt_req *r);
int api_file_delete(struct pt_req *r);
int api_index(struct pt_req *r);
int api_static(struct pt_req *r);
int api_healthz(struct pt_req *r);
int api_tus_options(struct pt_req *r);
int api_tus_create(struct pt_req *r);
int api_tus_head(struct pt_req *r);
int api_tus_get(struct pt_req *r);
int api_tus_patch(struct pt_req *r);
int api_tus_delete(struct pt_req *r);
/* Remove abandoned resumable uploads past expiry; returns how many. */
int tus_expire(struct app *app, int64_t now);
int api_metrics(struct pt_req *r);

/* Shared by handlers */
/* The file object of a link (absolute URLs). */
struct json_t;
struct json_t *api_file_json(struct app *app, const struct link *l);
/* MIME type of content from its first bytes (libmagic), pool memory. */
char *api_sniff_mime(struct pt_pool *pool, const void *p, size_t n);
/* "<public_url>/<id>/<escaped name>" into pool memory. */
char *api_download_url(struct app *app, struct pt_pool *pool,
		       const struct link *l);
/* Look up a link for a request and reply 404/410/503 when it cannot be
 * served: returns 0 with *l filled, or the MHD result of the error reply
 * in *rc and a non-zero return. */
int api_link_lookup(struct pt_req *r, const char *id, struct link *l,
		    int *rc);

/* metrics.c */
struct metrics *metrics_new(unsigned nroutes);
void metrics_free(struct metrics *m);
void metrics_request(struct metrics *m, int route, int status,
		     uint64_t bytes_in, uint64_t bytes_out);
void metrics_connection(struct metrics *m, int delta);
enum metric_counter { M_UPLOADS, M_UPLOAD_BYTES, M_DOWNLOADS, M_DEDUP_HITS,
		      M_COUNTERS };
void metrics_add(struct metrics *m, enum metric_counter c, uint64_t n);

/* counts.c: downloads counted in memory, written in batches */
struct counts *counts_new(void);
void counts_free(struct counts *c);
void counts_bump(struct counts *c, const char *id, int64_t when);
int counts_flush(struct counts *c, struct db *db);

#endif
