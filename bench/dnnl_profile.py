"""Where a benchmark's oneDNN time goes: reads ONEDNN_VERBOSE=1 output on
stdin and prints, per primitive kind and (for convolutions) pass and shape,
the milliseconds per step and the GFLOP/s (a convolution pass counted as
its direct FLOPs, 2 N OC OH OW IC KH KW, whatever the algorithm, so a
Winograd pass can show more than the machine's rate; compare them with
build/bench/peak). Divide by every step the program ran, warm-up included
(bench/train_step.h: BENCH_WARMUP = 3 before the timed ones).

usage: ONEDNN_VERBOSE=1 build/bench/between_step --threads 2 --steps 10 \\
         | /usr/bin/python3 bench/dnnl_profile.py --steps 13 [--top 25]
"""
import argparse
import collections
import re
import sys

CONV_DIMS = re.compile(r"mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+).*iw(\d+)ow(\d+)kw(\d+)")


def conv_flops(desc):
    m = CONV_DIMS.search(desc)
    if not m:
        return 0.0
    n, ic, oc, ih, oh, kh, iw, ow, kw = map(int, m.groups())
    return 2.0 * n * oc * oh * ow * ic * kh * kw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, required=True,
                    help="steps the program ran, warm-up included")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    ms = collections.defaultdict(float)
    flops = collections.defaultdict(float)
    calls = collections.Counter()
    for line in sys.stdin:
        if not line.startswith("onednn_verbose,exec,"):
            continue
        f = line.rstrip("\n").split(",")
        kind, impl, prop, desc, t = f[3], f[4], f[5], f[-2], float(f[-1])
        key = f"{kind} {prop} {impl} {desc}" if kind == "convolution" else kind
        ms[key] += t
        calls[key] += 1
        if kind == "convolution":
            flops[key] += conv_flops(desc)
    if not ms:
        sys.exit("dnnl_profile: no onednn_verbose exec lines on stdin (ONEDNN_VERBOSE=1 set?)")
    total = sum(ms.values())
    conv = sum(v for k, v in ms.items() if k.startswith("convolution"))
    summary = f"oneDNN: {total / args.steps:.1f} ms per step"
    if conv > 0:
        summary += (f", of which convolutions {conv / args.steps:.1f} ms at "
                    f"{sum(flops.values()) / conv / 1e6:.0f} GFLOP/s")
    print(summary)
    for key in sorted(ms, key=lambda k: -ms[k])[:args.top]:
        rate = f"{flops[key] / ms[key] / 1e6:6.0f} GF/s" if flops[key] else " " * 11
        print(f"{ms[key] / args.steps:7.2f} ms {calls[key] / args.steps:5.1f}x {rate}  {key}")


if __name__ == "__main__":
    main()
