#!/usr/bin/env python3
"""check-layers.py — the include rules of src/ (docs/internals.md, "Layers").

Each directory of src/ is a layer and may include only from layers below
it; siblings on one level do not know each other:

    main.c                 6  the partaged binary
    admin/                 5  `partaged admin` commands
    api/                   4  handlers and the services they share
    http/    store/        3  the HTTP engine / the stores (not each other)
    core/                  2  rules and pure logic
    conf.[ch]              1  configuration
    util/                  0  helpers with no partage knowledge
    cli/                      the partage client: util, conf, core, http

Inside api/, the services (app, request, pwcheck, counts) never include the
handlers (handlers.h, download.h, api.h) or their private headers
(download_body.h, tus_int.h).  The HTTP engine stays in http/:
nothing else includes <microhttpd.h> or names an MHD_ identifier.
Prints one line per violation and exits 1 if there is any.
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "src")
LEVEL = {"util": 0, "conf": 1, "core": 2, "http": 3, "store": 3, "api": 4,
         "admin": 5, "main": 6}
CLI_MAY = {"util", "conf", "core", "http", "cli"}
API_SERVICES = {"app.c", "app.h", "request.c", "request.h", "pwcheck.c",
                "pwcheck.h", "counts.c"}
API_UPPER = {"handlers.h", "download.h", "download_body.h", "tus_int.h",
             "api.h"}
ENGINE_DIR = "http"

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(rel):
    """The layer of a path relative to src/ ("api/app.c" -> "api")."""
    parts = rel.split("/")
    if len(parts) == 1:
        name = parts[0]
        return "main" if name == "main.c" else "conf" if name.startswith("conf.") else name
    return parts[0]


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def main():
    bad = []
    for dirpath, _, files in os.walk(ROOT):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, ROOT)
            me = layer_of(rel)
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            code = strip_comments(text)
            for n, line in enumerate(text.splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, target = m.groups()
                if kind == "<":
                    if target == "microhttpd.h" and me != ENGINE_DIR:
                        bad.append(f"src/{rel}:{n}: <microhttpd.h> outside src/{ENGINE_DIR}")
                    continue
                tpath = os.path.normpath(os.path.join(os.path.dirname(rel), target))
                if tpath.startswith(".."):
                    bad.append(f"src/{rel}:{n}: '{target}' is outside src/")
                    continue
                them = layer_of(tpath)
                if them == me:
                    if (me == "api" and f in API_SERVICES
                            and os.path.basename(tpath) in API_UPPER):
                        bad.append(f"src/{rel}:{n}: an api service includes "
                                   f"'{target}' (the handlers)")
                    continue
                if me == "cli":
                    if them not in CLI_MAY:
                        bad.append(f"src/{rel}:{n}: the client includes '{target}' ({them})")
                    continue
                if them == "cli" or them not in LEVEL or me not in LEVEL:
                    bad.append(f"src/{rel}:{n}: '{target}' crosses into {them}")
                    continue
                if LEVEL[them] > LEVEL[me]:
                    bad.append(f"src/{rel}:{n}: {me} includes '{target}' from "
                               f"{them}, a layer above it")
                elif LEVEL[them] == LEVEL[me]:
                    bad.append(f"src/{rel}:{n}: {me} includes '{target}' from "
                               f"its sibling {them}")
            if me != ENGINE_DIR:
                for n, line in enumerate(code.splitlines(), 1):
                    if re.search(r"\bMHD_[A-Za-z_]+", line):
                        bad.append(f"src/{rel}:{n}: libmicrohttpd's API outside "
                                   f"src/{ENGINE_DIR}: {line.strip()[:60]}")
    for b in bad:
        print(b)
    print(f"check-layers: {len(bad)} violation{'s' if len(bad) != 1 else ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
