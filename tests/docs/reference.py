# SPDX-License-Identifier: MIT
"""The reference pages, generated from the public headers' `///` comments and the QML modules'
.qmltypes: docs/REFERENCE.md (every public C++ item) and docs/QML_TYPES.md (every QML type and
member, each with the contract of the C++ member behind it).

    python3 reference.py --doxygen doxygen --source DIR FILE.qmltypes...           check
    python3 reference.py --doxygen doxygen --source DIR --write FILE.qmltypes...   write

A header comment is the one home of an item's contract: doxygen reads the headers (docs/Doxyfile,
its XML output), and this script renders every public item once. The check fails when a public
item has no comment, when a contract is longer than two sentences or 600 characters, or when a
committed page differs from what the headers (and, for QML_TYPES.md, the built modules) give.
"""
import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

LIMIT = 600
HEADER_DIRS = ("src/core/include", "src/qt/include", "qml/include", "src/remote/include",
               "qml/remote/include")
LAYERS = (("Core", "`RegistryIO::Core`"), ("Qt", "`RegistryIO::Qt`"), ("QML", "`RegistryIO::Qml`"),
          ("Remote", "`RegistryIO::Remote`"), ("Remote QML", "`RegistryIO::RemoteQml`"))
QML_MODULES = ("RegistryIO", "RegistryIO.Remote")
# Each layer's main header comes first; the others follow by name.
FIRST = ("registryio/registry.h", "registryio/qt/qt_registry.h", "registryio/qml/qml_registry.h",
         "registryio/remote/remote_share.h")


def layer_of(path):
    if path.startswith("registryio/qt/"):
        return "Qt"
    if path.startswith("registryio/qml/"):
        return "QML"
    if path == "registryio/remote/remote_qml_registry.h":
        return "Remote QML"
    if path.startswith("registryio/remote/"):
        return "Remote"
    return "Core"


# --- doxygen's XML -----------------------------------------------------------------------------

def run_doxygen(doxygen, source, out):
    config = open(os.path.join(source, "docs", "Doxyfile"), encoding="utf-8").read()
    inputs = " ".join(d for d in HEADER_DIRS if os.path.isdir(os.path.join(source, d)))
    config += (f"\nOUTPUT_DIRECTORY = {out}\nGENERATE_XML = YES\nGENERATE_HTML = NO\n"
               f"INPUT = {inputs}\nWARN_AS_ERROR = NO\nWARN_LOGFILE = {out}/warnings.txt\n")
    path = os.path.join(out, "Doxyfile")
    open(path, "w", encoding="utf-8").write(config)
    subprocess.run([doxygen, path], cwd=source, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out, "xml")


def md(elem):
    """A description element as one line of Markdown."""
    if elem is None:
        return ""
    parts = []

    def walk(e):
        tag = e.tag
        if tag == "computeroutput":
            parts.append("`" + "".join(e.itertext()) + "`")
        elif tag == "ulink":
            parts.append(f"[{''.join(e.itertext())}]({e.get('url')})")
        elif tag in ("bold", "emphasis"):
            mark = "**" if tag == "bold" else "*"
            parts.append(mark + "".join(e.itertext()) + mark)
        elif tag not in ("simplesect", "parameterlist", "xrefsect"):
            if e.text:
                parts.append(e.text)
            for child in e:
                walk(child)
                if child.tail:
                    parts.append(child.tail)
            if tag == "para":
                parts.append(" ")

    walk(elem)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def doc_of(e):
    return (md(e.find("briefdescription")) + " " + md(e.find("detaileddescription"))).strip()


def sentences(text):
    plain = re.sub(r"`[^`]*`", "x", text)
    plain = re.sub(r"\b(e\.g|i\.e|etc|vs|cf)\.", "x", plain)
    plain = re.sub(r"\d\.\d", "x", plain)
    return len(re.findall(r"[.!?](?=\s|$)", plain)) or 1


def clean_args(args):
    args = re.sub(r"\s*=\s*", " = ", args or "")
    args = re.sub(r"\s+(override|final)\b", "", args)
    args = re.sub(r"\)\s+=\s+default$", ")", args)
    return args.strip()


class Item:
    def __init__(self, kind, name, signature, doc, path, line, qualified):
        self.kind, self.name, self.signature, self.doc = kind, name, signature, doc
        self.path, self.line, self.qualified = path, line, qualified
        self.children = []  # enumerators


def signature_of(m):
    kind = m.get("kind")
    name = m.findtext("name")
    if kind == "property":
        access = "" if m.get("writable") == "yes" else ", read-only"
        return f"Q_PROPERTY {m.findtext('type') or ''} {name}{access}".replace("  ", " ")
    if kind == "enum":
        scoped = "enum class" if m.get("strong") == "yes" else "enum"
        return f"{scoped} {name}"
    if kind == "typedef":
        return f"using {name} = {''.join(m.find('type').itertext()).strip()}"
    if kind == "define":
        params = ", ".join(p.findtext("defname") or "" for p in m.findall("param"))
        return f"{name}({params})"
    type_ = "".join(m.find("type").itertext()).strip() if m.find("type") is not None else ""
    type_ = re.sub(r"\b(RIO_ALWAYS_INLINE|inline|constexpr|static|friend)\s+", "", type_).strip()
    prefix = "static " if m.get("static") == "yes" else ""
    if kind == "signal":
        prefix = "signal "
    if kind == "variable":
        init = m.findtext("initializer") or ""
        init = re.sub(r"\s+", " ", init).strip()
        return f"{type_} {name}{(' ' + init) if init and len(init) < 40 else ''}".strip()
    if kind == "friend":
        type_ = ""
    return f"{prefix}{type_ + ' ' if type_ else ''}{name}{clean_args(m.findtext('argsstring'))}"


def location(e):
    loc = e.find("location")
    path = loc.get("file") if loc is not None else ""
    line = int(loc.get("line") or 0) if loc is not None else 0
    return path, line


def compound_title(c):
    name = c.findtext("compoundname")
    params = c.find("templateparamlist")
    if params is not None:
        names = []
        for p in params.findall("param"):
            decl = p.findtext("declname") or re.sub(r".*\s", "", "".join(p.find("type").itertext()))
            names.append(decl)
        name += "<" + ", ".join(names) + ">"
    return name


def load(xml_dir):
    """(classes, free items, problems): every public item of the headers."""
    index = ET.parse(os.path.join(xml_dir, "index.xml")).getroot()
    compounds = {}
    for c in index.findall("compound"):
        if c.get("kind") in ("dir", "page", "namespace") and c.findtext("name") not in ("rio",):
            continue
        compounds[c.get("refid")] = ET.parse(os.path.join(xml_dir, c.get("refid") + ".xml")).getroot().find("compounddef")
    private = set()
    for c in compounds.values():
        for inner in c.findall("innerclass"):
            if inner.get("prot") != "public":
                private.add(inner.get("refid"))
    classes, free, problems = [], [], []

    def members(c, owner):
        out = []
        for section in c.findall("sectiondef"):
            for m in section.findall("memberdef"):
                if m.get("prot") != "public":
                    continue
                kind = m.get("kind")
                if c.get("kind") == "file" and kind != "define":
                    continue
                doc = doc_of(m)
                args = m.findtext("argsstring") or ""
                name = m.findtext("name")
                if not doc and (re.search(r"=\s*delete", args) or name.startswith("~")):
                    continue  # deleted copies and plain destructors
                path, line = location(m)
                item = Item(kind, name, signature_of(m), doc, path, line, f"{owner}::{name}")
                if kind == "enum":
                    for v in m.findall("enumvalue"):
                        item.children.append(Item("enumvalue", v.findtext("name"), v.findtext("name"),
                                                  doc_of(v), path, line, f"{owner}::{name}::{v.findtext('name')}"))
                out.append(item)
        return out

    for refid, c in compounds.items():
        kind = c.get("kind")
        if refid in private:
            continue
        if kind == "namespace":
            free += members(c, "rio")
            continue
        if kind == "file":
            free += members(c, "")
            continue
        path, line = location(c)
        title = compound_title(c)
        cls = Item(kind, title, title, doc_of(c), path, line, c.findtext("compoundname"))
        cls.children = [] if kind == "concept" else members(c, c.findtext("compoundname"))
        if kind == "concept":
            cls.signature = "concept " + title
        classes.append(cls)
    for item in classes + free:
        for i in [item] + item.children + [x for c in item.children for x in c.children]:
            where = f"{i.path}:{i.line} {i.qualified}"
            if not i.doc:
                problems.append(f"{where}: no /// comment")
            elif sentences(i.doc) > 2:
                problems.append(f"{where}: {sentences(i.doc)} sentences (a contract has at most two)")
            elif len(entry(i)) > LIMIT:
                problems.append(f"{where}: {len(entry(i))} characters with its declaration (at most {LIMIT})")
    return classes, free, problems


# --- the modules' .qmltypes --------------------------------------------------------------------

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
        _, value = toks[i]
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


def qml_components(paths):
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


def exported(fields):
    return [e for e in fields.get("exports", []) if e.split("/")[0] in QML_MODULES]


def qml_model(paths):
    """Every exported QML type: name, module, C++ class, QML base, the classes whose members it
    shows, and its members as (kind, name, detail, C++ class, C++ names)."""
    comps = qml_components(paths)
    types = []
    for cpp, (fields, members) in comps.items():
        exports = exported(fields)
        if not exports:
            continue
        module, rest = exports[0].split("/")
        chain = [cpp]
        base = fields.get("prototype", "")
        while base.startswith("rio::") and base in comps and not exported(comps[base][0]):
            chain.append(base)
            base = comps[base][0].get("prototype", "")
        if base in comps and exported(comps[base][0]):
            base = exported(comps[base][0])[0].split("/")[1].split(" ")[0]
        rows = []
        for owner in chain:
            rows += qml_members(owner, *comps[owner])
        types.append({"module": module, "qml": rest.split(" ")[0], "cpp": cpp, "base": base, "chain": chain,
                      "creatable": fields.get("isCreatable") != "false", "rows": rows})
    types.sort(key=lambda t: (QML_MODULES.index(t["module"]), t["qml"]))
    return types


def qml_members(owner, fields, members):
    rows = []
    for kind, f, _ in members:
        if kind == "Enum":
            rows.append(("enum", f["name"], ", ".join(f.get("values", [])), owner, [f["name"]]))
    for kind, f, _ in members:
        if kind == "Property":
            cpp = [f[k] for k in ("read", "write", "notify") if k in f]
            access = "read-only" if f.get("isReadonly") == "true" else "read-write"
            rows.append(("property", f["name"], f"{f.get('type', '')}, {access}", owner, [f["name"]] + cpp))
    for qkind in ("Signal", "Method"):
        by_name = {}
        for kind, f, children in members:
            if kind == qkind:
                params = tuple(c[1]["name"] for c in children if c[0] == "Parameter")
                by_name.setdefault(f["name"], set()).add(params)
        for name in sorted(by_name):
            # A parameter list that is a prefix of another is a C++ default argument: one row.
            lists = sorted(by_name[name], key=len)
            rows.append((qkind.lower(), name, f"({', '.join(lists[-1])})", owner, [name]))
    return rows


# --- rendering ---------------------------------------------------------------------------------

def anchor(title):
    """GitHub's anchor for a heading."""
    text = title.lower().replace("`", "")
    return re.sub(r"[^a-z0-9 _-]", "", text).replace(" ", "-")


def entry(item, indent=""):
    doc = item.doc
    return f"{indent}- `{item.signature}`: {doc}"


REFERENCE_HEAD = """# Reference

Every public C++ item of RegistryIO, with its contract, layer by layer. Generated from the
headers' `///` comments by `tests/docs/reference.py --write` (the `docs_reference` test fails when a
public item has no comment, when a contract is longer than two sentences, or when this page differs
from the headers); the same comments make the Qt help file `registryio.qch`. The QML types are in
[QML_TYPES.md](QML_TYPES.md); how to use each layer, in the guides linked from the
[README](../README.md#documentation). Everything is in namespace `rio`; `rio::detail` and the
`detail/` folders are not API.
"""

QML_HEAD = """# QML types

The QML types of the modules `RegistryIO` and `RegistryIO.Remote`: each member with its QML type, the
C++ names behind it and its contract. How to use them: the QML guide, `docs/QML.md`.

Generated from the modules' `.qmltypes` and the headers' `///` comments by
`tests/docs/reference.py --write` (the `docs_reference` test fails when this page and the built
modules or the headers differ); doxygen builds it into the Qt help file too, so it links to no other
page. `RegistryInspector`, the module's one type written in QML, is a table of every handler over a `DiagnosticsModel`; its
properties are `model`, `refreshInterval`, `registryFilter`, `title` and `diagnosticsEnabled`.
"""


def render_reference(classes, free, qml_types):
    qml_of = {t["cpp"]: t for t in qml_types}
    qml_shown = {}  # C++ class -> member names QML_TYPES.md documents
    for t in qml_types:
        for _, name, _, owner, cpp in t["rows"]:
            qml_shown.setdefault(owner, set()).update(cpp)
    by_layer = {}
    for item in classes + free:
        by_layer.setdefault(layer_of(item.path), []).append(item)
    out = [REFERENCE_HEAD]
    for layer, target in LAYERS:
        items = by_layer.get(layer, [])
        if not items:
            continue
        out.append(f"## {layer}\n")
        out.append(f"Library {target}.\n")
        headers = {}
        for item in items:
            headers.setdefault(item.path, []).append(item)
        for path in sorted(headers, key=lambda p: (p not in FIRST, p)):
            group = sorted(headers[path], key=lambda i: i.line)
            loose = [i for i in group if i.kind not in ("class", "struct", "concept")]
            for item in group:
                if item.kind in ("class", "struct", "concept"):
                    out.append(f"### `{item.name}`\n")
                    out.append(f"`#include <{path}>`. {item.doc}\n")
                    if item.qualified in qml_of:
                        t = qml_of[item.qualified]
                        out.append(f"QML type `{t['qml']}` ([its members](QML_TYPES.md#{anchor(t['qml'])}));"
                                   " its C++-only members:\n" if item.children else "")
                    rows = []
                    for m in item.children:
                        if m.name in qml_shown.get(item.qualified, ()):
                            continue  # a QML member: described in QML_TYPES.md
                        rows.append(entry(m))
                        rows += [entry(v, "  ") for v in m.children]
                    if rows:
                        out.append("\n".join(rows) + "\n")
            if loose:
                out.append(f"### `<{path}>`\n")
                rows = []
                for m in loose:
                    rows.append(entry(m))
                    rows += [entry(v, "  ") for v in m.children]
                out.append("\n".join(rows) + "\n")
    return "\n".join(out).rstrip() + "\n"


def render_qml(qml_types, classes):
    docs = {}
    for c in classes:
        docs[(c.qualified, "")] = c.doc
        for m in c.children:
            docs.setdefault((c.qualified, m.name), m.doc)
            for v in m.children:
                docs.setdefault((c.qualified, v.name), v.doc)
    out = [QML_HEAD]
    module = None
    for t in qml_types:
        if t["module"] != module:
            module = t["module"]
            out.append(f"## import {module}\n")
        out.append(f"### {t['qml']}\n")
        made = "creatable" if t["creatable"] else "not creatable"
        out.append(f"C++ `{t['cpp']}`, QML base `{t['base']}`, {made}. {docs.get((t['cpp'], ''), '')}\n".replace(" \n", "\n"))
        rows = []
        for kind, name, detail, owner, cpp in t["rows"]:
            doc = docs.get((owner, name), "")
            if kind == "property":
                names = ", ".join(cpp[1:])
                rows.append(f"- property `{name}` ({detail}; C++ {names}): {doc}")
            elif kind == "enum":
                rows.append(f"- enum `{name}` ({detail}): {doc}")
            else:
                rows.append(f"- {kind} `{name}{detail}`: {doc}")
        if rows:
            out.append("\n".join(rows) + "\n")
    return "\n".join(out).rstrip() + "\n"


def compare(path, text, write):
    if write:
        open(path, "w", encoding="utf-8").write(text)
        print(f"wrote {path}")
        return True
    page = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if page == text:
        return True
    diff = difflib.unified_diff(page.splitlines(), text.splitlines(), path, "from the headers", lineterm="", n=1)
    print("\n".join(list(diff)[:60]))
    print(f"{path} differs from what the headers give: run tests/docs/reference.py --write and review the diff",
          file=sys.stderr)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--doxygen", default="doxygen")
    parser.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--write", action="store_true")
    parser.add_argument("qmltypes", nargs="+")
    args = parser.parse_args()
    source = os.path.abspath(args.source)
    with tempfile.TemporaryDirectory() as tmp:
        classes, free, problems = load(run_doxygen(args.doxygen, source, tmp))
    qml_types = qml_model(args.qmltypes)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"{len(problems)} public items lack a contract of at most two sentences", file=sys.stderr)
    ok = compare(os.path.join(source, "docs", "REFERENCE.md"), render_reference(classes, free, qml_types), args.write)
    ok = compare(os.path.join(source, "docs", "QML_TYPES.md"), render_qml(qml_types, classes), args.write) and ok
    return 0 if ok and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
