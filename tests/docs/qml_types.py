# SPDX-License-Identifier: MIT
"""The QML types page (docs/QML_TYPES.md) and the modules' .qmltypes, side by side.

    python3 qml_types.py --page docs/QML_TYPES.md FILE.qmltypes...           check
    python3 qml_types.py --page docs/QML_TYPES.md --write FILE.qmltypes...   write the page

The .qmltypes files are what qmltyperegistrar generated for the modules RegistryIO and
RegistryIO.Remote (the build tree's or an install's). The page lists every QML type these modules
export with its C++ class, and each property, signal and method with its C++ name (a property's
READ, WRITE and NOTIFY members). The check fails when a type, member, parameter or C++ name of the
files is missing from the page, or the page lists one the files do not have. Methods that only
differ by trailing parameters (what a C++ default argument generates) count as one.
"""
import argparse
import re
import sys

MODULES = ("RegistryIO", "RegistryIO.Remote")
HEADER = """# QML types

The QML types of the modules `RegistryIO` and `RegistryIO.Remote`, with the C++ name of each
type, property, signal and method. Generated from the modules' `.qmltypes` files by
`tests/docs/qml_types.py --write`; the `docs_qml_types` test fails when this page and the built
modules differ. What each member does: `docs/QML.md` and `docs/API.md`. The module's one type
written in QML, `RegistryInspector` (a table of every handler, over a `DiagnosticsModel`), has
no `.qmltypes` entry: its properties are in `docs/API.md`.
"""

TOKEN = re.compile(r'\s*(?:(//[^\n]*)|("(?:[^"\\]|\\.)*")|([{}\[\]:;,])|([^\s{}\[\]:;,"]+))')


def tokens(text):
    pos = 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                return
            raise SystemExit(f"qmltypes: cannot read at {text[pos:pos + 40]!r}")
        pos = match.end()
        comment, string, punct, word = match.groups()
        if comment:
            continue
        if string is not None:
            yield ("str", string[1:-1])
        elif punct:
            yield ("p", punct)
        elif word:
            yield ("w", word)


def parse_object(toks, i):
    """toks[i] is '{' after an object name: returns (fields, children, next index)."""
    fields, children = {}, []
    i += 1
    while toks[i] != ("p", "}"):
        kind, value = toks[i]
        if toks[i + 1] == ("p", "{"):
            sub_fields, sub_children, i = parse_object(toks, i + 1)
            children.append((value, sub_fields, sub_children))
            continue
        if toks[i + 1] != ("p", ":"):
            raise SystemExit(f"qmltypes: expected ':' after {value}")
        i += 2
        if toks[i] == ("p", "["):
            items = []
            i += 1
            while toks[i] != ("p", "]"):
                if toks[i] != ("p", ","):
                    items.append(toks[i][1])
                i += 1
            fields[value] = items
        else:
            fields[value] = toks[i][1]
        i += 1
        if toks[i] == ("p", ";"):
            i += 1
    return fields, children, i + 1


def components(paths):
    found = {}
    for path in paths:
        toks = list(tokens(open(path, encoding="utf-8").read()))
        i = 0
        while i < len(toks) and toks[i] != ("w", "Module"):
            i += 1
        _, children, _ = parse_object(toks, i + 1)
        for name, fields, members in children:
            if name == "Component":
                found[fields["name"]] = (fields, members)
    return found


def collapse(signatures):
    """Drops a parameter list that is a strict prefix of another one (a default argument)."""
    return sorted(s for s in signatures if not any(o != s and o[: len(s)] == s for o in signatures))


def members_of(fields, members):
    owner = fields["name"]
    rows = []
    for kind, mfields, children in members:
        if kind == "Enum":
            values = ", ".join(mfields.get("values", []))
            rows.append(("enum", mfields["name"], values, "", f"{owner}::{mfields['name']}"))
    for kind, mfields, children in members:
        if kind == "Property":
            cpp = [f"{role} {mfields[key]}" for role, key in (("READ", "read"), ("WRITE", "write"),
                                                            ("NOTIFY", "notify")) if key in mfields]
            access = "read-only" if mfields.get("isReadonly") == "true" else "read-write"
            rows.append(("property", mfields["name"], mfields.get("type", ""), access,
                         f"`{owner}`: " + ", ".join(cpp)))
    for kind in ("Signal", "Method"):
        by_name = {}
        types = {}
        for mkind, mfields, children in members:
            if mkind != kind:
                continue
            params = tuple(c[1]["name"] for c in children if c[0] == "Parameter")
            by_name.setdefault(mfields["name"], set()).add(params)
            for c in children:
                if c[0] == "Parameter":
                    types[(mfields["name"], c[1]["name"])] = c[1].get("type", "")
            if "type" in mfields:
                types[(mfields["name"], None)] = mfields["type"]
        for name in sorted(by_name):
            for params in collapse(by_name[name]):
                shown = ", ".join(f"{p}: {types.get((name, p), '')}" for p in params)
                result = types.get((name, None), "void" if kind == "Method" else "")
                rows.append((kind.lower(), name, shown, result, f"{owner}::{name}"))
    return rows


def model(paths):
    comps = components(paths)
    types = []
    for cpp_name, (fields, members) in comps.items():
        exports = [e for e in fields.get("exports", []) if e.split("/")[0] in MODULES]
        if not exports:
            continue
        module, rest = exports[0].split("/")
        qml_name, version = rest.split(" ")
        rows = members_of(fields, members)
        base = fields.get("prototype", "")
        inherited = []
        # Members of RegistryIO's own C++ bases that QML does not name (rio::QmlHandlerBase).
        while base.startswith("rio::") and base in comps and not [e for e in comps[base][0].get("exports", []) if e.split("/")[0] in MODULES]:
            inherited.append(base)
            rows += members_of(*comps[base])
            base = comps[base][0].get("prototype", "")
        if base.startswith("rio::") and base in comps:
            base_exports = [e for e in comps[base][0].get("exports", []) if e.split("/")[0] in MODULES]
            base = base_exports[0].split("/")[1].split(" ")[0]
        creatable = "not creatable" if fields.get("isCreatable") == "false" else "creatable"
        types.append({"module": module, "version": version, "qml": qml_name, "cpp": cpp_name,
                      "base": base, "via": inherited, "creatable": creatable, "rows": rows})
    types.sort(key=lambda t: (MODULES.index(t["module"]), t["qml"]))
    return types


def render(types):
    out = [HEADER]
    module = None
    for t in types:
        if t["module"] != module:
            module = t["module"]
            out.append(f"## import {module}\n")
        out.append(f"### {t['qml']}\n")
        via = "".join(f" (members of `{v}` included)" for v in t["via"])
        out.append(f"C++ `{t['cpp']}`, QML base `{t['base']}`{via}; {t['creatable']}.\n")
        if not t["rows"]:
            out.append("No members of its own.\n")
            continue
        out.append("| kind | QML | type or parameters | C++ |")
        out.append("|---|---|---|---|")
        for kind, name, a, b, cpp in t["rows"]:
            if kind == "property":
                out.append(f"| property | `{name}` | `{a}`, {b} | {cpp} |")
            elif kind == "enum":
                out.append(f"| enum | `{name}` | {a} | `{cpp}` |")
            elif kind == "signal":
                out.append(f"| signal | `{name}({a})` | | `{cpp}` |")
            else:
                out.append(f"| method | `{name}({a})` | returns `{b}` | `{cpp}` |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def loose(text):
    """The page without the type spellings (Qt versions spell some types differently)."""
    lines = []
    for line in text.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) == 4:
            cells[1] = re.sub(r": [^,)]*", "", cells[1])
            cells[2] = ""
        lines.append(" | ".join(cells))
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--page", required=True)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("qmltypes", nargs="+")
    args = parser.parse_args()
    text = render(model(args.qmltypes))
    if args.write:
        open(args.page, "w", encoding="utf-8").write(text)
        return 0
    page = open(args.page, encoding="utf-8").read()
    if page == text:
        count = sum(1 for line in text.splitlines() if line.startswith("### "))
        print(f"{args.page}: the {count} QML types of {len(args.qmltypes)} .qmltypes files, every member listed")
        return 0
    if loose(page) == loose(text):
        print(f"{args.page}: every QML type and member listed (some types spelled differently by this Qt)")
        return 0
    import difflib
    diff = difflib.unified_diff(page.splitlines(), text.splitlines(), args.page, "from the .qmltypes", lineterm="")
    print("\n".join(diff))
    print(f"{args.page} differs from the modules' .qmltypes: regenerate it with --write and review the diff",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
