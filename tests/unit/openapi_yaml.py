#!/usr/bin/python3
"""docs/openapi.yaml is valid YAML and a well-formed OpenAPI 3.0 document: every operation has a summary
and responses, every $ref points at a component that exists, every {param} of a path is declared.
(openapi_test.cpp checks that it lists exactly the node's routes.) Usage: openapi_yaml.py FILE"""

import re
import sys

import yaml


def refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                out.append(v)
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)
    return out


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    problems = []
    if not str(doc.get("openapi", "")).startswith("3.0."):
        problems.append("openapi is not 3.0.x")
    for key in ("info", "paths", "components"):
        if key not in doc:
            problems.append(f"no {key}")
    operations = 0
    for path, item in doc.get("paths", {}).items():
        declared_in_path = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            operations += 1
            where = f"{method.upper()} {path}"
            if not op.get("summary"):
                problems.append(f"{where}: no summary")
            if not op.get("responses"):
                problems.append(f"{where}: no responses")
            params = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "path"}
            if params != declared_in_path:
                problems.append(f"{where}: path parameters {sorted(params)} but the path has {sorted(declared_in_path)}")
    for ref in refs(doc, []):
        node = doc
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            problems.append(f"$ref {ref} points at nothing")
    for p in problems:
        print("openapi:", p)
    print(f"openapi: {operations} operations checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
