#!/bin/sh
# record-fuzz-corpus.sh — the seed corpus of the whole-server fuzzer
# (tests/fuzz/fuzz_server.c), recorded from a few e2e files.
#
#   scripts/record-fuzz-corpus.sh [BIN_DIR]     (default bin; run `make` first)
#
# Runs the e2e files below with PARTAGE_RECORD_DIR set (tests/e2e/harness.py
# then puts a recording proxy in front of every server), and turns what each
# client connection sent into one corpus file: the file and folder ids,
# delete tokens, API tokens, session cookies, CSRF tokens and tus upload
# ids the server handed out become the fuzzer's placeholders of the same
# length (so a Content-Length stays right), and
# the result is deduplicated by shape (request lines and header names),
# smaller first, at most 64 KiB a file and about 384 KiB in all.  The old
# corpus is replaced.  Environment: E2E_FILES (test name substrings),
# CORPUS_BUDGET (bytes).
set -eu
cd "$(dirname "$0")/.."
BIN_DIR=${1:-bin}
E2E_FILES=${E2E_FILES:-"test_10_upload test_20_download test_35_tus test_40_errors test_45_accounts test_48_folders"}
OUT=tests/fuzz/corpus/fuzz_server
REC=$(mktemp -d "${TMPDIR:-/tmp}/partage-record.XXXXXX")
trap 'rm -rf "$REC"' EXIT

ks=""
for f in $E2E_FILES; do ks="$ks -k $f"; done
# a failing test still recorded its requests: the corpus is what we want
# (tests of the client's address fail behind the recording proxy)
# shellcheck disable=SC2086
PARTAGE_RECORD_DIR=$REC python3 tests/e2e/run.py --bin "$BIN_DIR" $ks \
	| grep -E '^FAIL|^e2e: [0-9]+ passed' || true

python3 - "$REC" "$OUT" "${CORPUS_BUDGET:-393216}" <<'EOF'
import hashlib, os, re, sys

rec, out, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
FILE_MAX = 64 * 1024
# placeholders of fuzz_server.c, each as long as the value it stands for
P_ID = b"@ID@" + b"@" * 8
P_DT = b"@DT@" + b"@" * 39
P_TOKEN = b"@TOKEN@" + b"@" * 36
P_UP = b"@UP@" + b"@" * 20
P_FO = b"@FO@" + b"@" * 8
P_SESSION = b"@SESSION@" + b"@" * 34
P_CSRF = b"@CSRF@" + b"@" * 37
assert [len(p) for p in (P_ID, P_DT, P_TOKEN, P_UP, P_FO, P_SESSION, P_CSRF)] \
    == [12, 43, 43, 24, 12, 43, 43]

conns = []
for name in sorted(os.listdir(rec)):
    if name.endswith(".req"):
        with open(os.path.join(rec, name), "rb") as f:
            req = f.read()
        try:
            with open(os.path.join(rec, name[:-4] + ".rep"), "rb") as f:
                rep = f.read()
        except OSError:
            rep = b""
        conns.append((req, rep))

# what the servers handed out, from every reply
ids, dts, toks, ups = set(), set(), set(), set()
folders, sessions, csrfs = set(), set(), set()
for req, rep in conns:
    if req.startswith(b"POST /api/v1/folders "):
        folders.update(re.findall(rb'"id": ?"([0-9A-Za-z]{12})"', rep))
    sessions.update(re.findall(rb"partage_session=([A-Za-z0-9_-]{43})", rep))
    csrfs.update(re.findall(rb'"csrf": ?"([A-Za-z0-9_-]{43})"', rep))
    ids.update(re.findall(rb"\r\nX-Partage-Id: ([0-9A-Za-z]{12})\r\n", rep))
    ids.update(re.findall(rb'"id": ?"([0-9A-Za-z]{12})"', rep))
    ids.update(re.findall(rb"\r\nLocation: [^\r]*/([0-9A-Za-z]{12})\r\n", rep))
    dts.update(re.findall(rb"\r\nX-Delete-Token: ([A-Za-z0-9_-]{43})\r\n", rep))
    dts.update(re.findall(rb'"delete_token": ?"([A-Za-z0-9_-]{43})"', rep))
    toks.update(re.findall(rb'"token": ?"([A-Za-z0-9_-]{43})"', rep))
    ups.update(re.findall(rb"/api/v1/uploads/([A-Za-z0-9_-]{24})", rep))

ids -= folders
subst = [(v, P_DT) for v in dts] + [(v, P_TOKEN) for v in toks] + \
        [(v, P_SESSION) for v in sessions] + [(v, P_CSRF) for v in csrfs] + \
        [(v, P_UP) for v in ups] + [(v, P_FO) for v in folders] + \
        [(v, P_ID) for v in ids]


def shape(req):
    """Request lines (ids out, numbers folded) and header names."""
    key = []
    for head in re.findall(rb"(?:^|\r\n\r\n)([A-Z]+ [^\r\n]* HTTP/1\.[01]\r\n(?:[^\r\n]*\r\n)*)", req):
        lines = head.split(b"\r\n")
        first = re.sub(rb"[0-9]+", b"N", lines[0])
        names = sorted({l.split(b":", 1)[0].lower() for l in lines[1:] if b":" in l})
        key.append(first + b"|" + b",".join(names))
    return b"\n".join(key) or req[:64]


best = {}
for req, _rep in conns:
    if len(req) > FILE_MAX:
        continue
    for v, p in subst:
        req = req.replace(v, p)
    k = shape(req)
    if k not in best or len(req) < len(best[k]):
        best[k] = req

chosen, total = [], 0
for req in sorted(best.values(), key=lambda r: (len(r), r)):
    if total + len(req) > budget:
        continue
    chosen.append(req)
    total += len(req)

os.makedirs(out, exist_ok=True)
for name in os.listdir(out):
    os.remove(os.path.join(out, name))
for req in chosen:
    with open(os.path.join(out, hashlib.sha1(req).hexdigest()), "wb") as f:
        f.write(req)
print("record-fuzz-corpus: %d connections recorded, %d shapes, %d files "
      "(%d bytes) in %s" % (len(conns), len(best), len(chosen), total, out))
EOF
