"""Tabulates the runs of bench/ladid_results.sh from the JSON files that
`latdyn eval` wrote in its work folder: test nMSE per system beside the two
baselines, the continuous-time check and the transfer comparison. With
--write FILE the tables replace the section
<!-- ladid_quality:begin --> ... <!-- ladid_quality:end --> of FILE.

usage: /usr/bin/python3 bench/ladid_table.py [--work build/ladid_results]
       [--write bench/RESULTS.md]
"""
import argparse
import json
import os
import statistics

from benchlib import cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SYSTEMS = [("pend", "pendulum"), ("pend_pe4", "pendulum, `--pe-max-scale 4`"),
           ("rd", "reaction-diffusion"), ("vx", "vortex"),
           ("vxb", "vortex, 1024 instances, 40 epochs, `--pe-max-scale 4`")]


def load(work, name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["mean"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "ladid_results"))
    ap.add_argument("--write")
    args = ap.parse_args()
    lines = [f"Machine: {cpu_name()}, {os.cpu_count()} cores, 2 threads. Paper preset "
             "(time encoding `--pe-max-scale 8` unless said), "
             "100 epochs, curriculum stage every 10 epochs; 256 generated trajectories of "
             "60 frames of 32x32 (10% held out for validation), 64 test trajectories of "
             "another seed; 10 context frames, 50 predicted; nMSE = |y - y_hat|^2 / |y|^2 "
             "per frame, averaged over the test trajectories and the horizon.",
             "Command: `make && sh bench/ladid_results.sh && /usr/bin/python3 "
             "bench/ladid_table.py --write bench/RESULTS.md`", "",
             "| system | model nMSE | repeat last frame | mean training frame | "
             "model / better baseline (target <= 0.5) |", "|---|---:|---:|---:|---:|"]
    for stem, name in SYSTEMS:
        r = load(args.work, f"{stem}_eval.json")
        if r is None:
            lines.append(f"| {name} | not run | | | |")
            continue
        best = min(r["repeat_last"], r["mean_frame"])
        lines.append(f"| {name} | {r['nmse']:.4f} | {r['repeat_last']:.4f} | "
                     f"{r['mean_frame']:.4f} | {r['nmse'] / best:.2f} |")
    lines += ["", "Continuous time: the pendulum models were trained on frames 0.1 apart; "
              "the test trajectories are scored at 0.05 spacing "
              "(`eval --truth pend_fine.h5`), and on irregular time grids (`synth "
              "--irregular`: context and queries at irregular times).", "",
              "| model | nMSE on the training grid | nMSE between samples | "
              "between / on grid (target <= 1.5) | nMSE, irregular grids |",
              "|---|---:|---:|---:|---:|"]
    for stem, label in [("pend", "paper preset (`--pe-max-scale 8`)"),
                        ("pend_pe4", "`--pe-max-scale 4`")]:
        r, irr = load(args.work, f"{stem}_fine.json"), load(args.work, f"{stem}_irr.json")
        if r is not None:
            irregular = f"{irr['nmse']:.4f}" if irr else "-"
            lines.append(f"| {label} | {r['nmse_on_grid']:.4f} | "
                         f"{r['nmse_between_samples']:.4f} | "
                         f"{r['nmse_between_samples'] / r['nmse_on_grid']:.2f} | {irregular} |")
    tuned = [load(args.work, f"tuned{s}_eval.json") for s in (1, 2, 3)]
    scratch = [load(args.work, f"scratch{s}_eval.json") for s in (1, 2, 3)]
    if all(tuned) and all(scratch):
        lines += ["", "Transfer: the pendulum model (length 1 m) fine-tuned on 16 trajectories "
                  "of a 0.5 m pendulum against the same model trained from scratch on the "
                  "same 16 (`finetune --epochs 40 --curriculum 4`, with and without "
                  "`--from-scratch`); test nMSE on 64 other 0.5 m trajectories.", "",
                  "| seed | fine-tuned | from scratch |", "|---|---:|---:|"]
        for s in range(3):
            lines.append(f"| {s + 1} | {tuned[s]['nmse']:.4f} | {scratch[s]['nmse']:.4f} |")
        lines.append(f"| mean | {statistics.mean(t['nmse'] for t in tuned):.4f} | "
                     f"{statistics.mean(t['nmse'] for t in scratch):.4f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(args.write, "ladid_quality", "ladid: prediction quality", table)


if __name__ == "__main__":
    main()
