#!/usr/bin/python3
"""Checks docs/traceability.md, the requirement traceability table (issue 20).

    traceability_check.py --source SOURCE_DIR [--build BUILD_DIR] [--table FILE] [--spec SPEC.txt]
    traceability_check.py --source SOURCE_DIR [--build BUILD_DIR] --selftest
    traceability_check.py --source SOURCE_DIR [--build BUILD_DIR] --with-selftest  (both, as CTest runs it)

Every row of the table is `| Id | Requirement (short) | Status | How joconde meets it | Test |`.
The check fails on

- a malformed row (wrong number of cells, an Id of no known form, an empty cell), a row outside a
  table with that header, or a table whose separator line is missing;
- a status other than `met`, `partly` or `not yet`;
- a duplicate Id;
- a `met` or `partly` row without a test entry, a `not yet` row with one (its Test cell is `—`), or a
  test entry not of the form `` `CTEST_NAME` / `test_case` ``;
- fewer than 89 rows;
- a CTest name that is not registered: the names `ctest -N --test-dir BUILD` lists when --build is
  given and that works, otherwise the names tests/CMakeLists.txt registers (read by a small
  interpreter of the CMake commands that file uses: function, foreach, if, set, file(GLOB),
  get_filename_component, list, string, add_executable, add_test);
- a test case that does not occur in the sources of its CTest: a Boost.Test case
  (BOOST_AUTO_TEST_CASE, BOOST_FIXTURE_TEST_CASE, BOOST_DATA_TEST_CASE) in a C++ source, a Python
  `def NAME`, or the literal text (a step title) in a Python, JavaScript or shell source. A CTest's
  sources are its executable's (add_executable) or the scripts its command names, with the files
  those scripts name or import beside them. When a registered CTest cannot be mapped to sources,
  all of tests/ is searched instead, and the output says so.
- with --spec: a BUS-, SYS-, PR- or ADR- identifier of the specification that has no row.

It prints the rows by status, the test entries named, and every problem with its row's Id, and exits
1 on any problem (2 on a usage error). --selftest runs the check on a built-in table with one fault of
each kind and exits 0 only if every fault is reported; --with-selftest runs it before the real check.
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Optional

MIN_ROWS = 89
STATUSES = ("met", "partly", "not yet")
HEADER = ["Id", "Requirement (short)", "Status", "How joconde meets it", "Test"]
NO_TEST = "—"
ID_RE = re.compile(r"^(?:(?:BUS|SYS)-\d+\.\d+|PR-\d+|ADR-\d+|§\d+(?:\.\d+)*-\d+)(?: †)?$")
ENTRY_RE = re.compile(r"^`([^`]+)` / `([^`]+)`$")
CTEST_NAME_RE = re.compile(r"^[A-Za-z0-9_.+-]+$")
SPEC_ID_RE = re.compile(r"\b(?:(?:BUS|SYS)-\d+\.\d+|PR-\d+|ADR-\d+)\b")
CPP_EXT = (".cpp", ".cc", ".cxx", ".hpp", ".h", ".hh")
SCRIPT_EXT = (".py", ".mjs", ".js", ".sh")


# -- the table ---------------------------------------------------------------------------------------

@dataclass
class Row:
    line: int
    id: str
    requirement: str
    status: str
    how: str
    tests: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Problem:
    row: str   # the row's Id, or "line N" / "table" when there is none
    kind: str  # malformed, status, duplicate, no-test, unexpected-test, bad-entry, too-few-rows,
    #            unknown-ctest, missing-case, missing-id
    text: str

    def __str__(self) -> str:
        return f"{self.row}: [{self.kind}] {self.text}"


def split_cells(line: str) -> list[str]:
    """The cells of a Markdown table line; `\\|` is a literal bar."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells, cur, i = [], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cur.append("|")
            i += 2
            continue
        if ch == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    cells.append("".join(cur).strip())
    return cells


def parse_table(text: str) -> tuple[list[Row], list[Problem]]:
    rows: list[Row] = []
    problems: list[Problem] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith("|"):
            i += 1
            continue
        cells = split_cells(line)
        if cells != HEADER:
            problems.append(Problem(f"line {i + 1}", "malformed",
                                    "a table line outside a table headed " + " | ".join(HEADER)))
            i += 1
            continue
        if i + 1 >= len(lines) or not re.fullmatch(r"\s*\|(\s*:?-{3,}:?\s*\|){5}\s*", lines[i + 1]):
            problems.append(Problem(f"line {i + 1}", "malformed", "the header is not followed by |---|---|---|---|---|"))
            i += 1
            continue
        i += 2
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            row = parse_row(i + 1, lines[i], problems)
            if row is not None:
                rows.append(row)
            i += 1
    return rows, problems


def parse_row(lineno: int, line: str, problems: list[Problem]) -> Optional[Row]:
    cells = split_cells(line)
    where = f"line {lineno}"
    if len(cells) != 5:
        problems.append(Problem(cells[0] if cells and cells[0] else where, "malformed",
                                f"{len(cells)} cells instead of 5 (line {lineno})"))
        return None
    rid, requirement, status, how, test = cells
    if not ID_RE.match(rid):
        problems.append(Problem(rid or where, "malformed",
                                f"the Id {rid!r} is not BUS-n.n, SYS-n.n, PR-n, ADR-n or §section-n (line {lineno})"))
        return None
    row = Row(lineno, rid.replace(" †", ""), requirement, status, how)
    if not requirement:
        problems.append(Problem(row.id, "malformed", f"no requirement text (line {lineno})"))
    if not how:
        problems.append(Problem(row.id, "malformed", f"no 'How joconde meets it' (line {lineno})"))
    if status not in STATUSES:
        problems.append(Problem(row.id, "status", f"unknown status {status!r}: met, partly or not yet (line {lineno})"))
        return row
    if status == "not yet":
        if test != NO_TEST:
            problems.append(Problem(row.id, "unexpected-test",
                                    f"a 'not yet' row names no test: its Test cell is {NO_TEST} (line {lineno})"))
        return row
    if test in ("", NO_TEST):
        problems.append(Problem(row.id, "no-test", f"a '{status}' row names at least one test (line {lineno})"))
        return row
    for entry in test.split("<br>"):
        m = ENTRY_RE.match(entry.strip())
        if not m or not CTEST_NAME_RE.match(m.group(1)):
            problems.append(Problem(row.id, "bad-entry",
                                    f"test entry {entry.strip()!r} is not `CTEST_NAME` / `test_case` (line {lineno})"))
            continue
        row.tests.append((m.group(1), m.group(2)))
    if not row.tests:
        problems.append(Problem(row.id, "no-test", f"a '{status}' row names at least one test (line {lineno})"))
    return row


# -- tests/CMakeLists.txt ------------------------------------------------------------------------------

@dataclass
class Command:
    name: str
    args: list[tuple[str, bool]]  # (raw text, quoted)
    line: int


def skip_blank(text: str, i: int, line: int) -> tuple[int, int]:
    """Past one whitespace character or a comment to its line's end, counting new lines."""
    if text[i] == "#":
        while i < len(text) and text[i] != "\n":
            i += 1
        return i, line
    return i + 1, line + (1 if text[i] == "\n" else 0)


def tokenize_cmake(text: str) -> list[Command]:
    """The command invocations of a CMake file: name(args), comments dropped, arguments raw."""
    cmds: list[Command] = []
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == "#":
            i, line = skip_blank(text, i, line)
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            name = text[i:j].lower()
            k = j
            while k < n and text[k] in " \t":
                k += 1
            if k >= n or text[k] != "(":
                i = j
                continue
            start_line = line
            args, i, line = read_args(text, k + 1, line)
            cmds.append(Command(name, args, start_line))
        else:
            i += 1
    return cmds


def read_args(text: str, i: int, line: int) -> tuple[list[tuple[str, bool]], int, int]:
    args: list[tuple[str, bool]] = []
    n, depth = len(text), 0
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == "#":
            i, line = skip_blank(text, i, line)
        elif ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            if depth == 0:
                return args, i + 1, line
            depth -= 1
            i += 1
        elif ch == '"':
            s, i, line = read_quoted(text, i + 1, line)
            args.append((s, True))
        else:
            cur = []
            while i < n and not text[i].isspace() and text[i] not in "()#":
                if text[i] == '"':  # a quoted part inside an unquoted argument: kept as written
                    s, i, line = read_quoted(text, i + 1, line)
                    cur.append('"' + s + '"')
                    continue
                if text[i] == "\\" and i + 1 < n:
                    cur.append(text[i:i + 2])
                    i += 2
                    continue
                cur.append(text[i])
                i += 1
            args.append(("".join(cur), False))
    return args, i, line


def read_quoted(text: str, i: int, line: int) -> tuple[str, int, int]:
    out = []
    escapes = {"n": "\n", "t": "\t", "r": "\r", ";": "\\;"}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1, line
        if ch == "\n":
            line += 1
        out.append(ch)
        i += 1
    return "".join(out), i, line


class CMakeModel:
    """What tests/CMakeLists.txt registers: test names with their command, and executables' sources."""

    def __init__(self, source: str):
        self.source = os.path.abspath(source)
        self.tests_dir = os.path.join(self.source, "tests")
        self.binary = os.path.join(self.source, "build")
        self.functions: dict[str, tuple[list[str], list[Command]]] = {}
        self.targets: dict[str, list[str]] = {}
        self.tests: dict[str, list[str]] = {}  # name -> command words
        self.notes: list[str] = []
        path = os.path.join(self.tests_dir, "CMakeLists.txt")
        with open(path, encoding="utf-8") as f:
            cmds = tokenize_cmake(f.read())
        scope = {"CMAKE_CURRENT_SOURCE_DIR": self.tests_dir, "CMAKE_CURRENT_LIST_DIR": self.tests_dir,
                 "PROJECT_SOURCE_DIR": self.source, "CMAKE_SOURCE_DIR": self.source,
                 "PROJECT_BINARY_DIR": self.binary, "CMAKE_BINARY_DIR": self.binary,
                 "CMAKE_CURRENT_BINARY_DIR": os.path.join(self.binary, "tests")}
        self.run(cmds, scope)

    # expansion

    def expand(self, raw: str, scope: dict[str, str]) -> str:
        prev = None
        while prev != raw:
            prev = raw
            raw = re.sub(r"\$ENV\{[^${}]*\}", "", raw)
            raw = re.sub(r"\$\{([^${}]*)\}", lambda m: scope.get(m.group(1), ""), raw)
        return raw

    def words(self, args: list[tuple[str, bool]], scope: dict[str, str]) -> list[str]:
        out: list[str] = []
        for raw, quoted in args:
            value = self.expand(raw, scope)
            if quoted:
                out.append(value)
            else:
                value = value.replace('"', "")
                out.extend(v.replace("\\;", ";") for v in re.split(r"(?<!\\);", value) if v != "")
        return out

    # blocks

    @staticmethod
    def block_end(cmds: list[Command], i: int, opener: str, closer: str) -> int:
        depth = 0
        for j in range(i, len(cmds)):
            if cmds[j].name == opener:
                depth += 1
            elif cmds[j].name == closer:
                depth -= 1
                if depth == 0:
                    return j
        raise ValueError(f"tests/CMakeLists.txt:{cmds[i].line}: {opener}() without {closer}()")

    def run(self, cmds: list[Command], scope: dict[str, str]) -> None:
        i = 0
        while i < len(cmds):
            c = cmds[i]
            if c.name in ("function", "macro"):
                end = self.block_end(cmds, i, c.name, "end" + c.name)
                names = self.words(c.args, scope)
                if names:
                    self.functions[names[0].lower()] = (names[1:], cmds[i + 1:end])
                i = end + 1
            elif c.name == "foreach":
                end = self.block_end(cmds, i, "foreach", "endforeach")
                self.foreach(c, cmds[i + 1:end], scope)
                i = end + 1
            elif c.name == "if":
                end = self.if_block(cmds, i, scope)
                i = end + 1
            else:
                self.command(c, scope)
                i += 1

    def foreach(self, c: Command, body: list[Command], scope: dict[str, str]) -> None:
        w = self.words(c.args, scope)
        if not w:
            return
        var, items = w[0], w[1:]
        if items[:2] == ["IN", "LISTS"]:
            items = [x for name in items[2:] for x in scope.get(name, "").split(";") if x]
        elif items[:2] == ["IN", "ITEMS"]:
            items = items[2:]
        elif items[:1] == ["RANGE"]:
            nums = [int(x) for x in items[1:]]
            lo, hi, step = (0, nums[0], 1) if len(nums) == 1 else (nums[0], nums[1], nums[2] if len(nums) > 2 else 1)
            items = [str(x) for x in range(lo, hi + 1, step)]
        for item in items:
            scope[var] = item
            self.run(body, scope)

    def if_block(self, cmds: list[Command], i: int, scope: dict[str, str]) -> int:
        end = self.block_end(cmds, i, "if", "endif")
        branches: list[tuple[Optional[Command], list[Command]]] = []
        cond: Optional[Command] = cmds[i]
        body: list[Command] = []
        depth = 0
        for c in cmds[i + 1:end]:
            if c.name == "if":
                depth += 1
            elif c.name == "endif":
                depth -= 1
            if depth == 0 and c.name in ("elseif", "else"):
                branches.append((cond, body))
                cond, body = (c if c.name == "elseif" else None), []
                continue
            body.append(c)
        branches.append((cond, body))
        for cond, body in branches:
            if cond is None or self.condition(cond, scope):
                self.run(body, scope)
                break
        return end

    def condition(self, c: Command, scope: dict[str, str]) -> bool:
        """The forms tests/CMakeLists.txt uses: [NOT] TARGET x, TEST x, DEFINED x, x MATCHES re, with
        AND/OR; anything else counts as true (the registration is then over-approximated, and
        `ctest -N` is preferred when a build is given)."""
        w = self.words(c.args, scope)

        def value(tok: str) -> str:
            return scope.get(tok, tok)

        def atom(toks: list[str]) -> bool:
            if not toks:
                return True
            if toks[0] == "NOT":
                return not atom(toks[1:])
            if len(toks) == 2 and toks[0] == "TARGET":
                return toks[1] in self.targets
            if len(toks) == 2 and toks[0] == "TEST":
                return toks[1] in self.tests
            if len(toks) == 2 and toks[0] == "DEFINED":
                return toks[1] in scope
            if len(toks) == 3 and toks[1] == "MATCHES":
                try:
                    return re.search(toks[2], value(toks[0])) is not None
                except re.error:
                    return True
            return True

        for i, tok in enumerate(w):
            if tok == "OR":
                return atom(w[:i]) or self.condition(Command("if", [(x, True) for x in w[i + 1:]], c.line), {})
        for i, tok in enumerate(w):
            if tok == "AND":
                return atom(w[:i]) and self.condition(Command("if", [(x, True) for x in w[i + 1:]], c.line), {})
        return atom(w)

    # commands

    def command(self, c: Command, scope: dict[str, str]) -> None:
        if c.name in self.functions:
            params, body = self.functions[c.name]
            args = self.words(c.args, scope)
            inner = dict(scope)
            for k, p in enumerate(params):
                inner[p] = args[k] if k < len(args) else ""
            inner["ARGN"] = ";".join(args[len(params):])
            inner["ARGV"] = ";".join(args)
            inner["ARGC"] = str(len(args))
            self.run(body, inner)
            return
        w = self.words(c.args, scope)
        if c.name == "set" and w:
            values = [x for x in w[1:] if x not in ("PARENT_SCOPE", "CACHE")]
            scope[w[0]] = ";".join(values)
        elif c.name == "file" and len(w) >= 2 and w[0] in ("GLOB", "GLOB_RECURSE"):
            patterns = [x for x in w[2:] if x not in ("CONFIGURE_DEPENDS", "LIST_DIRECTORIES", "true", "false")]
            found: list[str] = []
            for p in patterns:
                p = p if os.path.isabs(p) else os.path.join(self.tests_dir, p)
                found.extend(glob.glob(p, recursive=w[0] == "GLOB_RECURSE"))
            scope[w[1]] = ";".join(sorted(set(found)))
        elif c.name == "get_filename_component" and len(w) >= 3:
            path, mode = w[1], w[2]
            base = os.path.basename(path)
            result = {"NAME": base, "NAME_WE": base.split(".", 1)[0], "DIRECTORY": os.path.dirname(path),
                      "PATH": os.path.dirname(path), "EXT": "." + base.split(".", 1)[1] if "." in base else "",
                      "ABSOLUTE": os.path.abspath(path)}.get(mode, path)
            scope[w[0]] = result
        elif c.name == "list" and len(w) >= 2:
            self.list_command(w, scope)
        elif c.name == "string" and len(w) >= 1:
            self.string_command(w, scope)
        elif c.name == "add_executable" and w:
            self.targets[w[0]] = [s if os.path.isabs(s) else os.path.join(self.tests_dir, s)
                                  for s in w[1:] if s not in ("WIN32", "MACOSX_BUNDLE", "EXCLUDE_FROM_ALL")]
        elif c.name == "add_test" and w:
            if w[0] == "NAME" and len(w) >= 2:
                name = w[1]
                rest = w[2:]
                command: list[str] = []
                if "COMMAND" in rest:
                    for x in rest[rest.index("COMMAND") + 1:]:
                        if x in ("CONFIGURATIONS", "WORKING_DIRECTORY", "COMMAND_EXPAND_LISTS"):
                            break
                        command.append(x)
                self.tests[name] = command
            elif len(w) >= 2:
                self.tests[w[0]] = w[1:]

    @staticmethod
    def list_command(w: list[str], scope: dict[str, str]) -> None:
        op, var = w[0], w[1]
        items = [x for x in scope.get(var, "").split(";") if x]
        if op == "APPEND":
            items += w[2:]
        elif op == "FILTER" and len(w) >= 5 and w[3] == "REGEX":
            keep = w[2] == "INCLUDE"
            items = [x for x in items if (re.search(w[4], x) is not None) == keep]
        elif op == "REMOVE_ITEM":
            items = [x for x in items if x not in w[2:]]
        scope[var] = ";".join(items)

    @staticmethod
    def string_command(w: list[str], scope: dict[str, str]) -> None:
        if w[0] == "REGEX" and len(w) >= 5 and w[1] == "REPLACE":
            pattern, repl, out = w[2], w[3], w[4]
            repl = re.sub(r"\\(\d)", r"\\g<\1>", repl)
            scope[out] = re.sub(pattern, repl, "".join(w[5:]))
        elif w[0] == "REPLACE" and len(w) >= 4:
            scope[w[3]] = "".join(w[4:]).replace(w[1], w[2])
        elif w[0] in ("TOLOWER", "TOUPPER") and len(w) >= 3:
            scope[w[2]] = w[1].lower() if w[0] == "TOLOWER" else w[1].upper()

    # sources

    def sources_of(self, test: str) -> list[str]:
        """The files a registered test runs: its executable's sources, or the scripts its command
        names under the source tree with the files they name or import beside them."""
        command = self.tests.get(test, [])
        files: list[str] = []
        for word in command:
            if word in self.targets:
                files.extend(self.targets[word])
            elif (os.path.isabs(word) and os.path.isfile(word) and is_below(word, self.source)
                  and is_script(word)):
                files.extend(follow_scripts(word, self.source))
        seen, out = set(), []
        for f in files:
            f = os.path.normpath(f)
            if f not in seen and os.path.isfile(f):
                seen.add(f)
                out.append(f)
        return out


def is_below(path: str, root: str) -> bool:
    path, root = os.path.abspath(path), os.path.abspath(root)
    return os.path.commonpath([path, root]) == root


def is_script(path: str) -> bool:
    """A test script: a Python, JavaScript or shell file, or an executable file with a #! line."""
    if path.endswith(SCRIPT_EXT):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def follow_scripts(start: str, root: str) -> list[str]:
    """`start` and the scripts it names or imports in its own directory or below, recursively (a
    shell entry that execs a Node.js test that imports its steps; a Python test that imports a
    module of its own). Product code the test loads from elsewhere is not a source of the test."""
    start = os.path.normpath(start)
    home = os.path.dirname(start)
    out, todo, seen = [], [start], set()
    while todo:
        path = os.path.normpath(todo.pop())
        if path in seen or not os.path.isfile(path) or not is_below(path, root):
            continue
        if path != start and not is_below(path, home):
            continue
        seen.add(path)
        out.append(path)
        here = os.path.dirname(path)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(2_000_000)
        except OSError:
            continue
        for tok in re.findall(r"[\w./-]+\.(?:mjs|js|py|sh)\b", text):
            for cand in (os.path.join(here, tok.lstrip("/")), os.path.join(here, os.path.basename(tok))):
                if os.path.isfile(cand) and not is_below(cand, os.path.join(here, "node_modules")):
                    todo.append(cand)
                    break
        if path.endswith(".py"):
            for mod in re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", text, re.M):
                cand = os.path.join(here, mod + ".py")
                if os.path.isfile(cand):
                    todo.append(cand)
    return out


def ctest_names(build: str) -> Optional[list[str]]:
    """The names `ctest -N --test-dir BUILD` lists; None when it does not work there."""
    try:
        r = subprocess.run(["ctest", "-N", "--test-dir", build], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    names = re.findall(r"^\s*Test\s+#\d+:\s+(\S+)\s*$", r.stdout, re.M)
    return names or None


# -- test cases -----------------------------------------------------------------------------------------

class SourceIndex:
    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def text(self, path: str) -> str:
        if path not in self.texts:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    self.texts[path] = f.read()
            except OSError:
                self.texts[path] = ""
        return self.texts[path]

    def has_case(self, path: str, case: str) -> bool:
        text = self.text(path)
        if path.endswith(CPP_EXT):
            pattern = (r"BOOST_(?:AUTO|FIXTURE|DATA)_TEST_CASE(?:_TEMPLATE)?\s*\(\s*" + re.escape(case)
                       + r"\s*[,)]")
            return re.search(pattern, text) is not None
        if path.endswith(".py") and re.search(r"^\s*(?:async\s+)?def\s+" + re.escape(case) + r"\s*\(", text, re.M):
            return True
        # A step title or other literal text of a script; quotes escaped in the source count as quotes.
        unescaped = text.replace("\\'", "'").replace('\\"', '"').replace("\\`", "`")
        return case in text or case in unescaped


def all_test_sources(source: str) -> list[str]:
    out = []
    tests = os.path.join(source, "tests")
    for dirpath, dirnames, filenames in os.walk(tests):
        dirnames[:] = [d for d in dirnames if d not in ("node_modules", "__pycache__")]
        for name in filenames:
            if name.endswith(CPP_EXT + SCRIPT_EXT) or name == "run":
                out.append(os.path.join(dirpath, name))
    return sorted(out)


# -- the check ------------------------------------------------------------------------------------------

@dataclass
class Registry:
    names: set[str]
    origin: str
    model: CMakeModel


def load_registry(source: str, build: Optional[str]) -> Registry:
    model = CMakeModel(source)
    if build:
        names = ctest_names(build)
        if names is not None:
            return Registry(set(names), f"`ctest -N --test-dir {build}` ({len(names)} tests)", model)
        model.notes.append(f"ctest -N did not work in {build}: test names are read from tests/CMakeLists.txt")
    return Registry(set(model.tests), f"tests/CMakeLists.txt ({len(model.tests)} tests)", model)


def check(text: str, source: str, registry: Registry, spec: Optional[str] = None) -> tuple[list[Row], list[Problem], list[str]]:
    rows, problems = parse_table(text)
    notes: list[str] = list(registry.model.notes)
    seen: dict[str, int] = {}
    for row in rows:
        if row.id in seen:
            problems.append(Problem(row.id, "duplicate", f"the Id is on line {seen[row.id]} and line {row.line}"))
        else:
            seen[row.id] = row.line
    if len(rows) < MIN_ROWS:
        problems.append(Problem("table", "too-few-rows", f"{len(rows)} rows; at least {MIN_ROWS} are required"))
    index = SourceIndex()
    fallback: Optional[list[str]] = None
    for row in rows:
        for ctest, case in row.tests:
            if ctest not in registry.names:
                problems.append(Problem(row.id, "unknown-ctest", f"`{ctest}` is not a registered CTest (line {row.line})"))
                continue
            sources = registry.model.sources_of(ctest)
            if not sources:
                if fallback is None:
                    fallback = all_test_sources(source)
                note = f"the sources of `{ctest}` are unknown: searched all of tests/ for its test cases"
                if note not in notes:
                    notes.append(note)
                sources = fallback
            if not any(index.has_case(s, case) for s in sources):
                shown = ", ".join(os.path.relpath(s, source) for s in sources[:4])
                if len(sources) > 4:
                    shown += f" and {len(sources) - 4} more"
                problems.append(Problem(row.id, "missing-case",
                                        f"`{case}` is not a test case of `{ctest}` (searched {shown}; line {row.line})"))
    if spec:
        with open(spec, encoding="utf-8", errors="replace") as f:
            wanted = set()
            for sid in SPEC_ID_RE.findall(f.read()):
                if sid.startswith("ADR-"):
                    sid = "ADR-" + str(int(sid[4:]))
                wanted.add(sid)
        for sid in sorted(wanted - set(seen)):
            problems.append(Problem(sid, "missing-id", "the specification names it; the table has no row"))
    return rows, problems, notes


def report(rows: list[Row], problems: list[Problem], notes: list[str], registry: Registry, table: str) -> None:
    by_status = {s: sum(1 for r in rows if r.status == s) for s in STATUSES}
    other = len(rows) - sum(by_status.values())
    entries = [(c, k) for r in rows for c, k in r.tests]
    print(f"traceability: {table}: {len(rows)} rows: "
          + ", ".join(f"{s} {n}" for s, n in by_status.items()) + (f", other {other}" if other else ""))
    print(f"traceability: {len(entries)} test entries name {len(set(entries))} test cases "
          f"of {len(set(c for c, _ in entries))} CTests")
    print(f"traceability: registered CTest names from {registry.origin}")
    for n in notes:
        print(f"traceability: note: {n}")
    if problems:
        print(f"traceability: {len(problems)} problem(s):")
        for p in problems:
            print(f"  {p}")
    else:
        print("traceability: no problems")


# -- self-test --------------------------------------------------------------------------------------------

SELFTEST_TABLE = """\
# a table with one fault of each kind

| Id | Requirement (short) | Status | How joconde meets it | Test |
|---|---|---|---|---|
| SYS-90.1 | a good row | met | `x.cpp` | `{good_ctest}` / `{good_case}` |
| SYS-90.2 | an unknown test | met | `x.cpp` | `unit.no_such_program` / `anything` |
| SYS-90.3 | a missing case | partly | `x.cpp` | `{good_ctest}` / `no_such_case_in_this_program` |
| SYS-90.4 | a bad status | done | `x.cpp` | `{good_ctest}` / `{good_case}` |
| SYS-90.5 | twice | not yet | a reason | — |
| SYS-90.5 | twice | not yet | a reason | — |
| SYS-90.6 | met without a test | met | `x.cpp` | — |
| SYS-90.7 | not yet with a test | not yet | a reason | `{good_ctest}` / `{good_case}` |
| SYS-90.8 | a bad entry | met | `x.cpp` | {good_ctest} {good_case} |
| SYS-90.9 | four cells | met | `x.cpp` |
| NOPE-1 | an id of no known form | met | `x.cpp` | `{good_ctest}` / `{good_case}` |
"""

SELFTEST_EXPECTED = [
    ("SYS-90.2", "unknown-ctest"),
    ("SYS-90.3", "missing-case"),
    ("SYS-90.4", "status"),
    ("SYS-90.5", "duplicate"),
    ("SYS-90.6", "no-test"),
    ("SYS-90.7", "unexpected-test"),
    ("SYS-90.8", "bad-entry"),
    ("SYS-90.9", "malformed"),
    ("NOPE-1", "malformed"),
    ("table", "too-few-rows"),
]


def selftest(source: str, registry: Registry) -> int:
    # A real CTest and one of its real test cases, so that the good row must pass.
    good = None
    for name in sorted(registry.names):
        for path in registry.model.sources_of(name):
            if path.endswith(".cpp"):
                m = re.search(r"BOOST_AUTO_TEST_CASE\s*\(\s*(\w+)", SourceIndex().text(path))
                if m:
                    good = (name, m.group(1))
                    break
        if good:
            break
    if good is None:
        print("traceability self-test: FAILED: no registered CTest with a Boost.Test case to build the good row from")
        return 1
    text = SELFTEST_TABLE.format(good_ctest=good[0], good_case=good[1])
    rows, problems, _ = check(text, source, registry)
    failed = []
    for rid, kind in SELFTEST_EXPECTED:
        hit = any(p.row == rid and p.kind == kind for p in problems)
        print(f"traceability self-test: {'found' if hit else 'MISSED'}: {rid} [{kind}]")
        if not hit:
            failed.append(f"{rid} [{kind}]")
    for p in problems:
        if p.row == "SYS-90.1":
            failed.append(f"the good row was reported: {p}")
    if failed:
        print("traceability self-test: FAILED: " + "; ".join(failed))
        return 1
    print(f"traceability self-test: every planted fault was reported ({len(SELFTEST_EXPECTED)}), "
          f"the good row ({good[0]} / {good[1]}) was not")
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="Checks docs/traceability.md against the registered tests.")
    ap.add_argument("--source", required=True, help="the source tree (holds docs/ and tests/)")
    ap.add_argument("--build", help="a build directory: registered names from `ctest -N` there")
    ap.add_argument("--table", help="the table (default: SOURCE/docs/traceability.md)")
    ap.add_argument("--spec", help="the specification's text: every BUS-, SYS-, PR- and ADR- id needs a row")
    ap.add_argument("--selftest", action="store_true", help="check a built-in table with planted faults")
    ap.add_argument("--with-selftest", action="store_true",
                    help="run the self-test first, then check the table (what unit.traceability runs)")
    args = ap.parse_args(argv)
    source = os.path.abspath(args.source)
    if not os.path.isfile(os.path.join(source, "tests", "CMakeLists.txt")):
        print(f"traceability: {source} has no tests/CMakeLists.txt", file=sys.stderr)
        return 2
    try:
        registry = load_registry(source, args.build)
    except (OSError, ValueError) as e:
        print(f"traceability: cannot read the registered tests: {e}", file=sys.stderr)
        return 2
    if args.selftest:
        return selftest(source, registry)
    if args.with_selftest and selftest(source, registry) != 0:
        return 1
    table = args.table or os.path.join(source, "docs", "traceability.md")
    try:
        with open(table, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        print(f"traceability: cannot read {table}: {e}", file=sys.stderr)
        return 2
    if args.spec and not os.path.isfile(args.spec):
        print(f"traceability: cannot read {args.spec}", file=sys.stderr)
        return 2
    rows, problems, notes = check(text, source, registry, args.spec)
    report(rows, problems, notes, registry, os.path.relpath(table, source) if is_below(table, source) else table)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
