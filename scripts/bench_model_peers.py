#!/usr/bin/env python3
"""PyTorch and ONNX Runtime peers of `cargo bench --bench model` (benches/model.rs).

The same network as unetseg's `compact` preset: the original CleanU_Net layers
(Double_conv = Conv2d, ReLU, Conv2d, ReLU; 2x2 max-pool; 2x2 stride-2 transposed
convolution; cat((up, skip)); 1x1 output convolution) at 16-32-64-128-256
channels with same-padded (padding=1) 3x3 convolutions, no batch norm.

Measured, each as median / min / p90 over RUNS after WARMUP runs:
- forward of 1x1x512x512 in PyTorch (eval, no_grad), 2 threads;
- forward of the same model exported to ONNX, in ONNX Runtime, 2 intra-op threads;
- one training step in PyTorch: batch 4 of 1x256x256 crops, forward,
  nn.CrossEntropyLoss on random 0/1 targets, backward, Adam step.

Prints one JSON object (benches/model.rs reads it). OMP_WAIT_POLICY=PASSIVE is
set before torch is imported: on a shared 2-core machine spinning OpenMP workers
otherwise make the timings meaningless.

    .venv-peers/bin/python scripts/bench_model_peers.py [--runs N] [--train-runs N]
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

THREADS = 2


class Double_conv(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.conv(x)


class Conv_down(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv = Double_conv(in_ch, out_ch)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        x = self.conv(x)
        return self.pool(x), x


class Conv_up(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
        self.conv = Double_conv(in_ch, out_ch)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        return self.conv(torch.cat((x1, x2), dim=1))


class CompactUNet(nn.Module):
    """CleanU_Net at base 16 with padding 1 (equal sizes: no skip cropping needed)."""

    def __init__(self, base=16):
        super().__init__()
        c = [base * 2**i for i in range(5)]
        self.Conv_down1 = Conv_down(1, c[0])
        self.Conv_down2 = Conv_down(c[0], c[1])
        self.Conv_down3 = Conv_down(c[1], c[2])
        self.Conv_down4 = Conv_down(c[2], c[3])
        self.Conv_down5 = Conv_down(c[3], c[4])
        self.Conv_up1 = Conv_up(c[4], c[3])
        self.Conv_up2 = Conv_up(c[3], c[2])
        self.Conv_up3 = Conv_up(c[2], c[1])
        self.Conv_up4 = Conv_up(c[1], c[0])
        self.Conv_out = nn.Conv2d(c[0], 2, 1)

    def forward(self, x):
        x, s1 = self.Conv_down1(x)
        x, s2 = self.Conv_down2(x)
        x, s3 = self.Conv_down3(x)
        x, s4 = self.Conv_down4(x)
        _, x = self.Conv_down5(x)
        x = self.Conv_up1(x, s4)
        x = self.Conv_up2(x, s3)
        x = self.Conv_up3(x, s2)
        x = self.Conv_up4(x, s1)
        return self.Conv_out(x)


def timings(f, warmup, runs):
    for _ in range(warmup):
        f()
    ms = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        ms.append((time.perf_counter() - start) * 1e3)
    ms.sort()
    return {"median_ms": ms[len(ms) // 2], "min_ms": ms[0], "p90_ms": ms[len(ms) * 9 // 10], "runs": runs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--train-runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = CompactUNet().eval()
    x = torch.rand(1, 1, 512, 512)
    out = {"threads": THREADS, "torch": torch.__version__}

    with torch.no_grad():
        out["torch_forward_512"] = timings(lambda: model(x), args.warmup, args.runs)

    import onnxruntime as ort

    out["onnxruntime"] = ort.__version__
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "compact.onnx")
        # The TorchScript exporter needs no extra packages; its deprecation notice is noise here.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["logits"], opset_version=18, dynamo=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = THREADS
        so.inter_op_num_threads = 1
        session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}
        onnx_logits = session.run(None, feed)[0]
        with torch.no_grad():
            out["onnx_max_abs_diff_vs_torch"] = float(np.abs(onnx_logits - model(x).numpy()).max())
        out["onnxruntime_forward_512"] = timings(lambda: session.run(None, feed), args.warmup, args.runs)

    train_model = CompactUNet().train()
    optim = torch.optim.Adam(train_model.parameters(), lr=1e-3, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    batch = torch.rand(4, 1, 256, 256)
    target = (torch.rand(4, 256, 256) > 0.5).long()

    def step():
        optim.zero_grad()
        loss = loss_fn(train_model(batch), target)
        loss.backward()
        optim.step()
        return loss.item()

    out["torch_train_step_4x256"] = timings(step, args.warmup, args.train_runs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
