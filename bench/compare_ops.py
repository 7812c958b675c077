"""Runs the per-op benchmark of latdyn (build/bench/ops) and of PyTorch
(bench/ops_torch.py) in one run, same cases, same thread count, alternating
the two for --rounds rounds (a change in the machine's speed then hits
both) and keeping each case's median over the rounds; prints a markdown
table with the ratio torch/latdyn (> 1: latdyn faster). With
--write FILE, the table replaces the section between the markers
<!-- ops:begin --> and <!-- ops:end --> of FILE.

usage: /usr/bin/python3 bench/compare_ops.py [--threads 2] [--seconds 1] [--rounds 3]
       [--write bench/RESULTS.md]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from benchlib import command_line, cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return {r["case"]: r["ms"] for r in map(json.loads, out.strip().splitlines())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write")
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    common = ["--threads", str(args.threads), "--seconds", str(args.seconds)]
    rounds_ours, rounds_torch = [], []
    for r in range(args.rounds):
        rounds_ours.append(run([os.path.join(ROOT, "build", "bench", "ops")] + common, env))
        rounds_torch.append(run(["/usr/bin/python3", os.path.join(HERE, "ops_torch.py")] + common,
                                env))
        print(f"round {r + 1} of {args.rounds} done", file=sys.stderr)
    ours = {c: statistics.median(r[c] for r in rounds_ours) for c in rounds_ours[0]}
    torch = {c: statistics.median(r[c] for r in rounds_torch) for c in rounds_torch[0]}
    import torch as t
    lines = [f"Machine: {cpu_name()}, {os.cpu_count()} cores; {args.threads} threads; "
             f"PyTorch {t.__version__}. Median ms per forward+backward; median of "
             f"{args.rounds} alternating rounds.",
             command_line("compare_ops.py", ap, args, always=("threads", "seconds", "rounds")),
             "",
             "| case | latdyn ms | PyTorch ms | PyTorch / latdyn |", "|---|---:|---:|---:|"]
    for case, ms in ours.items():
        ref = torch.get(case)
        ratio = f"{ref / ms:.2f}" if ref else "-"
        lines.append(f"| {case} | {ms:.3f} | {ref:.3f} | {ratio} |" if ref else
                     f"| {case} | {ms:.3f} | - | - |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(args.write, "ops", "Per-op forward+backward vs PyTorch", table)


if __name__ == "__main__":
    sys.exit(main())
