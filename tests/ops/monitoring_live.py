#!/usr/bin/python3
"""ops.metrics_live: what a running local cluster really exports, checked with promtool and against
ops/monitoring/metric-families.txt.

It starts a local six-node cluster (`ops/cluster up` in a temporary directory, with a mail relay so
that the nodes with people have their e-mail families; nothing listens there, so every e-mail is
retried) and runs the Computation Task of ./ops/demo with the joconde CLI on a few hundred rows: CTA,
PAKs, CTSAs, approval, both uploads, the computation, both downloads (and a refused second download),
until the CT finished. While the CT VMs run (input phase, output phase) and after the CT finished it
scrapes every node's /metrics and every CT VM: through each Computing Party's GET /metrics/targets
(Prometheus HTTP service discovery) and the /metrics/vm/UUID path each entry names. Then:

- `promtool check metrics` passes on every text (node kinds root, computing, client and the CT VMs);
- the families (their `# TYPE` lines) with their types and label names, by kind of target, are those
  of metric-families.txt: a family it lists that no target of a listed kind exports fails (unless the
  list marks it lazy), a family it does not list fails, and so do another type, other labels or a
  kind of target it does not list;
- `promtool check config` passes on the configuration ops/cluster wrote (DIR/prometheus/prometheus.yml),
  which has every node and a CT VM discovery job per CP.

Until a CP serves /metrics/targets (HTTP 404), the CT VMs are scraped directly as a STOP-GAP, and said
so: their admin endpoint (DATA_DIR/ct/UUID/vm/endpoints.json) with the CT's admin token
(DATA_DIR/ct/UUID/admin.token), as only the CP's node would.

Usage: monitoring_live.py --build BUILD_DIR [--rows N] [--timeout S] [--keep DIR] [--write] [--families FILE]
  --write   rewrite ops/monitoring/metric-families.txt from what the cluster exported (lazy families
            it did not see and the file's order are kept; new families go at the end); review the diff
  --keep    leave the stopped cluster, the CT's files and every scraped text in DIR
  --families  compare with (and --write) this list instead of ops/monitoring/metric-families.txt
The cluster and every process it started are stopped at the end, on failure and on SIGTERM too.
Exit 0 ok, 1 failure, 2 usage.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import monitoring_common as mc  # noqa: E402

KIND_OF_ROLE = {"root": "root", "computing": "cp", "client": "client"}
# `promtool check metrics` findings accepted, each with why; none so far: every finding fails.
ACCEPTED_LINT: dict[str, str] = {}
HTTP_TIMEOUT = 10.0


class Failure(Exception):
    """The test cannot go on; main() prints why and cleans up."""


class Stopped(Exception):
    """SIGTERM or SIGINT."""


def say(text: str = "") -> None:
    print(text, flush=True)


class Run:
    def __init__(self, args: argparse.Namespace):
        self.src = mc.SOURCE_DIR
        self.build = os.path.abspath(args.build)
        self.rows = args.rows
        self.deadline = time.monotonic() + args.timeout
        self.started = time.monotonic()
        self.tmp = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="joconde-metrics-")
        if args.keep:
            if os.path.exists(self.tmp) and os.listdir(self.tmp):
                raise SystemExit(f"--keep {self.tmp}: give a new or empty directory")
            os.makedirs(self.tmp, exist_ok=True)
        self.keep = bool(args.keep)
        self.cdir = os.path.join(self.tmp, "cluster")
        self.work = os.path.join(self.tmp, "ct")
        self.scrapes = os.path.join(self.tmp, "scrapes")
        self.joconde = os.path.join(self.build, "bin", "joconde")
        self.cluster_up = False
        self.nodes: list[dict] = []
        self.uuid = ""
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.stopgap = False
        # kind -> family -> Exposed (merged over the targets of that kind); and where it was seen
        self.seen: dict[str, dict[str, mc.Exposed]] = {k: {} for k in mc.KINDS}
        self.seen_at: dict[str, set[str]] = {}
        self.texts = 0
        self.targets: set[str] = set()
        self.env = dict(os.environ, BUILD_DIR=self.build,
                        JOCONDE_NODE_BIN=os.path.join(self.build, "bin", "joconde-node"))
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- helpers ---------------------------------------------------------------------------------

    def left(self, cap: float) -> float:
        rest = self.deadline - time.monotonic()
        if rest <= 0:
            raise Failure("out of time (--timeout)")
        return min(cap, rest)

    def fail(self, text: str) -> None:
        self.problems.append(text)
        say(f"  FAIL {text}")

    def run(self, cmd: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, env=self.env, stdin=subprocess.DEVNULL,
                                 timeout=self.left(timeout))
        except subprocess.TimeoutExpired:
            raise Failure(f"timed out: {' '.join(cmd)}")
        if check and res.returncode != 0:
            raise Failure(f"exit {res.returncode}: {' '.join(cmd)}\n{(res.stdout + res.stderr).strip()}")
        return res

    def cli(self, who: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([self.joconde, "--cluster", self.cdir, "--as", who, *args], check=check)

    def get(self, url: str, token: str = "") -> tuple[int, str]:
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
        try:
            with self.opener.open(req, timeout=HTTP_TIMEOUT) as res:
                return res.status, res.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as e:
            raise Failure(f"GET {url}: {e}")

    # -- the cluster and the CT ------------------------------------------------------------------

    def up(self) -> None:
        for prog in ("joconde-node", "joconde-vm", "joconde-sp", "joconde"):
            if not os.access(os.path.join(self.build, "bin", prog), os.X_OK):
                raise Failure(f"{self.build}/bin/{prog} is missing: build first (./ops/build)")
        # A relay address nothing listens on: the e-mails are tried, refused and retried.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            relay = f"127.0.0.1:{s.getsockname()[1]}"
        self.cluster_up = True  # from here on, `down` runs at the end whatever happens
        res = self.run([os.path.join(self.src, "ops", "cluster"), "up", "--dir", self.cdir,
                        "--mail-relay", relay], timeout=150)
        m = re.search(r"^Prometheus configuration.*: (\S+)$", res.stdout, re.M)
        with open(os.path.join(self.cdir, "cluster.json"), encoding="utf-8") as f:
            self.nodes = json.load(f)["nodes"]
        say(f"  cluster up in {self.cdir} ({time.monotonic() - self.started:.0f} s); e-mail relay {relay} (refuses)")
        path = os.path.join(self.cdir, "prometheus", "prometheus.yml")
        if not m or m.group(1) != path:
            self.fail(f"`ops/cluster up` did not print the path of its Prometheus configuration ({path})")
        if not os.path.exists(path):
            self.fail(f"`ops/cluster up` wrote no {path}")
            return
        res = mc.promtool(["check", "config", path])
        if res.returncode != 0:
            self.fail(f"promtool check config {path} exited {res.returncode}:\n{res.stdout}{res.stderr}")
        for p in mc.cluster_config_problems(path, self.nodes):
            self.fail(f"{path}: {p}")
        say(f"  promtool check config {path}: exit {res.returncode}")

    def show(self, node: str) -> dict:
        res = self.cli(f"{node}:auditor", "cta", "show", self.uuid, "--json", check=False)
        return json.loads(res.stdout) if res.returncode == 0 else {}

    def wait(self, node: str, what: str, test, limit: float) -> None:
        end = time.monotonic() + self.left(limit)
        d: dict = {}
        while time.monotonic() < end:
            d = self.show(node)
            if test(d):
                return
            if d.get("status") in ("cancelled", "erased"):
                raise Failure(f"the CT was {d['status']} while waiting for {what}: {d.get('reason', '')}")
            time.sleep(0.2)
        raise Failure(f"timed out waiting for {what} at {node}; telemetry: {json.dumps(d.get('telemetry', [])[-8:])}")

    @staticmethod
    def phase_count(d: dict, phase: str) -> int:
        return len({e.get("cp") for e in d.get("telemetry", [])
                    if e.get("kind") == "phase" and e.get("subject") == phase})

    def prepare_ct(self) -> None:
        os.makedirs(self.work, mode=0o700)
        data = os.path.join(self.src, "ops", "demo-data")
        self.run([data, "generate", "--rows", str(self.rows), "--seed", "7", "--out", self.work])
        task = os.path.join(self.work, "task.json")
        self.run([data, "task", "--out", task, "--max-rows", "1000000"])
        with open(task, encoding="utf-8") as f:
            doc = json.load(f)
        doc.pop("tee_measurements", None)  # `cta create` fills in the measurements of this build's VM
        with open(task, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        for p in "ab":
            with open(os.path.join(self.work, f"ctsa-{p}.json"), "w", encoding="utf-8") as f:
                json.dump({"signatories": [{"name": f"Director of office {p.upper()}"}]}, f)
        fd = os.open(os.path.join(self.work, "passphrase"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(18).hex() + "\n")
        with open(os.path.join(self.work, "signed.pdf"), "w", encoding="ascii") as f:
            f.write("%PDF-1.4\n% signature page of the agreement, signed and scanned\n")

    def run_ct(self) -> None:
        w = self.work
        pw = os.path.join(w, "passphrase")
        self.prepare_ct()
        self.uuid = self.cli("client-a:task_organiser", "cta", "create", os.path.join(w, "task.json")).stdout.strip()
        if not re.fullmatch(r"[0-9a-f-]{36}", self.uuid):
            raise Failure(f"cta create printed {self.uuid!r}, not a UUID")
        say(f"  CT {self.uuid}: CTA created")
        for who, flag, name, key in (("client-a:data_custodian", "--input", "persons", "custodian-a"),
                                     ("client-b:data_custodian", "--input", "income", "custodian-b"),
                                     ("client-a:data_analyst", "--output", "income_by_region", "analyst-a"),
                                     ("client-b:data_analyst", "--output", "income_by_region", "analyst-b")):
            self.cli(who, "pak", "create", self.uuid, flag, name, "--name", key,
                     "--out", os.path.join(w, key + ".key"), "--passphrase-file", pw)
        for p in "ab":
            self.cli(f"client-{p}:task_organiser", "ctsa", "submit", self.uuid, os.path.join(w, f"ctsa-{p}.json"))
            self.cli(f"client-{p}:signatory", "cta", "sign", self.uuid, "--signatory", "0",
                     "--document", os.path.join(w, "signed.pdf"))
        for p in "ab":
            self.cli("root:approver", "cta", "approve", self.uuid, "--peer", f"client-{p}")
        say("  CTA final: waiting for the three CT VMs to open their input phase")
        self.wait("client-a", "three CT VMs in the input phase",
                  lambda d: len(d.get("vms", [])) == 3 and self.phase_count(d, "input") == 3, 120)
        self.scrape_round("input", expect_vms=True)
        self.cli("client-a:data_custodian", "upload", self.uuid, "persons", os.path.join(w, "persons.csv"),
                 "--key", os.path.join(w, "custodian-a.key"), "--passphrase-file", pw)
        self.cli("client-b:data_custodian", "upload", self.uuid, "income", os.path.join(w, "income.csv"),
                 "--key", os.path.join(w, "custodian-b.key"), "--passphrase-file", pw)
        say("  both inputs uploaded: waiting for the output phase")
        self.wait("client-a", "the output phase at the three CPs", lambda d: self.phase_count(d, "output") == 3, 120)
        self.scrape_round("output", expect_vms=True)
        for p in "ab":
            self.cli(f"client-{p}:data_analyst", "download", self.uuid, "income_by_region",
                     "--key", os.path.join(w, f"analyst-{p}.key"), "--passphrase-file", pw,
                     "-o", os.path.join(w, f"output-{p}.csv"))
            if p == "a":  # refused: each analyst retrieves the output once (counted as a refusal)
                again = self.cli("client-a:data_analyst", "download", self.uuid, "income_by_region",
                                 "--key", os.path.join(w, "analyst-a.key"), "--passphrase-file", pw,
                                 "-o", os.path.join(w, "output-a-again.csv"), check=False)
                if again.returncode == 0:
                    self.fail("a second download by client-a's analyst was not refused")
        # The VMs finish and erase once both outputs were retrieved: what is left of them now.
        self.scrape_round("retrieved", expect_vms=False)
        say("  both outputs downloaded: waiting for the CT to finish")
        self.wait("root", "the CT finished", lambda d: d.get("status") == "finished", 60)
        self.settle_mail(15)
        self.scrape_round("finished", expect_vms=False)
        self.refusals_of_the_vm_routes()

    def settle_mail(self, limit: float) -> None:
        """Waits (bounded) until every node with people has tried an e-mail. Their notifiers look at
        the CTs every 2 s and tell of a step only while it waits: a node whose people acted at once
        (client-a organised the CT) first has mail to send when the CT finished."""
        end = time.monotonic() + self.left(limit)
        people = [n for n in self.nodes if n["role"] != "computing"]
        while time.monotonic() < end:
            if all("# TYPE joconde_mail_total " in self.get(n["metrics_url"].rstrip("/") + "/metrics")[1]
                   for n in people):
                return
            time.sleep(0.5)

    # -- scraping ---------------------------------------------------------------------------------

    def record(self, round_: str, target: str, kind: str, text: str) -> None:
        os.makedirs(self.scrapes, exist_ok=True)
        with open(os.path.join(self.scrapes, f"{round_}-{target}.prom"), "w", encoding="utf-8") as f:
            f.write(text)
        self.texts += 1
        self.targets.add(f"{kind}:{target}")
        res = mc.promtool(["check", "metrics"], stdin=text)
        findings = [l for l in (res.stdout + res.stderr).strip().splitlines() if l.strip()]
        unaccepted = [l for l in findings if not any(re.search(p, l) for p in ACCEPTED_LINT)]
        if res.returncode != 0 and unaccepted:
            self.fail(f"promtool check metrics on {target} ({round_}) exited {res.returncode}:\n      "
                      + "\n      ".join(unaccepted[:20]))
        fams, problems = mc.parse_exposition(text)
        for p in problems[:10]:
            self.fail(f"{target} ({round_}): {p}")
        if not fams:
            self.fail(f"{target} ({round_}): no family at all")
        for name, exp in fams.items():
            have = self.seen[kind].setdefault(name, mc.Exposed(exp.type))
            if have.type != exp.type:
                self.fail(f"{name} is a {exp.type} at {target} but a {have.type} elsewhere")
            have.labels |= exp.labels
            have.samples += exp.samples
            self.seen_at.setdefault(name, set()).add(target)
        say(f"    {round_:<8} {target:<22} {len(fams):>3} families, promtool check metrics: "
            + ("ok" if res.returncode == 0 else f"exit {res.returncode}"))

    def scrape_round(self, round_: str, expect_vms: bool) -> None:
        say(f"  scraping ({round_}): every node's /metrics, every CT VM through its CP")
        for n in self.nodes:
            status, text = self.get(n["metrics_url"].rstrip("/") + "/metrics")
            if status != 200:
                self.fail(f"GET {n['metrics_url']}/metrics: HTTP {status}")
                continue
            self.record(round_, n["name"], KIND_OF_ROLE[n["role"]], text)
        for n in (n for n in self.nodes if n["role"] == "computing"):
            base = n["metrics_url"].rstrip("/")
            status, body = self.get(base + "/metrics/targets")
            if status == 404:
                if not self.stopgap:
                    self.stopgap = True
                    self.notes.append("STOP-GAP: the CPs do not serve /metrics/targets yet (HTTP 404): the CT VMs "
                                      "were scraped at their admin endpoints directly, with the CT's admin token")
                    say("    STOP-GAP: no /metrics/targets at the CPs yet (HTTP 404): scraping each CT VM's "
                        "admin endpoint directly")
                self.scrape_vms_directly(round_, n, expect_vms)
                continue
            if status != 200:
                self.fail(f"GET {base}/metrics/targets: HTTP {status}")
                continue
            self.scrape_vms_discovered(round_, n, body, expect_vms)

    def refusals_of_the_vm_routes(self) -> None:
        """Garbage at a CP's CT VM routes: an unknown CT, a path that is no CT, a Host that is no
        address. Each is refused with a clear error, and the CP's own /metrics still answers."""
        say("  the CT VM routes refuse garbage")
        for n in (n for n in self.nodes if n["role"] == "computing"):
            base = n["metrics_url"].rstrip("/")
            for path, want in (("/metrics/vm/00000000-0000-0000-0000-000000000000", {404}),
                               ("/metrics/vm/..%2f..%2fetc%2fpasswd", {400, 404}),
                               ("/metrics/vm/" + "x" * 5000, {404})):
                status, body = self.get(base + path)
                if status not in want or '"error"' not in body:
                    self.fail(f"GET {base}{path[:60]}: HTTP {status} {body[:120]!r}, not {sorted(want)} with an error")
            host, port = base.split("://", 1)[1].rsplit(":", 1)
            conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=HTTP_TIMEOUT)
            try:
                conn.putrequest("GET", "/metrics/targets", skip_host=True)
                conn.putheader("Host", "evil.example/<script>")
                conn.endheaders()
                res = conn.getresponse()
                body = res.read().decode("utf-8", errors="replace")
                if res.status != 400 or "malformed_input" not in body:
                    self.fail(f"GET {base}/metrics/targets with a bad Host: HTTP {res.status} {body[:120]!r}")
            finally:
                conn.close()
            status, _ = self.get(base + "/metrics")
            if status != 200:
                self.fail(f"GET {base}/metrics after the garbage: HTTP {status}")

    def scrape_vms_discovered(self, round_: str, cp: dict, body: str, expect_vms: bool) -> None:
        """Through the CP's HTTP service discovery: [{"targets": ["HOST:PORT"], "labels":
        {"__metrics_path__": "/metrics/vm/UUID", "ct": "UUID", "node": "cp1"}}]."""
        where = f"{cp['metrics_url']}/metrics/targets"
        try:
            groups = json.loads(body)
        except ValueError:
            self.fail(f"{where}: not JSON: {body[:200]!r}")
            return
        if not isinstance(groups, list):
            self.fail(f"{where}: not a list of target groups")
            return
        ours = 0
        for g in groups:
            labels = g.get("labels") if isinstance(g, dict) else None
            targets = g.get("targets") if isinstance(g, dict) else None
            if not isinstance(labels, dict) or not isinstance(targets, list) or len(targets) != 1:
                self.fail(f"{where}: a group is not {{\"targets\": [HOST:PORT], \"labels\": {{...}}}}: {g!r}")
                continue
            path, ct = labels.get("__metrics_path__", ""), labels.get("ct", "")
            if labels.get("node") != cp["name"] or path != f"/metrics/vm/{ct}" or not ct:
                self.fail(f"{where}: labels {labels} are not node={cp['name']}, ct=UUID, "
                          "__metrics_path__=/metrics/vm/UUID")
                continue
            ours += ct == self.uuid
            status, text = self.get(f"http://{targets[0]}{path}")
            if status != 200:
                self.fail(f"GET http://{targets[0]}{path}: HTTP {status}")
                continue
            self.record(round_, f"vm-{cp['name']}", "vm", text)
        if expect_vms and ours != 1:
            self.fail(f"{where} lists the CT {self.uuid} {ours} times during its {round_} phase, not once")

    def scrape_vms_directly(self, round_: str, cp: dict, expect_vms: bool) -> None:
        """STOP-GAP until /metrics/targets: the VM's admin endpoint, as the CP's node reaches it."""
        found = 0
        for ep in sorted(glob.glob(os.path.join(cp["data_dir"], "ct", "*", "vm", "endpoints.json"))):
            ct_dir = os.path.dirname(os.path.dirname(ep))
            try:
                with open(ep, encoding="utf-8") as f:
                    admin = json.load(f)["admin"]
                with open(os.path.join(ct_dir, "admin.token"), encoding="ascii") as f:
                    token = f.read().strip()
            except (OSError, ValueError, KeyError):
                continue  # the VM is being erased
            status, text = self.get(f"http://{admin}/metrics", token)
            if status != 200:
                self.fail(f"GET http://{admin}/metrics (CT VM at {cp['name']}): HTTP {status}")
                continue
            found += 1
            self.record(round_, f"vm-{cp['name']}", "vm", text)
        if expect_vms and found != 1:
            self.fail(f"{cp['name']} runs {found} CT VMs during the CT's {round_} phase, not one")

    # -- the comparison ---------------------------------------------------------------------------

    def compare(self, listed: dict[str, mc.Family]) -> None:
        say("  exported families against ops/monitoring/metric-families.txt:")
        kinds_scraped = {t.split(":", 1)[0] for t in self.targets}
        for k in mc.KINDS:
            if k not in kinds_scraped:
                self.fail(f"no target of kind {k} was scraped")
        exported: dict[str, dict[str, mc.Exposed]] = {}
        for kind, fams in self.seen.items():
            for name, exp in fams.items():
                exported.setdefault(name, {})[kind] = exp
        missing, extra, lazy_absent = [], [], []
        for name, fam in listed.items():
            at = exported.get(name, {})
            if not at:
                (lazy_absent if fam.lazy else missing).append(f"{name} ({fam.type}, {fam.where})")
                continue
            if not fam.lazy:
                for k in fam.kinds:
                    if k not in at and k in kinds_scraped:
                        missing.append(f"{name} at {k} (exported at {', '.join(sorted(at))} only)")
            for k, exp in at.items():
                if k not in fam.kinds:
                    self.fail(f"{name}: exported at {k} ({', '.join(sorted(self.seen_at[name]))}), "
                              f"but listed for {fam.where} only")
                if exp.type != fam.type:
                    self.fail(f"{name}: a {exp.type} at {k}, listed as a {fam.type}")
                if exp.samples and exp.labels != set(fam.labels):
                    self.fail(f"{name}: labels {{{','.join(sorted(exp.labels))}}} at {k}, listed "
                              f"{{{','.join(sorted(fam.labels))}}}")
        for name, at in sorted(exported.items()):
            if name not in listed:
                exp = next(iter(at.values()))
                extra.append(f"{name} ({exp.type}, {','.join(sorted(at))}, labels "
                             f"{','.join(sorted(exp.labels)) or '-'})")
        for m in missing:
            self.fail(f"listed but not exported: {m}")
        for e in extra:
            self.fail(f"exported but not listed: {e}")
        if lazy_absent:
            self.notes.append("lazy families not exported in this run (no series until their first event): "
                              + ", ".join(lazy_absent))
        say(f"    {len(exported)} families exported, {len(listed)} listed; {len(missing)} missing, "
            f"{len(extra)} not listed, {len(lazy_absent)} lazy ones not seen")

    def write_list(self, listed: dict[str, mc.Family], path: str) -> None:
        """Rewrites metric-families.txt from what was exported (--write)."""
        exported: dict[str, dict[str, mc.Exposed]] = {}
        for kind, fams in self.seen.items():
            for name, exp in fams.items():
                exported.setdefault(name, {})[kind] = exp

        def where(kinds: set[str]) -> str:
            parts = []
            if set(mc.NODE_KINDS) <= kinds:
                parts.append("node")
                kinds = kinds - set(mc.NODE_KINDS)
            return ",".join(parts + [k for k in mc.KINDS if k in kinds])

        def line(name: str, kind: str, scope: str, labels: list[str], lazy: bool) -> str:
            return (f"{name:<40} {kind:<10} {scope:<7} {','.join(labels) or '-'}" + ("  lazy" if lazy else "")).rstrip()

        with open(path, encoding="utf-8") as f:
            old = f.read().splitlines()
        out, done = [], set()
        for raw in old:
            body = raw.split("#", 1)[0].strip()
            if not body:
                out.append(raw)
                continue
            name = body.split()[0]
            fam, at = listed.get(name), exported.get(name)
            if at:
                exp = next(iter(at.values()))
                labels = [l for l in fam.labels if l in exp.labels] + sorted(exp.labels - set(fam.labels))
                out.append(line(name, exp.type, where(set(at)), labels, fam.lazy))
            elif fam and fam.lazy:
                out.append(raw)
            done.add(name)
        new = [n for n in sorted(exported) if n not in done]
        if new:
            out += ["", "# -- new (ops.metrics_live --write): place and describe them --"]
            for name in new:
                exp = next(iter(exported[name].values()))
                out.append(line(name, exp.type, where(set(exported[name])), sorted(exp.labels), False))
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
        say(f"  wrote {path}: review the diff")

    # -- clean-up ----------------------------------------------------------------------------------

    def our_processes(self) -> list[int]:
        """joconde-node, joconde-vm and joconde-sp processes whose command line names this run's
        cluster directory: only this test starts those."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if os.path.basename(args[0]).startswith(b"joconde-") and any(self.cdir.encode() in a for a in args):
                pids.append(int(entry))
        return pids

    def clean_up(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if self.cluster_up:
            try:
                res = subprocess.run([os.path.join(self.src, "ops", "cluster"), "down", "--dir", self.cdir],
                                     capture_output=True, text=True, env=self.env, timeout=60)
                say(f"  ops/cluster down: exit {res.returncode}")
            except subprocess.TimeoutExpired:
                say("  ops/cluster down timed out")
        left = self.our_processes()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if left:
            self.fail(f"processes of this run left after `ops/cluster down` (killed): {left}")
        if self.keep:
            say(f"  kept in {self.tmp}: the cluster (stopped), the CT's files, the scraped texts ({self.scrapes})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def on_signal(signum: int, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monitoring_live.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, metavar="BUILD_DIR", help="the build tree with bin/joconde-node ...")
    parser.add_argument("--rows", type=int, default=300, help="persons in the CT's input (default 300)")
    parser.add_argument("--timeout", type=float, default=420, help="seconds for the whole run (default 420)")
    parser.add_argument("--keep", metavar="DIR", help="keep the stopped cluster and the scraped texts in DIR")
    parser.add_argument("--write", action="store_true", help="rewrite the list from what was exported")
    parser.add_argument("--families", default=mc.FAMILIES_FILE, metavar="FILE",
                        help="the list to compare with (default: ops/monitoring/metric-families.txt)")
    args = parser.parse_args(argv)
    mc.need_promtool()
    listed = mc.load_families(args.families)
    run = Run(args)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    say(f"ops.metrics_live: a local cluster in {run.tmp}, a CT of {args.rows} persons, programs of {run.build}")
    try:
        try:
            run.up()
            run.run_ct()
        except Failure as e:
            run.fail(str(e))
        except Stopped as e:
            run.fail(f"stopped by {e}")
        if run.texts:
            run.compare(listed)
            if args.write:
                run.write_list(listed, args.families)
    finally:
        run.clean_up()
    for note in run.notes:
        say(f"  note: {note}")
    say(f"ops.metrics_live: {run.texts} texts from {len(run.targets)} targets in "
        f"{time.monotonic() - run.started:.0f} s; " + (f"{len(run.problems)} problem(s)" if run.problems else "all checks passed"))
    return 1 if run.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
