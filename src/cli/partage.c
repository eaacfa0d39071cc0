/*
 * partage.c — the `partage` client's entry point: the table of commands
 * (name, function, arguments, options, whether it needs a login, help),
 * the help generated from it, the command line (global and per-command
 * options may come in any order, as getopt permutes them) checked against
 * it, the small commands (info, delete, mkdir), and dispatch to upload,
 * download, login, logout, the account's commands (account.c) and the
 * file manager's (manage.c).
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/ids.h"
#include "../util/banned.h"

static int __attribute__((format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list ap;

	fputs("partage: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs("usage: partage [--server URL] COMMAND [ARGS] "
	      "(partage --help for more)\n", stderr);
	return CLI_USAGE;
}

static int cmd_info(const struct cli_opts *o, int argc, char **argv)
{
	const char *arg = argv[0];
	struct cli_target t = { 0 };
	struct pt_buf msg;
	json_t *obj = NULL;
	char *s;
	int ret = CLI_FAIL;

	pt_buf_init(&msg, 4096);
	if (cli_target_parse(arg, o, &t)) {
		cli_err("not a partage id or link: '%s'", arg);
		goto fail;
	}
	if (cli_file_object(o, &t, &obj, &msg)) {
		cli_err("cannot get '%s': %s", arg, msg.p);
		goto fail;
	}
	s = json_dumps(obj, JSON_INDENT(2));
	PT_ASSERT(s);
	puts(s);
	free(s);
	ret = CLI_OK;
fail:
	json_decref(obj);
	cli_target_release(&t);
	pt_buf_release(&msg);
	return ret;
}

/* POST /api/v1/folders {"name", "parent", "shared"}: prints the folder's
 * link (its object with --json). */
static int cmd_mkdir(const struct cli_opts *o, int argc, char **argv)
{
	const char *name = argv[0];
	char *url = xasprintf("%s/api/v1/folders", o->server);
	json_t *req = json_pack("{s:s}", "name", name);
	int ret = CLI_FAIL;

	if (!req || (o->parent && json_object_set_new(req, "parent",
						      json_string(o->parent)))) {
		cli_err("cannot make folder '%s': not UTF-8", name);
		goto fail;
	}
	if (o->shared)
		json_object_set_new(req, "shared", json_true());
	if (!cli_api_make(o, url, req, "folder", "make folder '%s'", name))
		ret = CLI_OK;
fail:
	json_decref(req);
	free(url);
	return ret;
}

static int cmd_delete(const struct cli_opts *o, int argc, char **argv)
{
	const char *arg = argv[0];
	struct cli_target t = { 0 };
	struct cli_http h;
	struct pt_buf msg;
	char *url = NULL;
	int err, ret = CLI_FAIL;

	pt_buf_init(&msg, 4096);
	cli_http_init(&h, "DELETE", NULL);
	if (cli_target_parse(arg, o, &t)) {
		cli_err("not a partage id or link: '%s'", arg);
		goto fail;
	}
	url = xasprintf("%s/%s", t.base, t.id);
	h.url = url;
	/* without a token, the login (if any) speaks: the owner's works */
	if (o->token)
		cli_http_add_header(&h, "X-Delete-Token: %s", o->token);
	cli_http_add_header(&h, "Accept: text/plain");
	err = cli_http_perform(&h, o);
	if (err) {
		cli_http_strerror(&h, err, &msg);
		cli_err("cannot delete '%s': %s", arg, msg.p);
		goto fail;
	}
	if (h.status != 204 && h.status != 200) {
		cli_http_reason(&h, &msg);
		cli_err("cannot delete '%s': %s", arg, msg.p);
		goto fail;
	}
	ret = CLI_OK;
fail:
	cli_http_release(&h);
	cli_target_release(&t);
	free(url);
	pt_buf_release(&msg);
	return ret;
}

/* The commands of other files whose arguments the table checks: they take
 * them one by one. */
static int cmd_logout(const struct cli_opts *o, int argc, char **argv)
{
	return cli_logout(o);
}

static int cmd_rename(const struct cli_opts *o, int argc, char **argv)
{
	return cli_rename(o, argv[0], argv[1]);
}

static int cmd_share(const struct cli_opts *o, int argc, char **argv)
{
	return cli_share(o, argv[0], true);
}

static int cmd_unshare(const struct cli_opts *o, int argc, char **argv)
{
	return cli_share(o, argv[0], false);
}

static int cmd_account(const struct cli_opts *o, int argc, char **argv)
{
	return cli_account(o);
}

static int cmd_redeem(const struct cli_opts *o, int argc, char **argv)
{
	return cli_redeem(o, argv[0]);
}

static int cmd_convert(const struct cli_opts *o, int argc, char **argv)
{
	return cli_convert(o, argv[0]);
}

/* tokens takes nothing, new [LABEL] or revoke ID... */
static const char *check_tokens(const struct cli_opts *o, int argc,
				char **argv)
{
	if (argc == 0 || (strcmp(argv[0], "new") == 0 && argc <= 2) ||
	    (strcmp(argv[0], "revoke") == 0 && argc >= 2))
		return NULL;
	return "takes nothing, 'new [LABEL]' or 'revoke ID...'";
}

/* webhooks takes nothing, add URL [EVENT...], rm ID... or log ID */
static const char *check_webhooks(const struct cli_opts *o, int argc,
				  char **argv)
{
	if (argc == 0 || (strcmp(argv[0], "add") == 0 && argc >= 2) ||
	    (strcmp(argv[0], "rm") == 0 && argc >= 2) ||
	    (strcmp(argv[0], "log") == 0 && argc == 2))
		return NULL;
	return "takes nothing, 'add URL [EVENT...]', 'rm ID...' or 'log ID'";
}

/* request takes create FOLDER, list, or delete ID... */
static const char *check_request(const struct cli_opts *o, int argc,
				 char **argv)
{
	if ((strcmp(argv[0], "create") == 0 && argc == 2) ||
	    (strcmp(argv[0], "list") == 0 && argc == 1) ||
	    (strcmp(argv[0], "delete") == 0 && argc >= 2))
		return NULL;
	return "takes 'create FOLDER', 'list' or 'delete ID...'";
}

static const char *check_mv(const struct cli_opts *o, int argc, char **argv)
{
	return o->to ? NULL : "needs --to FOLDER";
}

/* ---- the table ---- */

enum {
	CMD_LOGIN = 1,    /* works on an account: the help says it needs one */
	CMD_OWN_CREDS = 2 /* reads and writes the stored logins itself: they
			   * are not loaded for it */
};

/*
 * One command.  run gets the arguments after the command's name (argc
 * within min..max; max -1: no limit), once the command line is checked:
 * "NAME: missing argument" when there is none and min > 0, else "NAME
 * count" when their number is off; then check (if any) returns what is
 * wrong ("NAME <it>"), or NULL.  opts: the per-command options it takes.
 * synopsis and help: its entry in the help (help's lines are indented
 * there); a command whose synopsis is NULL is described by the entry
 * before it.
 */
struct command {
	const char *name;
	int (*run)(const struct cli_opts *o, int argc, char **argv);
	int min, max;
	const char *count;
	const char *(*check)(const struct cli_opts *o, int argc, char **argv);
	const char *opts;
	unsigned flags;
	const char *synopsis, *help;
};

/* In the order of the help. */
/* clang-format off */
static const struct command commands[] = {
	{ "upload", cli_upload, 1, -1, NULL, NULL,
	  "--max-days --max-downloads --name --password --folder --json "
	  "--request", 0,
	  "upload FILE... [--max-days N] [--max-downloads N] [--name NAME]\n"
	  "         [--password PW] [--folder ID] [--json] [--request URL]",
	  "Upload each FILE ('-' reads stdin) and print its share URL, or its\n"
	  "file object with --json; the delete token goes to stderr.\n"
	  "--folder puts it in one of your folders (logged in).  A file is\n"
	  "sent in chunks, retried when the link drops, and resumed by the\n"
	  "same command after an interruption.  --request URL sends it to a\n"
	  "file request instead (--password: the request's)." },
	{ "remote", cli_remote, 1, -1, NULL, NULL,
	  "--max-days --max-downloads --name --json", 0,
	  "remote URL... [--max-days N] [--max-downloads N] [--name NAME]\n"
	  "         [--json]",
	  "Have the server fetch each http(s) URL itself into a new file\n"
	  "(a remote upload), show its progress, and print the share URL,\n"
	  "or the file object with --json; the delete token goes to stderr." },
	{ "request", cli_request, 1, -1, NULL, check_request,
	  "--password --expires --max-files --max-bytes --json", CMD_LOGIN,
	  "request create FOLDER [--password PW] [--expires DAYS]\n"
	  "         [--max-files N] [--max-bytes N] | list | delete ID...",
	  "A link that lets anyone upload into your FOLDER (its id), within\n"
	  "the limits, without seeing what is there: create prints it; list\n"
	  "shows yours; delete closes them." },
	{ "download", cli_download, 1, -1, NULL, NULL,
	  "-o --output-dir --password", 0,
	  "download URL_OR_ID... [-o FILE] [--output-dir DIR]",
	  "Download into FILE, or the file's own name, resuming FILE.part and\n"
	  "checking its SHA-256; '-o -' writes to stdout.  Prints the path." },
	{ "info", cmd_info, 1, 1, "takes one file", NULL,
	  "--json --password", 0,
	  "info URL_OR_ID",
	  "Print the file object (name, size, sha256, downloads, ...)." },
	{ "delete", cmd_delete, 1, 1, "takes one file", NULL, "--token", 0,
	  "delete URL_OR_ID [--token TOKEN]",
	  "Delete a file with the delete token its upload printed (or, without\n"
	  "--token, as its logged-in uploader)." },
	{ "mkdir", cmd_mkdir, 1, 1, "takes one folder name", NULL,
	  "--parent --shared --json", 0,
	  "mkdir NAME [--parent ID] [--shared] [--json]",
	  "Make a folder (logged in) and print its link; 'download' of that\n"
	  "link fetches the whole folder as one zip." },
	{ "ls", cli_ls, 0, 1, "takes one folder", NULL, "--json", CMD_LOGIN,
	  "ls [FOLDER] [--json]",
	  "List your folders, then your files, at the top or in FOLDER:\n"
	  "'ID folder NAME/ [shared]' and 'ID SIZE DOWNLOADS NAME' lines, or\n"
	  "{\"folders\":[...],\"files\":[...]} with --json." },
	{ "mv", cli_mv, 1, -1, NULL, check_mv, "--to", CMD_LOGIN,
	  "mv ITEM... --to FOLDER",
	  "Move your files and folders into FOLDER ('/': the top level)." },
	{ "rename", cmd_rename, 2, 2,
	  "takes a file or folder and its new name", NULL, "", CMD_LOGIN,
	  "rename ITEM NAME",
	  "Rename one of your files or folders." },
	{ "rm", cli_rm, 1, -1, NULL, NULL, "--recursive", CMD_LOGIN,
	  "rm ITEM... [--recursive]",
	  "Delete your files and folders (--recursive: also a folder that is\n"
	  "not empty, with everything in it)." },
	{ "share", cmd_share, 1, 1, "takes one folder", NULL, "", CMD_LOGIN,
	  "share FOLDER | unshare FOLDER",
	  "Make a folder public and print its link, or private again." },
	{ "unshare", cmd_unshare, 1, 1, "takes one folder", NULL, "",
	  CMD_LOGIN, NULL, NULL },
	{ "account", cmd_account, 0, 0, "takes no argument", NULL, "--json",
	  CMD_LOGIN,
	  "account [--json]",
	  "Show your account: tier, premium end, storage used, points." },
	{ "tokens", cli_tokens, 0, -1, NULL, check_tokens, "--json", CMD_LOGIN,
	  "tokens [--json] | tokens new [LABEL] | tokens revoke ID...",
	  "List your API tokens (id, created, last used, label), make one\n"
	  "(its secret alone on stdout, shown only then) or revoke them." },
	{ "webhooks", cli_webhooks, 0, -1, NULL, check_webhooks, "--json",
	  CMD_LOGIN,
	  "webhooks [--json] | webhooks add URL [EVENT...] | webhooks rm ID...\n"
	  "         | webhooks log ID",
	  "List your webhooks, register one for some events (upload download\n"
	  "deleted expired takedown; all without any: its signing secret alone\n"
	  "on stdout, shown only then), delete them, or show one's deliveries\n"
	  "and every attempt." },
	{ "redeem", cmd_redeem, 1, 1, "takes one code", NULL, "", CMD_LOGIN,
	  "redeem CODE",
	  "Turn a voucher code into premium days." },
	{ "convert", cmd_convert, 1, 1, "takes one number", NULL, "",
	  CMD_LOGIN,
	  "convert DAYS",
	  "Spend reward points on DAYS premium days." },
	{ "login", cli_login, 0, 1, "takes one user name", NULL,
	  "--password-stdin", CMD_OWN_CREDS,
	  "login [USER] [--password-stdin]",
	  "Make an API token for the account (the password is read from the\n"
	  "terminal, or from stdin) and keep it for this server." },
	{ "logout", cmd_logout, 0, 0, "takes no argument", NULL, "",
	  CMD_OWN_CREDS,
	  "logout",
	  "Revoke this server's stored token and forget it." },
};

static const char help_head[] =
"usage: partage [--server URL] COMMAND [ARGS]\n"
"\n";
/* after "... need a login.", the whole wrapped at HELP_WIDTH */
static const char help_names[] =
"ITEM is a file's id or link, or a folder's id or /folder/ID link (a "
"bare id that names no file is taken as a folder); FOLDER is a folder's "
"id or link.";
static const char help_tail[] =
"\n"
"Options:\n"
"  --server URL   the server (else env PARTAGE_SERVER, else\n"
"                 " CLI_DEFAULT_SERVER "); a share URL names its own\n"
"  -h, --help     show this help\n"
"\n"
"Env PARTAGE_API_TOKEN is sent as 'Authorization: Bearer' (accounts);\n"
"without it, the token of 'partage login' for the server, if any.\n"
"Exit status: 0 success, 1 failure, 2 usage error.  See docs/cli.md.\n";
/* clang-format on */

#define HELP_WIDTH 72

/* s as lines of at most width columns, cut at spaces (a longer word on a
 * line of its own). */
static void wrap(FILE *out, const char *s, size_t width)
{
	while (*s) {
		size_t cut = strlen(s), end;
		if (cut > width) {
			for (cut = width; cut > 0 && s[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = strcspn(s, " ");
		}
		for (end = cut; end > 0 && s[end - 1] == ' '; end--)
			;
		fwrite(s, 1, end, out);
		fputc('\n', out);
		for (s += cut; *s == ' '; s++)
			;
	}
}

/* The help: each command's synopsis and its lines, then which commands
 * need a login, then the global options. */
static void help_print(FILE *out)
{
	const char *login[PT_ARRAY_LEN(commands)];
	size_t n = 0;
	struct pt_buf b;

	fputs(help_head, out);
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++) {
		const struct command *c = &commands[i];
		if (c->flags & CMD_LOGIN)
			login[n++] = c->name;
		if (!c->synopsis)
			continue;
		fprintf(out, "  %s\n", c->synopsis);
		for (const char *p = c->help; *p;) {
			size_t k = strcspn(p, "\n");
			fprintf(out, "      %.*s\n", (int)k, p);
			p += k + (p[k] == '\n');
		}
	}
	pt_buf_init(&b, 4096);
	for (size_t i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : i + 1 < n ? ", " : " and ";
		pt_buf_addf(&b, "%s%s", sep, login[i]);
	}
	pt_buf_addf(&b, " need%s a login.  %s", n == 1 ? "s" : "", help_names);
	fputc('\n', out);
	wrap(out, b.p, HELP_WIDTH);
	pt_buf_release(&b);
	fputs(help_tail, out);
}

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* ---- the command line ---- */

enum {
	OPT_SERVER = 256, OPT_JSON, OPT_MAX_DAYS, OPT_MAX_DOWNLOADS, OPT_NAME,
	OPT_OUTPUT_DIR, OPT_TOKEN, OPT_PASSWORD, OPT_PASSWORD_STDIN,
	OPT_FOLDER, OPT_PARENT, OPT_SHARED, OPT_TO, OPT_RECURSIVE,
	OPT_REQUEST, OPT_EXPIRES, OPT_MAX_FILES, OPT_MAX_BYTES,
};

/* The per-command options, in the order they are checked against the
 * command's (struct command's opts). */
static const struct {
	int opt;
	const char *name;
} cmd_opts[] = {
	{ OPT_JSON, "--json" },
	{ OPT_FOLDER, "--folder" },
	{ OPT_PARENT, "--parent" },
	{ OPT_SHARED, "--shared" },
	{ OPT_TO, "--to" },
	{ OPT_RECURSIVE, "--recursive" },
	{ OPT_MAX_DAYS, "--max-days" },
	{ OPT_MAX_DOWNLOADS, "--max-downloads" },
	{ OPT_NAME, "--name" },
	{ 'o', "-o" },
	{ OPT_OUTPUT_DIR, "--output-dir" },
	{ OPT_TOKEN, "--token" },
	{ OPT_PASSWORD, "--password" },
	{ OPT_PASSWORD_STDIN, "--password-stdin" },
	{ OPT_REQUEST, "--request" },
	{ OPT_EXPIRES, "--expires" },
	{ OPT_MAX_FILES, "--max-files" },
	{ OPT_MAX_BYTES, "--max-bytes" },
};

static bool word_in(const char *word, const char *list)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/*
 * The command line of command c against the table: the options seen
 * (seen[i] for cmd_opts[i]), the number of arguments, then the values of
 * the options.  Returns CLI_OK, or CLI_USAGE after the usage error on
 * stderr.
 */
static int command_check(const struct command *c, const struct cli_opts *o,
			 const bool *seen, int nargs, char **args)
{
	const char *why;

	for (size_t i = 0; i < PT_ARRAY_LEN(cmd_opts); i++)
		if (seen[i] && !word_in(cmd_opts[i].name, c->opts))
			return usage("%s does not apply to this command",
				     cmd_opts[i].name);
	if (nargs == 0 && c->min > 0)
		return usage("%s: missing argument", c->name);
	if (nargs < c->min || (c->max >= 0 && nargs > c->max))
		return usage("%s %s", c->name, c->count);
	if (c->check && (why = c->check(o, nargs, args)))
		return usage("%s %s", c->name, why);
	if (nargs > 1 && (o->name || o->output))
		return usage("%s applies to one file only",
			     o->name ? "--name" : "-o");
	if (o->name && !o->name[0])
		return usage("%s must not be empty", "--name");
	if ((o->folder && !id_valid(o->folder, strlen(o->folder))) ||
	    (o->parent && !id_valid(o->parent, strlen(o->parent))))
		return usage("%s takes a folder id (12 letters and digits)",
			     o->folder ? "--folder" : "--parent");
	return CLI_OK;
}

static int number(const char *opt, const char *s, uint64_t *out)
{
	if (pt_parse_u64(s, strlen(s), out))
		return usage("%s takes a whole number", opt);
	return 0;
}
/*
 * The options anywhere in argv (getopt_long permutes the arguments to the
 * end: argv[optind] on is the command and its arguments) into o, *server
 * and seen (seen[i]: cmd_opts[i] was given).  Returns -1 to go on, or the
 * exit status: after the help, or a usage error.
 */
static int options_parse(int argc, char **argv, struct cli_opts *o,
			 bool *seen, const char **server)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "max-days", required_argument, NULL, OPT_MAX_DAYS },
		{ "max-downloads", required_argument, NULL, OPT_MAX_DOWNLOADS },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "output", required_argument, NULL, 'o' },
		{ "output-dir", required_argument, NULL, OPT_OUTPUT_DIR },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "password", required_argument, NULL, OPT_PASSWORD },
		{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
		{ "folder", required_argument, NULL, OPT_FOLDER },
		{ "parent", required_argument, NULL, OPT_PARENT },
		{ "shared", no_argument, NULL, OPT_SHARED },
		{ "to", required_argument, NULL, OPT_TO },
		{ "recursive", no_argument, NULL, OPT_RECURSIVE },
		{ "request", required_argument, NULL, OPT_REQUEST },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "max-files", required_argument, NULL, OPT_MAX_FILES },
		{ "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		for (size_t i = 0; i < PT_ARRAY_LEN(cmd_opts); i++)
			if (cmd_opts[i].opt == c)
				seen[i] = true;
		switch (c) {
		case OPT_SERVER:
			*server = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_MAX_DAYS:
			if (number("--max-days", optarg, &o->max_days))
				return CLI_USAGE;
			o->have_max_days = true;
			break;
		case OPT_MAX_DOWNLOADS:
			if (number("--max-downloads", optarg,
				   &o->max_downloads))
				return CLI_USAGE;
			o->have_max_downloads = true;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_OUTPUT_DIR:
			o->output_dir = optarg;
			break;
		case OPT_TOKEN:
			o->token = optarg;
			break;
		case OPT_PASSWORD:
			o->password = optarg;
			break;
		case OPT_PASSWORD_STDIN:
			o->password_stdin = true;
			break;
		case OPT_FOLDER:
			o->folder = optarg;
			break;
		case OPT_PARENT:
			o->parent = optarg;
			break;
		case OPT_SHARED:
			o->shared = true;
			break;
		case OPT_TO:
			o->to = optarg;
			break;
		case OPT_RECURSIVE:
			o->recursive = true;
			break;
		case OPT_REQUEST:
			o->request = optarg;
			break;
		case OPT_EXPIRES:
			if (number("--expires", optarg, &o->expires))
				return CLI_USAGE;
			o->have_expires = true;
			break;
		case OPT_MAX_FILES:
			if (number("--max-files", optarg, &o->max_files))
				return CLI_USAGE;
			o->have_max_files = true;
			break;
		case OPT_MAX_BYTES:
			if (number("--max-bytes", optarg, &o->max_bytes))
				return CLI_USAGE;
			o->have_max_bytes = true;
			break;
		case 'h':
			help_print(stdout);
			return CLI_OK;
		case ':':
			return usage("option '%s' needs a value",
				     argv[optind - 1]);
		default:
			return usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	struct cli_creds creds = { 0 };
	bool seen[PT_ARRAY_LEN(cmd_opts)] = { false };
	const struct command *cmd;
	const char *server = NULL;
	int ret, nargs;
	char **args;
	size_t n;

	ret = options_parse(argc, argv, &o, seen, &server);
	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return usage("no command given");
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	if (strcmp(argv[optind], "help") == 0) {
		help_print(stdout);
		return CLI_OK;
	}
	cmd = command_find(argv[optind]);
	if (!cmd)
		return usage("unknown command '%s'", argv[optind]);
	if (command_check(cmd, &o, seen, nargs, args))
		return CLI_USAGE;

	if (!server)
		server = getenv("PARTAGE_SERVER");
	if (!server || !*server)
		server = CLI_DEFAULT_SERVER;
	n = strlen(server);
	while (n > 0 && server[n - 1] == '/')
		n--;
	o.server = xstrndup(server, n);
	o.api_token = getenv("PARTAGE_API_TOKEN");
	if (!o.password)
		o.password = getenv("PARTAGE_LINK_PASSWORD");
	if (o.api_token && !*o.api_token)
		o.api_token = NULL;
	if (!o.api_token && !(cmd->flags & CMD_OWN_CREDS)) {
		if (cli_creds_load(&creds)) {
			ret = CLI_FAIL;
			goto fail;
		}
		o.creds = &creds;
	}
	o.progress = isatty(STDERR_FILENO);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    sodium_init() < 0) {
		cli_err("cannot initialise libcurl or libsodium");
		ret = CLI_FAIL;
		goto fail;
	}
	ret = cmd->run(&o, nargs, args);
	cli_http_cleanup();
	curl_global_cleanup();
fail:
	cli_creds_release(&creds);
	free(o.server);
	return ret;
}
