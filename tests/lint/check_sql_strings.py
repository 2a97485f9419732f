#!/usr/bin/env python3
"""No SQL built from strings: a static check of every C file of the repository.

Fails when
  1. a printf-like or string-gluing call (snprintf, sprintf, buf_printf, buf_puts, strcat,
     sqlite3_mprintf, sqlite3_str_appendf, ...) has a string literal that looks like SQL
     (SELECT ... FROM, INSERT INTO, UPDATE x SET, DELETE FROM, CREATE/DROP/ALTER, PRAGMA, ...);
  2. the SQL argument of sqlite3_exec or sqlite3_prepare* is not compile-time text: a string
     literal, a macro of literals, or a `const` variable or array initialised only with those.
     An argument that is a parameter of the enclosing function makes that function a sink too,
     and its callers are checked the same way (exec_sql(db, sql) in catalog/store.c).
A self-test first runs the checker over small good and bad snippets, so a checker that finds
nothing cannot pass. Usage: check_sql_strings.py REPO_DIR"""
import os
import re
import sys

SKIP_DIRS = {".git", "build", "build-test", "build-fuzz", "fuzz-build", "node_modules"}
GLUE = {"snprintf", "sprintf", "vsnprintf", "vsprintf", "asprintf", "vasprintf", "buf_printf",
        "buf_puts", "buf_append", "strcat", "strncat", "strcpy", "strncpy", "memcpy",
        "sqlite3_mprintf", "sqlite3_vmprintf", "sqlite3_snprintf", "sqlite3_vsnprintf",
        "sqlite3_str_appendf", "sqlite3_str_vappendf", "sqlite3_str_appendall",
        "sqlite3_str_append"}
SQL_SINKS = {"sqlite3_exec": 1, "sqlite3_prepare": 1, "sqlite3_prepare_v2": 1,
             "sqlite3_prepare_v3": 1, "sqlite3_prepare16": 1, "sqlite3_prepare16_v2": 1,
             "sqlite3_prepare16_v3": 1}
SQL_RE = re.compile(r"\b(SELECT\b[\s\S]*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|"
                    r"DELETE\s+FROM\b|REPLACE\s+INTO\b|CREATE\s+(TABLE|INDEX|TRIGGER|VIEW)\b|"
                    r"DROP\s+(TABLE|INDEX|TRIGGER|VIEW)\b|ALTER\s+TABLE\b|PRAGMA\s+\w+|"
                    r"ATTACH\s+DATABASE\b)")
TOKEN_RE = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|[A-Za-z_]\w*|\d[\w.]*|->|\S')
KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "else", "do"}


def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            out.append(" " * 0 + "\n" * text.count("\n", i, n if j < 0 else j))
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_defines(text):
    """(code without preprocessor lines, {macro: (params or None, body tokens)})"""
    macros, code_lines = {}, []
    lines = text.replace("\\\n", " ").split("\n")
    for line in lines:
        s = line.strip()
        if s.startswith("#"):
            m = re.match(r"#\s*define\s+(\w+)(\(([^)]*)\))?\s*(.*)", s)
            if m:
                params = [p.strip() for p in m.group(3).split(",")] if m.group(2) else None
                macros[m.group(1)] = (params, TOKEN_RE.findall(m.group(4)))
            code_lines.append("")
        else:
            code_lines.append(line)
    return "\n".join(code_lines), macros


def is_str(tok):
    return tok.startswith('"')


class Unit:
    def __init__(self, path, text):
        self.path = path
        code, self.macros = split_defines(strip_comments(text))
        self.toks = TOKEN_RE.findall(code)
        self.literal_macros = set()
        changed = True
        while changed:  # macros whose bodies are literals, their parameters and such macros
            changed = False
            for name, (params, body) in self.macros.items():
                if name in self.literal_macros or not body:
                    continue
                ok = any(is_str(t) for t in body) and all(
                    is_str(t) or t in "#(),{}" or (params and t in params) or t in self.literal_macros
                    for t in body)
                if ok:
                    self.literal_macros.add(name)
                    changed = True
        self.literal_vars = self.find_literal_vars()

    def literal_only(self, toks):
        """tokens of an expression or initializer that hold nothing but compile-time text"""
        i, saw_text = 0, False
        while i < len(toks):
            t = toks[i]
            if is_str(t) or t in self.literal_macros or t in GLOBAL_LITERALS:
                saw_text = True
            elif t == "[" and i + 2 < len(toks) and toks[i + 2] == "]" and i + 3 < len(toks) and toks[i + 3] == "=":
                i += 3  # designator [ST_X] =
            elif t == "." and i + 2 < len(toks) and toks[i + 2] == "=":
                i += 2  # designator .field =
            elif t in "{}(),=" or t == "NULL" or re.match(r"\d", t) or t.startswith("'"):
                pass
            else:
                return False
            i += 1
        return saw_text

    def find_literal_vars(self):
        names, toks = set(), self.toks
        for i, t in enumerate(toks):
            if t != "=" or i < 2:
                continue
            # NAME = ..., NAME[] = ..., NAME[N] = ..., with const before NAME on the statement
            j = i - 1
            while toks[j] == "]":  # NAME[], NAME[][2]
                while j > 0 and toks[j] != "[":
                    j -= 1
                j -= 1
            name = toks[j]
            if not re.match(r"[A-Za-z_]\w*$", name):
                continue
            k = j - 1
            decl = []
            while k >= 0 and toks[k] not in ";{":
                if toks[k] == "}":  # an anonymous struct type: skip its members
                    d = 0
                    while k >= 0:
                        d += toks[k] == "}"
                        d -= toks[k] == "{"
                        if d == 0:
                            break
                        k -= 1
                    k -= 1
                    continue
                decl.append(toks[k])
                k -= 1
            if "const" not in decl:
                continue
            if "*" in decl and decl[0] != "const" and "[" not in toks[j:i]:
                continue  # const char *p = ...: the pointer itself may change
            depth, e = 0, i + 1
            while e < len(toks) and not (depth == 0 and toks[e] in ";,"):
                depth += toks[e] in "({["
                depth -= toks[e] in ")}]"
                e += 1
            if self.literal_only(toks[i + 1:e]):
                names.add(name)
        return names

    def calls(self, names):
        """(function name, [argument token lists], index of the name, enclosing function)"""
        toks, func, depth = self.toks, None, 0
        out = []
        for i, t in enumerate(toks):
            if t == "{":
                if depth == 0:
                    func = self.function_at(i)
                depth += 1
            elif t == "}":
                depth -= 1
            elif t in names and i + 1 < len(toks) and toks[i + 1] == "(" and depth > 0:
                args, cur, d, j = [], [], 0, i + 2
                while j < len(toks):
                    x = toks[j]
                    if x in "([{":
                        d += 1
                    elif x in ")]}":
                        if d == 0:
                            break
                        d -= 1
                    if x == "," and d == 0:
                        args.append(cur)
                        cur = []
                    else:
                        cur.append(x)
                    j += 1
                args.append(cur)
                out.append((t, args, i, func))
        return out

    def function_at(self, brace):
        """(name, [parameter names]) of the function whose body opens at toks[brace]"""
        toks = self.toks
        j = brace - 1
        if toks[j] != ")":
            return None
        d, k = 0, j
        while k >= 0:
            d += toks[k] == ")"
            d -= toks[k] == "("
            if d == 0:
                break
            k -= 1
        name = toks[k - 1] if k > 0 else None
        m = k - 2
        while m >= 0 and toks[m] not in ";{}":
            m -= 1
        is_static = "static" in toks[m + 1:k]
        params, cur = [], []
        for x in toks[k + 1:j] + [","]:
            if x == ",":
                ids = [y for y in cur if re.match(r"[A-Za-z_]\w*$", y)]
                params.append(ids[-1] if ids else None)
                cur = []
            else:
                cur.append(x)
        return name, params, is_static


# const char arrays of literal SQL that other files name (the modules' migrations, which
# store.c lists): filled from every file's non-static literal variables before checking
GLOBAL_LITERALS = set()


def check_units(units):
    problems = []
    GLOBAL_LITERALS.clear()
    externs = set()
    for u in units:  # extern const char NAME[];
        for i, t in enumerate(u.toks):
            if t == "extern":
                j = i + 1
                while j < len(u.toks) and u.toks[j] not in ";[(=":
                    j += 1
                externs.add(u.toks[j - 1])
    for u in units:
        GLOBAL_LITERALS.update(u.literal_vars & externs)
    for u in units:  # arrays that list those names are compile-time text too
        u.literal_vars = u.find_literal_vars()
    sinks = dict(SQL_SINKS)
    for u in units:
        for name, args, pos, func in u.calls(GLUE):
            for a in args:
                for t in a:
                    if is_str(t) and SQL_RE.search(t):
                        problems.append(f"{u.path}: {name}() glues SQL text {t[:60]}")
    done = set()
    while True:
        new = {}
        for u in units:
            for name, args, pos, func in u.calls(set(sinks)):
                idx = sinks[name]
                key = (u.path, pos)
                if idx >= len(args) or key in done:
                    continue
                done.add(key)
                a = args[idx]
                if u.literal_only(a):
                    continue
                ident = a[0] if a and re.match(r"[A-Za-z_]\w*$", a[0]) else None
                rest = a[1:]
                # NAME, NAME[i], NAME[i].member, NAME.member
                simple = ident and not any(x in "+-*/&|?:" for x in rest) and rest[:1] in ([], ["["], ["."])
                if ident in u.literal_vars and (not rest or simple):
                    continue
                if ident and not rest and func and ident in func[1]:
                    # a function handing its parameter on: its callers, in every file, are
                    # checked (store_stmt in catalog/store.c takes the modules' SQL)
                    new[func[0]] = func[1].index(ident)
                    continue
                problems.append(f"{u.path}: {name}() runs SQL that is not compile-time text: "
                                f"{' '.join(a)[:80]}")
        added = {k: v for k, v in new.items() if k not in sinks}
        if not added:
            break
        sinks.update(added)
    # a function that hands its parameter to SQL is only safe through its callers: without a
    # caller here (an exported entry point), nothing vouches for what it runs
    for name in sinks:
        if name not in SQL_SINKS and not any(u.calls({name}) for u in units):
            problems.append(f"{name}() runs SQL from a parameter and has no caller to check")
    return problems, sinks


SELF_TEST_BAD = [
    'void f(sqlite3 *db, const char *t) { char q[99]; snprintf(q, 99, "SELECT * FROM x WHERE n = \'%s\'", t); sqlite3_exec(db, q, 0, 0, 0); }',
    'void f(buf *b, const char *t) { buf_printf(b, "DELETE FROM audit_log WHERE seq = %s", t); }',
    'void f(sqlite3 *db, char *sql) { sqlite3_prepare_v2(db, sql, -1, 0, 0); }',
    'static void f(sqlite3 *db, char *sql) { sqlite3_prepare_v2(db, sql, -1, 0, 0); }\n'
    'void g(sqlite3 *db, char *u) { f(db, u); }',
    'void f(sqlite3 *db) { char *q = sqlite3_mprintf("UPDATE t SET a = %Q", "x"); sqlite3_exec(db, q, 0, 0, 0); }',
    'int st(sqlite3 *db, const char *sql) { return sqlite3_prepare_v3(db, sql, -1, 0, 0, 0); }\n'
    'void g(sqlite3 *db, buf *b) { st(db, buf_cstr(b)); }',
]
SELF_TEST_GOOD = [
    '#define COLS "a, b"\nstatic const char *const sql[] = {[0] = "SELECT " COLS " FROM t"};\n'
    'void f(sqlite3 *db, int i) { sqlite3_prepare_v2(db, sql[i], -1, 0, 0); sqlite3_exec(db, "BEGIN", 0, 0, 0); }',
    'static int ex(sqlite3 *db, const char *s) { return sqlite3_exec(db, s, 0, 0, 0); }\n'
    'void g(sqlite3 *db) { static const char p[] = "PRAGMA x = 1;"; ex(db, p); ex(db, "COMMIT"); }',
    'extern const char m4[];\nconst char m4[] = "CREATE TABLE t (a);";\n'
    'static const char *const mig[] = {"CREATE TABLE u (b);", m4};\n'
    'int st(sqlite3 *db, const char *sql) { return sqlite3_prepare_v3(db, sql, -1, 0, 0, 0); }\n'
    'void g(sqlite3 *db, int v) { sqlite3_exec(db, mig[v], 0, 0, 0); st(db, "SELECT a FROM t"); }',
]


def self_test():
    ok = True
    for i, src in enumerate(SELF_TEST_BAD):
        problems, _ = check_units([Unit(f"bad{i}.c", src)])
        if not problems:
            print(f"FAIL: self-test: bad snippet {i} not flagged")
            ok = False
    for i, src in enumerate(SELF_TEST_GOOD):
        problems, _ = check_units([Unit(f"good{i}.c", src)])
        if problems:
            print(f"FAIL: self-test: good snippet {i} flagged: {problems}")
            ok = False
    return ok


def main():
    repo = sys.argv[1]
    if not self_test():
        return 1
    units = []
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("build")]
        for f in files:
            if f.endswith((".c", ".h")):
                p = os.path.join(root, f)
                with open(p, encoding="utf-8", errors="replace") as fh:
                    units.append(Unit(os.path.relpath(p, repo), fh.read()))
    problems, sinks = check_units(units)
    calls = sum(len(u.calls(set(sinks))) for u in units)
    print(f"{len(units)} C files, {calls} calls that run SQL checked; SQL sinks: "
          f"{', '.join(sorted(sinks))}")
    for p in problems:
        print(f"FAIL: {p}")
    if calls == 0:
        print("FAIL: no call that runs SQL found: the checker is blind")
        return 1
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
