/*
 * app.c — the routing table and the application context: opening the
 * blob store and the metadata store named by the configuration.
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "../http/reply.h"
#include "../util/banned.h"

static int put_root(struct pt_req *r)
{
	return reply_error(r, PT_EBADREQ, NULL,
			   "bad request: name the file in the URL: "
			   "PUT /NAME (curl -T FILE URL/ does it)");
}

/* First match wins: literals before captures. */
const struct route api_routes[] = {
	{ HTTP_GET, "/", api_index, "index" },
	{ HTTP_PUT, "/", put_root, "upload" },
	{ HTTP_GET, "/healthz", api_healthz, "healthz" },
	{ HTTP_GET, "/metrics", api_metrics, "metrics" },
	{ HTTP_GET, "/static/{*}", api_static, "static" },
	{ HTTP_POST, "/api/v1/files", api_upload_multipart, "files_create" },
	{ HTTP_GET, "/api/v1/files/{id}", api_file_get, "file" },
	{ HTTP_OPTIONS, "/api/v1/uploads", api_tus_options, "tus_options" },
	{ HTTP_POST, "/api/v1/uploads", api_tus_create, "tus_create" },
	{ HTTP_OPTIONS, "/api/v1/uploads/{*}", api_tus_options, "tus_options" },
	{ HTTP_HEAD, "/api/v1/uploads/{*}", api_tus_head, "tus_head" },
	{ HTTP_GET, "/api/v1/uploads/{*}", api_tus_get, "tus_get" },
	{ HTTP_PATCH, "/api/v1/uploads/{*}", api_tus_patch, "tus_patch" },
	{ HTTP_DELETE, "/api/v1/uploads/{*}", api_tus_delete, "tus_delete" },
	{ HTTP_GET, "/{id}", api_share, "share" },
	{ HTTP_DELETE, "/{id}", api_file_delete, "delete" },
	{ HTTP_GET, "/{id}/{*}", api_download, "download" },
	{ HTTP_PUT, "/{*}", api_upload_put, "upload" },
	{ 0, NULL, NULL, NULL },
};

int app_open(struct app *app, const struct pt_conf *conf)
{
	char *dburl = NULL;
	struct db *db;
	unsigned nroutes = 0;
	int err;

	memset(app, 0, sizeof(*app));
	app->conf = conf;
	if (strcmp(conf->storage_backend, "fs") != 0) {
		pt_log("storage backend '%s' is not available in this build",
		       conf->storage_backend);
		return PT_EBADREQ;
	}
	if (strcmp(conf->metadata_backend, "sqlite") != 0) {
		pt_log("metadata backend '%s' is not available in this build",
		       conf->metadata_backend);
		return PT_EBADREQ;
	}
	if ((err = blob_fs_open(conf->data, &app->blobs))) {
		pt_log("cannot open data directory '%s': %s", conf->data,
		       pt_strerror(err));
		return err;
	}
	dburl = xasprintf("sqlite:%s/partage.db", conf->data);
	db_pool_new(dburl, &app->db);
	free(dburl);
	db = db_pool_get(app->db);
	if (!db) {
		err = PT_EUNAVAIL;
		goto fail;
	}
	if ((err = repo_migrate(db))) {
		pt_log("cannot migrate the database schema: %s",
		       pt_strerror(err));
		goto fail;
	}
	while (api_routes[nroutes].handler)
		nroutes++;
	app->metrics = metrics_new(nroutes);
	app->counts = counts_new();
	return 0;
fail:
	app_close(app);
	return err;
}

void app_close(struct app *app)
{
	if (app->counts && app->db) {
		struct db *db = db_pool_get(app->db);
		if (db)
			counts_flush(app->counts, db);
	}
	counts_free(app->counts);
	metrics_free(app->metrics);
	db_pool_free(app->db);
	blob_store_close(app->blobs);
	memset(app, 0, sizeof(*app));
}

struct db *app_db(struct app *app)
{
	return db_pool_get(app->db);
}

void app_flush(struct app *app)
{
	struct db *db = app_db(app);
	if (db)
		counts_flush(app->counts, db);
}

void app_maintain(struct app *app)
{
	int n = tus_expire(app, pt_now());
	if (n > 0)
		pt_log("maintenance: removed %d expired resumable uploads", n);
}
