"""Times one LaDID training step of latdyn (build/bench/ladid_step) and of
the same model in PyTorch (bench/ladid_torch.py) in one run: paper preset,
batch 16 blocks of 60 frames of 32x32 by default, same thread count. The two
alternate for --rounds rounds (so that a change in machine load hits both);
each round reports its median step; the table gives the median over rounds
and the ratio latdyn / PyTorch (the target is at most 0.5). Both print
their parameter count, which must agree. With --write FILE the table
replaces the section <!-- ladid_step:begin --> ... <!-- ladid_step:end -->.

usage: make bench && /usr/bin/python3 bench/compare_ladid.py [--threads 2]
       [--rounds 3] [--steps 8] [--batch 16] [--frames 60] [--size 32]
       [--write bench/RESULTS.md]
"""
import argparse
import os
import sys

from benchlib import command_line, compare_steps, cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--write")
    args = ap.parse_args()
    common = ["--threads", str(args.threads), "--steps", str(args.steps), "--batch",
              str(args.batch), "--frames", str(args.frames), "--size", str(args.size)]
    first, a, b = compare_steps([os.path.join(ROOT, "build", "bench", "ladid_step")] + common,
                                ["/usr/bin/python3", os.path.join(HERE, "ladid_torch.py")] + common,
                                args.threads, args.rounds)
    import torch
    table = "\n".join([
        f"Machine: {cpu_name()}, {os.cpu_count()} cores; {args.threads} threads; "
        f"PyTorch {torch.__version__}; default OpenMP wait policy. Paper preset, "
        f"{first['parameters']:,} parameters in both; one step = forward, backward, Adam; "
        f"batch {args.batch} x {args.frames} frames of {args.size}x{args.size}; median of "
        f"{args.steps} steps per round, median of {args.rounds} alternating rounds.",
        command_line("compare_ladid.py", ap, args, always=("threads", "rounds", "steps")), "",
        "| latdyn s/step | PyTorch s/step | latdyn / PyTorch (target <= 0.5) | latdyn arena peak |",
        "|---:|---:|---:|---:|",
        f"| {a:.4f} | {b:.4f} | {a / b:.2f} | {first['arena_peak_mb']:.0f} MB |"])
    print(table)
    if args.write:
        write_section(args.write, "ladid_step", "ladid: one training step vs PyTorch", table)


if __name__ == "__main__":
    sys.exit(main())
