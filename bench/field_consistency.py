"""How well a `latdyn between` run's fields explain the motion between its
two inputs, where no ground truth exists (real image pairs): every pixel x
of I0 is carried along the run's stage fields (fields.npy [N, 2, H, W],
pixels per unit time, N steps of 1/N, bilinear sampling, like a particle),
and I1 is read at the path's end. If the fields are the motion, that image
is I0 again. Prints the PSNR of it against I0 over the interior (a margin
of --margin pixels), with the identity (I1 itself, no motion) for scale,
and the mean speed |v| of each run. Both images are scaled by 1/255 for
8-bit PNGs (PSNR peak 1), left as they are for .npy.

--upscale K scores runs made on the pair shrunk K times (K x K block
means): their fields are repeated K x K, times K (pixels of the full
images), the last rows and columns repeated where K does not divide the
size.

usage: /usr/bin/python3 bench/field_consistency.py I0 I1 RUN_DIR [RUN_DIR ...]
       [--margin 64] [--upscale K]
"""
import argparse
import sys

import numpy as np
from PIL import Image


def load(path):
    if path.endswith(".npy"):
        a = np.load(path).astype(np.float64)
        return a if a.ndim == 2 else a.mean(axis=0)
    return np.asarray(Image.open(path).convert("F"), dtype=np.float64) / 255.0


def sample(img, x, y):
    """Bilinear, border replicated."""
    h, w = img.shape
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2)
    fx, fy = x - x0, y - y0
    return ((1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x0 + 1]) +
            fy * ((1 - fx) * img[y0 + 1, x0] + fx * img[y0 + 1, x0 + 1]))


def psnr(a, b, mask):
    return 10 * np.log10(1.0 / ((a - b) ** 2)[mask].mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("i0")
    ap.add_argument("i1")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--margin", type=int, default=64)
    ap.add_argument("--upscale", type=int, default=1)
    args = ap.parse_args()
    i0, i1 = load(args.i0), load(args.i1)
    h, w = i0.shape
    if i1.shape != i0.shape:
        sys.exit(f"field_consistency: the inputs differ in size ({i0.shape} and {i1.shape})")
    if h <= 2 * args.margin or w <= 2 * args.margin:
        sys.exit(f"field_consistency: a {args.margin} px margin leaves nothing of {w}x{h}")
    mask = np.zeros((h, w), bool)
    mask[args.margin:h - args.margin, args.margin:w - args.margin] = True
    print(f"identity (I1 against I0): {psnr(i1, i0, mask):.2f} dB")
    y0, x0 = np.mgrid[0:h, 0:w].astype(np.float64)
    for run in args.runs:
        fields = np.load(f"{run}/fields.npy").astype(np.float64)
        if args.upscale > 1 and fields.ndim == 4:
            k = args.upscale
            fields = k * np.repeat(np.repeat(fields, k, axis=2), k, axis=3)
            pad = ((0, 0), (0, 0), (0, max(0, h - fields.shape[2])), (0, max(0, w - fields.shape[3])))
            fields = np.pad(fields, pad, mode="edge")[:, :, :h, :w]
        if fields.ndim != 4 or fields.shape[1] != 2 or fields.shape[2:] != (h, w):
            sys.exit(f"field_consistency: {run}/fields.npy is {fields.shape}, not [N, 2, {h}, {w}]")
        n = fields.shape[0]
        x, y = x0.copy(), y0.copy()
        for k in range(n):
            vx, vy = sample(fields[k, 0], x, y), sample(fields[k, 1], x, y)
            x += vx / n
            y += vy / n
        speed = np.hypot(fields[:, 0], fields[:, 1]).mean()
        print(f"{run}: I1 at the path ends against I0 {psnr(sample(i1, x, y), i0, mask):.2f} dB, "
              f"mean |v| {speed:.2f} px per unit time")


if __name__ == "__main__":
    main()
