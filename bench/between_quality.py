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

usage: make && /usr/bin/python3 bench/between_quality.py [--size 64] [--stages 8]
       [--methods latent,image,ot,crossfade,flow] [--scenarios translate,...]
       [--threads 2] [--extra OPTIONS] [--work DIR] [--write bench/RESULTS.md]
       [--binary build/latdyn]
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from benchlib import cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAR = os.path.join(ROOT, "..", "shared", "data", "seaice", "Sentinel1_HH_Sigma0_2020-03-19T16_01Z.png")
SCENARIOS = ["translate", "rotate", "shear", "lead", "inflow", "source", "drift"]


BINARY = os.path.join(ROOT, "build", "latdyn")


def latdyn(args):
    subprocess.run([BINARY] + args, check=True,
                   stdout=subprocess.DEVNULL)


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
    args = ap.parse_args()
    BINARY = args.binary
    methods = args.methods.split(",")
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
                out = os.path.join(args.work, tex_name, scen, m)
                scores = os.path.join(out, "scores.json")
                if not os.path.exists(scores):
                    t0 = time.time()
                    latdyn(["between", os.path.join(truth, "start.npy"),
                            os.path.join(truth, "end.npy"), "-o", out, "--method", m,
                            "--preset", "quick", "--stages", str(args.stages), "--threads",
                            str(args.threads), "--quiet"] +
                           (shlex.split(args.extra) if m in ("latent", "image") else []))
                    latdyn(["eval", "between", truth, out, "--json", scores])
                    print(f"{tex_name} {scen} {m}: {time.time() - t0:.0f} s", file=sys.stderr)
                with open(scores) as f:
                    results[tex_name, scen, m] = json.load(f)["mean"]
    lines = [f"Machine: {cpu_name()}, {os.cpu_count()} cores, {args.threads} threads. Scenes "
             f"{args.size}x{args.size}, N = {args.stages} stages, `--preset quick` for the "
             "trained methods; mean over the intermediate frames 1..N-1 (PSNR dB / SSIM) and "
             "over the stages (field EPE, px per unit time; - where a method has no fields).",
             f"Command: `make && /usr/bin/python3 bench/between_quality.py --size {args.size} "
             f"--stages {args.stages} --threads {args.threads}"
             + (f" --extra \"{args.extra}\"" if args.extra else "") + "`"]
    for tex_name, _ in textures:
        lines += ["", f"Texture: {tex_name}", "",
                  "| scenario | " + " | ".join(methods) + " |",
                  "|---|" + "---:|" * len(methods)]
        for scen in args.scenarios.split(","):
            cells = []
            best = max(results[tex_name, scen, m]["psnr"] for m in methods)
            for m in methods:
                r = results[tex_name, scen, m]
                psnr = f"**{r['psnr']:.2f}**" if r["psnr"] == best else f"{r['psnr']:.2f}"
                epe = f"{r['epe']:.2f}" if r.get("epe") is not None else "-"
                cells.append(f"{psnr} / {r['ssim']:.3f} / {epe}")
            lines.append(f"| {scen} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(args.write, "between_quality", "between: quality on synthetic ground truth",
                      table)


if __name__ == "__main__":
    sys.exit(main())
