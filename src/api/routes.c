/*
 * routes.c — the routing table: every endpoint of partage, its methods,
 * its handler and its metrics label.  First match wins: literals before
 * captures.
 */
#include "handlers.h"

#include "../http/reply.h"
#include "../util/banned.h"

static req_res put_root(struct pt_req *r)
{
	return reply_error(r, PT_EBADREQ, NULL,
			   "bad request: name the file in the URL: "
			   "PUT /NAME (curl -T FILE URL/ does it)");
}

const struct route api_routes[] = {
	{ HTTP_GET, "/", api_index, "index", 0 },
	{ HTTP_PUT, "/", put_root, "upload", 0 },
	{ HTTP_GET, "/healthz", api_healthz, "healthz", 0 },
	{ HTTP_GET, "/metrics", api_metrics, "metrics", 0 },
	{ HTTP_GET, "/static/{*}", api_static, "static", 0 },
	{ HTTP_GET, "/login", api_login_page, "login_page", 0 },
	{ HTTP_GET, "/files", api_files_page, "files_page", 0 },
	{ HTTP_GET, "/account", api_account_page, "account_page", 0 },
	{ HTTP_POST, "/api/v1/files", api_upload_multipart, "files_create",
	  ROUTE_FORM },
	{ HTTP_GET, "/api/v1/files/{id}", api_file_get, "file", 0 },
	{ HTTP_PATCH, "/api/v1/files/{id}", api_file_patch, "file_patch",
	  ROUTE_AUTH },
	{ HTTP_POST, "/api/v1/files/{id}/ticket", api_ticket, "ticket",
	  ROUTE_NO_CSRF },
	{ HTTP_POST, "/api/v1/takedowns", api_takedowns, "takedowns", 0 },
	{ HTTP_POST, "/api/v1/reports", api_reports, "reports", ROUTE_NO_CSRF },
	{ HTTP_POST, "/api/v1/check", api_check, "check", ROUTE_NO_CSRF },
	{ HTTP_GET, "/api/v1/transparency", api_transparency, "transparency",
	  0 },
	{ HTTP_GET, "/api/v1/tiers", api_tiers, "tiers", 0 },
	{ HTTP_POST, "/api/v1/users", api_users_create, "users_create", 0 },
	{ HTTP_POST, "/api/v1/sessions", api_sessions_create, "sessions_create",
	  ROUTE_NO_CSRF },
	{ HTTP_DELETE, "/api/v1/sessions", api_sessions_delete,
	  "sessions_delete", 0 },
	{ HTTP_POST, "/api/v1/tokens", api_tokens_create, "tokens_create", 0 },
	{ HTTP_GET, "/api/v1/tokens", api_tokens_list, "tokens", ROUTE_AUTH },
	{ HTTP_DELETE, "/api/v1/tokens/{*}", api_tokens_delete, "tokens_delete",
	  ROUTE_AUTH },
	{ HTTP_GET, "/api/v1/me", api_me, "me", ROUTE_AUTH },
	{ HTTP_GET, "/api/v1/me/files", api_me_files, "me_files", ROUTE_AUTH },
	{ HTTP_PATCH, "/api/v1/me", api_me_update, "me_update", ROUTE_AUTH },
	{ HTTP_POST, "/api/v1/me/password", api_me_password, "me_password",
	  ROUTE_AUTH },
	{ HTTP_POST, "/api/v1/me/redeem", api_me_redeem, "me_redeem",
	  ROUTE_AUTH },
	{ HTTP_GET, "/api/v1/me/rewards", api_me_rewards, "me_rewards",
	  ROUTE_AUTH },
	{ HTTP_POST, "/api/v1/me/rewards/convert", api_me_rewards_convert,
	  "me_rewards_convert", ROUTE_AUTH },
	{ HTTP_GET, "/api/v1/folders", api_folders_list, "folders",
	  ROUTE_AUTH },
	{ HTTP_POST, "/api/v1/folders", api_folders_create, "folders_create",
	  ROUTE_AUTH },
	{ HTTP_GET, "/api/v1/folders/{id}", api_folder_get, "folder", 0 },
	{ HTTP_PATCH, "/api/v1/folders/{id}", api_folder_patch, "folder_patch",
	  ROUTE_AUTH },
	{ HTTP_DELETE, "/api/v1/folders/{id}", api_folder_delete,
	  "folder_delete", ROUTE_AUTH },
	{ HTTP_POST, "/api/v1/folders/{id}/ticket", api_folder_ticket,
	  "folder_ticket", ROUTE_NO_CSRF },
	{ HTTP_GET, "/folder/{id}", api_folder_page, "folder_page", 0 },
	{ HTTP_GET, "/report/{id}", api_report_page, "report_page", 0 },
	{ HTTP_GET, "/prefs", api_prefs, "prefs", 0 },
	{ HTTP_GET, "/folder/{id}/{*}", api_folder_zip, "folder_zip", 0 },
	{ HTTP_OPTIONS, "/api/v1/uploads", api_tus_options, "tus_options", 0 },
	{ HTTP_POST, "/api/v1/uploads", api_tus_create, "tus_create", 0 },
	{ HTTP_OPTIONS, "/api/v1/uploads/{*}", api_tus_options, "tus_options",
	  0 },
	{ HTTP_HEAD, "/api/v1/uploads/{*}", api_tus_head, "tus_head", 0 },
	{ HTTP_GET, "/api/v1/uploads/{*}", api_tus_get, "tus_get", 0 },
	{ HTTP_PATCH, "/api/v1/uploads/{*}", api_tus_patch, "tus_patch", 0 },
	{ HTTP_DELETE, "/api/v1/uploads/{*}", api_tus_delete, "tus_delete", 0 },
	{ HTTP_GET, "/{id}", api_share, "share", 0 },
	{ HTTP_DELETE, "/{id}", api_file_delete, "delete", 0 },
	{ HTTP_GET, "/{id}/{*}", api_download, "download", 0 },
	{ HTTP_PUT, "/{*}", api_upload_put, "upload", 0 },
	{ 0, NULL, NULL, NULL, 0 },
};

unsigned api_route_count(void)
{
	return PT_ARRAY_LEN(api_routes) - 1;
}
