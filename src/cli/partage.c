/*
 * partage.c — the `partage` client's entry point: the command line (global
 * and per-command options may come in any order, as getopt permutes them),
 * the small commands (info, delete, mkdir), and dispatch to upload,
 * download, login, logout and the file manager's commands (manage.c).
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

/* the help text laid out as it prints */
/* clang-format off */
static const char usage_text[] =
"usage: partage [--server URL] COMMAND [ARGS]\n"
"\n"
"  upload FILE... [--max-days N] [--max-downloads N] [--name NAME]\n"
"         [--password PW] [--folder ID] [--json]\n"
"      Upload each FILE ('-' reads stdin) and print its share URL, or its\n"
"      file object with --json; the delete token goes to stderr.\n"
"      --folder puts it in one of your folders (logged in).  A file is\n"
"      sent in chunks, retried when the link drops, and resumed by the\n"
"      same command after an interruption.\n"
"  download URL_OR_ID... [-o FILE] [--output-dir DIR]\n"
"      Download into FILE, or the file's own name, resuming FILE.part and\n"
"      checking its SHA-256; '-o -' writes to stdout.  Prints the path.\n"
"  info URL_OR_ID\n"
"      Print the file object (name, size, sha256, downloads, ...).\n"
"  delete URL_OR_ID [--token TOKEN]\n"
"      Delete a file with the delete token its upload printed (or, without\n"
"      --token, as its logged-in uploader).\n"
"  mkdir NAME [--parent ID] [--shared] [--json]\n"
"      Make a folder (logged in) and print its link; 'download' of that\n"
"      link fetches the whole folder as one zip.\n"
"  ls [FOLDER] [--json]\n"
"      List your folders, then your files, at the top or in FOLDER:\n"
"      'ID folder NAME/ [shared]' and 'ID SIZE DOWNLOADS NAME' lines, or\n"
"      {\"folders\":[...],\"files\":[...]} with --json.\n"
"  mv ITEM... --to FOLDER\n"
"      Move your files and folders into FOLDER ('/': the top level).\n"
"  rename ITEM NAME\n"
"      Rename one of your files or folders.\n"
"  rm ITEM... [--recursive]\n"
"      Delete your files and folders (--recursive: also a folder that is\n"
"      not empty, with everything in it).\n"
"  share FOLDER | unshare FOLDER\n"
"      Make a folder public and print its link, or private again.\n"
"  account [--json]\n"
"      Show your account: tier, premium end, storage used, points.\n"
"  tokens [--json] | tokens new [LABEL] | tokens revoke ID...\n"
"      List your API tokens (id, created, last used, label), make one\n"
"      (its secret alone on stdout, shown only then) or revoke them.\n"
"  redeem CODE\n"
"      Turn a voucher code into premium days.\n"
"  convert DAYS\n"
"      Spend reward points on DAYS premium days.\n"
"  login [USER] [--password-stdin]\n"
"      Make an API token for the account (the password is read from the\n"
"      terminal, or from stdin) and keep it for this server.\n"
"  logout\n"
"      Revoke this server's stored token and forget it.\n"
"\n"
"ls, mv, rename, rm, share, unshare, account, tokens, redeem and convert\n"
"need a login.  ITEM is a file's id or link, or a folder's id or\n"
"/folder/ID link (a bare id that names no file is taken as a folder);\n"
"FOLDER is a folder's id or link.\n"
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

static int cmd_info(const struct cli_opts *o, const char *arg)
{
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
static int cmd_mkdir(const struct cli_opts *o, const char *name)
{
	struct pt_buf msg;
	char *url = xasprintf("%s/api/v1/folders", o->server);
	json_t *req = json_pack("{s:s}", "name", name), *rep = NULL;
	long status;
	int ret = CLI_FAIL;

	pt_buf_init(&msg, 4096);
	if (!req || (o->parent && json_object_set_new(req, "parent",
						      json_string(o->parent)))) {
		cli_err("cannot make folder '%s': not UTF-8", name);
		goto fail;
	}
	if (o->shared)
		json_object_set_new(req, "shared", json_true());
	if (cli_api_call(o, "POST", url, req, &rep, &status, &msg)) {
		cli_err("cannot make folder '%s': %s", name, msg.p);
		goto fail;
	}
	if (!cli_json_str(rep, "url")) {
		cli_err("cannot make folder '%s': the reply is not a folder",
			name);
		goto fail;
	}
	if (o->json) {
		cli_print_json(rep);
	} else {
		puts(cli_json_str(rep, "url"));
		fprintf(stderr, "folder id: %s\n", cli_json_str(rep, "id"));
	}
	ret = CLI_OK;
fail:
	json_decref(req);
	json_decref(rep);
	free(url);
	pt_buf_release(&msg);
	return ret;
}

static int cmd_delete(const struct cli_opts *o, const char *arg)
{
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

enum {
	OPT_SERVER = 256, OPT_JSON, OPT_MAX_DAYS, OPT_MAX_DOWNLOADS, OPT_NAME,
	OPT_OUTPUT_DIR, OPT_TOKEN, OPT_PASSWORD, OPT_PASSWORD_STDIN,
	OPT_FOLDER, OPT_PARENT, OPT_SHARED, OPT_TO, OPT_RECURSIVE,
};

/* Which command each option belongs to ("*" = any). */
static const struct {
	int opt;
	const char *name, *cmd;
} opt_cmd[] = {
	{ OPT_JSON, "--json", "upload info mkdir ls account tokens" },
	{ OPT_FOLDER, "--folder", "upload" },
	{ OPT_PARENT, "--parent", "mkdir" },
	{ OPT_SHARED, "--shared", "mkdir" },
	{ OPT_TO, "--to", "mv" },
	{ OPT_RECURSIVE, "--recursive", "rm" },
	{ OPT_MAX_DAYS, "--max-days", "upload" },
	{ OPT_MAX_DOWNLOADS, "--max-downloads", "upload" },
	{ OPT_NAME, "--name", "upload" },
	{ 'o', "-o", "download" },
	{ OPT_OUTPUT_DIR, "--output-dir", "download" },
	{ OPT_TOKEN, "--token", "delete" },
	{ OPT_PASSWORD, "--password", "upload download info" },
	{ OPT_PASSWORD_STDIN, "--password-stdin", "login" },
};

static bool word_in(const char *word, const char *list)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

static int number(const char *opt, const char *s, uint64_t *out)
{
	if (pt_parse_u64(s, strlen(s), out))
		return usage("%s takes a whole number", opt);
	return 0;
}

int main(int argc, char **argv)
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o = { 0 };
	struct cli_creds creds = { 0 };
	bool seen[PT_ARRAY_LEN(opt_cmd)] = { false };
	const char *server = NULL, *cmd;
	int c, ret = CLI_USAGE, nargs;
	char **args;
	size_t n;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		for (size_t i = 0; i < PT_ARRAY_LEN(opt_cmd); i++)
			if (opt_cmd[i].opt == c)
				seen[i] = true;
		switch (c) {
		case OPT_SERVER:
			server = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_MAX_DAYS:
			if (number("--max-days", optarg, &o.max_days))
				return CLI_USAGE;
			o.have_max_days = true;
			break;
		case OPT_MAX_DOWNLOADS:
			if (number("--max-downloads", optarg,
				   &o.max_downloads))
				return CLI_USAGE;
			o.have_max_downloads = true;
			break;
		case OPT_NAME:
			o.name = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case OPT_OUTPUT_DIR:
			o.output_dir = optarg;
			break;
		case OPT_TOKEN:
			o.token = optarg;
			break;
		case OPT_PASSWORD:
			o.password = optarg;
			break;
		case OPT_PASSWORD_STDIN:
			o.password_stdin = true;
			break;
		case OPT_FOLDER:
			o.folder = optarg;
			break;
		case OPT_PARENT:
			o.parent = optarg;
			break;
		case OPT_SHARED:
			o.shared = true;
			break;
		case OPT_TO:
			o.to = optarg;
			break;
		case OPT_RECURSIVE:
			o.recursive = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		case ':':
			return usage("option '%s' needs a value",
				     argv[optind - 1]);
		default:
			return usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage("no command given");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return CLI_OK;
	}
	if (!word_in(cmd, "upload download info delete login logout mkdir "
		     "ls mv rename rm share unshare account tokens redeem "
		     "convert"))
		return usage("unknown command '%s'", cmd);
	for (size_t i = 0; i < PT_ARRAY_LEN(opt_cmd); i++)
		if (seen[i] && !word_in(cmd, opt_cmd[i].cmd))
			return usage("%s does not apply to this command",
				     opt_cmd[i].name);
	if (word_in(cmd, "logout account") && nargs > 0)
		return usage("%s takes no argument", cmd);
	if (word_in(cmd, "redeem convert") && nargs > 1)
		return usage("%s takes one %s", cmd,
			     strcmp(cmd, "redeem") == 0 ? "code" : "number");
	if (strcmp(cmd, "login") == 0 && nargs > 1)
		return usage("%s takes one user name", cmd);
	if (strcmp(cmd, "tokens") == 0 && nargs > 0 &&
	    !(strcmp(args[0], "new") == 0 && nargs <= 2) &&
	    !(strcmp(args[0], "revoke") == 0 && nargs >= 2))
		return usage("tokens takes nothing, 'new [LABEL]' or "
			     "'revoke ID...'");
	if (nargs == 0 && !word_in(cmd, "login logout ls account tokens"))
		return usage("%s: missing argument", cmd);
	if (nargs > 1 && (strcmp(cmd, "info") == 0 ||
			  strcmp(cmd, "delete") == 0))
		return usage("%s takes one file", cmd);
	if (nargs > 1 && strcmp(cmd, "mkdir") == 0)
		return usage("%s takes one folder name", cmd);
	if (nargs > 1 && word_in(cmd, "ls share unshare"))
		return usage("%s takes one folder", cmd);
	if (strcmp(cmd, "rename") == 0 && nargs != 2)
		return usage("%s takes a file or folder and its new name", cmd);
	if (strcmp(cmd, "mv") == 0 && !o.to)
		return usage("%s needs --to FOLDER", cmd);
	if (nargs > 1 && (o.name || o.output))
		return usage("%s applies to one file only",
			     o.name ? "--name" : "-o");
	if (o.name && !o.name[0])
		return usage("%s must not be empty", "--name");
	if ((o.folder && !id_valid(o.folder, strlen(o.folder))) ||
	    (o.parent && !id_valid(o.parent, strlen(o.parent))))
		return usage("%s takes a folder id (12 letters and digits)",
			     o.folder ? "--folder" : "--parent");

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
	if (!o.api_token && !word_in(cmd, "login logout")) {
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
	if (strcmp(cmd, "upload") == 0)
		ret = cli_upload(&o, nargs, args);
	else if (strcmp(cmd, "download") == 0)
		ret = cli_download(&o, nargs, args);
	else if (strcmp(cmd, "info") == 0)
		ret = cmd_info(&o, args[0]);
	else if (strcmp(cmd, "login") == 0)
		ret = cli_login(&o, nargs, args);
	else if (strcmp(cmd, "logout") == 0)
		ret = cli_logout(&o);
	else if (strcmp(cmd, "mkdir") == 0)
		ret = cmd_mkdir(&o, args[0]);
	else if (strcmp(cmd, "ls") == 0)
		ret = cli_ls(&o, nargs, args);
	else if (strcmp(cmd, "mv") == 0)
		ret = cli_mv(&o, nargs, args);
	else if (strcmp(cmd, "rename") == 0)
		ret = cli_rename(&o, args[0], args[1]);
	else if (strcmp(cmd, "rm") == 0)
		ret = cli_rm(&o, nargs, args);
	else if (word_in(cmd, "share unshare"))
		ret = cli_share(&o, args[0], strcmp(cmd, "share") == 0);
	else if (strcmp(cmd, "account") == 0)
		ret = cli_account(&o);
	else if (strcmp(cmd, "tokens") == 0)
		ret = cli_tokens(&o, nargs, args);
	else if (strcmp(cmd, "redeem") == 0)
		ret = cli_redeem(&o, args[0]);
	else if (strcmp(cmd, "convert") == 0)
		ret = cli_convert(&o, args[0]);
	else
		ret = cmd_delete(&o, args[0]);
	cli_http_cleanup();
	curl_global_cleanup();
fail:
	cli_creds_release(&creds);
	free(o.server);
	return ret;
}
