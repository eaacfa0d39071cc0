/*
 * serve.c — a running partaged: the stores (app_open), the HTTP server on
 * the routing table, the access log, the maintenance thread (reserve,
 * gauges, gc) and the counters thread (download counters), started
 * and stopped as one.  `partaged serve` (main.c) wraps it in its signal
 * handling; the whole-server fuzzer (tests/fuzz/fuzz_server.c) starts the
 * same thing in-process, so what it fuzzes is what production runs.
 */
#define _GNU_SOURCE
#include "api.h"
#include "handlers.h"
#include "../http/reply.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/text.h"
#include "../util/banned.h"

struct app_server {
	struct app app;   /* first: the server's ctx is &app */
	struct server *srv;
	FILE *access;     /* NULL: access_log = off */
	char *url;
	pthread_t maint, counter;
	bool maint_started, counter_started;
	struct scanner *scan; /* NULL: [scan] clamd unset */
	struct health *health;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static struct app_server *of_app(struct app *app)
{
	return (struct app_server *)app;
}

/* server.on_done: the request's metrics and its access-log line */
static void on_done(struct pt_req *r, bool ok, void *ctx)
{
	struct app *app = ctx;
	FILE *fp = of_app(app)->access;
	uint64_t ms = (pt_mono_ns() - r->start_ns) / 1000000;
	metrics_request(app->metrics, r->route_index, r->status, r->bytes_in,
			ok ? r->bytes_out : 0);
	if (!fp)
		return;
	char when[32];
	struct tm tm;
	time_t now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* the path and method are the client's bytes: escaped (text.h) so a
	 * request can neither add a line nor end the quoted field */
	char ip[2 * sizeof(r->client_ip)], method[64], path[4096];
	const unsigned esc = TEXT_ESC_BACKSLASH | TEXT_ESC_QUOTE;
	const char *rp = r->raw_path ? r->raw_path : "-";
	text_escape(ip, sizeof(ip), r->client_ip, strlen(r->client_ip), esc);
	text_escape(method, sizeof(method), r->method_name,
		    strlen(r->method_name), esc);
	text_escape(path, sizeof(path), rp, strlen(rp), esc);
	/* one fprintf per line: stdio's lock keeps threads' lines whole */
	fprintf(fp, "%s %s \"%s %s\" %d %llu %llu %llums%s\n", when, ip,
		method, path, r->status, (unsigned long long)r->bytes_in,
		(unsigned long long)r->bytes_out, (unsigned long long)ms,
		ok ? "" : " aborted");
}

static void on_connection(int delta, void *ctx)
{
	struct app *app = ctx;
	metrics_connection(app->metrics, delta);
}

/* Sleep up to `seconds` or until stop; false once stopping.  Called and
 * returns with s->lock not held. */
static bool nap(struct app_server *s, int seconds)
{
	struct timespec ts;
	pthread_mutex_lock(&s->lock);
	if (!s->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += seconds;
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	bool go = !s->stop;
	pthread_mutex_unlock(&s->lock);
	return go;
}

/* The counters thread: batched download counters every 2 s, on its own
 * thread (and database connection) so that a gc pass, however long,
 * never holds them back. */
static void *counter(void *arg)
{
	struct app_server *s = arg;
	pt_thread_name("counts");
	while (nap(s, 2))
		app_flush(&s->app);
	return NULL;
}

/* The maintenance thread: the reserve every 2 s, the storage gauges every
 * minute, a gc pass every gc_interval_seconds. */
static void *maintenance(void *arg)
{
	struct app_server *s = arg;
	uint64_t ticks = 0, next_gc = s->app.conf->gc_interval_seconds;
	pt_thread_name("maint");
	while (nap(s, 2)) {
		/* the reserve a full disk used, back as soon as there is room */
		reserve_fill(s->app.reserve);
		/* ticks are 2 s: gauges every minute, gc every interval */
		ticks++;
		bool gc = ticks * 2 >= next_gc;
		if (gc)
			next_gc = ticks * 2 + s->app.conf->gc_interval_seconds;
		app_maintain(&s->app, gc, gc || ticks % 30 == 1);
	}
	return NULL;
}

/* public_url without its trailing slashes, or http://LISTEN */
static char *public_url(const struct pt_conf *c)
{
	char *u = c->public_url && *c->public_url
			  ? xstrdup(c->public_url)
			  : xasprintf("http://%s", c->listen);
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	return u;
}

static void close_access(struct app_server *s)
{
	if (s->access && s->access != stderr)
		fclose(s->access);
	s->access = NULL;
}

int app_serve_start(const struct pt_conf *c, struct app_server **out)
{
	struct app_server *s = xcalloc(1, sizeof(*s));
	int err;

	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->url = public_url(c);
	if (strcmp(c->access_log, "off") == 0) {
		s->access = NULL;
	} else if (*c->access_log) {
		s->access = fopen(c->access_log, "ae");
		if (!s->access) {
			err = -errno;
			fprintf(stderr, "partaged: cannot open '%s': %s\n",
				c->access_log, strerror(errno));
			goto fail;
		}
		setvbuf(s->access, NULL, _IOLBF, 0);
	} else {
		s->access = stderr;
	}
	if ((err = app_open(&s->app, c)))
		goto fail;
	s->app.public_url = s->url;
	/* requests of a previous life of this node are gone: so are their
	 * upload leases */
	repo_upload_release_holder(app_db(&s->app), s->app.node);
	cluster_started(&s->app);
	err = blob_store_cleanup(s->app.blobs);
	if (err > 0)
		pt_log("removed %d temporary files of interrupted uploads", err);

	unsigned threads = (unsigned)c->threads;
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 2;
	}
	struct server_config sc = {
		.listen = c->listen,
		.engine = c->engine,
		.threads = threads,
		.max_connections = (unsigned)c->max_connections,
		.per_ip_connections = (unsigned)c->per_ip_connections,
		.timeout_seconds = (unsigned)c->timeout_seconds,
		.trusted_proxies = c->trusted_proxies,
		.routes = api_routes,
		.ctx = &s->app,
		.on_done = on_done,
		.on_connection = on_connection,
		.authenticate = api_authenticate_or_reply,
	};
	reply_html_error_hook = api_error_page; /* translated pages */
	/* S3 blobs are read by workers of their own, not on the loops */
	if (strcmp(c->storage_backend, "s3") == 0)
		s->app.ahead = ahead_pool_new((unsigned)c->s3_read_workers,
					      (size_t)c->s3_read_ahead_bytes);
	/* the health checks' answers, before the first request */
	if ((err = health_start(&s->app, c->health_listen, &s->health))) {
		app_close(&s->app);
		goto fail;
	}
	if ((err = server_start(&sc, &s->srv))) {
		health_stop(s->health);
		app_close(&s->app);
		goto fail;
	}
	s->maint_started =
		pthread_create(&s->maint, NULL, maintenance, s) == 0;
	s->app.remote = remote_start(&s->app);
	s->app.hooks = hooks_start(&s->app);
	/* media: probes of new and not yet probed files, viewing quotas */
	s->app.quotas = media_quotas_new();
	s->app.remux = remux_start(&s->app); /* fast-start copies */
	s->app.media = media_queue_start(&s->app); /* which kicks it */
	s->scan = scan_start(&s->app);
	s->counter_started =
		pthread_create(&s->counter, NULL, counter, s) == 0;
	pt_log("partaged listening on %s (public URL %s, data %s, %u "
	       "threads, engine %s)",
	       c->listen, s->url, c->data, threads, server_engine(s->srv));
	*out = s;
	return 0;
fail:
	close_access(s);
	free(s->url);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return err ? err : PT_EUNAVAIL;
}

unsigned app_serve_port(const struct app_server *s)
{
	return server_port(s->srv);
}

void app_serve_stop(struct app_server *s, unsigned grace_s)
{
	if (!s)
		return;
	server_drain(s->srv, grace_s);
	/* throttled downloads sleep paused: wake them all before the engine
	 * closes (it must not stop with suspended connections) */
	throttle_stop(s->app.throttle);
	/* and S3 downloads waiting for a block: let the reads end */
	ahead_pool_drain(s->app.ahead);
	/* so do requests waiting for a password hash: let the hashes end */
	pwhash_drain(s->app.pwhash);
	server_stop(s->srv);
	remote_stop(s->app.remote);
	s->app.remote = NULL;
	hooks_stop(s->app.hooks);
	s->app.hooks = NULL;
	media_queue_stop(s->app.media);
	s->app.media = NULL;
	remux_stop(s->app.remux);
	s->app.remux = NULL;
	scan_stop(s->scan);
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->maint_started)
		pthread_join(s->maint, NULL);
	if (s->counter_started)
		pthread_join(s->counter, NULL);
	health_stop(s->health);
	media_quotas_free(s->app.quotas);
	s->app.quotas = NULL;
	app_close(&s->app);
	free(s->url);
	close_access(s);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
