/*
 * users.c — `partaged admin user ...` (add, list, set-tier, set-role,
 * disable, enable) and `partaged admin voucher create`: accounts by hand.
 * Each change writes one column (or runs one conditional statement) and
 * an audit row, never a row read before written back whole, so a voucher
 * redeemed or a login at the same moment is not undone.
 */
#define _GNU_SOURCE
#include "admin.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

/* The password for `user add`: the first line of stdin. */
static char *read_password(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static int print_user(const struct user *u, void *arg)
{
	int64_t now = pt_now();
	enum pt_tier_id t = policy_user_tier(u->tier, u->premium_until, now);
	char until[32] = "-";
	if (u->premium_until > now)
		pt_http_date(u->premium_until, until);
	admin_put(u->name, "\t");
	printf("%s\t", conf_tier_name(t));
	admin_put(u->role, "\t");
	printf("%s\tpremium until: %s\n", u->disabled ? "disabled" : "active",
	       until);
	return 0;
}

int admin_user(struct app *app, int argc, char **argv)
{
	struct pt_pool *pool = pt_pool_new();
	struct db *db = app_db(app);
	struct user u;
	const char *why;
	int err, rc = 1;

	if (argc < 2) {
		rc = admin_die(
			"usage: user add|set-tier|set-role|list|disable ...");
		goto done;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "list") == 0) {
		rc = repo_users_each(db, pool, print_user, NULL) ? 1 : 0;
		goto done;
	}
	if (argc < 3) {
		rc = admin_die("usage: user %s NAME ...", sub);
		goto done;
	}
	const char *name = argv[2];
	if (strcmp(sub, "add") == 0) {
		char *pw = read_password();
		if (!pw) {
			rc = admin_die("user add: give the password on stdin");
			goto done;
		}
		if (account_check_name(name, &why) ||
		    account_check_password(pw, &why)) {
			free(pw);
			rc = admin_die("user add: %s", why);
			goto done;
		}
		memset(&u, 0, sizeof(u));
		randombytes_buf(&u.id, sizeof(u.id));
		u.id &= INT64_MAX;
		u.name = (char *)name;
		u.pwhash = account_hash_password(pool, pw);
		free(pw);
		u.tier = "free";
		u.role = "user";
		u.created = pt_now();
		err = u.pwhash ? repo_user_create(db, &u) : PT_EINTERNAL;
		if (err == PT_ECONFLICT)
			rc = admin_die("user add: the name '%s' is taken",
				       name);
		else if (err)
			rc = admin_die("user add: %s", pt_strerror(err));
		else
			rc = 0;
		goto done;
	}
	if (repo_user_by_name(db, pool, name, &u)) {
		rc = admin_die("no user '%s'", name);
		goto done;
	}
	/* one column (or one conditional statement) per change, never the
	 * row read above written back: a voucher redeemed meanwhile stays */
	const char *detail;
	if (strcmp(sub, "set-tier") == 0 && argc >= 4) {
		enum pt_tier_id t = conf_tier_lookup(argv[3]);
		if (t != PT_TIER_FREE && t != PT_TIER_PREMIUM) {
			rc = admin_die(
				"set-tier: a user's tier is free or premium");
			goto done;
		}
		if (argc >= 6 && strcmp(argv[4], "--days") == 0) {
			uint64_t days;
			int64_t until = 0;
			if (argc != 6 || t != PT_TIER_PREMIUM ||
			    pt_parse_u64(argv[5], strlen(argv[5]), &days) ||
			    days == 0 || days > 36500) {
				rc = admin_die(
					"set-tier: --days N (1..36500) goes "
					"with premium");
				goto done;
			}
			/* premium for N days from now (or from the current
			 * end); the base tier stays what it was */
			err = repo_user_premium_extend(db, u.id, pt_now(),
						       (int64_t)days, &until);
			detail = pt_psprintf(pool, "premium_until=%lld",
					     (long long)until);
		} else if (argc != 4) {
			rc = admin_die(
				"usage: user set-tier NAME TIER [--days N]");
			goto done;
		} else {
			err = repo_user_set_tier(db, u.id, conf_tier_name(t));
			detail = pt_psprintf(pool, "tier=%s%s",
					     conf_tier_name(t),
					     t == PT_TIER_FREE
						     ? " premium_until=0"
						     : "");
		}
	} else if (strcmp(sub, "set-role") == 0 && argc == 4) {
		if (strcmp(argv[3], "user") &&
		    strcmp(argv[3], "rights_holder") &&
		    strcmp(argv[3], "admin")) {
			rc = admin_die(
				"set-role: user, rights_holder or admin");
			goto done;
		}
		err = repo_user_set_role(db, u.id, argv[3]);
		detail = pt_psprintf(pool, "role=%s", argv[3]);
	} else if (strcmp(sub, "disable") == 0 && argc == 3) {
		/* disabled first, then the sessions: a login in between
		 * cannot make a token for a disabled account */
		err = repo_user_set_disabled(db, u.id, true);
		if (!err)
			err = repo_user_tokens_revoke(db, u.id);
		detail = "disabled=1";
	} else if (strcmp(sub, "enable") == 0 && argc == 3) {
		err = repo_user_set_disabled(db, u.id, false);
		detail = "disabled=0";
	} else {
		rc = admin_die("unknown or incomplete: user %s", sub);
		goto done;
	}
	if (err) {
		rc = admin_die("user %s: %s", sub, pt_strerror(err));
	} else {
		repo_audit(db, "admin", pt_psprintf(pool, "user_%s", sub),
			   u.name, "", detail, pt_now());
		rc = 0;
	}
done:
	pt_pool_free(pool);
	return rc;
}

int admin_voucher(struct app *app, int argc, char **argv)
{
	uint64_t days = 0, count = 1;
	struct db *db = app_db(app);

	if (argc < 2 || strcmp(argv[1], "create") != 0)
		return admin_die("usage: voucher create --days N [--count K]");
	for (int i = 2; i < argc; i++) {
		uint64_t *dst = !strcmp(argv[i], "--days")    ? &days
				: !strcmp(argv[i], "--count") ? &count
							      : NULL;
		if (!dst || i + 1 >= argc ||
		    pt_parse_u64(argv[i + 1], strlen(argv[i + 1]), dst))
			return admin_die(
				"usage: voucher create --days N [--count K]");
		i++;
	}
	if (days == 0 || days > 36500 || count == 0 || count > 100000)
		return admin_die(
			"voucher create: --days 1..36500, --count 1..100000");
	for (uint64_t i = 0; i < count; i++) {
		char code[TOKEN_LEN + 1], hash[TOKEN_HASH_LEN + 1];
		account_voucher_new(code, hash);
		int err = repo_voucher_create(db, hash, (int64_t)days,
					      pt_now());
		if (err)
			return admin_die("voucher create: %s",
					 pt_strerror(err));
		printf("%s\n", code);
	}
	return 0;
}
