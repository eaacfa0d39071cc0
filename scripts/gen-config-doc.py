#!/usr/bin/env python3
"""gen-config-doc.py — rewrite the "## Keys" section of docs/configuration.md
from `partaged --help-config`, so the page always matches the config table
(src/conf.c).  Usage: scripts/gen-config-doc.py [bin/partaged]"""
import re
import subprocess
import sys

exe = sys.argv[1] if len(sys.argv) > 1 else "bin/partaged"
out = subprocess.run([exe, "--help-config"], capture_output=True, text=True, check=True).stdout
keys, cur = [], None
for line in out.splitlines()[1:]:
    m = re.match(r"^  (\S+)\s+(.+?)\s+default '(.*)'$", line)
    if m:
        cur = {"key": m.group(1), "type": m.group(2), "def": m.group(3), "help": [], "env": ""}
        keys.append(cur)
    elif cur and line.strip().startswith("env "):
        cur["env"] = ", ".join("`%s`" % e for e in line.strip()[4:].split(" or "))
    elif cur and line.strip():
        cur["help"].append(line.strip())
sections = []
for k in keys:
    sec, name = k["key"].rsplit(".", 1)
    if not sections or sections[-1][0] != sec:
        sections.append((sec, []))
    sections[-1][1].append((name, k))
md = ["## Keys", "", "Generated from the table in src/conf.c by scripts/gen-config-doc.py.", ""]
for sec, items in sections:
    md += ["### [%s]" % sec, "", "| key | type | default | env | meaning |", "|---|---|---|---|---|"]
    for name, k in items:
        d = "`%s`" % k["def"] if k["def"] else '`""`'
        md.append("| `%s` | %s | %s | %s | %s |" % (name, k["type"], d, k["env"],
                                                  " ".join(k["help"]).replace("|", "\\|")))
    md.append("")
doc = open("docs/configuration.md").read()
head, _, _ = doc.partition("## Keys")
open("docs/configuration.md", "w").write(head + "\n".join(md))
