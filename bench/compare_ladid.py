"""Times one LaDID training step of latdyn (build/bench/ladid_step) and of
the same model in PyTorch (bench/ladid_torch.py) in one run, at the same
thread count and problem (paper preset, batch 16 blocks of 60 frames of
32x32 by default), alternating the two `--rounds` times and keeping each
side's best median; prints both parameter counts, both step times and the
ratio latdyn / PyTorch (the target is at most 0.5).

usage: /usr/bin/python3 bench/compare_ladid.py [--threads 2] [--steps 10]
       [--rounds 2] [--batch 16] [--frames 60] [--size 32]
(run `make bench` first)
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    common = ["--threads", str(args.threads), "--steps", str(args.steps), "--batch",
              str(args.batch), "--frames", str(args.frames), "--size", str(args.size)]
    ours_cmd = [os.path.join(ROOT, "build", "bench", "ladid_step")] + common
    torch_cmd = [sys.executable, os.path.join(ROOT, "bench", "ladid_torch.py")] + common
    ours = theirs = None
    for _ in range(args.rounds):
        a, b = run(ours_cmd, args.threads), run(torch_cmd, args.threads)
        ours = a if ours is None or a["step_s"] < ours["step_s"] else ours
        theirs = b if theirs is None or b["step_s"] < theirs["step_s"] else theirs
    ratio = ours["step_s"] / theirs["step_s"]
    print(f"LaDID training step, batch {args.batch} x {args.frames} frames of "
          f"{args.size}x{args.size}, {args.threads} thread(s)")
    print(f"  latdyn : {ours['parameters']:8d} parameters  {1e3 * ours['step_s']:9.1f} ms")
    print(f"  PyTorch: {theirs['parameters']:8d} parameters  {1e3 * theirs['step_s']:9.1f} ms")
    print(f"  ratio latdyn / PyTorch: {ratio:.3f} (target <= 0.5)")
    if ours["parameters"] != theirs["parameters"]:
        print("  WARNING: the parameter counts differ")
        return 1
    print(json.dumps({"threads": args.threads, "latdyn_s": ours["step_s"],
                      "pytorch_s": theirs["step_s"], "ratio": ratio,
                      "parameters": ours["parameters"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
