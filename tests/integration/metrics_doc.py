#!/usr/bin/env python3
"""metrics_doc.py: every metric family a running pod exports is documented in docs/operations.md.

    metrics_doc.py DOC PENDING_TSV SCRAPE...

SCRAPE files are /metrics texts of the stages. The doc's metric tables (rows whose first cell is a
backticked metric name, then type, then labels) must list every exported family with its type and
every label name seen on its series (`le` of histograms aside). Names in PENDING_TSV (exported name
now, new name) are looked up under their new name: the doc documents what the metric will be called.
Prints "ok: ..." or "FAIL: ..." lines; exit 1 on any failure.
"""
import re
import sys

doc_path, pending_path, scrapes = sys.argv[1], sys.argv[2], sys.argv[3:]

pending = {}
for line in open(pending_path, encoding="utf-8"):
    if line.strip() and not line.startswith("#"):
        old, new = line.rstrip("\n").split("\t")[:2]
        pending[old] = new

ROW = re.compile(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram)\s*\|([^|]*)\|")
documented = {}
for line in open(doc_path, encoding="utf-8"):
    m = ROW.match(line)
    if m:
        documented[m.group(1)] = (m.group(2), set(re.findall(r"`([a-zA-Z_][a-zA-Z0-9_]*)`", m.group(3))))

families = {}  # name -> [type, set of label names]
for path in scrapes:
    for line in open(path, encoding="utf-8"):
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            families.setdefault(name, [typ, set()])
        elif line.strip() and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ", line)
            if not m:
                continue
            name = m.group(1)
            if name not in families:
                name = re.sub(r"_(bucket|sum|count)$", "", name)
            if name in families and m.group(3):
                families[name][1].update(k for k in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3)) if k != "le")

bad = 0
for name, (typ, labels) in sorted(families.items()):
    doc_name = pending.get(name, name)
    if doc_name not in documented:
        print(f"FAIL: {name} is exported but not documented in {doc_path}" +
              (f" (as {doc_name}, its pending new name)" if doc_name != name else ""))
        bad += 1
        continue
    dtyp, dlabels = documented[doc_name]
    if dtyp != typ:
        print(f"FAIL: {name} is a {typ}, documented as a {dtyp}")
        bad += 1
    for label in sorted(labels - dlabels):
        print(f"FAIL: {name} has label {label}, not in its row of {doc_path}")
        bad += 1
if not bad:
    print(f"ok: all {len(families)} exported metric families are documented with their type and labels")
sys.exit(1 if bad else 0)
