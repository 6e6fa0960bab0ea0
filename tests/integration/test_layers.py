"""The dependency rule of docs/architecture.md, checked on the #include lines
of the sources (no gateway needed): adapters see the loop, logging, values
and the reading type - not the store, the mapping layer or the LwM2M client;
lwm2m/ knows nothing of adapters or mapping; and no header or source file
reaches itself through its includes."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIRS = ("adapters", "mapping", "lwm2m", "gateway")
# What every layer may use: leaf headers that include no project header.
BASE = {"gateway/loop.h", "gateway/log.h", "lwm2m/value.h", "lwm2m/precision.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for top in DIRS:
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for fn in files:
                if fn.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(root, fn), REPO)


def includes(path):
    with open(os.path.join(REPO, path), encoding="utf-8", errors="replace") as f:
        text = f.read()
    base = os.path.dirname(path)
    out = []
    for inc in INCLUDE.findall(text):
        target = os.path.normpath(os.path.join(base, inc))
        if os.path.exists(os.path.join(REPO, target)):
            out.append(target)
    return out


def graph():
    return {p: includes(p) for p in sources()}


def test_base_headers_are_leaves():
    g = graph()
    for h in BASE:
        assert [t for t in g[h] if t.split("/")[0] in DIRS] == [], (h, g[h])


def test_adapters_see_only_the_loop_logging_values_and_readings():
    for path, incs in graph().items():
        if not path.startswith("adapters/"):
            continue
        bad = [t for t in incs if not t.startswith("adapters/") and t not in BASE]
        assert not bad, "%s includes %s" % (path, bad)


def test_lwm2m_knows_no_adapter_nor_mapping():
    for path, incs in graph().items():
        if not path.startswith("lwm2m/"):
            continue
        bad = [t for t in incs if t.startswith(("adapters/", "mapping/"))
               or (t.startswith("gateway/") and t not in BASE)]
        assert not bad, "%s includes %s" % (path, bad)


def test_mapping_does_not_include_the_gateway():
    for path, incs in graph().items():
        if path.startswith("mapping/"):
            bad = [t for t in incs if t.startswith("gateway/") and t not in BASE]
            assert not bad, "%s includes %s" % (path, bad)


def test_no_include_cycle():
    g = graph()
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in g.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("include cycle: %s" % " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [])
