"""PyTorch references for `latentlab bench`: the same networks as latentlab (DESIGN section 4,
`src/model/`), trained on synthetic inputs by PyTorch's best plain recipe for the algorithm.

GANs (mlp, dcgan, cdcgan): non-saturating loss, Adam(2e-4, betas 0.5/0.999). One G(z) per
step, reused for the D update (detached) and for the G update, as pytorch/examples' dcgan does;
D's parameters are frozen (requires_grad_(False)) during the G update, as latentlab's are. The
losses are read back every step, as latentlab does. (latentlab also updates its generator
average every step; this recipe keeps none.)
VAE: width 32, latent 2, Bernoulli (BCE-with-logits) reconstruction summed per image plus KL,
Adam(1e-3, betas 0.9/0.999).

At other image shapes (--size, --channels) the networks follow the side as latentlab's do
(`ModelConfig::conv_stages`). Where the smallest feature map is 4x4 (32, 64, 128 px) the
DCGAN is pytorch/examples' own: bias-free convolutions, G's first layer a 4x4 transposed
convolution of the 1x1 noise, D's last a 4x4 valid convolution (DCGAN-64 at 64 px, one stage
fewer at 32); latentlab's linear layers there compute the same functions.

Usage: python3 pytorch_ref.py --model dcgan [--device cpu|cuda] [--threads N] [--batch 64]
       [--steps 20] [--runs 5] [--warmup 5] [--size 28] [--channels 1]
Prints one JSON line: train examples/s (median of the timed runs), every run, and generator
latency at batch 1 and 64 (median of 200 and 20 calls, forward and copy to the host).
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, choices=["mlp", "dcgan", "cdcgan", "vae"])
p.add_argument("--device", default="cpu")
p.add_argument("--threads", type=int, default=0)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--runs", type=int, default=5)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--size", type=int, default=28)
p.add_argument("--channels", type=int, default=1)
a = p.parse_args()
S, C = a.size, a.channels


def stages(side):  # as latentlab's ModelConfig::conv_stages: (smallest side, stride-2 stages)
    n = 0
    while side % 2 == 0 and side // 2 >= 4:
        side //= 2
        n += 1
    return side, n


BASE, STAGES = stages(S)
dev, B, CLASSES = a.device, a.batch, 10
if a.threads > 0:
    torch.set_num_threads(a.threads)
torch.manual_seed(0)


W = 64
TOP = W << (STAGES - 1)  # 128 for DCGAN-28, 512 for DCGAN-64
EXAMPLES = BASE == 4  # pytorch/examples' form


def dcgan_g(cond):  # z (+ one-hot) -> [B, C, S, S]
    bias = not EXAMPLES
    if EXAMPLES:
        layers = [nn.Unflatten(1, (100 + cond, 1, 1)),
                  nn.ConvTranspose2d(100 + cond, TOP, 4, 1, 0, bias=False)]
    else:
        layers = [nn.Linear(100 + cond, TOP * BASE * BASE), nn.Unflatten(1, (TOP, BASE, BASE))]
    layers += [nn.BatchNorm2d(TOP), nn.ReLU()]
    c = TOP
    for _ in range(STAGES - 1):
        layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=bias), nn.BatchNorm2d(c // 2), nn.ReLU()]
        c //= 2
    return nn.Sequential(*layers, nn.ConvTranspose2d(c, C, 4, 2, 1, bias=bias), nn.Tanh())


def dcgan_d(planes):  # image (+ label planes) -> logit
    bias = not EXAMPLES
    layers = [nn.Conv2d(C + planes, W, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2)]
    c = W
    for _ in range(STAGES - 1):
        layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=bias), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2)]
        c *= 2
    if EXAMPLES:
        return nn.Sequential(*layers, nn.Conv2d(c, 1, 4, 1, 0, bias=False), nn.Flatten())
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * BASE * BASE, 1))


def mlp_g():
    w = 256
    return nn.Sequential(
        nn.Linear(100, w), nn.LeakyReLU(0.2), nn.Linear(w, 2 * w), nn.LeakyReLU(0.2),
        nn.Linear(2 * w, 4 * w), nn.LeakyReLU(0.2), nn.Linear(4 * w, C * S * S), nn.Tanh(),
        nn.Unflatten(1, (C, S, S)))


def mlp_d():
    w = 256
    return nn.Sequential(
        nn.Flatten(), nn.Linear(C * S * S, 2 * w), nn.LeakyReLU(0.2), nn.Linear(2 * w, w),
        nn.LeakyReLU(0.2), nn.Linear(w, 1))


class Vae(nn.Module):
    def __init__(self, w=32, latent=2):
        super().__init__()
        top = w << (STAGES - 1)
        enc, c = [nn.Conv2d(C, w, 4, 2, 1), nn.ReLU()], w
        for _ in range(STAGES - 1):
            enc += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU()]
            c *= 2
        self.enc = nn.Sequential(*enc, nn.Flatten())
        self.mu = nn.Linear(top * BASE * BASE, latent)
        self.logvar = nn.Linear(top * BASE * BASE, latent)
        dec, c = [nn.Linear(latent, top * BASE * BASE), nn.ReLU(), nn.Unflatten(1, (top, BASE, BASE))], top
        for _ in range(STAGES - 1):
            dec += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.ReLU()]
            c //= 2
        self.dec = nn.Sequential(*dec, nn.ConvTranspose2d(c, C, 4, 2, 1))
        self.latent = latent

    def forward(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


real = torch.rand(B, C, S, S, device=dev) * 2 - 1


def onehot(n):  # labels cycling through the classes, as latentlab's bench data
    return F.one_hot(torch.arange(n, device=dev) % CLASSES, CLASSES).float()

if a.model == "vae":
    net = Vae().to(dev)
    opt = torch.optim.Adam(net.parameters(), 1e-3, betas=(0.9, 0.999))
    target = (real + 1) / 2

    def step():
        mu, logvar = net(real)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = net.dec(z)
        recon = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1).mean()
        kl = 0.5 * (logvar.exp() - logvar - 1 + mu.square()).sum(1).mean()
        opt.zero_grad(); (recon + kl).backward(); opt.step()
        return recon.item(), kl.item()

    generator, zdim = (lambda z: torch.sigmoid(net.dec(z))), 2
else:
    cond = a.model == "cdcgan"
    if a.model == "mlp":
        G, D = mlp_g().to(dev), mlp_d().to(dev)
    else:
        G, D = dcgan_g(CLASSES if cond else 0).to(dev), dcgan_d(CLASSES if cond else 0).to(dev)
        for m in list(G.modules()) + list(D.modules()):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.02)
    og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))

    def g_in(z):
        return torch.cat([z, onehot(z.shape[0])], 1) if cond else z

    def d_of(x):
        if cond:
            planes = onehot(x.shape[0])[:, :, None, None].expand(-1, -1, S, S)
            x = torch.cat([x, planes], 1)
        return D(x)

    def step():
        fake = G(g_in(torch.randn(B, 100, device=dev)))  # one G(z) per step
        ld = F.softplus(-d_of(real)).mean() + F.softplus(d_of(fake.detach())).mean()
        od.zero_grad(); ld.backward(); od.step()
        D.requires_grad_(False)  # no weight gradients for D in the G update
        lg = F.softplus(-d_of(fake)).mean()
        og.zero_grad(); lg.backward(); og.step()
        D.requires_grad_(True)
        return ld.item(), lg.item()  # read back, as latentlab does every step

    generator, zdim = (lambda z: G(g_in(z))), 100

for _ in range(a.warmup):
    step()
rates = []
for _ in range(a.runs):
    sync(); t = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync(); rates.append(a.steps * B / (time.perf_counter() - t))

if a.model != "vae":
    G.eval()


def latency(n, reps):
    z = torch.randn(n, zdim, device=dev)
    out = []
    with torch.no_grad():
        for _ in range(5):
            generator(z).cpu()
        for _ in range(reps):
            t = time.perf_counter(); generator(z).cpu(); out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)


print(json.dumps({"model": a.model, "framework": "pytorch " + torch.__version__, "device": dev,
                  "size": S, "channels": C,
                  "threads": torch.get_num_threads(), "batch": B,
                  "train_examples_per_sec": round(statistics.median(rates), 1),
                  "train_runs": [round(r, 1) for r in rates],
                  "generate_ms_batch1": round(latency(1, 200), 3),
                  "generate_ms_batch64": round(latency(64, 20), 3)}))
