/*
 * api.h — all of src/api for its users outside it (main.c, the admin
 * commands, tests and fuzz targets): the context (app.h), the request
 * services (request.h, pwcheck.h), the download service (download.h) and
 * the routes and handlers (handlers.h).  Files inside src/api include
 * only the headers they use (docs/internals.md, "Layers").
 */
#ifndef PT_API_H
#define PT_API_H

#include "app.h"
#include "download.h"
#include "handlers.h"
#include "pwcheck.h"
#include "request.h"

#endif
