"""PyTorch implementation of between.md's `paper` preset, layer for layer the
same as latdyn's (src/models/between.c): E = 6 conv3x3 (16) + leaky 0.2 +
conv3x3 to 4; F = U-Net k5 (16, 32, 64, bottleneck 128) from I0 to 2N fields;
D = the same U-Net with k3 from 4 channels to C; N semi-Lagrangian advection
stages (grid_sample, border, align_corners=True); loss = dynamics + l_ae *
auto-encoder + l_mag |v|^2 + l_sx |grad v|^2 + l_st |dv/dt|^2. Prints the
parameter count and the median time of one training step (forward, backward,
Adam) as JSON. With --profile, five more steps run under torch.profiler and
its table of the ops with the most time (per step) goes to stderr.
--precision bf16: the loss under torch.autocast("cpu", torch.bfloat16),
PyTorch's mixed precision (convolutions in bfloat16, and the ops after them
on their bfloat16 outputs), the counterpart of latdyn's --precision bf16
(which keeps everything but the convolutions' products in float32).

usage: /usr/bin/python3 bench/between_torch.py [--threads 2] [--batch 16]
       [--patch 32] [--stages 8] [--steps 20] [--profile] [--precision f32|bf16]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(cin, cout, k):
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class UNet(nn.Module):
    def __init__(self, cin, cout, k, widths=(16, 32, 64, 128), slope=0.2):
        super().__init__()
        self.slope = slope
        self.down = nn.ModuleList()
        c = cin
        for w in widths[:-1]:
            self.down.append(nn.ModuleList([conv(c, w, k), conv(w, w, k)]))
            c = w
        self.bottleneck = nn.ModuleList([conv(c, widths[-1], k), conv(widths[-1], widths[-1], k)])
        c = widths[-1]
        self.up = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ModuleList([conv(c, w, k), conv(2 * w, w, k), conv(w, w, k)]))
            c = w
        self.head = nn.Conv2d(c, cout, 1)

    def act(self, x):
        return F.leaky_relu(x, self.slope)

    def forward(self, x):
        skips = []
        for c0, c1 in self.down:
            x = self.act(c1(self.act(c0(x))))
            skips.append(x)
            x = F.max_pool2d(x, 2)
        for c in self.bottleneck:
            x = self.act(c(x))
        for (cu, c0, c1), s in zip(self.up, reversed(skips)):
            x = F.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False)
            x = self.act(cu(x))
            x = torch.cat([x, s], 1)
            x = self.act(c1(self.act(c0(x))))
        return self.head(x)


class Between(nn.Module):
    def __init__(self, channels=1, latent=4, stages=8):
        super().__init__()
        self.stages = stages
        layers, c = [], channels
        for _ in range(6):
            layers += [conv(c, 16, 3), nn.LeakyReLU(0.2)]
            c = 16
        layers.append(conv(c, latent, 3))
        self.encoder = nn.Sequential(*layers)
        self.field = UNet(channels, 2 * stages, 5)
        self.decoder = UNet(latent, channels, 3)

    @staticmethod
    def advect(z, v, dt):
        n, _, h, w = z.shape
        ys, xs = torch.meshgrid(torch.arange(h, dtype=z.dtype), torch.arange(w, dtype=z.dtype),
                                indexing="ij")
        gx = 2 * (xs - dt * v[:, 0]) / (w - 1) - 1
        gy = 2 * (ys - dt * v[:, 1]) / (h - 1) - 1
        return F.grid_sample(z, torch.stack([gx, gy], -1), mode="bilinear",
                             padding_mode="border", align_corners=True)

    def loss(self, i0, i1, w_ae=1.0, w_mag=1e-4, w_sx=1e-3, w_st=1e-3):
        n, b = self.stages, i0.shape[0]
        fields = self.field(i0)
        z = self.encoder(torch.cat([i0, i1], 0))
        z0, z1 = z[:b], z[b:]
        zn = z0
        for k in range(n):
            zn = self.advect(zn, fields[:, 2 * k:2 * k + 2], 1.0 / n)
        dec = self.decoder(torch.cat([zn, z0, z1], 0))
        dyn = F.mse_loss(dec[:b], i1)
        ae = F.mse_loss(dec[b:2 * b], i0) + F.mse_loss(dec[2 * b:], i1)
        mag = 2 * n * (fields ** 2).mean()
        dx = fields[..., :, 1:] - fields[..., :, :-1]
        dy = fields[..., 1:, :] - fields[..., :-1, :]
        sx = 2 * n * ((dx ** 2).mean() + (dy ** 2).mean())
        st = 2 * (n - 1) * ((fields[:, 2:] - fields[:, :-2]) ** 2).mean()
        return dyn + w_ae * ae + w_mag * mag + w_sx * sx + w_st * st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--stages", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--precision", choices=("f32", "bf16"), default="f32")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Between(stages=args.stages)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    i0 = torch.rand(args.batch, 1, args.patch, args.patch)
    i1 = torch.roll(i0, 2, -1)
    times = []
    for step in range(args.steps + 3):
        t0 = time.perf_counter()
        loss = train_step(model, opt, i0, i1, args.precision)
        if step >= 3:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"impl": "pytorch", "parameters": params,
                      "step_s": times[len(times) // 2], "loss": float(loss)}))
    if args.profile:
        profile(model, opt, i0, i1, args.precision)


def train_step(model, opt, i0, i1, precision):
    """One training step (forward, backward, Adam); returns the loss."""
    opt.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = model.loss(i0, i1)
    loss.backward()
    opt.step()
    return loss


def profile(model, opt, i0, i1, precision, steps=5):
    """Ops by their own time per step over `steps` profiled steps."""
    from torch.profiler import ProfilerActivity
    with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train_step(model, opt, i0, i1, precision)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"profiled: {total / steps / 1e3:.1f} ms per step", file=sys.stderr)
    for e in events[:12]:
        print(f"{e.self_cpu_time_total / steps / 1e3:8.1f} ms  {e.count // steps:4d} calls  {e.key}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
