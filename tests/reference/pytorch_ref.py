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

StyleGAN (stylegan): latentlab's small StyleGAN2-style network (`src/model/style/`): a 2-layer
mapping MLP (equalised learning rate, multiplier 0.01) from the pixel-normalised z to w, a learned
4x4 constant, per level nearest up-sampling and two modulated 3x3 convolutions with
demodulation (the non-fused form latentlab runs: input scaled by the style, output by the
demodulation factor), per-pixel noise with learned strength, and to-image skips; style mixing
with probability 0.9. D: stride-2 4x4 convolutions, minibatch standard deviation, a 3x3
convolution and two linear layers. Non-saturating loss plus latentlab's finite-difference R1
(one more D pass on the real batch nudged along a random direction), Adam(2e-3, betas 0/0.99)
for both, and the w average tracked after each G step.

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
p.add_argument("--model", required=True, choices=["mlp", "dcgan", "cdcgan", "vae", "stylegan"])
p.add_argument("--width", type=int, default=16)  # stylegan's (latentlab's default)
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

LRELU_GAIN = 2 ** 0.5


def act(x):
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqLinear(nn.Module):
    def __init__(self, i, o, lr_mul=1.0, bias_init=0.0):
        super().__init__()
        self.w = nn.Parameter(torch.randn(i, o) / lr_mul)
        self.b = nn.Parameter(torch.full((o,), bias_init / lr_mul))
        self.scale, self.lr_mul = lr_mul / i ** 0.5, lr_mul

    def forward(self, x):
        return x @ (self.w * self.scale) + self.b * self.lr_mul


class ModConv(nn.Module):
    def __init__(self, i, o, k, wd, demod):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i, k, k))
        self.affine = EqLinear(wd, i, 1.0, 1.0)
        self.bias = nn.Parameter(torch.zeros(o))
        self.demod, self.k, self.gain = demod, k, 1 / (i * k * k) ** 0.5

    def forward(self, x, w):  # x [B, in, H, W], w [B, w_dim]
        s = self.affine(w)
        if not self.demod:
            s = s * self.gain
        wt = self.weight * self.gain if self.demod else self.weight
        y = F.conv2d(x * s[:, :, None, None], wt, padding=self.k // 2)
        if self.demod:
            d = torch.rsqrt(s.square() @ wt.square().sum((2, 3)).t() + 1e-8)  # [B, out]
            y = y * d[:, :, None, None]
        return y + self.bias[None, :, None, None]


def level_channels():
    return [max(a.width << min(STAGES - l, 2), 16) for l in range(STAGES + 1)]


class StyleG(nn.Module):
    def __init__(self):
        super().__init__()
        ch, self.wd = level_channels(), min(max(a.width * 4, 64), 512)
        self.mapping = nn.ModuleList([EqLinear(100 if i == 0 else self.wd, self.wd, 0.01) for i in range(2)])
        self.const = nn.Parameter(torch.randn(1, ch[0], BASE, BASE))
        self.levels = nn.ModuleList()
        for l, c in enumerate(ch):
            m = nn.Module()
            m.conv0 = ModConv(ch[l - 1], c, 3, self.wd, True) if l > 0 else None
            m.n0 = nn.Parameter(torch.zeros(1)) if l > 0 else None
            m.conv1, m.n1 = ModConv(c, c, 3, self.wd, True), nn.Parameter(torch.zeros(1))
            m.rgb = ModConv(c, C, 1, self.wd, False)
            self.levels.append(m)
        self.register_buffer("w_avg", torch.zeros(self.wd))

    def to_w(self, z):
        x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        for layer in self.mapping:
            x = act(layer(x))
        return x

    def forward(self, z, train=True):
        w = self.to_w(z)
        n = len(self.levels)
        ws = [w] * n
        if train and n > 1 and torch.rand(()) < 0.9:  # style mixing from a random level on
            cut = 1 + min(int(torch.rand(()) * (n - 1)), n - 2)
            w2 = self.to_w(torch.randn_like(z))
            ws = ws[:cut] + [w2] * (n - cut)
        x, img = self.const.expand(z.shape[0], -1, -1, -1), None
        for l, m in enumerate(self.levels):
            if m.conv0 is not None:
                x = m.conv0(F.interpolate(x, scale_factor=2, mode="nearest"), ws[l])
                x = act(x + torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device) * m.n0)
            x = m.conv1(x, ws[l])
            x = act(x + torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device) * m.n1)
            rgb = m.rgb(x, ws[l])
            img = rgb if img is None else F.interpolate(img, scale_factor=2, mode="nearest") + rgb
        return torch.tanh(img)


def mbstd(x, group=4):
    b, c, h, w = x.shape
    g = next(g for g in range(min(group, b), 0, -1) if b % g == 0)
    y = x.reshape(g, b // g, c, h, w)
    s = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean((1, 2, 3))  # [b/g]
    s = s.reshape(1, b // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(b, 1, h, w)
    return torch.cat([x, s], 1)


class StyleD(nn.Module):
    def __init__(self):
        super().__init__()
        ch = level_channels()
        self.downs = nn.ModuleList(
            [nn.Conv2d(C if l == STAGES else ch[l], ch[l - 1], 4, 2, 1) for l in range(STAGES, 0, -1)])
        self.conv = nn.Conv2d(ch[0] + 1, ch[0], 3, 1, 1)
        self.fc, self.out = nn.Linear(ch[0] * BASE * BASE, ch[0]), nn.Linear(ch[0], 1)

    def forward(self, x):
        for d in self.downs:
            x = F.leaky_relu(d(x), 0.2)
        x = F.leaky_relu(self.conv(mbstd(x)), 0.2)
        return self.out(F.leaky_relu(self.fc(x.flatten(1)), 0.2))


if a.model == "stylegan":
    G, D = StyleG().to(dev), StyleD().to(dev)
    for m in D.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
    og = torch.optim.Adam(G.parameters(), 2e-3, betas=(0.0, 0.99))
    od = torch.optim.Adam(D.parameters(), 2e-3, betas=(0.0, 0.99))
    gamma = 0.0002 * S * S / B  # StyleGAN2-ADA's rule, as latentlab's
    nudge = 0.05 / (C * S * S) ** 0.5

    def step():
        z = torch.randn(B, 100, device=dev)
        fake = G(z)
        l_real = D(real)
        ld = F.softplus(-l_real).mean() + F.softplus(D(fake.detach())).mean()
        slope = (D(real + torch.randn_like(real) * nudge) - l_real) / nudge  # finite-difference R1
        ld = ld + slope.square().mean() * gamma / 2
        od.zero_grad(); ld.backward(); od.step()
        D.requires_grad_(False)
        lg = F.softplus(-D(fake)).mean()
        og.zero_grad(); lg.backward(); og.step()
        D.requires_grad_(True)
        with torch.no_grad():
            G.w_avg.lerp_(G.to_w(z).mean(0), 1 - 0.995)
        return ld.item(), lg.item()

    generator, zdim = (lambda z: G(z, train=False)), 100
elif a.model == "vae":
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

if a.model not in ("vae", "stylegan"):
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
