"""The quality benchmark of `latdyn between`: every method on every
synthetic scenario, with two textures (the real Sentinel-1 image of
../shared/data/seaice, and procedural noise), scored against the truth.
For each (texture, scenario) it runs, exactly as a user would:
    latdyn synth between --scenario S --texture T --size SIZE --stages N -o truth
    latdyn between truth/start.npy truth/end.npy --method M --preset quick ... -o out
    latdyn eval between truth out --json scores.json
and tabulates the mean intermediate-frame PSNR and SSIM and the mean field
EPE per method. With --write FILE the tables replace the section
<!-- between_quality:begin --> ... <!-- between_quality:end --> of FILE.
Runs are kept under --work (default build/between_quality) and reused when
their scores exist (delete the folder to start over).

--extra passes more options to the trained methods (latent, image), e.g.
--extra "--w-time 1e-4" for a weight sweep (use its own --work folder).
The image method refuses the options that act only on an encoder and
decoder (--w-ae, --shrink, --w-image, --image-error, --decoder-width,
--carry-error): sweep those with --methods latent.

--seeds 1,2,3 trains the learned methods once per training seed (the scenes
stay the same; seed 1's runs are the plain table's, the others go to
METHOD_seedK) and tabulates each row's mean PSNR over the seeds with its
range, and on how many seeds latent beats each other method there; with
--write the table goes to the section between_seeds instead.

usage: make && /usr/bin/python3 bench/between_quality.py [--size 64] [--stages 8]
       [--methods latent,image,ot,crossfade,flow] [--scenarios translate,...]
       [--threads 2] [--extra OPTIONS] [--work DIR] [--write bench/RESULTS.md]
       [--binary build/latdyn] [--seeds 1,2,3]
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from benchlib import command_line, cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAR = os.path.join(ROOT, "..", "shared", "data", "seaice", "Sentinel1_HH_Sigma0_2020-03-19T16_01Z.png")
SCENARIOS = ["translate", "rotate", "shear", "lead", "inflow", "source", "drift"]


BINARY = os.path.join(ROOT, "build", "latdyn")


def latdyn(args):
    subprocess.run([BINARY] + args, check=True,
                   stdout=subprocess.DEVNULL)


TRAINED = ("latent", "image")


def run_method(args, truth, method, seed):
    """Runs one method (a trained one with training seed `seed`) on the
    scene in `truth`, unless its scores exist; returns its mean scores."""
    name = method if seed == 1 else f"{method}_seed{seed}"
    out = os.path.join(os.path.dirname(truth), name)
    scores = os.path.join(out, "scores.json")
    if not os.path.exists(scores):
        t0 = time.time()
        trained = shlex.split(args.extra) + ([] if seed == 1 else ["--seed", str(seed)])
        latdyn(["between", os.path.join(truth, "start.npy"), os.path.join(truth, "end.npy"),
                "-o", out, "--method", method, "--preset", "quick", "--stages",
                str(args.stages), "--threads", str(args.threads), "--quiet"] +
               (trained if method in TRAINED else []))
        latdyn(["eval", "between", truth, out, "--json", scores])
        print(f"{os.path.relpath(out, args.work)}: {time.time() - t0:.0f} s", file=sys.stderr)
    with open(scores) as f:
        return json.load(f)["mean"]


def plain_table(args, textures, methods, results):
    """PSNR / SSIM / field EPE per method on training seed 1, the best PSNR
    of each row in bold."""
    lines = []
    for tex_name, _ in textures:
        lines += ["", f"Texture: {tex_name}", "",
                  "| scenario | " + " | ".join(methods) + " |",
                  "|---|" + "---:|" * len(methods)]
        for scen in args.scenarios.split(","):
            cells = []
            best = max(results[tex_name, scen, m, 1]["psnr"] for m in methods)
            for m in methods:
                r = results[tex_name, scen, m, 1]
                psnr = f"**{r['psnr']:.2f}**" if r["psnr"] == best else f"{r['psnr']:.2f}"
                epe = f"{r['epe']:.2f}" if r.get("epe") is not None else "-"
                cells.append(f"{psnr} / {r['ssim']:.3f} / {epe}")
            lines.append(f"| {scen} | " + " | ".join(cells) + " |")
    return lines


def seed_table(args, textures, methods, seeds, results):
    """Mean PSNR over the training seeds (min..max) per method, and on how
    many seeds latent is ahead of each other method."""
    others = [m for m in methods if m != "latent"]
    lines = []
    for tex_name, _ in textures:
        lines += ["", f"Texture: {tex_name}", "",
                  "| scenario | " + " | ".join(methods) + " | " +
                  " | ".join(f"latent > {m}" for m in others) + " |",
                  "|---|" + "---:|" * (len(methods) + len(others))]
        for scen in args.scenarios.split(","):
            def psnrs(m):
                return [results[tex_name, scen, m, s if m in TRAINED else 1]["psnr"]
                        for s in seeds]
            cells = []
            for m in methods:
                v = psnrs(m)
                mean = sum(v) / len(v)
                cells.append(f"{mean:.2f} ({min(v):.2f}..{max(v):.2f})" if m in TRAINED
                             else f"{mean:.2f}")
            ahead = [sum(a > b for a, b in zip(psnrs("latent"), psnrs(m))) for m in others]
            lines.append(f"| {scen} | " + " | ".join(cells) + " | " +
                         " | ".join(f"{k}/{len(seeds)}" for k in ahead) + " |")
    return lines


def main():
    global BINARY
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--stages", type=int, default=8)
    ap.add_argument("--methods", default="latent,image,ot,crossfade,flow")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "between_quality"))
    ap.add_argument("--extra", default="")
    ap.add_argument("--write")
    ap.add_argument("--binary", default=BINARY, help="the latdyn to run (default build/latdyn)")
    ap.add_argument("--seeds", default="1", help="training seeds of latent and image (1)")
    args = ap.parse_args()
    BINARY = args.binary
    methods = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    textures = [("noise", "noise")]
    if os.path.exists(SAR):
        textures.insert(0, ("SAR", SAR))
    else:
        print(f"between_quality: {SAR} is absent, noise texture only", file=sys.stderr)
    results = {}
    for tex_name, tex in textures:
        for scen in args.scenarios.split(","):
            truth = os.path.join(args.work, tex_name, scen, "truth")
            os.makedirs(os.path.dirname(truth), exist_ok=True)
            if not os.path.exists(os.path.join(truth, "truth.json")):
                latdyn(["synth", "between", "--scenario", scen, "--texture", tex, "--size",
                        str(args.size), "--stages", str(args.stages), "-o", truth])
            for m in methods:
                for seed in seeds if m in TRAINED else [1]:
                    results[tex_name, scen, m, seed] = run_method(args, truth, m, seed)
    lines = [f"Machine: {cpu_name()}, {os.cpu_count()} cores, {args.threads} threads. Scenes "
             f"{args.size}x{args.size}, N = {args.stages} stages, `--preset quick` for the "
             "trained methods; " +
             ("mean over the intermediate frames 1..N-1 (PSNR dB / SSIM) and over the stages "
              "(field EPE, px per unit time; - where a method has no fields)." if len(seeds) == 1
              else f"mean intermediate-frame PSNR dB over the training seeds {args.seeds} of "
              "the trained methods (lowest..highest), and the seeds on which latent is ahead."),
             command_line("between_quality.py", ap, args, make="make",
                          always=("size", "stages", "threads"))]
    if len(seeds) > 1:
        lines += seed_table(args, textures, methods, seeds, results)
        section = ("between_seeds", "between: the deciding rows over training seeds")
    else:
        lines += plain_table(args, textures, methods, results)
        section = ("between_quality", "between: quality on synthetic ground truth")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(args.write, *section, table)


if __name__ == "__main__":
    sys.exit(main())
