"""What the monitoring tests share (tests/ops/monitoring_rules.py, tests/ops/monitoring_live.py): the
list of exported metric families (ops/monitoring/metric-families.txt), the metric names and label
matchers a PromQL expression uses, the queries of a Grafana dashboard, and the families a /metrics
text declares. Python 3 standard library and python3-yaml only."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Iterator, Optional

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
MONITORING_DIR = os.path.join(SOURCE_DIR, "ops", "monitoring")
FAMILIES_FILE = os.path.join(MONITORING_DIR, "metric-families.txt")
RULES_FILE = os.path.join(MONITORING_DIR, "prometheus", "rules.yml")
PROMETHEUS_FILE = os.path.join(MONITORING_DIR, "prometheus", "prometheus.yml")
DASHBOARDS_DIR = os.path.join(MONITORING_DIR, "grafana", "dashboards")
PROMTOOL = "/usr/bin/promtool"

# Kinds of scrape target; `node` in metric-families.txt stands for the three node kinds.
NODE_KINDS = ("root", "cp", "client")
KINDS = NODE_KINDS + ("vm",)
TYPES = ("counter", "gauge", "histogram")
# Series Prometheus makes itself for every target: the expressions may use them.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
             "scrape_series_added"}
# Labels the scrape configurations add (job and instance: Prometheus; node and role: a node's
# target; node and ct: a CT VM's, from its CP's /metrics/targets).
TARGET_LABELS = {"job", "instance", "node", "role", "ct"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def need_promtool() -> str:
    path = PROMTOOL if os.access(PROMTOOL, os.X_OK) else shutil.which("promtool")
    if not path:
        raise SystemExit("promtool is not installed: ./ops/install-deps installs it (Debian package prometheus)")
    return path


def promtool(args: list[str], stdin: Optional[str] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([need_promtool()] + args, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


# -- metric-families.txt ------------------------------------------------------------------------------


@dataclass
class Family:
    name: str
    type: str
    kinds: tuple[str, ...]
    labels: tuple[str, ...]
    lazy: bool = False
    where: str = ""  # WHERE as written (node, cp, root,client, ...)


def parse_families(text: str, path: str = FAMILIES_FILE) -> dict[str, Family]:
    """The families of metric-families.txt, in file order; SystemExit naming the line when one is
    malformed."""
    out: dict[str, Family] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        where = f"{path}:{number}"
        if len(parts) not in (4, 5) or (len(parts) == 5 and parts[4] != "lazy"):
            raise SystemExit(f"{where}: want NAME TYPE WHERE LABELS [lazy], got {raw!r}")
        name, kind, scope, labels = parts[:4]
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
            raise SystemExit(f"{where}: {name!r} is not a metric name")
        if kind not in TYPES:
            raise SystemExit(f"{where}: type {kind!r} is not one of {', '.join(TYPES)}")
        kinds: list[str] = []
        for k in scope.split(","):
            if k == "node":
                kinds.extend(NODE_KINDS)
            elif k in KINDS:
                kinds.append(k)
            else:
                raise SystemExit(f"{where}: {k!r} is not a kind of target (node, {', '.join(KINDS)})")
        label_names = () if labels == "-" else tuple(labels.split(","))
        for label in label_names:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label):
                raise SystemExit(f"{where}: {label!r} is not a label name")
        if name in out:
            raise SystemExit(f"{where}: {name} is listed twice")
        if kind == "counter" and not name.endswith("_total"):
            raise SystemExit(f"{where}: counter {name} does not end in _total")
        out[name] = Family(name, kind, tuple(dict.fromkeys(kinds)), label_names, len(parts) == 5, scope)
    return out


def load_families(path: str = FAMILIES_FILE) -> dict[str, Family]:
    with open(path, encoding="utf-8") as f:
        return parse_families(f.read(), path)


def family_of(series: str, families: dict[str, Family]) -> Optional[Family]:
    """The family a series name belongs to: itself, or a histogram's _bucket, _sum or _count."""
    if series in families:
        return families[series]
    for suffix in HISTOGRAM_SUFFIXES:
        if series.endswith(suffix):
            base = families.get(series[: -len(suffix)])
            if base is not None and base.type == "histogram":
                return base
    return None


# -- PromQL: the metric names and matchers an expression uses ------------------------------------------

# Words that are never metric names where they appear: keywords, and aggregation operators that may
# be followed by `by`/`without` instead of `(`.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "atan2", "inf", "nan"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:[a-zA-Z]+\d*)*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@:])
""", re.VERBOSE)


@dataclass
class Selector:
    """A vector selector: the metric name and the label names its matchers use."""
    name: str
    labels: list[str] = field(default_factory=list)


def tokens(expr: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read {expr[pos:pos + 20]!r} at {pos}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "space":
            out.append((kind, m.group()))
    return out


def _matchers(toks: list[tuple[str, str]], i: int) -> tuple[list[str], int, bool]:
    """Label names of the matchers in `{...}` starting at toks[i] == '{'; the index after '}' and
    whether a matcher names __name__."""
    labels = []
    by_name = False
    i += 1
    while i < len(toks) and toks[i][1] != "}":
        kind, text = toks[i]
        if kind in ("ident", "string") and i + 1 < len(toks) and toks[i + 1][1] in ("=", "!=", "=~", "!~"):
            label = text.strip("\"'`") if kind == "string" else text
            if label == "__name__":
                by_name = True
            labels.append(label)
            i += 3
            continue
        i += 1
    return labels, i + 1, by_name


def selectors(expr: str) -> list[Selector]:
    """The vector selectors of a PromQL expression (which promtool has parsed or will parse).
    ValueError for a selector by __name__ (the check could not tell which families it reads)."""
    toks = tokens(expr)
    out: list[Selector] = []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "op" and text == "{":  # a selector without a name: {job="x"}
            _, i, by_name = _matchers(toks, i)
            raise ValueError("a selector without a metric name" + (" (by __name__)" if by_name else ""))
        if kind == "op" and text == "[":  # a range or subquery: durations only
            while i < len(toks) and toks[i][1] != "]":
                i += 1
            i += 1
            continue
        if kind != "ident":
            i += 1
            continue
        word = text.lower()
        if word in GROUPING and nxt == "(":  # a label list
            while i < len(toks) and toks[i][1] != ")":
                i += 1
            i += 1
            continue
        if word in KEYWORDS or nxt == "(" or (word in AGGREGATIONS and nxt.lower() in ("by", "without")):
            i += 1
            continue
        if word in ("start", "end") and i > 0 and toks[i - 1][1] == "@":
            i += 1
            continue
        sel = Selector(text)
        i += 1
        if i < len(toks) and toks[i][1] == "{":
            sel.labels, i, by_name = _matchers(toks, i)
            if by_name:
                raise ValueError(f"{text}{{__name__...}}: select by the metric name only")
        out.append(sel)
    return out


def check_expression(expr: str, families: dict[str, Family]) -> list[str]:
    """What is wrong with the names an expression uses: a metric that is not exported, a matcher on a
    label its family does not have. Empty when nothing."""
    try:
        sels = selectors(expr)
    except ValueError as e:
        return [str(e)]
    problems = []
    for sel in sels:
        if sel.name in SYNTHETIC:
            allowed = TARGET_LABELS
        else:
            fam = family_of(sel.name, families)
            if fam is None:
                problems.append(f"{sel.name} is not an exported family (ops/monitoring/metric-families.txt)")
                continue
            allowed = TARGET_LABELS | set(fam.labels)
            if fam.type == "histogram" and sel.name.endswith("_bucket"):
                allowed = allowed | {"le"}
        for label in sel.labels:
            if label not in allowed:
                problems.append(f"{sel.name} has no label {label!r} (it has: {', '.join(sorted(allowed))})")
    return problems


# -- Grafana dashboards ---------------------------------------------------------------------------------

# What Grafana's built-in variables stand for when an expression is checked.
GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
                    "__interval_ms": "60000", "__range_ms": "3600000"}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]")


def grafana_variables(expr: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(expr)}


def substitute(expr: str, samples: Optional[dict[str, str]] = None) -> str:
    """The expression with Grafana's variables replaced by sample values: the built-in intervals by
    durations, a dashboard variable by `samples[name]` or the word x."""
    samples = samples or {}

    def value(m: re.Match) -> str:
        name = next(g for g in m.groups() if g)
        return GRAFANA_BUILTINS.get(name) or samples.get(name, "x")
    return _VARIABLE.sub(value, expr)


def panels(dashboard: dict) -> Iterator[dict]:
    """Every panel, also those inside (collapsed) rows."""
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


@dataclass
class Query:
    where: str  # "panel 'Title' target A" or "variable node"
    expr: str   # PromQL with the dashboard's variables
    grafana_function: str = ""  # label_values / query_result when a variable's query is one


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


def dashboard_queries(dashboard: dict) -> list[Query]:
    out: list[Query] = []
    for p in panels(dashboard):
        for t in p.get("targets", []) or []:
            if "expr" in t:
                out.append(Query(f"panel {p.get('title')!r} target {t.get('refId')}", t["expr"]))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        text = q.get("query", "") if isinstance(q, dict) else str(q or "")
        m = _LABEL_VALUES.match(text)
        if m:
            if m.group(1):
                out.append(Query(f"variable {v.get('name')}", m.group(1), "label_values"))
            continue
        m = _QUERY_RESULT.match(text)
        out.append(Query(f"variable {v.get('name')}", m.group(1) if m else text,
                         "query_result" if m else ""))
    return out


# -- the text exposition format ---------------------------------------------------------------------------


@dataclass
class Exposed:
    type: str
    labels: set[str] = field(default_factory=set)
    samples: int = 0


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_exposition(text: str) -> tuple[dict[str, Exposed], list[str]]:
    """The families a /metrics text declares (their `# TYPE` lines), with the label names of their
    samples, and what is wrong in it beyond what promtool says (a sample of no declared family, a
    family declared twice, a line that is not a sample)."""
    fams: dict[str, Exposed] = {}
    problems: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3].strip()
                if name in fams:
                    problems.append(f"# TYPE {name} twice")
                fams[name] = Exposed(kind)
            continue
        m = _SAMPLE.match(line)
        if not m:
            problems.append(f"not a sample line: {line!r}")
            continue
        series = m.group(1)
        owner = fams.get(series)
        if owner is None:
            for suffix in HISTOGRAM_SUFFIXES + ("_total", "_created"):
                base = series[: -len(suffix)] if series.endswith(suffix) else None
                if base and base in fams and fams[base].type in ("histogram", "summary"):
                    owner = fams[base]
                    break
        if owner is None:
            problems.append(f"sample {series} belongs to no # TYPE line")
            continue
        owner.samples += 1
        for lm in _LABEL.finditer(m.group(3) or ""):
            if not (lm.group(1) == "le" and series.endswith("_bucket")) and lm.group(1) != "quantile":
                owner.labels.add(lm.group(1))
    return fams, problems


# -- the Prometheus configuration ops/cluster writes ------------------------------------------------


def cluster_config_problems(path: str, nodes: list[dict], rules_file: str = RULES_FILE) -> list[str]:
    """What is wrong with the Prometheus configuration ops/cluster wrote for `nodes` (cluster.json's
    records): every node a target of job joconde-nodes with its node and role, a job
    joconde-vms-CP discovering each CP's CT VMs, the rules of the source tree."""
    import yaml  # python3-yaml

    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    out = []
    if [os.path.realpath(r) for r in cfg.get("rule_files", [])] != [os.path.realpath(rules_file)]:
        out.append(f"rule_files {cfg.get('rule_files')} is not [{rules_file}]")
    jobs = {j["job_name"]: j for j in cfg.get("scrape_configs", [])}
    static = {}
    for sc in (jobs.get("joconde-nodes") or {}).get("static_configs", []):
        for t in sc.get("targets", []):
            static[t] = sc.get("labels", {})
    for n in nodes:
        hp = n["metrics_url"].split("://", 1)[1]
        if static.get(hp) != {"node": n["name"], "role": n["role"]}:
            out.append(f"joconde-nodes has no target {hp} with node={n['name']} role={n['role']}")
        if n["role"] == "computing":
            sd = (jobs.get(f"joconde-vms-{n['name']}") or {}).get("http_sd_configs", [])
            if [s.get("url") for s in sd] != [n["metrics_url"] + "/metrics/targets"]:
                out.append(f"no job joconde-vms-{n['name']} discovering {n['metrics_url']}/metrics/targets")
    if not (jobs.get("joconde-nodes") or {}).get("honor_labels"):
        out.append("joconde-nodes does not honor the nodes' labels (node, role of joconde_build_info)")
    return out
