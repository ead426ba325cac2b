#!/usr/bin/env python3
"""Renders docs/performance.md (and the README's headline table) from one memtable-bench --json run.

    bench/performance_report.py RUN.json --command CMD [--date YYYY-MM-DD] [--misses FILE] [--scale FILE]
                                [--readme README.md]

Prints the Markdown page on stdout. With --readme, also rewrites the block between the README's
"<!-- headline:begin -->" and "<!-- headline:end -->" markers with the headline table of the same run. --misses
and --scale take the text reports of bench/count-misses.sh and bench/scale.sh, each printed in a section of its
own. bench/performance.sh runs everything and calls this; the page is never edited by hand.
"""
import argparse
import datetime
import json
import re
import sys

HEADLINE_BEGIN = "<!-- headline:begin -->"
HEADLINE_END = "<!-- headline:end -->"


def throughput(ops_per_sec):
    if ops_per_sec is None:
        return "n/a"
    if ops_per_sec >= 1e6:
        return f"{ops_per_sec / 1e6:.2f} Mop/s"
    return f"{ops_per_sec / 1e3:.0f} Kop/s"


def ratio(value):
    return "n/a" if value is None else f"{value:.2f}x"


class Run:
    def __init__(self, document):
        self.doc = document
        self.impls = [i for i in document["implementations"] if not i.get("skipped_reason")]
        self.peers = self.impls[1:]
        self.results = {(r["benchmark"], r["implementation"]): r for r in document["results"]}
        self.benchmarks = []
        for r in document["results"]:
            if r["benchmark"] not in self.benchmarks:
                self.benchmarks.append(r["benchmark"])

    def result(self, benchmark, impl):
        return self.results.get((benchmark, impl["name"]))

    def table(self, benchmarks):
        """Throughput of ours and each peer, with ours / peer."""
        ours = self.impls[0]
        header = f"| benchmark | {ours['label']} |"
        rule = "|---|---:|"
        for peer in self.peers:
            header += f" {peer['label']} | ratio |"
            rule += "---:|---:|"
        lines = [header, rule]
        for benchmark in benchmarks:
            mine = self.result(benchmark, ours)
            if mine is None or mine.get("ops_per_sec") is None:
                continue
            line = f"| {benchmark} | {throughput(mine['ops_per_sec'])} |"
            for peer in self.peers:
                theirs = self.result(benchmark, peer)
                if theirs is None or theirs.get("ops_per_sec") is None:
                    line += " n/a | |"
                else:
                    line += f" {throughput(theirs['ops_per_sec'])} | {ratio(theirs.get('ours_over_this'))} |"
            lines.append(line)
        return lines

    def latency_table(self):
        header = "| benchmark |" + "".join(f" {i['label']} |" for i in self.impls)
        rule = "|---|" + "---:|" * len(self.impls)
        lines = [header, rule]
        for benchmark in self.benchmarks:
            row = f"| {benchmark} |"
            for impl in self.impls:
                r = self.result(benchmark, impl)
                ns = None if r is None else r.get("ns_per_op")
                row += " n/a |" if ns is None else f" {ns:.1f} |"
            lines.append(row)
        return lines

    def spread(self):
        """Per benchmark and implementation, the lowest and highest repetition's throughput."""
        lines = ["| benchmark |" + "".join(f" {i['label']} |" for i in self.impls),
                 "|---|" + "---|" * len(self.impls)]
        for benchmark in self.benchmarks:
            row = f"| {benchmark} |"
            for impl in self.impls:
                r = self.result(benchmark, impl)
                rates = [s["ops"] / s["seconds"] for s in (r or {}).get("samples", []) if s.get("seconds")]
                row += " n/a |" if not rates else f" {throughput(min(rates))} – {throughput(max(rates))} |"
            lines.append(row)
        return lines

    def memory_table(self):
        lines = ["| table | implementation | MiB | B/entry | B/entry beyond payload |", "|---|---|---:|---:|---:|"]
        labels = {i["name"]: i["label"] for i in self.doc["implementations"]}
        for m in self.doc.get("memory", []):
            extra = ""
            if m.get("point_index_bytes_per_entry"):
                extra = f" (index {m['point_index_bytes_per_entry']:.1f})"
            lines.append(f"| {m['table']} | {labels.get(m['implementation'], m['implementation'])} | "
                         f"{m['bytes'] / 2**20:.1f} | {m['bytes_per_entry']:.1f} | "
                         f"{m['bytes_per_entry_beyond_payload']:.1f}{extra} |")
        return lines

    def machine_line(self):
        machine = self.doc["machine"]
        latency = machine.get("dependent_load_ns")
        text = f"{machine['cpu']}, {machine['online_cpus']} online CPUs"
        if latency:
            text += f"; dependent-load latency {latency:.0f} ns (the tool's pointer chase)"
        return text

    def workload_line(self):
        c = self.doc["config"]
        return (f"N = {c['num']:,} entries, {c['key_size']}-byte keys, {c['value_size']}-byte values, "
                f"{c['reads']:,} reads, {c['repetitions']} repetitions (medians), {c['writers']} writers in "
                f"fillconcurrent, batches of {c['batch_size']} in fillbatch and {c['read_batch_size']} in "
                f"readrandom_batch")


def headline_block(run, command, date):
    lines = run.table(run.benchmarks)
    lines.append("")
    lines.append(f"Throughput, medians; ratio = ours / peer. `{command}` on {run.machine_line()}, {date}; "
                 f"peers as Debian packages them (RocksDB keeps its assertions). "
                 f"Every figure and the peers' caveats: [docs/performance.md](docs/performance.md).")
    return "\n".join(lines)


def page(run, command, date, misses, scale):
    out = ["# Performance", "",
           "<!-- Generated by bench/performance.sh (bench/performance_report.py) from one memtable-bench --json "
           "run; do not edit: run it again. -->", "",
           f"- **Command:** `{command}`",
           f"- **Date:** {date}; wall time {run.doc['wall_seconds']:.0f} s",
           f"- **Machine:** {run.machine_line()}; build: {run.doc['machine']['build']}",
           f"- **Workload:** {run.workload_line()}",
           "- **Implementations:**"]
    for impl in run.doc["implementations"]:
        skipped = f" (skipped: {impl['skipped_reason']})" if impl.get("skipped_reason") else ""
        out.append(f"  - `{impl['label']}`: {impl['description']}{skipped}")
    out += ["", "Each benchmark is cut into slices that the implementations take in turn, so load from other "
            "processes falls on every column alike. What each benchmark does: [bench/README.md](../bench/README.md).",
            "", "## Throughput", "", "Medians of the repetitions; ratio = ours / peer (> 1: ours is faster).", ""]
    out += run.table(run.benchmarks)
    out += ["", "## Latency", "", "Nanoseconds per operation (per writer for fillconcurrent), medians.", ""]
    out += run.latency_table()
    out += ["", "## Spread", "", "The slowest and the fastest repetition of each figure.", ""]
    out += run.spread()
    out += ["", "## Memory", "", "Arena bytes after the fill; the payload is key + value bytes.", ""]
    out += run.memory_table()
    notes = []
    peer_figures = {"readrandom_batch": "batched get (theirs run one by one: their readrandom)",
                    "readrandom_index": "point index (their figure is their readrandom)",
                    "readmissing_index": "point index (their figure is their readmissing)",
                    "readmissing_bloom": "memtable bloom filter (their figure is their readmissing)"}
    for benchmark, what in peer_figures.items():
        if run.peers and benchmark in run.benchmarks:
            notes.append(f"- {benchmark}: the peers have no {what}.")
    for impl in run.peers:
        if impl.get("caveat"):
            notes.append(f"- `{impl['label']}`: {impl['caveat']}.")
        if impl.get("fillconcurrent_caveat"):
            notes.append(f"- `{impl['label']}` fillconcurrent: {impl['fillconcurrent_caveat']}.")
    if notes:
        out += ["", "## The peers", ""] + notes
    if misses:
        out += ["", "## Cache misses per operation", "",
                "`bench/count-misses.sh --peers=none` (callgrind's cache simulator, 32 MiB last-level cache):", "",
                "```text", misses.rstrip("\n"), "```"]
    if scale:
        out += ["", "## Scaling with the table", "", "`bench/scale.sh` (N = 1M against a larger table, huge pages off "
                "and on):", "", "```text", scale.rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def replace_headline(readme_path, block):
    with open(readme_path, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(re.escape(HEADLINE_BEGIN) + r".*?" + re.escape(HEADLINE_END), re.S)
    if not pattern.search(text):
        sys.exit(f"performance_report.py: {readme_path} has no {HEADLINE_BEGIN} ... {HEADLINE_END} block")
    text = pattern.sub(lambda _: f"{HEADLINE_BEGIN}\n{block}\n{HEADLINE_END}", text)
    with open(readme_path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a memtable-bench --json document")
    parser.add_argument("--command", required=True, help="the command that produced it, quoted in the page")
    parser.add_argument("--date", default=datetime.date.today().isoformat())
    parser.add_argument("--misses", help="bench/count-misses.sh's report")
    parser.add_argument("--scale", help="bench/scale.sh's report")
    parser.add_argument("--readme", help="README.md whose headline block to rewrite")
    args = parser.parse_args()
    with open(args.run, encoding="utf-8") as f:
        run = Run(json.load(f))
    if not run.impls or run.impls[0]["name"] != "memtable":
        sys.exit("performance_report.py: the run has no results of ours")
    misses = open(args.misses, encoding="utf-8").read() if args.misses else None
    scale = open(args.scale, encoding="utf-8").read() if args.scale else None
    sys.stdout.write(page(run, args.command, args.date, misses, scale))
    if args.readme:
        replace_headline(args.readme, headline_block(run, args.command, args.date))


if __name__ == "__main__":
    main()
