"""Times one training step of the `between` paper preset in latdyn
(build/bench/between_step) and in PyTorch (bench/between_torch.py): batch 16,
32x32 patches, N = 8, same thread count, in one run. The two alternate for
--rounds rounds (so that a change in machine load hits both); each round
reports its median step; the table gives the median over rounds and the
ratio PyTorch / latdyn (> 1: latdyn faster). Both print their parameter
count, which must agree. With --write FILE the table replaces the section
<!-- between_step:begin --> ... <!-- between_step:end --> of FILE
(between_step_bf16 with --precision bf16: both sides' bfloat16 modes,
latdyn's --precision bf16 and PyTorch's autocast).

usage: make bench && /usr/bin/python3 bench/compare_between.py [--threads 2] [--rounds 3]
       [--steps 20] [--precision f32|bf16] [--write bench/RESULTS.md]
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
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--precision", choices=("f32", "bf16"), default="f32")
    ap.add_argument("--write")
    args = ap.parse_args()
    common = ["--threads", str(args.threads), "--batch", "16", "--patch", "32", "--stages", "8",
              "--steps", str(args.steps), "--precision", args.precision]
    first, a, b = compare_steps([os.path.join(ROOT, "build", "bench", "between_step")] + common,
                                ["/usr/bin/python3", os.path.join(HERE, "between_torch.py")] + common,
                                args.threads, args.rounds)
    import torch
    table = "\n".join([
        f"Machine: {cpu_name()}, {os.cpu_count()} cores; {args.threads} threads; "
        f"PyTorch {torch.__version__}. Paper preset, {first['parameters']:,} parameters in "
        f"both; one step = forward, backward, Adam; batch 16, 32x32, N = 8; median of "
        f"{args.steps} steps per round, median of {args.rounds} alternating rounds; "
        f"precision {args.precision}"
        + (" (latdyn: convolutions' products in bfloat16; PyTorch: autocast to bfloat16)."
           if args.precision == "bf16" else "."),
        command_line("compare_between.py", ap, args,
                     always=("threads", "rounds", "steps", "precision")), "",
        "| latdyn s/step | PyTorch s/step | PyTorch / latdyn | latdyn arena peak |",
        "|---:|---:|---:|---:|",
        f"| {a:.4f} | {b:.4f} | {b / a:.2f} | {first['arena_peak_mb']:.0f} MB |"])
    print(table)
    if args.write:
        bf16 = args.precision == "bf16"
        write_section(args.write, "between_step_bf16" if bf16 else "between_step",
                      "between: one training step vs PyTorch"
                      + (", bfloat16 products" if bf16 else ""), table)


if __name__ == "__main__":
    sys.exit(main())
