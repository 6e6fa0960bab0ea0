#!/usr/bin/python3
"""Generate lwm2m/registry_table.c from OMA LwM2M DDF XML files.

Usage (from the repository root):
    /usr/bin/python3 tools/gen_registry.py [REGISTRY_DIR] [-o OUTPUT]

REGISTRY_DIR defaults to ../shared/lwm2m-registry (relative to the repository),
OUTPUT to lwm2m/registry_table.c. Only the standard library is used, and the
output depends on nothing but the input files, so running it twice on the same
folder gives byte-identical output (no dates, no absolute paths).
"""

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

# Core LwM2M objects we ship, plus the IPSO ranges (whatever of them the
# registry folder actually holds).
CORE_IDS = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 19, 20, 21, 25}
RANGES = [(3200, 3350), (3410, 3450)]

TYPES = {
    "": "GW_TYPE_NONE",
    "String": "GW_TYPE_STRING",
    "Integer": "GW_TYPE_INTEGER",
    "Unsigned Integer": "GW_TYPE_UNSIGNED",
    "Float": "GW_TYPE_FLOAT",
    "Boolean": "GW_TYPE_BOOLEAN",
    "Opaque": "GW_TYPE_OPAQUE",
    "Time": "GW_TYPE_TIME",
    "Objlnk": "GW_TYPE_OBJLNK",
    "Corelnk": "GW_TYPE_CORELNK",
}

OPS = {
    "": "GW_OP_NONE",
    "R": "GW_OP_R",
    "W": "GW_OP_W",
    "RW": "GW_OP_R | GW_OP_W",
    "E": "GW_OP_E",
}


class DdfError(Exception):
    pass


def wanted(oid):
    if oid in CORE_IDS:
        return True
    return any(lo <= oid <= hi for lo, hi in RANGES)


def text(elem, tag, default=""):
    child = elem.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def parse_id(s, what, where):
    if not re.fullmatch(r"[0-9]+", s or ""):
        raise DdfError(f"{where}: {what} {s!r} is not a decimal number")
    v = int(s)
    if v > 65534:
        raise DdfError(f"{where}: {what} {v} out of range 0..65534")
    return v


def single_multiple(s, where):
    if s not in ("Single", "Multiple"):
        raise DdfError(f"{where}: MultipleInstances {s!r}, expected Single or Multiple")
    return s == "Multiple"


def mandatory_optional(s, where):
    if s not in ("Mandatory", "Optional"):
        raise DdfError(f"{where}: Mandatory {s!r}, expected Mandatory or Optional")
    return s == "Mandatory"


def version_key(v):
    return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))


def parse_object(obj, fname):
    where = fname
    oid = parse_id(text(obj, "ObjectID"), "ObjectID", where)
    where = f"{fname} object {oid}"
    name = text(obj, "Name")
    if not name:
        raise DdfError(f"{where}: missing Name")
    o = {
        "id": oid,
        "name": name,
        "version": text(obj, "ObjectVersion") or "1.0",
        "urn": text(obj, "ObjectURN"),
        "multiple": single_multiple(text(obj, "MultipleInstances", "Single"), where),
        "mandatory": mandatory_optional(text(obj, "Mandatory", "Optional"), where),
        "res": [],
    }
    seen = set()
    for item in obj.findall("Resources/Item"):
        rid = parse_id(item.get("ID"), "resource ID", where)
        rwhere = f"{where} resource {rid}"
        if rid in seen:
            raise DdfError(f"{rwhere}: duplicate resource ID")
        seen.add(rid)
        rname = text(item, "Name")
        if not rname:
            raise DdfError(f"{rwhere}: missing Name")
        typ = text(item, "Type")
        if typ not in TYPES:
            raise DdfError(f"{rwhere}: unknown Type {typ!r}")
        ops = text(item, "Operations")
        if ops not in OPS:
            raise DdfError(f"{rwhere}: unknown Operations {ops!r}")
        o["res"].append({
            "id": rid,
            "name": rname,
            "type": TYPES[typ],
            "ops": OPS[ops],
            "multiple": single_multiple(text(item, "MultipleInstances", "Single"), rwhere),
            "mandatory": mandatory_optional(text(item, "Mandatory", "Optional"), rwhere),
            "units": text(item, "Units"),
            "range": text(item, "RangeEnumeration"),
        })
    o["res"].sort(key=lambda r: r["id"])
    return o


def c_string(s):
    """A C string literal. Non-ASCII bytes become three-digit octal escapes,
    which (unlike \\x) cannot swallow a following hex-looking character."""
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "?":
            out.append("\\?")  # keeps trigraphs such as ??= out of the literal
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


def c_bool(b):
    return "true" if b else "false"


def load(registry_dir):
    chosen = {}
    for fname in sorted(os.listdir(registry_dir)):
        if not fname.endswith(".xml"):
            continue
        path = os.path.join(registry_dir, fname)
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise DdfError(f"{fname}: {e}") from None
        for obj in root.findall("Object"):
            oid_text = text(obj, "ObjectID")
            if not re.fullmatch(r"[0-9]+", oid_text) or not wanted(int(oid_text)):
                continue
            o = parse_object(obj, fname)
            o["file"] = fname
            old = chosen.get(o["id"])
            # Several files may carry one ObjectID (older versions): the
            # highest ObjectVersion wins; on a tie the first file by name.
            if old is None or version_key(o["version"]) > version_key(old["version"]):
                chosen[o["id"]] = o
    return [chosen[k] for k in sorted(chosen)]


def source_note(registry_dir):
    try:
        with open(os.path.join(registry_dir, "SOURCE.md"), encoding="utf-8") as f:
            m = re.search(r"commit ([0-9a-f]{40})", f.read())
            if m:
                return f"OpenMobileAlliance/lwm2m-registry commit {m.group(1)}"
    except OSError:
        pass
    return "the OMA LwM2M registry"


def render(objs, note):
    lines = [
        "/*",
        " * lwm2m/registry_table.c - GENERATED by tools/gen_registry.py, do not edit.",
        f" * Source: DDF files of {note}",
        " * (BSD-3-Clause, Copyright Open Mobile Alliance); descriptions left out.",
        " *",
        " * Regenerate from the repository root with:",
        " *   /usr/bin/python3 tools/gen_registry.py ../shared/lwm2m-registry -o lwm2m/registry_table.c",
        " */",
        '#include "registry.h"',
        "",
    ]
    for o in objs:
        if not o["res"]:
            continue
        lines.append(f"static const gw_resdef_t res_{o['id']}[] = {{")
        for r in o["res"]:
            lines.append(
                f"    {{{r['id']}, {r['type']}, {r['ops']}, {c_bool(r['multiple'])}, "
                f"{c_bool(r['mandatory'])}, {c_string(r['name'])}, {c_string(r['units'])}, "
                f"{c_string(r['range'])}}},"
            )
        lines.append("};")
        lines.append("")
    lines.append("const gw_objdef_t gw_builtin_objects[] = {")
    for o in objs:
        res = f"res_{o['id']}" if o["res"] else "NULL"
        lines.append(
            f"    {{{o['id']}, {c_bool(o['multiple'])}, {c_bool(o['mandatory'])}, "
            f"{c_string(o['name'])}, {c_string(o['version'])}, {c_string(o['urn'])}, "
            f"{len(o['res'])}, {res}}}, /* {o['file']} */"
        )
    lines.append("};")
    lines.append("")
    lines.append("const size_t gw_builtin_objects_count = sizeof gw_builtin_objects / sizeof gw_builtin_objects[0];")
    lines.append("")
    return "\n".join(lines)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("registry_dir", nargs="?", default=os.path.join(repo, "..", "shared", "lwm2m-registry"))
    ap.add_argument("-o", "--output", default=os.path.join(repo, "lwm2m", "registry_table.c"))
    args = ap.parse_args()
    try:
        objs = load(args.registry_dir)
    except (DdfError, OSError) as e:
        print(f"gen_registry: {e}", file=sys.stderr)
        return 1
    if not objs:
        print(f"gen_registry: no wanted objects in {args.registry_dir}", file=sys.stderr)
        return 1
    for o in objs:
        if len(o["res"]) > 65535:
            print(f"gen_registry: object {o['id']} has too many resources", file=sys.stderr)
            return 1
    out = render(objs, source_note(args.registry_dir))
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(out)
    os.replace(tmp, args.output)
    print(f"gen_registry: wrote {len(objs)} objects to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
