#!/usr/bin/python3
"""ops.monitoring_rules: the alert rules, dashboards and Prometheus configurations of ops/monitoring,
checked without a cluster.

- `promtool check rules` passes on ops/monitoring/prometheus/rules.yml; every alert has `for`, a
  severity (critical, warning, info), a summary, a description, a runbook and a runbook_url whose
  anchor is a heading of docs/operations.md;
- every query of every dashboard (ops/monitoring/grafana/dashboards/*.json), Grafana's variables
  replaced by sample values, parses: each is a recording rule of a generated rules file that
  `promtool check rules` reads; the dashboards are what generate-dashboards writes, use the data
  source variable DS_PROMETHEUS and define every variable they use;
- every metric name in the rules and the dashboards is an exported family
  (ops/monitoring/metric-families.txt, which ops.metrics_live checks against a running cluster), and
  every label a selector matches on is one of the family's or a target label;
- every family is documented in docs/operations.md;
- `promtool check config` passes on ops/monitoring/prometheus/prometheus.yml and on the
  configuration ops/cluster writes for a local cluster (its function called on made-up nodes), and
  the Grafana provisioning files are well-formed.

Usage: monitoring_rules.py [SOURCE_DIR]   (default: the tree this file is in). Exit 0 ok, 1 failure.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.machinery
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import monitoring_common as mc  # noqa: E402

SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = ("summary", "description", "runbook", "runbook_url")
# What the dashboards' own variables stand for when their queries are checked.
SAMPLES = {"node": "cp1", "ct": "00000000-0000-4000-8000-000000000000"}

problems: list[str] = []


def fail(text: str) -> None:
    problems.append(text)
    print(f"  FAIL {text}", flush=True)


def ok(text: str) -> None:
    print(f"  ok   {text}", flush=True)


def show_promtool(res: subprocess.CompletedProcess) -> None:
    for line in (res.stdout + res.stderr).strip().splitlines():
        print(f"       | {line}")


def doc_anchors(path: str) -> set[str]:
    """GitHub's anchors of the headings of a Markdown file (lower case, punctuation dropped, spaces
    to hyphens), and explicit <a id="..."> anchors."""
    anchors = set()
    in_code = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            if in_code:
                continue
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                text = re.sub(r"`", "", m.group(1)).strip().lower()
                anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
            anchors.update(re.findall(r'<a (?:id|name)="([^"]+)"', line))
    return anchors


def check_rules(src: str, families: dict[str, mc.Family], anchors: set[str]) -> None:
    print("alert rules: ops/monitoring/prometheus/rules.yml")
    path = os.path.join(src, "ops", "monitoring", "prometheus", "rules.yml")
    res = mc.promtool(["check", "rules", path])
    show_promtool(res)
    if res.returncode != 0:
        fail(f"promtool check rules {path} exited {res.returncode}")
    else:
        ok("promtool check rules")
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    names: set[str] = set()
    count = 0
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            count += 1
            name = rule.get("alert") or rule.get("record")
            where = f"{group.get('name')}/{name}"
            if "alert" in rule:
                if name in names:
                    fail(f"{where}: alert name used twice")
                names.add(name)
                if "for" not in rule:
                    fail(f"{where}: no `for:`")
                severity = (rule.get("labels") or {}).get("severity")
                if severity not in SEVERITIES:
                    fail(f"{where}: severity {severity!r} is not one of {sorted(SEVERITIES)}")
                ann = rule.get("annotations") or {}
                for key in ANNOTATIONS:
                    if not str(ann.get(key, "")).strip():
                        fail(f"{where}: no annotation {key}")
                url = str(ann.get("runbook_url", ""))
                m = re.fullmatch(r"docs/operations\.md#([\w-]+)", url)
                if not m:
                    fail(f"{where}: runbook_url {url!r} is not docs/operations.md#ANCHOR")
                elif m.group(1) not in anchors:
                    fail(f"{where}: runbook_url {url}: docs/operations.md has no heading with that anchor")
            for p in mc.check_expression(rule.get("expr", ""), families):
                fail(f"{where}: {p}")
    ok(f"{count} rules, {len(names)} alerts: severities, annotations, runbook anchors and names checked")


def check_dashboards(src: str, families: dict[str, mc.Family], tmp: str) -> None:
    print("dashboards: ops/monitoring/grafana/dashboards")
    ddir = os.path.join(src, "ops", "monitoring", "grafana", "dashboards")
    files = sorted(glob.glob(os.path.join(ddir, "*.json")))
    expected = {"tree.json", "node.json", "cts.json", "mpc.json"}
    if {os.path.basename(f) for f in files} != expected:
        fail(f"dashboards are {[os.path.basename(f) for f in files]}, expected {sorted(expected)}")
    uids: set[str] = set()
    rules = []
    for path in files:
        name = os.path.basename(path)
        try:
            with open(path, encoding="utf-8") as f:
                board = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"{name}: not JSON: {e}")
            continue
        uid = board.get("uid")
        if not uid or uid in uids:
            fail(f"{name}: uid {uid!r} missing or used twice")
        uids.add(uid)
        variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
        ds = variables.get("DS_PROMETHEUS")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            fail(f"{name}: no data source variable DS_PROMETHEUS of type prometheus")
        n_panels = 0
        for p in mc.panels(board):
            if p.get("type") == "row":
                continue
            n_panels += 1
            title = p.get("title")
            if not title or not p.get("targets"):
                fail(f"{name}: panel {p.get('id')} has no title or no query")
            for obj in [p] + list(p.get("targets", [])):
                if (obj.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
                    fail(f"{name}: panel {title!r}: data source is not ${{DS_PROMETHEUS}}")
                    break
        queries = mc.dashboard_queries(board)
        for q in queries:
            for var in mc.grafana_variables(q.expr):
                if var not in variables and var not in mc.GRAFANA_BUILTINS:
                    fail(f"{name}: {q.where}: variable ${var} is not defined")
            expr = mc.substitute(q.expr, SAMPLES)
            for p in mc.check_expression(expr, families):
                fail(f"{name}: {q.where}: {p}")
            rules.append({"record": f"joconde:dashboard_check:{len(rules)}", "expr": expr,
                          "labels": {"dashboard": name, "query": q.where[:200]}})
        ok(f"{name}: {n_panels} panels, {len(queries)} queries, names and labels checked")
    check_file = os.path.join(tmp, "dashboard-queries.rules.yml")
    with open(check_file, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f, sort_keys=False, width=1000)
    res = mc.promtool(["check", "rules", check_file])
    if res.returncode != 0:
        show_promtool(res)
        fail(f"promtool check rules on the dashboards' {len(rules)} queries exited {res.returncode}")
    else:
        ok(f"promtool check rules: every one of the {len(rules)} dashboard queries parses")
    # The committed JSON is what the generator writes.
    gen = os.path.join(src, "ops", "monitoring", "grafana", "generate-dashboards")
    out = os.path.join(tmp, "generated")
    res = subprocess.run(["/usr/bin/python3", gen, "--out", out], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        fail(f"generate-dashboards exited {res.returncode}: {res.stderr.strip()}")
        return
    stale = [os.path.basename(p) for p in sorted(glob.glob(os.path.join(out, "*.json")))
             if not os.path.exists(os.path.join(ddir, os.path.basename(p)))
             or open(p, "rb").read() != open(os.path.join(ddir, os.path.basename(p)), "rb").read()]
    if stale:
        fail(f"dashboards differ from what generate-dashboards writes: {', '.join(stale)} "
             "(run ops/monitoring/grafana/generate-dashboards and commit)")
    else:
        ok("the dashboards are what generate-dashboards writes")


def check_provisioning(src: str) -> None:
    print("Grafana provisioning: ops/monitoring/grafana/provisioning")
    base = os.path.join(src, "ops", "monitoring", "grafana", "provisioning")
    try:
        with open(os.path.join(base, "datasources", "joconde.yml"), encoding="utf-8") as f:
            ds = yaml.safe_load(f)
        with open(os.path.join(base, "dashboards", "joconde.yml"), encoding="utf-8") as f:
            db = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(f"provisioning: {e}")
        return
    if ds.get("apiVersion") != 1 or not any(d.get("type") == "prometheus" for d in ds.get("datasources", [])):
        fail("datasources/joconde.yml: apiVersion 1 with a data source of type prometheus expected")
    if db.get("apiVersion") != 1 or not any(p.get("type") == "file" and (p.get("options") or {}).get("path")
                                            for p in db.get("providers", [])):
        fail("dashboards/joconde.yml: apiVersion 1 with a file provider and its path expected")
    ok("data source and dashboard provider")


def load_cluster_module(src: str):
    path = os.path.join(src, "ops", "cluster")
    loader = importlib.machinery.SourceFileLoader("ops_cluster", path)
    spec = importlib.util.spec_from_loader("ops_cluster", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ops_cluster"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def check_configs(src: str, tmp: str) -> None:
    print("Prometheus configurations")
    example = os.path.join(src, "ops", "monitoring", "prometheus", "prometheus.yml")
    res = mc.promtool(["check", "config", example])
    show_promtool(res)
    if res.returncode != 0:
        fail(f"promtool check config {example} exited {res.returncode}")
    else:
        ok("promtool check config ops/monitoring/prometheus/prometheus.yml")
    # The configuration `ops/cluster up` writes, for made-up nodes on IPv4 and IPv6 loopback.
    cluster = load_cluster_module(src)
    for host, tag in (("127.0.0.1", "ipv4"), ("[::1]", "ipv6")):
        cdir = os.path.join(tmp, f"cluster-{tag}")
        nodes = [{"name": spec.name, "role": spec.role, "metrics_url": f"http://{host}:{19100 + i}"}
                 for i, spec in enumerate(cluster.NODES)]
        with contextlib.redirect_stdout(io.StringIO()):
            cluster.write_prometheus_config(cdir, nodes)
        path = os.path.join(cdir, "prometheus", "prometheus.yml")
        if not os.path.exists(path):
            fail(f"ops/cluster wrote no {path}")
            continue
        res = mc.promtool(["check", "config", path])
        if res.returncode != 0:
            show_promtool(res)
            fail(f"promtool check config on ops/cluster's configuration ({tag}) exited {res.returncode}")
            continue
        problems_here = mc.cluster_config_problems(
            path, nodes, os.path.join(src, "ops", "monitoring", "prometheus", "rules.yml"))
        for p in problems_here:
            fail(f"ops/cluster's configuration ({tag}): {p}")
        if not problems_here:
            ok(f"promtool check config on the configuration ops/cluster writes ({tag} loopback); its jobs")


def check_docs(src: str, families: dict[str, mc.Family]) -> None:
    print("docs/operations.md documents every family")
    with open(os.path.join(src, "docs", "operations.md"), encoding="utf-8") as f:
        text = f.read()
    missing = [n for n in families if not re.search(r"`" + re.escape(n) + r"(\{[^`]*\})?`", text)]
    if missing:
        fail("not documented in docs/operations.md: " + ", ".join(missing))
    else:
        ok(f"all {len(families)} families")


def check_checker(families: dict[str, mc.Family]) -> None:
    """The name check itself: it must find what is wrong (the negative twins) and nothing else."""
    print("the name check finds unexported names, unknown labels and selectors it cannot read")
    for expr in ("rate(joconde_not_exported_total[5m])", 'joconde_links_up{reason="x"}',
                 '{__name__=~"joconde_.*"}', "joconde_build_info_bucket",
                 'histogram_quantile(0.9, rate(joconde_upload_duration_seconds_sum{le="1"}[5m]))'):
        if not mc.check_expression(expr, families):
            fail(f"the name check accepts {expr!r}")
    for expr in ('sum by (peer, reason, foo) (joconde_links_up{node="a", job="b"}) or vector(0)',
                 "histogram_quantile(0.5, sum by (le) (rate(joconde_http_request_duration_seconds_bucket{le!=\"\"}[5m])))",
                 "up{ct!=\"\"} == 0 and on (job) (time() - process_start_time_seconds offset 1h) > 0"):
        if mc.check_expression(expr, families):
            fail(f"the name check refuses {expr!r}: {mc.check_expression(expr, families)}")
    ok("5 wrong expressions refused, 3 right ones accepted")


def main(argv: list[str]) -> int:
    src = os.path.abspath(argv[0]) if argv else mc.SOURCE_DIR
    mc.need_promtool()
    families = mc.load_families(os.path.join(src, "ops", "monitoring", "metric-families.txt"))
    print(f"{len(families)} exported families in ops/monitoring/metric-families.txt")
    check_checker(families)
    anchors = doc_anchors(os.path.join(src, "docs", "operations.md"))
    with tempfile.TemporaryDirectory(prefix="joconde-monitoring-") as tmp:
        check_rules(src, families, anchors)
        check_dashboards(src, families, tmp)
        check_provisioning(src)
        check_configs(src, tmp)
    check_docs(src, families)
    if problems:
        print(f"ops.monitoring_rules: {len(problems)} problem(s)")
        return 1
    print("ops.monitoring_rules: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
