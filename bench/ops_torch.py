"""PyTorch side of the per-op benchmark (bench/ops.c is the latdyn side).

Times forward + backward of each op family on the shapes of between.md's
paper preset (batch 16, 32x32 patches, 16-128 channels, k3 and k5) with the
given thread count, and prints one JSON object per case:
{"case": ..., "ms": median milliseconds per forward+backward}.
Run with Debian's /usr/bin/python3 (torch 1.13).
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

from ops_cases import CASES


def make(shape, grad=True):
    return torch.rand(*shape).requires_grad_(grad)


def build(case):
    """Returns a closure running forward + backward once."""
    kind, p = case["kind"], case
    if kind == "conv":
        x = make((p["n"], p["cin"], p["hw"], p["hw"]))
        w = make((p["cout"], p["cin"], p["k"], p["k"]))
        b = make((p["cout"],))
        def run():
            y = F.leaky_relu(F.conv2d(x, w, b, stride=p["stride"], padding=p["k"] // 2), 0.2)
            y.backward(torch.ones_like(y))
    elif kind == "deconv":
        x = make((p["n"], p["cin"], p["hw"], p["hw"]))
        w = make((p["cin"], p["cout"], 2, 2))
        b = make((p["cout"],))
        def run():
            y = F.relu(F.conv_transpose2d(x, w, b, stride=2))
            y.backward(torch.ones_like(y))
    elif kind == "maxpool":
        x = make((p["n"], p["c"], p["hw"], p["hw"]))
        def run():
            y = F.max_pool2d(x, 2)
            y.backward(torch.ones_like(y))
    elif kind == "resize":
        x = make((p["n"], p["c"], p["hw"], p["hw"]))
        def run():
            y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            y.backward(torch.ones_like(y))
    elif kind == "batchnorm":
        x = make((p["n"], p["c"], p["hw"], p["hw"]))
        g, b = make((p["c"],)), make((p["c"],))
        rm, rv = torch.zeros(p["c"]), torch.ones(p["c"])
        def run():
            y = F.batch_norm(x, rm, rv, g, b, training=True)
            y.backward(torch.ones_like(y))
    elif kind == "layernorm":
        x = make((p["rows"], p["d"]))
        g, b = make((p["d"],)), make((p["d"],))
        def run():
            y = F.layer_norm(x, (p["d"],), g, b)
            y.backward(torch.ones_like(y))
    elif kind == "linear":
        x = make((p["rows"], p["din"]))
        w, b = make((p["dout"], p["din"])), make((p["dout"],))
        def run():
            y = F.relu(F.linear(x, w, b))
            y.backward(torch.ones_like(y))
    elif kind == "matmul":
        a, b = make((p["b"], p["m"], p["k"])), make((p["b"], p["k"], p["n"]))
        def run():
            y = torch.bmm(a, b)
            y.backward(torch.ones_like(y))
    elif kind == "attention":
        q, k, v = (make((p["b"], p["t"], p["e"])) for _ in range(3))
        h = p["heads"]
        def split(t):
            return t.view(p["b"], p["t"], h, -1).transpose(1, 2)
        def run():
            qh, kh, vh = split(q), split(k), split(v)
            a = torch.softmax(qh @ kh.transpose(-1, -2) / (qh.shape[-1] ** 0.5), -1)
            y = (a @ vh).transpose(1, 2).reshape(p["b"], p["t"], p["e"])
            y.backward(torch.ones_like(y))
    elif kind == "softmax":
        x = make((p["rows"], p["d"]))
        r = torch.rand(p["rows"], p["d"])
        def run():
            y = torch.softmax(x, -1)
            y.backward(r)
    elif kind == "advect":
        z = make((p["n"], p["c"], p["hw"], p["hw"]))
        v = (torch.rand(p["n"], 2, p["hw"], p["hw"]) * 8 - 4).requires_grad_(True)
        hw = p["hw"]
        ys, xs = torch.meshgrid(torch.arange(hw, dtype=torch.float32),
                                torch.arange(hw, dtype=torch.float32), indexing="ij")
        def run():
            gx = 2 * (xs - 0.125 * v[:, 0]) / (hw - 1) - 1
            gy = 2 * (ys - 0.125 * v[:, 1]) / (hw - 1) - 1
            y = F.grid_sample(z, torch.stack([gx, gy], -1), mode="bilinear",
                              padding_mode="border", align_corners=True)
            y.backward(torch.ones_like(y))
    elif kind == "add":
        a, b = make((p["n"], p["c"], p["hw"], p["hw"])), make((p["n"], p["c"], p["hw"], p["hw"]))
        def run():
            y = a + b
            y.backward(torch.ones_like(y))
    elif kind == "concat":
        a, b = make((p["n"], p["c"], p["hw"], p["hw"])), make((p["n"], p["c"], p["hw"], p["hw"]))
        def run():
            y = torch.cat([a, b], 1)
            y.backward(torch.ones_like(y))
    elif kind == "mse":
        a, b = make((p["n"], p["c"], p["hw"], p["hw"])), make((p["n"], p["c"], p["hw"], p["hw"]))
        def run():
            F.mse_loss(a, b).backward()
    else:
        raise ValueError(kind)
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.5, help="time budget per case")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for case in CASES:
        run = build(case)
        for _ in range(3):
            run()
        times = []
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds or len(times) < 5:
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        times.sort()
        print(json.dumps({"case": case["name"], "ms": 1000 * times[len(times) // 2]}), flush=True)


if __name__ == "__main__":
    main()
