"""PyTorch reference for `latentlab bench`: DCGAN-28 (DESIGN section 4), batch 64,
non-saturating loss, Adam(2e-4, betas 0.5/0.999), synthetic inputs.

Usage: python3 pytorch_dcgan28.py [cpu|cuda] [threads]
Prints one JSON line: train examples/s (median of 5 timed runs of 20 steps after 5 warm-up
steps) and generator latency at batch 1 and 64 (median of 50 and 20 calls).
"""
import json, statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

dev = sys.argv[1] if len(sys.argv) > 1 else "cpu"
if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))
B, Z = 64, 100

G = nn.Sequential(
    nn.Linear(Z, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
    nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
    nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh()).to(dev)
D = nn.Sequential(
    nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
    nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
    nn.Flatten(), nn.Linear(128 * 7 * 7, 1)).to(dev)
for m in list(G.modules()) + list(D.modules()):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
real = torch.rand(B, 1, 28, 28, device=dev) * 2 - 1

def sync():
    if dev == "cuda":
        torch.cuda.synchronize()

def step():
    z = torch.randn(B, Z, device=dev)
    fake = G(z)
    ld = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    od.zero_grad(); ld.backward(); od.step()
    lg = F.softplus(-D(fake)).mean()
    og.zero_grad(); lg.backward(); og.step()
    return ld.item(), lg.item()  # read back, as latentlab does every step

for _ in range(5):
    step()
rates = []
for _ in range(5):
    sync(); t = time.perf_counter()
    for _ in range(20):
        step()
    sync(); rates.append(20 * B / (time.perf_counter() - t))

G.eval()
def latency(n, reps):
    z = torch.randn(n, Z, device=dev)
    out = []
    with torch.no_grad():
        for _ in range(5):
            G(z).cpu()
        for _ in range(reps):
            t = time.perf_counter(); G(z).cpu(); out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)

print(json.dumps({"model": "dcgan", "framework": "pytorch " + torch.__version__, "device": dev,
                  "threads": torch.get_num_threads(), "batch": B,
                  "train_examples_per_sec": round(statistics.median(rates), 1),
                  "generate_ms_batch1": round(latency(1, 50), 3),
                  "generate_ms_batch64": round(latency(64, 20), 3)}))
