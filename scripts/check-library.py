#!/usr/bin/env python3
"""Checks the library's shape from its compiled objects, so that it stays as the layout promises.

  check-library.py --headers include/memtable --sources <repo> --layer arena:<obj>,<obj>... \
                   --layer skiplist:... --layer memtable:... --static libmemtable.a [--shared libmemtable.so]

- Dependencies between the library's objects (from `nm`: who defines each symbol an object uses) form no
  cycle, and point down the layers only: arena -> nothing above it, skiplist -> arena, memtable -> both.
- Symbols: every global symbol the static library defines is public API (an MT_API function of the headers)
  or carries the private prefix mti_; the shared library exports exactly the public API; every MT_API
  function of the headers is defined.
- Names: no private macro or type in the library's sources uses the public prefixes MT_ / mt_.
Prints each violation and exits 1 if there is any.
"""
import argparse
import os
import re
import subprocess
import sys

LAYERS = ["arena", "skiplist", "memtable"]  # bottom up: a layer may use the ones before it
PRIVATE_PREFIX = "mti_"


def nm(path, *flags):
    out = subprocess.run(["nm", *flags, path], check=True, capture_output=True, text=True).stdout
    return out.splitlines()


def object_symbols(path):
    """(defined globals, undefined) of one object file."""
    defined, undefined = set(), set()
    for line in nm(path):
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1].isupper() and parts[1] not in "UVW":
            defined.add(parts[2])
    return defined, undefined


def public_api(headers):
    api = set()
    for name in sorted(os.listdir(headers)):
        if not name.endswith(".h"):
            continue
        text = open(os.path.join(headers, name)).read()
        for declaration in re.findall(r"MT_API\b([^;{]*)", text):
            match = re.search(r"\b(mt_\w+)\s*\(", declaration)
            if match:
                api.add(match.group(1))
    return api


def find_cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return result


def short(path):
    match = re.search(r"\.dir/(.*)\.o$", path)
    return match.group(1) if match else os.path.basename(path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--headers", required=True)
    parser.add_argument("--sources", required=True)
    parser.add_argument("--layer", action="append", default=[], help="name:obj,obj,...")
    parser.add_argument("--static", required=True)
    parser.add_argument("--shared")
    args = parser.parse_args()
    errors = []

    layer_of, symbols = {}, {}
    for spec in args.layer:
        name, _, objects = spec.partition(":")
        if name not in LAYERS:
            sys.exit(f"unknown layer {name}")
        for obj in filter(None, objects.split(",")):
            if obj.endswith("memtable_assertions_check.c.o"):
                continue
            layer_of[obj] = name
            symbols[obj] = object_symbols(obj)
    if not symbols:
        sys.exit("no objects given")

    definer = {}
    for obj, (defined, _) in symbols.items():
        for symbol in defined:
            definer[symbol] = obj
    graph = {obj: set() for obj in symbols}
    for obj, (_, undefined) in symbols.items():
        for symbol in undefined:
            other = definer.get(symbol)
            if other is None or other == obj:
                continue
            graph[obj].add(other)
            if LAYERS.index(layer_of[other]) > LAYERS.index(layer_of[obj]):
                errors.append(f"layer: {short(obj)} ({layer_of[obj]}) uses {symbol} of {short(other)} "
                              f"({layer_of[other]}), a layer above it")
    for component in find_cycles(graph):
        errors.append("cycle between objects: " + " <-> ".join(short(o) for o in component))

    api = public_api(args.headers)
    static_defined = set()
    for line in nm(args.static, "-g", "--defined-only"):
        parts = line.split()
        if len(parts) == 3:
            static_defined.add(parts[2])
    for symbol in sorted(static_defined):
        if symbol not in api and not symbol.startswith(PRIVATE_PREFIX):
            errors.append(f"static library: {symbol} is neither public API nor prefixed {PRIVATE_PREFIX}")
    for symbol in sorted(api - static_defined):
        errors.append(f"static library: the headers declare {symbol}, which it does not define")
    if args.shared:
        exported = set()
        for line in nm(args.shared, "-D", "--defined-only"):
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRtdbr" and not parts[2].startswith("_"):
                exported.add(parts[2])
        for symbol in sorted(exported - api):
            errors.append(f"shared library: exports {symbol}, which is not public API")
        for symbol in sorted(api - exported):
            errors.append(f"shared library: does not export {symbol}")

    private_name = re.compile(r"^\s*#\s*define\s+(MT_\w+|mt_\w+)|\btypedef\b[^;]*\b(mt_\w+)\s*;")
    for folder in ("arena", "memtable"):
        for root, _, files in os.walk(os.path.join(args.sources, folder)):
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(root, name)
                for number, line in enumerate(open(path), 1):
                    match = private_name.search(line)
                    if match:
                        found = match.group(1) or match.group(2)
                        errors.append(f"{os.path.relpath(path, args.sources)}:{number}: private name {found} "
                                      f"uses the public prefix")

    for error in errors:
        print(error)
    print(f"{len(symbols)} objects, {sum(len(v) for v in graph.values())} dependencies, {len(api)} public "
          f"functions: {'OK' if not errors else str(len(errors)) + ' problem(s)'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
