#!/usr/bin/env python3
"""capacity.py — the capacity model of docs/scaling.md, from measurements.

Prints a Markdown section: how many partaged nodes, how much PostgreSQL and
how much object store a given load needs (by default the issue's: 25 PB,
250 M files, 50 M visits a day), derived from what the benchmarks measured
on one node.  Everything the model uses is one of two kinds of value:

  measured   read from the benchmarks' Markdown tables: first the newest
             matching file in bench/results/ (git-ignored, written by every
             bench/*.sh run), then the published tables of
             docs/benchmarks.md.  A measured value nobody has measured stops
             the script unless given with --set (the S3 throughput is
             optional: its rows are left out when absent).
  assumed    a stated default below (ASSUMPTIONS), each with its reason.

Any of them can be replaced: --set KEY=VALUE (repeatable); --list shows
the keys, their values and where each came from.  The output depends only
on these values and the files read, so the same inputs print the same text.

    scripts/capacity.py                       # the section of docs/scaling.md
    scripts/capacity.py --set visits_per_day=100e6 --set node_cores=32
    scripts/capacity.py --results /some/dir --list
    scripts/capacity.py --published           # docs/benchmarks.md only

Units: storage in decimal units (1 PB = 10^15 B, 1 TB = 10^12 B), network
in Gbit/s (10^9 bit/s), benchmark throughput in GiB/s as measured.
"""
import argparse
import glob
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB = 1 << 30

# ---- measured inputs --------------------------------------------------------
# key: (what, unit, results glob, row regex (first cell), column, optional)
# column: a header name; "cpu" means the partaged half of the
# "server CPU nginx / partaged" column.  Tables of results files and of
# docs/benchmarks.md share one layout, so one parser reads both.
MEASURED = {
	"get_gib_s": ("1 GiB GET, one stream (curl), partaged", "GiB/s",
		      "download-*.md", r"^1 GiB GET, 1 conn", "partaged", False),
	"get_cpu_s_per_gib": ("CPU per GiB served (1 GiB GET)", "s/GiB",
			      "download-*.md", r"^1 GiB GET, 1 conn", "cpu", False),
	"put_gib_s": ("1 GiB PUT, one stream (curl -T), hashed + fsynced",
		      "GiB/s", "upload-*.md", r"^1 GiB PUT, 1 conn", "partaged",
		      False),
	"put_cpu_s_per_gib": ("CPU per GiB received (1 GiB PUT)", "s/GiB",
			      "upload-*.md", r"^1 GiB PUT, 1 conn", "cpu", False),
	"small_rps": ("4 KiB GET, 64 connections, partaged", "req/s",
		      "download-*.md", r"^4 KiB GET, 64 conns", "partaged", False),
	"small_cpu_us": ("CPU per small request (4 KiB GET)", "µs/req",
			 "download-*.md", r"^4 KiB GET, 64 conns", "cpu", False),
	"check_ms": ("link checker, 1000 ids in one POST, median", "ms",
		     "check-*.md", r"^1000 ids", "median", False),
	"pg_link_bytes": ("PostgreSQL bytes per link, heap + indexes + TOAST",
			  "B", "dbsize-*.md", r"^PostgreSQL links total per row",
			  "value", False),
	"pg_link_index_bytes": ("PostgreSQL index bytes per link", "B",
				"dbsize-*.md",
				r"^PostgreSQL links indexes per row", "value",
				False),
	"pg_blob_bytes": ("PostgreSQL bytes per blob, heap + indexes + TOAST",
			  "B", "dbsize-*.md", r"^PostgreSQL blobs total per row",
			  "value", False),
	"pg_blob_index_bytes": ("PostgreSQL index bytes per blob", "B",
				"dbsize-*.md",
				r"^PostgreSQL blobs indexes per row", "value",
				False),
	"pg_pkey_bytes": ("PostgreSQL links_pkey bytes per link (the lookup "
			  "of every download)", "B", "dbsize-*.md",
			  r"^PostgreSQL index links_pkey per row", "value",
			  False),
	# bench/backends.sh (fs against S3): optional until it has run
	"s3_get_gib_s": ("1 GiB GET streamed from S3 through partaged", "GiB/s",
			 "backends-*.md", r"S3.*(GET|download)|(GET|download).*S3",
			 "partaged", True),
	"s3_get_cpu_s_per_gib": ("CPU per GiB streamed from S3", "s/GiB",
				 "backends-*.md",
				 r"S3.*(GET|download)|(GET|download).*S3",
				 "cpu", True),
	# bench/cluster-sim.sh (idle nodes on one PostgreSQL): optional
	"pg_stmt_per_node": ("PostgreSQL statements/s an idle node's periodic "
			     "work costs (largest simulated cluster)", "stmt/s",
			     "cluster-sim-*.md",
			     r"^PostgreSQL statements per second per idle node",
			     "value", True),
	"pg_cpu_per_node": ("PostgreSQL CPU an idle node's periodic work "
			    "costs (largest simulated cluster)", "% of a core",
			    "cluster-sim-*.md",
			    r"^PostgreSQL CPU per idle node", "value", True),
}

# ---- assumptions ------------------------------------------------------------
# key: (value, unit, why)
ASSUMPTIONS = {
	"stored_bytes": (25e15, "B", "the issue: 25 PB stored"),
	"files": (250e6, "files", "the issue: 250 M files (one blob each)"),
	"links_per_file": (1.0, "links/file",
			   "every file one link; deduplicated uploads would add "
			   "links, not blobs"),
	"visits_per_day": (50e6, "visits/day", "the issue: 50 M visits a day"),
	"downloads_per_visit": (0.5, "downloads/visit",
				"half the visits start a download (the rest "
				"browse, wait, give up, or upload)"),
	"completed_share": (0.8, "of a file",
			    "a download transfers 80 % of the file on average "
			    "(aborted and ranged downloads)"),
	"uploads_per_day": (0.5e6, "uploads/day",
			    "1 % of visits upload: 50 TB/day of new data at "
			    "100 MB a file"),
	"peak_factor": (2.0, "× mean",
			"busiest hour at twice the daily mean (one "
			"continent's evening)"),
	"pages_per_visit": (3.0, "requests/visit",
			    "download page, its ticket, the file's page or a "
			    "listing (static assets from a CDN or cache)"),
	"api_per_visit": (0.5, "requests/visit",
			  "API calls (CLI, account pages) per visit"),
	"check_ids_per_day": (10e6, "ids/day",
			      "link-checker ids a day (link sites checking "
			      "their lists), 1000 per request"),
	"premium_share": (0.3, "of download bytes",
			  "premium users fetch 30 % of the bytes"),
	"free_speed": (100 * 1024, "B/s",
		       "the free and anonymous tiers' cap (conf.c default 100K)"),
	"premium_speed": (2.5e6, "B/s",
			  "premium is uncapped: 20 Mbit/s, the client's line"),
	"node_cores": (16, "cores", "a download node: 16 cores"),
	"bench_cores": (2, "cores",
			"the benchmark machine: 2 vCPUs, partaged threads = 2"),
	"cpu_utilisation": (0.6, "of cores",
			    "plan nodes at 60 % CPU at peak"),
	"nic_gbit": (25.0, "Gbit/s", "one 25 GbE port per node"),
	"nic_utilisation": (0.8, "of NIC", "plan NICs at 80 % at peak"),
	"open_per_node": (10000, "downloads",
			  "the goal of docs/internals.md §6, measured on 2 cores: "
			  "bench/throttle.sh held 10 000 capped downloads with "
			  "a small GET at 0.83× its req/s (nginx limit_rate: "
			  "0.88×)"),
	"spare_nodes": (2, "nodes",
			"N+2: one down for maintenance, one failing"),
	"pg_bloat": (1.3, "×",
		     "dead tuples and page splits between autovacuums; WAL, "
		     "temp and the catalog outside the tables"),
	"pg_replicas": (2, "replicas", "a primary and two streaming replicas"),
	"ec_data": (8, "fragments", "erasure coding 8+4"),
	"ec_parity": (4, "fragments", "erasure coding 8+4"),
	"replicas": (3, "copies", "or plain 3× replication"),
	"fill": (0.8, "of raw", "keep disks under 80 % full (rebalancing, "
		 "recovery space)"),
	"drive_tb": (20.0, "TB", "20 TB nearline hard drives"),
	"drives_per_server": (24, "drives", "a 2U or 4U storage server"),
	"drive_mb_s": (100.0, "MB/s",
		       "a hard drive's sustained read under mixed large-object "
		       "load"),
}


def fnum(s):
	"""The first number in a table cell ("0.312", "15.1 ms", "1.85 s/GiB")."""
	m = re.search(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", s.replace(" ", ""))
	return float(m.group(0)) if m else None


def tables(path):
	"""Every Markdown table of a file: a list of (header cells, row cells)."""
	out, header = [], None
	with open(path, encoding="utf-8") as f:
		for line in f:
			line = line.strip()
			if not line.startswith("|"):
				header = None
				continue
			cells = [c.strip() for c in line.strip("|").split("|")]
			if header is None:
				header = [c.lower() for c in cells]
			elif not all(re.fullmatch(r":?-+:?", c) for c in cells if c):
				out.append((header, cells))
	return out


def cell(header, cells, column):
	"""The column's value in a row, or None."""
	if column == "cpu":
		for i, h in enumerate(header):
			if h.startswith("server cpu") and i < len(cells) and \
			   "/" in cells[i]:
				return fnum(cells[i].split("/")[1])
		return None
	if column in header:
		i = header.index(column)
		return fnum(cells[i]) if i < len(cells) else None
	return None


def find(path, row_re, column):
	for header, cells in tables(path):
		if cells and re.search(row_re, cells[0]):
			v = cell(header, cells, column)
			if v is not None:
				return v
	return None


def measured_values(results, sets):
	"""{key: (value, source)} for every measured input found."""
	vals = {}
	docs = os.path.join(ROOT, "docs", "benchmarks.md")
	for key, (_, _, pattern, row_re, column, _) in MEASURED.items():
		if key in sets:
			vals[key] = (sets[key], "--set")
			continue
		paths = sorted(glob.glob(os.path.join(results, pattern)),
			       reverse=True) if results else []
		for p in paths + [docs]:
			if not os.path.exists(p):
				continue
			v = find(p, row_re, column)
			if v is not None:
				vals[key] = (v, os.path.relpath(p, ROOT))
				break
	return vals


# ---- the model --------------------------------------------------------------

def fmt(x, digits=3):
	"""A number with `digits` significant digits and thin grouping."""
	if x == 0:
		return "0"
	if abs(x) >= 10 ** digits:
		return f"{round(x):,}".replace(",", " ")
	d = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
	s = f"{x:.{d}f}"
	return s


def num(x):
	"""A measured value as read: 6684.0 → 6684, 0.312 → 0.312."""
	return f"{x:g}"


def si(x, unit):
	"""Bytes (or bytes/s) in decimal units."""
	for p, name in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"),
			(1e3, "k")):
		if abs(x) >= p:
			return f"{fmt(x / p)} {name}{unit}"
	return f"{fmt(x)} {unit}"


def model(m, a):
	"""The derived figures: a list of (section, [(name, value, formula)])."""
	sec = []
	day = 86400.0

	# -- egress
	file_bytes = a["stored_bytes"] / a["files"]
	dl_day = a["visits_per_day"] * a["downloads_per_visit"]
	dl_bytes = file_bytes * a["completed_share"]
	egress_mean = dl_day * dl_bytes / day            # B/s
	egress_peak = egress_mean * a["peak_factor"]
	bw = [
		("mean file size", si(file_bytes, "B"),
		 f"stored_bytes / files = {si(a['stored_bytes'], 'B')} / "
		 f"{fmt(a['files'])}"),
		("downloads a day", fmt(dl_day),
		 f"visits_per_day × downloads_per_visit = "
		 f"{fmt(a['visits_per_day'])} × {a['downloads_per_visit']}"),
		("bytes a day out", si(dl_day * dl_bytes, "B"),
		 f"downloads × mean file size × completed_share "
		 f"({a['completed_share']})"),
		("mean egress", f"{fmt(egress_mean * 8 / 1e9)} Gbit/s",
		 "bytes a day × 8 / 86 400 s"),
		("**peak egress**", f"**{fmt(egress_peak * 8 / 1e9)} Gbit/s**",
		 f"mean × peak_factor ({a['peak_factor']})"),
	]
	sec.append(("Bandwidth", bw))

	# -- concurrency: capped downloads are long-lived connections
	free_bytes = egress_peak * (1 - a["premium_share"])
	prem_bytes = egress_peak * a["premium_share"]
	conc_free = free_bytes / a["free_speed"]
	conc_prem = prem_bytes / a["premium_speed"]

	# -- download nodes
	per_node_nic = a["nic_gbit"] * 1e9 / 8 * a["nic_utilisation"]
	peak_gib = egress_peak / GIB
	cores_dl = peak_gib * m["get_cpu_s_per_gib"]
	node_cpu = a["node_cores"] * a["cpu_utilisation"]
	by_cpu = math.ceil(cores_dl / node_cpu)
	by_nic = math.ceil(egress_peak / per_node_nic)
	by_conn = math.ceil((conc_free + conc_prem) / a["open_per_node"])
	stream_cores = m["get_gib_s"] * m["get_cpu_s_per_gib"]
	dl_nodes = max(by_cpu, by_nic, by_conn) + a["spare_nodes"]
	nodes = [
		("CPU to serve the peak", f"{fmt(cores_dl)} cores",
		 f"peak {fmt(peak_gib)} GiB/s × {num(m['get_cpu_s_per_gib'])} "
		 f"s/GiB (measured CPU per GiB, 1 GiB GET)"),
		("nodes by CPU", str(by_cpu),
		 f"cores / (node_cores {a['node_cores']} × cpu_utilisation "
		 f"{a['cpu_utilisation']})"),
		("nodes by NIC", str(by_nic),
		 f"peak / ({a['nic_gbit']} Gbit/s × {a['nic_utilisation']})"),
		("concurrent downloads at peak",
		 fmt(conc_free + conc_prem),
		 f"free {fmt(conc_free)} (bytes × {1 - a['premium_share']:.2f} / "
		 f"{si(a['free_speed'], 'B/s')}) + premium {fmt(conc_prem)} "
		 f"(bytes × {a['premium_share']} / "
		 f"{si(a['premium_speed'], 'B/s')})"),
		("nodes by open downloads", str(by_conn),
		 f"concurrent / open_per_node {a['open_per_node']}"),
		("**download nodes**", f"**{dl_nodes}**",
		 f"max(CPU, NIC, open downloads) + spare_nodes "
		 f"({a['spare_nodes']})"),
		("one stream, for comparison",
		 f"{fmt(m['get_gib_s'] * GIB * 8 / 1e9)} Gbit/s",
		 f"{num(m['get_gib_s'])} GiB/s measured using "
		 f"{fmt(stream_cores)} cores of the server: the client on the "
		 f"same 2 vCPUs bounded it, not partaged"),
	]
	if "s3_get_cpu_s_per_gib" in m:
		s3_cores = peak_gib * m["s3_get_cpu_s_per_gib"]
		nodes.append(("nodes by CPU, bytes streamed from S3",
			      str(math.ceil(s3_cores / node_cpu)),
			      f"peak × {num(m['s3_get_cpu_s_per_gib'])} s/GiB "
			      f"measured / ({a['node_cores']} × "
			      f"{a['cpu_utilisation']}); with s3_redirect = "
			      f"presigned the store serves the bytes instead"))
	sec.append(("Download nodes", nodes))

	# -- uploads
	up_mean = a["uploads_per_day"] * file_bytes / day
	up_peak = up_mean * a["peak_factor"]
	cores_up = up_peak / GIB * m["put_cpu_s_per_gib"]
	up_by_cpu = math.ceil(cores_up / node_cpu)
	up_by_nic = math.ceil(up_peak / per_node_nic)
	up_nodes = max(up_by_cpu, up_by_nic, 1) + a["spare_nodes"]
	sec.append(("Uploads", [
		("bytes a day in", si(a["uploads_per_day"] * file_bytes, "B"),
		 f"uploads_per_day {fmt(a['uploads_per_day'])} × mean file size"),
		("mean / peak ingress",
		 f"{fmt(up_mean * 8 / 1e9)} / {fmt(up_peak * 8 / 1e9)} Gbit/s",
		 f"× 8 / 86 400 s; × peak_factor"),
		("CPU to receive the peak", f"{fmt(cores_up)} cores",
		 f"peak GiB/s × {num(m['put_cpu_s_per_gib'])} s/GiB (measured: "
		 f"SHA-256 while writing, fsync)"),
		("one stream", f"{num(m['put_gib_s'])} GiB/s",
		 "measured 1 GiB PUT: a node takes many such streams"),
		("**upload nodes**", f"**{up_nodes}**",
		 f"max(by CPU {up_by_cpu}, by NIC {up_by_nic}) + spares "
		 f"(or the same nodes as downloads: uploads are "
		 f"{fmt(100 * up_peak / egress_peak)} % of the egress)"),
		("time to fill 25 PB at this rate",
		 f"{fmt(a['stored_bytes'] / (up_mean * day * 365))} years",
		 "stored_bytes / bytes a day in / 365"),
	]))

	# -- requests
	pages = a["visits_per_day"] * a["pages_per_visit"] / day
	api = a["visits_per_day"] * a["api_per_visit"] / day
	checks = a["check_ids_per_day"] / 1000 / day
	req_peak = (pages + api) * a["peak_factor"]
	small_node = m["small_rps"] * a["node_cores"] / a["bench_cores"] * \
		a["cpu_utilisation"]
	cores_req = req_peak * m["small_cpu_us"] / 1e6
	check_cores = checks * a["peak_factor"] * m["check_ms"] / 1e3
	sec.append(("Requests", [
		("pages + API, mean", f"{fmt(pages + api)} req/s",
		 f"visits × ({a['pages_per_visit']} + {a['api_per_visit']}) / "
		 f"86 400 s"),
		("pages + API, peak", f"{fmt(req_peak)} req/s",
		 f"× peak_factor {a['peak_factor']}"),
		("one node's small-request capacity", f"{fmt(small_node)} req/s",
		 f"{num(m['small_rps'])} req/s measured (4 KiB GET, -c64, "
		 f"{a['bench_cores']} cores) × {a['node_cores']}/"
		 f"{a['bench_cores']} × {a['cpu_utilisation']}"),
		("CPU for requests at peak", f"{fmt(cores_req)} cores",
		 f"peak × {num(m['small_cpu_us'])} µs/req measured: "
		 f"{fmt(100 * cores_req / (dl_nodes * a['node_cores']))} % of the "
		 f"download nodes' cores"),
		("link checks", f"{fmt(checks * a['peak_factor'], 3)} req/s peak, "
		 f"{fmt(check_cores)} cores",
		 f"{fmt(a['check_ids_per_day'])} ids a day / 1000 per request × "
		 f"peak_factor; × {num(m['check_ms'])} ms measured per request"),
	]))

	# -- PostgreSQL
	links = a["files"] * a["links_per_file"]
	blobs = a["files"]
	pg_data = links * m["pg_link_bytes"] + blobs * m["pg_blob_bytes"]
	pg_index = links * m["pg_link_index_bytes"] + \
		blobs * m["pg_blob_index_bytes"]
	pg_disk = pg_data * a["pg_bloat"]
	sec.append(("PostgreSQL", [
		("links / blobs rows", f"{fmt(links)} / {fmt(blobs)}",
		 f"files × links_per_file ({a['links_per_file']}) / files"),
		("links", si(links * m["pg_link_bytes"], "B"),
		 f"{num(m['pg_link_bytes'])} B a link measured (heap + indexes)"),
		("blobs", si(blobs * m["pg_blob_bytes"], "B"),
		 f"{num(m['pg_blob_bytes'])} B a blob measured (heap + index)"),
		("of which indexes", si(pg_index, "B"),
		 f"links {num(m['pg_link_index_bytes'])} B + blobs "
		 f"{num(m['pg_blob_index_bytes'])} B a row measured"),
		("links_pkey (every download's lookup)",
		 si(links * m["pg_pkey_bytes"], "B"),
		 f"{num(m['pg_pkey_bytes'])} B a link measured: keep it in RAM "
		 f"(shared_buffers + page cache)"),
		("**database on disk**", f"**{si(pg_disk, 'B')}**",
		 f"(links + blobs) × pg_bloat {a['pg_bloat']}"),
		("with replicas", si(pg_disk * (1 + a["pg_replicas"]), "B"),
		 f"× (1 + {a['pg_replicas']} replicas); users, tokens, audit "
		 f"and reports are small beside links and not counted"),
	] + ([
		("periodic work of the nodes",
		 f"{fmt(dl_nodes * m['pg_stmt_per_node'])} stmt/s, "
		 f"{fmt(dl_nodes * m['pg_cpu_per_node'] / 100)} cores",
		 f"{dl_nodes} nodes × {num(m['pg_stmt_per_node'])} stmt/s and "
		 f"{num(m['pg_cpu_per_node'])} % of a core measured per idle "
		 f"node (bench/cluster-sim.sh)"),
	] if "pg_stmt_per_node" in m and "pg_cpu_per_node" in m else [])))

	# -- object store
	raw_rep = a["stored_bytes"] * a["replicas"]
	ec = (a["ec_data"] + a["ec_parity"]) / a["ec_data"]
	raw_ec = a["stored_bytes"] * ec
	drive = a["drive_tb"] * 1e12
	dr_rep = math.ceil(raw_rep / a["fill"] / drive)
	dr_ec = math.ceil(raw_ec / a["fill"] / drive)
	srv_rep = math.ceil(dr_rep / a["drives_per_server"])
	srv_ec = math.ceil(dr_ec / a["drives_per_server"])
	per_drive = egress_peak / dr_ec / 1e6
	sec.append(("Object store", [
		("raw, 3× replication", si(raw_rep, "B"),
		 f"stored × {a['replicas']}"),
		(f"raw, EC {a['ec_data']}+{a['ec_parity']}", si(raw_ec, "B"),
		 f"stored × ({a['ec_data']}+{a['ec_parity']})/{a['ec_data']} "
		 f"= × {fmt(ec)}"),
		("drives (replication / EC)", f"{dr_rep} / {dr_ec}",
		 f"raw / fill {a['fill']} / {a['drive_tb']} TB"),
		("**storage servers (replication / EC)**",
		 f"**{srv_rep} / {srv_ec}**",
		 f"drives / {a['drives_per_server']} a server"),
		("peak read per drive, EC", f"{fmt(per_drive)} MB/s",
		 f"peak egress / {dr_ec} drives, against drive_mb_s "
		 f"{a['drive_mb_s']} MB/s: "
		 + ("fits" if per_drive < a["drive_mb_s"] else "does NOT fit")),
	]))
	return sec, dl_nodes, up_nodes, srv_rep, srv_ec


def render(m, msrc, a, asrc):
	out = []
	w = out.append
	w("Generated by `scripts/capacity.py --published --write "
	  "docs/scaling.md` from the one-node results published in "
	  "docs/benchmarks.md; without `--published` the script prefers the "
	  "newest tables in `bench/results/`, which `bench/download.sh`, "
	  "`bench/upload.sh`, `bench/check.sh`, `bench/dbsize.sh`, "
	  "`bench/backends.sh` and `bench/cluster-sim.sh` write. Any value below can be replaced with "
	  "`--set KEY=VALUE`: the model is a table of inputs, every figure "
	  "shows the inputs it came from.")
	w("")
	w("### Measured on one node")
	w("")
	w("| key | what | value | from |")
	w("|---|---|---:|---|")
	for key, (what, unit, *_rest) in MEASURED.items():
		if key in m:
			w(f"| `{key}` | {what} | {num(m[key])} {unit} | "
			  f"{msrc[key]} |")
		else:
			w(f"| `{key}` | {what} | – | not measured yet |")
	w("")
	w("The benchmark machine is a shared 2-vCPU VM (docs/benchmarks.md): "
	  "its throughput is noisy, its CPU cost per GiB and per request much "
	  "less so, which is why node counts come from CPU cost first.")
	w("")
	w("### Assumptions")
	w("")
	w("| key | value | why |")
	w("|---|---:|---|")
	for key, (_, unit, why) in ASSUMPTIONS.items():
		v = a[key]
		if unit in ("B", "B/s"):
			shown = si(v, unit)
		else:
			shown = (fmt(v) if isinstance(v, float) else str(v)) + \
				" " + unit
		src = "" if asrc[key] == "default" else " (--set)"
		w(f"| `{key}` | {shown} | {why}{src} |")
	w("")
	sections, dl, up, srv_rep, srv_ec = model(m, a)
	for title, rows in sections:
		w(f"### {title}")
		w("")
		w("| figure | value | from |")
		w("|---|---:|---|")
		for name, value, formula in rows:
			w(f"| {name} | {value} | {formula} |")
		w("")
	w("### In short")
	w("")
	w(f"{dl} partaged nodes carry the downloads and, with room to spare, "
	  f"the pages, API and uploads ({up} if uploads get nodes of their "
	  f"own); one PostgreSQL primary with replicas holds the metadata; "
	  f"{srv_ec} storage servers with erasure coding, or {srv_rep} with "
	  f"3× replication, hold the bytes. Megaupload ran over a thousand "
	  f"servers: most of them were disks.")
	return "\n".join(out) + "\n"


BEGIN = "<!-- capacity.py: generated from here -->\n"
END = "<!-- capacity.py: generated up to here -->\n"


def write_between(path, text):
	"""Replace what lies between BEGIN and END in `path` with `text`."""
	with open(path, encoding="utf-8") as f:
		doc = f.read()
	i, j = doc.find(BEGIN), doc.find(END)
	if i < 0 or j < i:
		sys.exit(f"capacity: '{path}': no capacity markers ({BEGIN.strip()}"
			 f" … {END.strip()})")
	doc = doc[:i + len(BEGIN)] + text + doc[j:]
	with open(path, "w", encoding="utf-8") as f:
		f.write(doc)
	return 0


def parse_sets(items):
	sets = {}
	for it in items:
		k, sep, v = it.partition("=")
		if not sep:
			sys.exit(f"capacity: --set '{it}': expected KEY=VALUE")
		if k not in MEASURED and k not in ASSUMPTIONS:
			sys.exit(f"capacity: --set '{k}': unknown key (see --list)")
		try:
			sets[k] = float(v)
		except ValueError:
			sys.exit(f"capacity: --set '{k}': '{v}' is not a number")
	return sets


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--results", default=os.path.join(ROOT, "bench",
							  "results"),
			help="directory of benchmark results (bench/results)")
	ap.add_argument("--published", action="store_true",
			help="read docs/benchmarks.md only, not bench/results "
			"(what docs/scaling.md shows)")
	ap.add_argument("--set", action="append", default=[],
			metavar="KEY=VALUE", help="replace a measured or assumed value")
	ap.add_argument("--write", metavar="FILE",
			help="replace the text between the capacity markers of "
			"FILE (docs/scaling.md) instead of printing")
	ap.add_argument("--list", action="store_true",
			help="list every key, its value and its source")
	args = ap.parse_args()
	sets = parse_sets(args.set)

	found = measured_values(None if args.published else args.results, sets)
	m = {k: v for k, (v, _) in found.items()}
	msrc = {k: s for k, (_, s) in found.items()}
	a, asrc = {}, {}
	for key, (v, *_rest) in ASSUMPTIONS.items():
		a[key] = sets.get(key, v)
		if isinstance(v, int) and key in sets:
			a[key] = int(sets[key])
		asrc[key] = "--set" if key in sets else "default"

	if args.list:
		for key in MEASURED:
			print(f"{key} = {m.get(key, '-')}  "
			      f"[measured: {msrc.get(key, 'not found')}]")
		for key in ASSUMPTIONS:
			print(f"{key} = {a[key]}  [assumed: {asrc[key]}]")
		return 0
	missing = [k for k, d in MEASURED.items() if not d[5] and k not in m]
	if missing:
		sys.exit("capacity: not measured: " + ", ".join(missing) +
			 " (run the benchmark that writes it, or --set KEY=VALUE)")
	text = render(m, msrc, a, asrc)
	if args.write:
		return write_between(args.write, text)
	sys.stdout.write(text)
	return 0


if __name__ == "__main__":
	sys.exit(main())
