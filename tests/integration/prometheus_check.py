#!/usr/bin/env python3
"""prometheus_check.py: the dashboard's queries and the alert rules against a real Prometheus.

    prometheus_check.py PROM_URL DASHBOARD_JSON POD_REGEX RATE_INTERVAL EXPECT_FIRING [KNOWN_FALSE [MAY_PEND]]

- every target of every panel of the Grafana dashboard, with $pod = POD_REGEX (e.g. "(a|b)", what
  Grafana writes for several selected pods) and $__rate_interval = RATE_INTERVAL,
  must evaluate without error and return at least one series with a number (not NaN): a panel
  with no data is a failure;
- every template variable query label_values(metric, label) must offer every pod of POD_REGEX;
- every rule Prometheus loaded (the rules file extracted from k8s/prometheusrule.yaml) must be
  healthy (evaluated without error), and its expression must also evaluate through the query API;
- the alerts named in EXPECT_FIRING (comma-separated) must be firing for the first pod, and no
  other alert may be active (pending or firing), except those in KNOWN_FALSE (comma-separated),
  which must be active: once one is not, it was fixed and must leave the list; alerts in MAY_PEND
  (comma-separated: those a fault of the test may start, whose `for` outlasts the test) may be
  pending, never firing.
Standard library only; prints "ok: ..." / "FAIL: ..." lines, exit 1 on any failure.
"""
import json
import math
import re
import sys
import urllib.parse
import urllib.request

url, dashboard_path, pod, rate_interval, expect = sys.argv[1:6]
known_false = [a for a in (sys.argv[6] if len(sys.argv) > 6 else "").split(",") if a]
may_pend = [a for a in (sys.argv[7] if len(sys.argv) > 7 else "").split(",") if a]
expect_firing = [a for a in expect.split(",") if a]
pods = pod.strip("()").split("|")
failures = []


def api(path, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(f"{url}{path}?{q}", timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(body.get("error", body))
    return body["data"]


def query(expr):
    try:
        return api("/api/v1/query", query=expr), None
    except urllib.error.HTTPError as e:
        return None, json.load(e).get("error", str(e))
    except Exception as e:  # noqa: BLE001 - any failure is the test's finding
        return None, str(e)


def substitute(expr):
    return expr.replace("$__rate_interval", rate_interval).replace("${pod}", pod).replace("$pod", pod)


dash = json.load(open(dashboard_path, encoding="utf-8"))

# template variables
for var in dash.get("templating", {}).get("list", []):
    if var.get("type") != "query":
        continue
    q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
    m = re.fullmatch(r"\s*label_values\((\w+),\s*(\w+)\)\s*", q)
    if not m:
        failures.append(f"variable {var['name']}: query {q!r} is not label_values(metric, label)")
        continue
    values = api(f"/api/v1/label/{m.group(2)}/values", **{"match[]": m.group(1)})
    if not set(pods) <= set(values):
        failures.append(f"variable {var['name']}: {q} offers {values}, not all of {pods}")
    else:
        print(f"ok: variable ${var['name']} = {q} offers {values}")

# panels
panels, no_data = 0, []
for p in dash["panels"]:
    for t in p.get("targets", []):
        panels += 1
        expr = substitute(t["expr"])
        data, err = query(expr)
        where = f"panel {p['id']} \"{p['title']}\" {t['refId']}"
        if err:
            failures.append(f"{where}: {expr}: {err}")
            continue
        values = [float(r["value"][1]) for r in data["result"]]
        finite = [v for v in values if not math.isnan(v)]
        if not finite:
            no_data.append(where)
            failures.append(f"{where}: no data ({len(values)} series, all NaN) for {expr}")
        else:
            series = ", ".join(
                "{" + ",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())) + "} " + r["value"][1]
                for r in data["result"][:3])
            print(f"ok: {where}: {len(finite)} series: {series}{' ...' if len(data['result']) > 3 else ''}")
print(f"{'ok' if not no_data else 'FAIL'}: {panels - len(no_data)} of {panels} dashboard queries returned data")

# rules, as Prometheus evaluated them
groups = api("/api/v1/rules")["groups"]
rules = [r for g in groups for r in g["rules"]]
if not rules:
    failures.append("Prometheus loaded no rules")
for r in rules:
    if r.get("health") != "ok":
        failures.append(f"rule {r['name']}: health {r.get('health')}: {r.get('lastError')}")
    data, err = query(r["query"])
    if err:
        failures.append(f"rule {r['name']}: query API: {err}")
    else:
        print(f"ok: rule {r['name']}: healthy, state {r.get('state', '-')}, "
              f"{len(data['result'])} series now")
alerts = api("/api/v1/alerts")["alerts"]
for name in expect_firing:
    if not any(a["labels"].get("alertname") == name and a["state"] == "firing" and
               a["labels"].get("pod") == pods[0] for a in alerts):
        failures.append(f"alert {name} is not firing for {pods[0]}: {[(a['labels'], a['state']) for a in alerts]}")
    else:
        print(f"ok: alert {name} fires for {pods[0]}")
for a in alerts:
    name = a["labels"].get("alertname")
    if name in known_false:
        print(f"note: {name} is {a['state']} ({a['labels']}): known false alert, see the test")
    elif name in may_pend and a["state"] == "pending":
        print(f"note: {name} is pending ({a['labels'].get('pod')}): a fault of the test may start it")
    elif name not in expect_firing:
        failures.append(f"alert {name} is {a['state']} but nothing should trigger it: {a['labels']}")
for name in known_false:
    if not any(a["labels"].get("alertname") == name for a in alerts):
        failures.append(f"{name} is no longer active: its bug is fixed, remove it from the known false alerts")

for f in failures:
    print(f"FAIL: {f}")
sys.exit(1 if failures else 0)
