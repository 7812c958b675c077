"""Builds the README's picture from a `latdyn between` output folder: the
first, middle and last frames and the middle stage's quiver plot, side by
side, each scaled to 256 px high.

usage: /usr/bin/python3 docs/make_figure.py OUTDIR docs/seaice.png
"""
import os
import sys

from PIL import Image


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    out, dest = sys.argv[1], sys.argv[2]
    frames = sorted(os.listdir(os.path.join(out, "frames")))
    quivers = sorted(os.listdir(os.path.join(out, "fields")))
    quivers = [q for q in quivers if q.startswith("quiver_")]
    paths = [os.path.join(out, "frames", frames[0]),
             os.path.join(out, "frames", frames[len(frames) // 2]),
             os.path.join(out, "frames", frames[-1]),
             os.path.join(out, "fields", quivers[len(quivers) // 2])]
    tiles = []
    for p in paths:
        im = Image.open(p)
        if im.mode not in ("L", "RGB", "RGBA"):  # 16-bit grey -> 8-bit
            im = im.point(lambda v: v / 257).convert("L")
        im = im.convert("RGB")
        tiles.append(im.resize((round(im.width * 256 / im.height), 256), Image.LANCZOS))
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), 256), "white")
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width + 8
    sheet.save(dest + ".tmp.png")
    os.replace(dest + ".tmp.png", dest)


if __name__ == "__main__":
    main()
