#!/usr/bin/env python3
"""Splits `perf script` output of `audex run` (DWARF call graphs) by pipeline
stage: each sample goes to the first stage whose function is on its stack, in
the order below (the exporter's threads first: everything on them is delivery).
Reads perf script text on stdin; with --us-per-event, also gives each stage's
microseconds an event. Used by profile-run.sh."""
import argparse
import collections
import sys

# (stage, a function or thread name that marks it), first match wins.
STAGES = [
    ("exporter threads (delivery: output file or gRPC)", "tokio-rt-worker"),
    ("receiving (recvmmsg: the kernel's netlink copy, the floor's cost)", "RecvMany::recv"),
    ("parsing", "parse_netlink"),
    ("correlating", "Correlator::push"),
    ("normalizing", "Normalizer<U>::normalize"),
    ("enrichment", "Enricher::enrich"),
    ("the spool's encoding", "Spooler::encode"),
    ("the spool's write", "Spooler::put"),
    ("routing and the rest of the outputs", "Outputs::send"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--us-per-event", type=float)
    args = ap.parse_args()
    total = 0
    counts = collections.Counter()
    kernel = collections.Counter()
    for sample in sys.stdin.read().split("\n\n"):
        lines = sample.strip().split("\n")
        if len(lines) < 2:
            continue
        total += 1
        stage = next((s for s, mark in STAGES if mark in sample), "other")
        counts[stage] += 1
        kernel[stage] += "[kernel.kallsyms]" in lines[1]
    if total == 0:
        sys.exit("no samples (is perf script's input empty?)")
    print(f"{total} samples")
    print("| stage | share | in the kernel |" + (" µs/event |" if args.us_per_event else ""))
    print("|---|---:|---:|" + ("---:|" if args.us_per_event else ""))
    for stage, n in counts.most_common():
        row = f"| {stage} | {100 * n / total:.1f} % | {100 * kernel[stage] / total:.1f} % |"
        if args.us_per_event:
            row += f" {args.us_per_event * n / total:.2f} |"
        print(row)


if __name__ == "__main__":
    main()
