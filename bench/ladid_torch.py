"""PyTorch implementation of ladid.md's `paper` preset, layer for layer the
same as latdyn's (src/models/ladid.c, src/nn/transformer.c): frame encoder
(conv5 s2 8/16/32, conv2 s2 64, each ReLU then BatchNorm, linear to d=128);
4 post-norm transformer layers (layer 1: time-window attention
softmax(log(eps) (|dt| / delta_r)^p) on W_v x; layers 2-4: dot-product
attention plus the relative time term W_r sum_j p_ij clip(t_j - t_i) + b_r);
gamma/tau heads (K=32), psi = mean of the reparameterised samples;
dynamics MLP [psi; PE(t - t_start)] 64 -> 256 -> 256 -> 32; static branch
(encoder convs on mean(y_k - y_1) + conv3); decoder (linear, + static map,
four ConvTranspose k2 s2 with ReLU then BatchNorm, conv5, sigmoid); loss =
Gaussian NLL of the query frames (sigma 1e-3) + latent consistency against
the whole block's gamma/tau + N(0, I) prior on psi, each summed and divided
by the batch. One training step = forward, backward, AdamW. Prints the
parameter count and the median step time as JSON.

usage: /usr/bin/python3 bench/ladid_torch.py [--threads 2] [--batch 16]
       [--frames 60] [--size 32] [--steps 10]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

D, K, LAYERS, WAVES, HIDDEN, CONTEXT = 128, 32, 4, 16, 256, 10
DELTA_R, EPS, POWER, CLIP, SCALE_MAX, SIGMA_Y = 0.45, 1e-2, 100.0, 0.5, 8.0, 1e-3
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Layer(nn.Module):
    def __init__(self, window):
        super().__init__()
        self.window = window
        if not window:
            self.q, self.k, self.rel = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(1, D)
        self.v, self.out = nn.Linear(D, D), nn.Linear(D, D)
        self.norm1, self.norm2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.linear1, self.linear2 = nn.Linear(D, 2 * D), nn.Linear(2 * D, D)

    def forward(self, x, bias, rel):
        if self.window:
            a = torch.softmax(bias, -1) @ self.v(x)
        else:
            p = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2) / math.sqrt(D), -1)
            a = p @ self.v(x) + self.rel((p * rel).sum(-1, keepdim=True))
        x = self.norm1(x + self.out(a))
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class LaDID(nn.Module):
    def __init__(self, channels=1, size=32):
        super().__init__()
        cells = (size // 16) ** 2
        widths, kernels = [channels, 8, 16, 32, 64], [5, 5, 5, 2]
        self.enc = nn.ModuleList([nn.Conv2d(widths[i], widths[i + 1], kernels[i], 2,
                                            kernels[i] // 2 if kernels[i] % 2 else 0)
                                  for i in range(4)])
        self.enc_bn = nn.ModuleList([nn.BatchNorm2d(w) for w in widths[1:]])
        self.enc_fc = nn.Linear(64 * cells, D)
        self.layers = nn.ModuleList([Layer(i == 0) for i in range(LAYERS)])
        self.gamma, self.tau = nn.Linear(D, K), nn.Linear(D, K)
        self.dyn = nn.ModuleList([nn.Linear(K + 2 * WAVES, HIDDEN), nn.Linear(HIDDEN, HIDDEN),
                                  nn.Linear(HIDDEN, K)])
        self.static = nn.Conv2d(64, 64, 3, padding=1)
        self.dec_fc = nn.Linear(K, 64 * cells)
        up = [64, 32, 16, 8, 8]
        self.dec = nn.ModuleList([nn.ConvTranspose2d(up[i], up[i + 1], 2, 2) for i in range(4)])
        self.dec_bn = nn.ModuleList([nn.BatchNorm2d(w) for w in up[1:]])
        self.dec_out = nn.Conv2d(8, channels, 5, padding=2)
        self.side = size // 16
        self.freq = math.pi * 2.0 ** torch.linspace(0, SCALE_MAX, WAVES)

    def maps(self, x):
        for conv, bn in zip(self.enc, self.enc_bn):
            x = bn(F.relu(conv(x)))
        return x

    def transform(self, x, u):
        diff = u[:, None, :] - u[:, :, None]  # [b, i, j] = t_j - t_i
        bias = (math.log(EPS) * (diff.abs() / DELTA_R) ** POWER).clamp(min=-1e9)
        rel = diff.clamp(-CLIP, CLIP)
        for layer in self.layers:
            x = layer(x, bias, rel)
        return x

    def loss(self, frames, u, q):
        b, t = u.shape
        seq = frames.view(b, t, -1)
        tokens = self.enc_fc(self.maps(frames).flatten(1)).view(b, t, D)
        h = self.transform(tokens[:, :CONTEXT], u[:, :CONTEXT])
        gamma, tau = self.gamma(h), self.tau(h)
        psi = (gamma + tau.exp() * torch.randn_like(gamma)).mean(1)
        ctx = seq[:, :CONTEXT]
        diff = (ctx.mean(1) - ctx[:, 0]).view(b, *frames.shape[1:])
        stat = self.static(self.maps(diff))
        rel_t = u[:, CONTEXT:] - u[:, :1]
        ang = rel_t[..., None] * self.freq
        pe = torch.cat([ang.sin(), ang.cos()], -1)
        z = torch.cat([psi[:, None].expand(b, q, K), pe], -1)
        z = self.dyn[2](F.relu(self.dyn[1](F.relu(self.dyn[0](z)))))
        x = (self.dec_fc(z) + stat.view(b, 1, -1)).view(b * q, 64, self.side, self.side)
        for conv, bn in zip(self.dec, self.dec_bn):
            x = bn(F.relu(conv(x)))
        pred = torch.sigmoid(self.dec_out(x))
        hf = self.transform(tokens, u)[:, CONTEXT:]
        gf, tf = self.gamma(hf), self.tau(hf)
        target = seq[:, CONTEXT:].reshape(pred.shape)
        ls = math.log(SIGMA_Y)
        rec = (HALF_LOG_2PI + ls + 0.5 * ((target - pred) / SIGMA_Y) ** 2).sum()
        lat = (HALF_LOG_2PI + tf + 0.5 * ((z - gf) * (-tf).exp()) ** 2).sum()
        prior = (HALF_LOG_2PI + 0.5 * psi ** 2).sum()
        return (rec + lat + prior) / b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LaDID(size=args.size)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-2)
    frames = torch.rand(args.batch * args.frames, 1, args.size, args.size)
    t = 0.1 * torch.arange(args.frames, dtype=torch.float32)
    u = (t / t[-1]).repeat(args.batch, 1)
    times = []
    for step in range(args.steps + 3):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = model.loss(frames, u, args.frames - CONTEXT)
        loss.backward()
        opt.step()
        if step >= 3:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"impl": "pytorch", "parameters": params,
                      "step_s": times[len(times) // 2], "loss": float(loss)}))


if __name__ == "__main__":
    main()
