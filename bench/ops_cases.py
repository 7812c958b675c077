"""The per-op benchmark cases, shared by bench/ops_torch.py and
bench/compare.py; bench/ops.c lists the same cases (names must match).
Shapes follow between.md's paper preset: batch 16, 32x32 patches, U-Net
levels 32/16/8/4 with 16/32/64/128 channels, k5 (F) and k3 (E, D)."""
CASES = [
    {"name": "conv k3 16->16 32x32", "kind": "conv", "n": 16, "cin": 16, "cout": 16, "k": 3, "hw": 32, "stride": 1},
    {"name": "conv k5 1->16 32x32", "kind": "conv", "n": 16, "cin": 1, "cout": 16, "k": 5, "hw": 32, "stride": 1},
    {"name": "conv k5 16->16 32x32", "kind": "conv", "n": 16, "cin": 16, "cout": 16, "k": 5, "hw": 32, "stride": 1},
    {"name": "conv k5 32->32 16x16", "kind": "conv", "n": 16, "cin": 32, "cout": 32, "k": 5, "hw": 16, "stride": 1},
    {"name": "conv k5 64->64 8x8", "kind": "conv", "n": 16, "cin": 64, "cout": 64, "k": 5, "hw": 8, "stride": 1},
    {"name": "conv k5 128->128 4x4", "kind": "conv", "n": 16, "cin": 128, "cout": 128, "k": 5, "hw": 4, "stride": 1},
    {"name": "conv k3 128->64 8x8", "kind": "conv", "n": 16, "cin": 128, "cout": 64, "k": 3, "hw": 8, "stride": 1},
    {"name": "conv k5 s2 16->32 16x16", "kind": "conv", "n": 16, "cin": 16, "cout": 32, "k": 5, "hw": 16, "stride": 2},
    {"name": "deconv k2s2 64->32 4x4", "kind": "deconv", "n": 16, "cin": 64, "cout": 32, "hw": 4},
    {"name": "maxpool 2x2 16x32x32", "kind": "maxpool", "n": 16, "c": 16, "hw": 32},
    {"name": "resize x2 bilinear 64x8x8", "kind": "resize", "n": 16, "c": 64, "hw": 8},
    {"name": "batchnorm 32x16x16", "kind": "batchnorm", "n": 16, "c": 32, "hw": 16},
    {"name": "layernorm 960x128", "kind": "layernorm", "rows": 960, "d": 128},
    {"name": "linear 960x128->256 relu", "kind": "linear", "rows": 960, "din": 128, "dout": 256},
    {"name": "matmul 16x(60x128)(128x60)", "kind": "matmul", "b": 16, "m": 60, "k": 128, "n": 60},
    {"name": "attention B16 T10 E128 h1", "kind": "attention", "b": 16, "t": 10, "e": 128, "heads": 1},
    {"name": "attention B16 T60 E128 h4", "kind": "attention", "b": 16, "t": 60, "e": 128, "heads": 4},
    {"name": "softmax 960x60", "kind": "softmax", "rows": 960, "d": 60},
    {"name": "advect 4x32x32", "kind": "advect", "n": 16, "c": 4, "hw": 32},
    {"name": "add 16x32x32", "kind": "add", "n": 16, "c": 16, "hw": 32},
    {"name": "concat 2x16x32x32", "kind": "concat", "n": 16, "c": 16, "hw": 32},
    {"name": "mse 1x32x32", "kind": "mse", "n": 16, "c": 1, "hw": 32},
]
