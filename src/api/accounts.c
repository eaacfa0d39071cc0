/*
 * accounts.c — users, logins and tokens: registration, browser sessions
 * (cookie + CSRF token), API tokens (Authorization: Bearer), the account
 * resource (/api/v1/me), vouchers, wait tickets, and the auth phase that
 * turns a request's credentials into a principal for the tier policy.
 *
 * Passwords are Argon2id (libsodium crypto_pwhash_str, interactive
 * limits).  Tokens are 32 random bytes shown once and stored as SHA-256;
 * a lookup by hash is a constant-time question to the database index,
 * never a comparison of secrets in C.  Failed logins are limited per
 * address and per name and address, and guessing one name from many
 * addresses only shuts out addresses its owner has not used (see
 * login_or_reply()).  Every hash goes through the bounded queue (pwcheck.c).
 */
#define _GNU_SOURCE
#include "handlers.h"
#include "pwcheck.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/ids.h"
#include "../http/auth.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/utf8.h"
#include "../util/banned.h"

#define SESSION_COOKIE "partage_session"
#define SESSION_DAYS 30


/* ---- rules ---- */

int account_check_name(const char *name, const char **why)
{
	size_t n = strlen(name);
	if (n < 3 || n > 32) {
		*why = "a name has 3 to 32 characters";
		return PT_EBADREQ;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.')) {
			*why = "a name has letters, digits, '_', '-' and '.' "
			       "only";
			return PT_EBADREQ;
		}
	}
	return 0;
}

int account_check_password(const char *password, const char **why)
{
	size_t n = strlen(password);
	if (n < 8) {
		*why = "a password has at least 8 characters";
		return PT_EBADREQ;
	}
	if (n > 1024) {
		*why = "a password has at most 1024 characters";
		return PT_EBADREQ;
	}
	return 0;
}

int account_check_label(const char *label, const char **why)
{
	size_t n = strlen(label);
	if (n > TOKEN_LABEL_MAX) {
		*why = "a token's label has at most 100 bytes";
		return PT_EBADREQ;
	}
	if (utf8_check(label, n, UTF8_NAME, NULL)) {
		*why = "a token's label is text without control characters";
		return PT_EBADREQ;
	}
	return 0;
}

char *account_hash_password(struct pt_pool *pool, const char *password)
{
	char *out = pt_palloc(pool, crypto_pwhash_STRBYTES);
	if (crypto_pwhash_str(out, password, strlen(password),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return NULL; /* out of memory for the hash's 64 MiB */
	return out;
}

void account_voucher_new(char code[TOKEN_LEN + 1],
			 char hash[TOKEN_HASH_LEN + 1])
{
	token_new(code);
	token_hash(code, TOKEN_LEN, hash);
}

/* ---- the auth phase ---- */

static const char *cookie_token(struct pt_req *r)
{
	return req_cookie(r, SESSION_COOKIE);
}

static bool safe_method(const struct pt_req *r)
{
	return r->method & (HTTP_GET | HTTP_HEAD | HTTP_OPTIONS);
}

/* A browser says the request comes from one of this site's pages
 * (auth_same_origin). */
static bool same_origin(struct pt_req *r)
{
	const struct app *app = r->ctx;
	return auth_same_origin(app->public_url, req_header(r, "Origin"),
				req_header(r, "Sec-Fetch-Site"));
}

bool api_authenticate_or_reply(struct pt_req *r, req_res *rc)
{
	struct app *app = r->ctx;
	const char *token = NULL;
	bool by_session = false;
	struct user u;
	struct token_row tok;
	char hash[TOKEN_HASH_LEN + 1];
	int err;

	switch (auth_credential(req_header(r, "Authorization"), cookie_token(r),
				&token)) {
	case AUTH_BAD_SCHEME:
		*rc = reply_error(r, PT_EUNAUTH, NULL,
				  "authentication required: use "
				  "'Authorization: Bearer TOKEN'");
		return true;
	case AUTH_COOKIE:
		by_session = true;
		break;
	default:
		break;
	}
	if (!token) {
		if (r->route->flags & ROUTE_AUTH) {
			*rc = reply_error(r, PT_EUNAUTH, NULL,
					  "authentication required: log in or "
					  "send 'Authorization: Bearer TOKEN'");
			return true;
		}
		return false;
	}
	struct db *db = app_db(app);
	if (!db) {
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: metadata store "
				  "unreachable, try again");
		return true;
	}
	token_hash(token, strlen(token), hash);
	err = repo_user_by_token(db, r->pool, hash, pt_now(), &u, &tok);
	if (err == PT_ENOTFOUND && by_session &&
	    !(r->route->flags & ROUTE_AUTH))
		return false; /* a stale cookie does not stop anonymous use */
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, PT_EUNAUTH, NULL,
				  "authentication required: the token or "
				  "session is unknown or expired");
		return true;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot check credentials: %s",
				  pt_strerror(err));
		return true;
	}
	if (u.disabled) {
		*rc = reply_error(r, PT_EFORBIDDEN, NULL,
				  "forbidden: account '%s' is disabled",
				  u.name);
		return true;
	}
	/* a cookie rides along with forged cross-site requests: state
	 * changes need the session's CSRF token too */
	if (by_session && !safe_method(r) &&
	    !(r->route->flags & ROUTE_NO_CSRF) &&
	    !((r->route->flags & ROUTE_FORM) && same_origin(r))) {
		if (!auth_csrf_ok(req_header(r, "X-CSRF-Token"), tok.csrf)) {
			*rc = reply_error(r, PT_EFORBIDDEN, NULL,
					  "forbidden: missing or wrong "
					  "X-CSRF-Token for this session");
			return true;
		}
	}
	/* when the token was last used, to the minute: a write at most once
	 * a minute per token, and a failed one loses only that */
	int64_t now = pt_now();
	if (now - tok.last_used >= TOKEN_TOUCH_SECONDS)
		(void)repo_token_touch(db, tok.id, now, TOKEN_TOUCH_SECONDS);
	struct principal *who = pt_palloc(r->pool, sizeof(*who));
	who->user_id = u.id;
	who->name = u.name;
	who->tier = policy_user_tier(u.tier, u.premium_until, pt_now());
	who->role = u.role;
	who->premium_until = u.premium_until;
	who->direct_downloads = u.direct_downloads;
	who->by_session = by_session;
	who->csrf = tok.csrf;
	who->token_id = pt_pstrdup(r->pool, tok.id);
	who->pwhash = u.pwhash;
	r->who = who;
	return false;
}


static const char *json_str(json_t *o, const char *key)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- registration and login ---- */

static req_res users_create_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	const char *name = json_str(o, "name");
	const char *password = json_str(o, "password");
	const char *why = NULL;
	struct user u;
	int err;

	if (!name || !password)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"name\": …, "
				   "\"password\": …}");
	if (account_check_name(name, &why) ||
	    account_check_password(password, &why))
		return reply_error(r, PT_EBADREQ, NULL, "bad request: %s", why);
	memset(&u, 0, sizeof(u));
	randombytes_buf(&u.id, sizeof(u.id));
	u.id &= INT64_MAX;
	u.name = (char *)name;
	req_res rc;
	if (api_pw_hash_or_reply(r, password, &u.pwhash, &rc))
		return rc; /* 503, or the hash is running: see pwcheck.c */
	u.tier = "free";
	u.role = "user";
	u.created = pt_now();
	struct db *db = app_db(app);
	err = db ? repo_user_create(db, &u) : PT_EUNAVAIL;
	if (err == PT_ECONFLICT)
		return reply_error(r, PT_ECONFLICT, NULL,
				   "conflict: the name '%s' is taken", name);
	if (err)
		return reply_error(r, err, NULL, "cannot register: %s",
				   pt_strerror(err));
	return reply_json(r, 201,
			  json_pack("{s:s, s:s}", "name", name, "tier", "free"));
}

req_res api_users_create(struct pt_req *r)
{
	return api_json_body(r, users_create_done);
}

static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
	if (crypto_pwhash_str(dummy_hash, "not a password", 14,
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		abort();
}

/* A 429 for a failed-login limit, with Retry-After. */
static bool login_refused(struct pt_req *r, int64_t retry, const char *what,
			  req_res *rc)
{
	*rc = reply_error(r, PT_ELIMIT, NULL,
			  "too many requests: too many failed logins %s, "
			  "wait %s seconds",
			  what, req_retry_after(r, retry));
	return true;
}

/*
 * Check a name and password under the failed-login limits.  Returns false
 * with *u filled, or true with *rc: a reply's result, or a suspension while
 * the hash runs (the caller returns it and runs again: see pwcheck.c).
 *
 * Failures are limited per address (all names) and per name and address
 * in this node's memory (the balancer's affinity makes them global), never
 * per name alone: guesses from other addresses cannot lock the owner
 * out.  Against guessing one name from many addresses, failures per name
 * are also counted in the database (every node shares the count); past
 * that limit only addresses that logged in to the name in the last 30
 * days may still try: the owner's usual addresses keep working, a new
 * one waits for the window to end.  Every attempt counts up front, so
 * concurrent guesses cannot slip through between a check and a count; a
 * success gives its counts back: only failures are limited.  Over a
 * limit, no hash is run.
 */
static bool login_or_reply(struct pt_req *r, const char *name,
			   const char *password, struct user *u, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	const struct pt_conf *conf = app->conf;
	int64_t now = pt_now(), retry = 0;

	if (!name || !password) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: send {\"name\": …, "
				  "\"password\": …}");
		return true;
	}
	if (!db) {
		*rc = reply_error(r, PT_EUNAVAIL, NULL, API_DB_DOWN);
		return true;
	}
	/* a name may hold any byte but NUL, an address never a newline */
	char addr[RATELIMIT_ADDR_MAX];
	ratelimit_addr_key(r->client_ip, addr);
	const char *pair = pt_psprintf(r->pool, "%s\n%s", name, addr);
	bool known = ratelimit_count(app->login_known, pair, now) > 0;
	bool by_name = !known && conf->login_failures_per_name;
	if (!api_pw_rerun(r)) {
		if (!ratelimit_hit(app->login_ip, addr, now, &retry))
			return login_refused(r, retry, "from this address", rc);
		if (!ratelimit_hit(app->login_pair, pair, now, &retry)) {
			ratelimit_refund(app->login_ip, addr);
			return login_refused(r, retry,
					     "for this name from this address",
					     rc);
		}
		int64_t n = 0, since = now;
		int err = by_name ? repo_login_attempt(db, name, now,
						       LOGIN_WINDOW, &n, &since)
				  : 0;
		if (err || (by_name &&
			    (uint64_t)n > conf->login_failures_per_name)) {
			ratelimit_refund(app->login_ip, addr);
			ratelimit_refund(app->login_pair, pair);
			if (err) {
				*rc = reply_error(r, err, NULL,
						  "cannot log in: %s",
						  pt_strerror(err));
				return true;
			}
			repo_login_refund(db, name);
			return login_refused(r, since + LOGIN_WINDOW - now,
					     "for this name from many "
					     "addresses (addresses that "
					     "logged in to it lately still "
					     "may)",
					     rc);
		}
	}
	int err = repo_user_by_name(db, r->pool, name, u);
	if (err && err != PT_ENOTFOUND) {
		*rc = reply_error(r, err, NULL, "cannot log in: %s",
				  pt_strerror(err));
		return true;
	}
	/* an unknown name costs a hash check too: no timing oracle */
	pthread_once(&dummy_once, dummy_init);
	bool match;
	if (api_pw_verify_or_reply(r, err ? dummy_hash : u->pwhash, password,
				   &match, rc)) {
		if (r->responded) { /* 503: no attempt was made */
			ratelimit_refund(app->login_ip, addr);
			ratelimit_refund(app->login_pair, pair);
			if (by_name)
				repo_login_refund(db, name);
		}
		return true;
	}
	if (!match || err) {
		*rc = reply_error(r, PT_EUNAUTH, NULL,
				  "authentication required: wrong name or "
				  "password");
		return true;
	}
	if (u->disabled) {
		*rc = reply_error(r, PT_EFORBIDDEN, NULL,
				  "forbidden: account '%s' is disabled",
				  u->name);
		return true;
	}
	if (!api_pw_first(r)) /* counted in an earlier run (a password
				* change runs again after its new hash) */
		return false;
	ratelimit_refund(app->login_ip, addr);
	ratelimit_refund(app->login_pair, pair);
	if (by_name)
		repo_login_refund(db, name);
	/* a new window of 30 days for this name and address */
	ratelimit_reset(app->login_known, pair);
	ratelimit_hit(app->login_known, pair, now, NULL);
	return false;
}

/* A token for user_id, whose password hash the caller checked (or read
 * when it authenticated the request) is pwhash: PT_ENOTFOUND when it
 * changed meanwhile or the account was disabled (repo_token_create). */
static int new_token(struct pt_req *r, int64_t user_id, const char *pwhash,
		     const char *kind, int64_t expires, const char *label,
		     char token[TOKEN_LEN + 1], struct token_row *t)
{
	struct app *app = r->ctx;
	char hash[TOKEN_HASH_LEN + 1];
	memset(t, 0, sizeof(*t));
	id_new(t->id);
	t->kind = (char *)kind;
	t->label = (char *)label;
	t->expires = expires;
	if (strcmp(kind, "session") == 0) {
		t->csrf = pt_palloc(r->pool, TOKEN_LEN + 1);
		token_new(t->csrf);
	}
	token_new(token);
	token_hash(token, TOKEN_LEN, hash);
	struct db *db = app_db(app);
	return db ? repo_token_create(db, t, user_id, hash, pt_now(), pwhash)
		  : PT_EUNAVAIL;
}

/* The session cookie (HttpOnly), and beside it a hint that scripts can
 * read (partage_user=1, no secret): the pages ask GET /api/v1/me only when
 * it is there, so anonymous visitors cost no request.  token NULL: clear
 * both. */
static void session_cookies(struct pt_req *r, const char *token)
{
	struct app *app = r->ctx;
	const char *secure =
		strncmp(app->public_url, "https:", 6) == 0 ? "; Secure" : "";
	int age = token ? SESSION_DAYS * 86400 : 0;

	/* the session first: headers go out in the reverse order of these
	 * calls, and a client may read only the first Set-Cookie */
	req_reply_header(r, "Set-Cookie",
			 pt_psprintf(r->pool,
				     "partage_user=%s; Path=/; SameSite=Lax; "
				     "Max-Age=%d%s",
				     token ? "1" : "", age, secure));
	req_reply_header(r, "Set-Cookie",
			 pt_psprintf(r->pool,
				     SESSION_COOKIE "=%s; Path=/; HttpOnly; "
						    "SameSite=Lax; Max-Age=%d%s",
				     token ? token : "", age, secure));
}

static req_res sessions_create_done(struct pt_req *r, json_t *o)
{
	struct user u;
	struct token_row t;
	char token[TOKEN_LEN + 1];
	req_res rc;
	int err;

	if (login_or_reply(r, json_str(o, "name"), json_str(o, "password"), &u,
			   &rc))
		return rc;
	err = new_token(r, u.id, u.pwhash, "session",
			pt_now() + SESSION_DAYS * 86400, "", token, &t);
	if (err == PT_ENOTFOUND) /* the password changed meanwhile */
		return reply_error(r, PT_EUNAUTH, NULL,
				   "authentication required: wrong name or "
				   "password");
	if (err)
		return reply_error(r, err, NULL, "cannot log in: %s",
				   pt_strerror(err));
	session_cookies(r, token);
	return reply_json(r, 201,
			  json_pack("{s:s, s:s}", "name", u.name, "csrf",
				    t.csrf));
}

req_res api_sessions_create(struct pt_req *r)
{
	return api_json_body(r, sessions_create_done);
}

req_res api_sessions_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	if (who->by_session)
		repo_token_delete(app_db(app), who->token_id, who->user_id);
	session_cookies(r, NULL);
	return reply_empty(r, 204);
}

static req_res tokens_create_done(struct pt_req *r, json_t *o)
{
	const struct principal *who = api_who(r);
	json_t *lv = json_object_get(o, "label");
	const char *label = json_is_string(lv) ? json_string_value(lv) : "";
	const char *why = NULL;
	struct user u;
	struct token_row t;
	char token[TOKEN_LEN + 1];
	int64_t uid;
	const char *pwhash;
	req_res rc;
	int err;

	if (lv && !json_is_string(lv))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: \"label\" is a string");
	if (account_check_label(label, &why))
		return reply_error(r, PT_EBADREQ, NULL, "bad request: %s", why);
	if (who->user_id) {
		uid = who->user_id;
		pwhash = who->pwhash;
	} else {
		if (login_or_reply(r, json_str(o, "name"),
				   json_str(o, "password"), &u, &rc))
			return rc;
		uid = u.id;
		pwhash = u.pwhash;
	}
	err = new_token(r, uid, pwhash, "api", 0, label, token, &t);
	if (err == PT_ENOTFOUND) /* the password changed meanwhile */
		return reply_error(r, PT_EUNAUTH, NULL,
				   "authentication required: %s",
				   who->user_id ? "the session or token was "
						  "revoked"
						: "wrong name or password");
	if (err)
		return reply_error(r, err, NULL, "cannot create a token: %s",
				   pt_strerror(err));
	return reply_json(r, 201,
			  json_pack("{s:s, s:s, s:s}", "id", t.id, "token",
				    token, "label", label));
}

req_res api_tokens_create(struct pt_req *r)
{
	return api_json_body(r, tokens_create_done);
}

static int token_cb(const struct token_row *t, void *arg)
{
	json_array_append_new(
		arg, json_pack("{s:s, s:s, s:I, s:o}", "id", t->id, "label",
			       t->label, "created", (json_int_t)t->created,
			       "last_used",
			       t->last_used ? json_integer(t->last_used)
					    : json_null()));
	return 0;
}

req_res api_tokens_list(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	json_t *arr = json_array();
	int err = db ? repo_user_tokens_each(db, api_who(r)->user_id, token_cb,
					     arr)
		     : PT_EUNAVAIL;
	if (err) {
		json_decref(arr);
		return reply_error(r, err, NULL, "cannot list tokens: %s",
				   pt_strerror(err));
	}
	return reply_json(r, 200, json_pack("{s:o}", "tokens", arr));
}

req_res api_tokens_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	int err = repo_token_delete(app_db(app), r->arg[0].p, who->user_id);
	if (err == PT_ENOTFOUND)
		return reply_error(r, err, NULL, "not found: no token '%s'",
				   r->arg[0].p);
	if (err)
		return reply_error(r, err, NULL, "cannot revoke: %s",
				   pt_strerror(err));
	return reply_empty(r, 204);
}

/* ---- the account ---- */

req_res api_me(struct pt_req *r)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	struct db *db = app_db(app);
	int64_t used = db ? repo_user_used_bytes(db, who->user_id, pt_now()) : -1;
	const struct pt_tier *t = policy_tier(app->conf, who);

	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "name",
			      who->name, "tier", conf_tier_name(who->tier),
			      "role", who->role, "used_bytes",
			      (json_int_t)(used > 0 ? used : 0), "points",
			      (json_int_t)(db ? repo_user_points(db, who->user_id)
					      : 0),
			      "direct_downloads", who->direct_downloads);
	json_object_set_new(o, "premium_until",
			    who->premium_until > pt_now()
				    ? json_integer(who->premium_until)
				    : json_null());
	json_object_set_new(o, "quota_bytes",
			    t->storage_quota_bytes
				    ? json_integer((json_int_t)t->storage_quota_bytes)
				    : json_null());
	if (who->by_session)
		json_object_set_new(o, "csrf", json_string(who->csrf));
	return reply_json(r, 200, o);
}

static req_res me_update_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	json_t *dd = o ? json_object_get(o, "direct_downloads") : NULL;
	int err;

	if (!dd || !json_is_boolean(dd))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"direct_downloads\": "
				   "true|false}");
	struct db *db = app_db(app);
	/* this column only: writing back a whole row read earlier would
	 * undo a voucher redeemed meanwhile */
	err = db ? repo_user_set_direct_downloads(db, who->user_id,
						  json_is_true(dd))
		 : PT_EUNAVAIL;
	if (err)
		return reply_error(r, err, NULL, "cannot update: %s",
				   pt_strerror(err));
	return reply_json(r, 200,
			  json_pack("{s:b}", "direct_downloads",
				    json_is_true(dd)));
}

req_res api_me_update(struct pt_req *r)
{
	return api_json_body(r, me_update_done);
}

static req_res me_password_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	const char *old = json_str(o, "old"), *new = json_str(o, "new");
	const char *why;
	struct user u;
	req_res rc;
	int err;

	if (!old || !new)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"old\": …, \"new\": …}");
	if (account_check_password(new, &why))
		return reply_error(r, PT_EBADREQ, NULL, "bad request: %s", why);
	char *hash;
	if (login_or_reply(r, who->name, old, &u, &rc) ||
	    api_pw_hash_or_reply(r, new, &hash, &rc))
		return rc;
	struct db *db = app_db(app);
	/* a new password ends every other session and token, in one
	 * transaction, and only if the hash is still the one checked */
	err = repo_user_password_change(db, u.id, u.pwhash, hash);
	if (err == PT_ECONFLICT)
		return reply_error(r, PT_EUNAUTH, NULL,
				   "authentication required: wrong name or "
				   "password");
	if (err)
		return reply_error(r, err, NULL, "cannot change: %s",
				   pt_strerror(err));
	session_cookies(r, NULL);
	return reply_empty(r, 204);
}

req_res api_me_password(struct pt_req *r)
{
	return api_json_body(r, me_password_done);
}

static req_res me_redeem_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	const char *code = json_str(o, "code");
	char hash[TOKEN_HASH_LEN + 1];
	int64_t days = 0;
	struct user u;
	int err;

	if (!code)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"code\": …}");
	token_hash(code, strlen(code), hash);
	struct db *db = app_db(app);
	err = repo_voucher_redeem(db, hash, who->user_id, pt_now(), &days);
	if (err == PT_ENOTFOUND)
		return reply_error(r, PT_ENOTFOUND, NULL,
				   "not found: unknown or already used "
				   "voucher");
	if (err)
		return reply_error(r, err, NULL, "cannot redeem: %s",
				   pt_strerror(err));
	if ((err = repo_user_by_id(db, r->pool, who->user_id, &u)))
		return reply_error(r, err, NULL, "cannot redeem: %s",
				   pt_strerror(err));
	return reply_json(r, 200,
			  json_pack("{s:I, s:I, s:s}", "days", (json_int_t)days,
				    "premium_until", (json_int_t)u.premium_until,
				    "tier", "premium"));
}

req_res api_me_redeem(struct pt_req *r)
{
	return api_json_body(r, me_redeem_done);
}

/* ---- uploader rewards ---- */

static int reward_file_cb(const char *id, int64_t downloads, int64_t points,
			  void *arg)
{
	json_array_append_new(arg, json_pack("{s:s, s:I, s:I}", "id", id,
					     "downloads", (json_int_t)downloads,
					     "points", (json_int_t)points));
	return 0;
}

req_res api_me_rewards(struct pt_req *r)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	struct db *db = app_db(app);
	json_t *files = json_array();
	int err = db ? repo_user_rewards_each(db, who->user_id, reward_file_cb,
					      files)
		     : PT_EUNAVAIL;
	if (err) {
		json_decref(files);
		return reply_error(r, err, NULL, "cannot read rewards: %s",
				   pt_strerror(err));
	}
	return reply_json(
		r, 200,
		json_pack("{s:I, s:I, s:o}", "points",
			  (json_int_t)repo_user_points(db, who->user_id),
			  "points_per_premium_day",
			  (json_int_t)app->conf->points_per_premium_day,
			  "files", files));
}

static req_res rewards_convert_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	json_t *d = o ? json_object_get(o, "days") : NULL;
	struct user u;

	if (!json_is_integer(d) || json_integer_value(d) < 1 ||
	    json_integer_value(d) > 3650)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"days\": N} (1..3650)");
	int64_t days = json_integer_value(d);
	int64_t cost = days * (int64_t)app->conf->points_per_premium_day;
	struct db *db = app_db(app);
	int err = repo_rewards_convert(db, who->user_id, cost, days, pt_now());
	if (err == PT_ECONFLICT)
		return reply_error(r, PT_ECONFLICT, NULL,
				   "conflict: %lld days cost %lld points, you "
				   "have %lld",
				   (long long)days, (long long)cost,
				   (long long)repo_user_points(db, who->user_id));
	if (err || (err = repo_user_by_id(db, r->pool, who->user_id, &u)))
		return reply_error(r, err, NULL, "cannot convert: %s",
				   pt_strerror(err));
	return reply_json(r, 200,
			  json_pack("{s:I, s:I, s:I}", "days", (json_int_t)days,
				    "points", (json_int_t)repo_user_points(
						      db, who->user_id),
				    "premium_until",
				    (json_int_t)u.premium_until));
}

req_res api_me_rewards_convert(struct pt_req *r)
{
	return api_json_body(r, rewards_convert_done);
}

/* ---- wait tickets ---- */

req_res api_ticket(struct pt_req *r)
{
	struct link l;
	req_res rc;

	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	return api_ticket_reply(r, l.id, l.name,
				api_download_url(r->ctx, r->pool, &l));
}

req_res api_ticket_reply(struct pt_req *r, const char *id, const char *name,
			 const char *bytes_url)
{
	struct app *app = r->ctx;
	struct download_rules rules;
	char ticket[TICKET_MAX] = "";

	policy_download(app->conf, api_who(r), &rules);
	int64_t now = pt_now();
	if (rules.wait_seconds)
		ticket_issue(app->secret, id, r->client_ip, now,
			     rules.wait_seconds, ticket);
	char *url = pt_psprintf(r->pool, "%s%s%s", bytes_url,
				*ticket ? "?ticket=" : "", ticket);
	if (req_accepts(r, "text/html")) {
		/* the no-JavaScript path: a page that moves on by itself */
		return api_wait_page(r, name, url, rules.wait_seconds);
	}
	return reply_json(r, 200,
			  json_pack("{s:s, s:I, s:I, s:s}", "ticket", ticket,
				    "wait", (json_int_t)rules.wait_seconds,
				    "ready_at",
				    (json_int_t)(now + rules.wait_seconds),
				    "url", url));
}
