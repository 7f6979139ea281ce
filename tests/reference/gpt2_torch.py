#!/usr/bin/python3
"""Independent GPT-2 reference in PyTorch (float64 by default).

This is the yardstick the C++ trainer is checked against. It follows the model
contract of the design (docs / shared DESIGN.md) literally and is written for
clarity, not speed:

  * learned position embeddings, pre-LayerNorm blocks, final LayerNorm
  * GELU, tanh approximation
  * causal multi-head attention, scale 1/sqrt(head size)
  * LayerNorm epsilon 1e-5 (biased variance), no dropout
  * LM head tied to the token embedding wte [Vp, C]; cross-entropy over the
    real vocabulary V only (logits[..., :V]), so padded rows never get mass
  * linear weights stored [out, in] (y = x @ W.T + b)

Parameters live in a dict of 16 tensors named and shaped as in an llm.c
checkpoint (per-layer tensors stacked on a leading L axis):

  wte [Vp,C]  wpe [maxT,C]  ln1w [L,C]  ln1b [L,C]  qkvw [L,3C,C]  qkvb [L,3C]
  attprojw [L,C,C]  attprojb [L,C]  ln2w [L,C]  ln2b [L,C]  fcw [L,4C,C]
  fcb [L,4C]  fcprojw [L,C,4C]  fcprojb [L,C]  lnfw [C]  lnfb [C]

The config dict uses llm.c's names: max_seq_len, vocab_size,
padded_vocab_size, num_layers, num_heads, channels (and version on load).

Gradients come from autograd on the explicit forward below; the optimizer is
AdamW written out by hand (adamw_step) so the update formula is visible.

Run `/usr/bin/python3 tests/reference/gpt2_torch.py --self-test` to check the
reference against itself (built-in torch ops, finite differences,
torch.optim.AdamW, file round trips).
"""

import math
import os
import sys

import numpy as np
import torch

CKPT_MAGIC = 20240326
SHARD_MAGIC = 20240520
HEADER_INTS = 256
LN_EPS = 1e-5

PARAM_NAMES = (
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
)

# Weight decay applies to the matrices and embeddings only; biases and
# LayerNorm gains/shifts are never decayed.
DECAY_NAMES = frozenset(("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"))


# ----------------------------------------------------------------------------
# shapes and config

def make_config(max_seq_len, vocab_size, num_layers, num_heads, channels,
                padded_vocab_size=None):
    if padded_vocab_size is None:
        padded_vocab_size = vocab_size
    if padded_vocab_size < vocab_size:
        raise ValueError("padded_vocab_size < vocab_size")
    if channels % num_heads != 0:
        raise ValueError("channels must be divisible by num_heads")
    return {
        "max_seq_len": int(max_seq_len),
        "vocab_size": int(vocab_size),
        "padded_vocab_size": int(padded_vocab_size),
        "num_layers": int(num_layers),
        "num_heads": int(num_heads),
        "channels": int(channels),
    }


def param_shapes(config):
    """Shapes of the 16 tensors, in llm.c checkpoint order."""
    Vp = config["padded_vocab_size"]
    maxT = config["max_seq_len"]
    L = config["num_layers"]
    C = config["channels"]
    return {
        "wte": (Vp, C),
        "wpe": (maxT, C),
        "ln1w": (L, C),
        "ln1b": (L, C),
        "qkvw": (L, 3 * C, C),
        "qkvb": (L, 3 * C),
        "attprojw": (L, C, C),
        "attprojb": (L, C),
        "ln2w": (L, C),
        "ln2b": (L, C),
        "fcw": (L, 4 * C, C),
        "fcb": (L, 4 * C),
        "fcprojw": (L, C, 4 * C),
        "fcprojb": (L, C),
        "lnfw": (C,),
        "lnfb": (C,),
    }


def num_parameters(config):
    return sum(math.prod(s) for s in param_shapes(config).values())


def random_params(config, seed=0, dtype=torch.float64, std=0.02,
                  ln_noise=0.1, bias_noise=0.02):
    """A random model whose every parameter matters.

    Matrices/embeddings ~ N(0, std) (padded wte rows included, so a trainer
    that leaks probability mass onto them produces a different loss);
    LayerNorm gains 1 + N(0, ln_noise); biases and LayerNorm shifts
    N(0, bias_noise).
    """
    g = torch.Generator().manual_seed(int(seed))
    params = {}
    for name, shape in param_shapes(config).items():
        if name in DECAY_NAMES:
            t = torch.randn(shape, generator=g, dtype=torch.float64) * std
        elif name in ("ln1w", "ln2w", "lnfw"):
            t = 1.0 + torch.randn(shape, generator=g, dtype=torch.float64) * ln_noise
        else:
            t = torch.randn(shape, generator=g, dtype=torch.float64) * bias_noise
        params[name] = t.to(dtype)
    return params


# ----------------------------------------------------------------------------
# llm.c file formats

def _read_header(f, path, magic):
    raw = f.read(HEADER_INTS * 4)
    if len(raw) != HEADER_INTS * 4:
        raise ValueError(f"{path}: file too short for a 256-int32 header")
    header = np.frombuffer(raw, dtype="<i4")
    if int(header[0]) != magic:
        raise ValueError(f"{path}: bad magic {int(header[0])}, expected {magic}")
    return header


def load_llmc_checkpoint(path, dtype=torch.float64):
    """Read an llm.c GPT-2 checkpoint (version 3, or version 1 with Vp = V).

    Returns (config, params): config as in make_config plus "version";
    params a dict of the 16 tensors in llm.c order, converted to dtype.
    """
    with open(path, "rb") as f:
        header = _read_header(f, path, CKPT_MAGIC)
        version = int(header[1])
        if version not in (1, 3):
            raise ValueError(f"{path}: unsupported checkpoint version {version}")
        V = int(header[3])
        Vp = int(header[7]) if version == 3 else V
        config = make_config(max_seq_len=int(header[2]), vocab_size=V,
                             num_layers=int(header[4]), num_heads=int(header[5]),
                             channels=int(header[6]), padded_vocab_size=Vp)
        data = np.frombuffer(f.read(), dtype="<f4")
    shapes = param_shapes(config)
    expected = sum(math.prod(s) for s in shapes.values())
    if data.size != expected:
        raise ValueError(f"{path}: {data.size} floats after the header, "
                         f"expected {expected} for config {config}")
    params = {}
    off = 0
    for name in PARAM_NAMES:
        n = math.prod(shapes[name])
        arr = data[off:off + n].reshape(shapes[name])
        params[name] = torch.from_numpy(arr.copy()).to(dtype)
        off += n
    config["version"] = version
    return config, params


def write_llmc_checkpoint(path, config, params):
    """Write an llm.c version-3 checkpoint (float32, padded vocab)."""
    shapes = param_shapes(config)
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0] = CKPT_MAGIC
    header[1] = 3
    header[2] = config["max_seq_len"]
    header[3] = config["vocab_size"]
    header[4] = config["num_layers"]
    header[5] = config["num_heads"]
    header[6] = config["channels"]
    header[7] = config["padded_vocab_size"]
    with open(path, "wb") as f:
        f.write(header.tobytes())
        for name in PARAM_NAMES:
            t = params[name].detach().cpu()
            if tuple(t.shape) != shapes[name]:
                raise ValueError(f"{name}: shape {tuple(t.shape)}, expected {shapes[name]}")
            f.write(t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


def read_token_shard(path):
    """Read an llm.c token shard; returns a 1-D int64 tensor of tokens."""
    with open(path, "rb") as f:
        header = _read_header(f, path, SHARD_MAGIC)
        if int(header[1]) != 1:
            raise ValueError(f"{path}: unsupported shard version {int(header[1])}")
        ntok = int(header[2])
        data = np.frombuffer(f.read(), dtype="<u2")
    if data.size != ntok:
        raise ValueError(f"{path}: header says {ntok} tokens, file holds {data.size}")
    return torch.from_numpy(data.astype(np.int64))


def write_token_shard(path, tokens):
    """Write tokens (any int sequence/tensor, values < 65536) as an llm.c shard."""
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.detach().cpu().numpy()
    tokens = np.asarray(tokens).reshape(-1)
    if tokens.size and (tokens.min() < 0 or tokens.max() > 65535):
        raise ValueError("token ids must fit in uint16")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0] = SHARD_MAGIC
    header[1] = 1
    header[2] = tokens.size
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype("<u2").tobytes())


# ----------------------------------------------------------------------------
# the model, written out op by op

def layernorm(x, w, b, eps=LN_EPS):
    mean = x.mean(dim=-1, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(dim=-1, keepdim=True)   # biased variance
    return xc / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def linear(x, w, b):
    # w is [out, in]
    return x @ w.transpose(0, 1) + b


def causal_self_attention(x, qkvw, qkvb, projw, projb, num_heads):
    B, T, C = x.shape
    hs = C // num_heads
    qkv = linear(x, qkvw, qkvb)                            # [B,T,3C]: q | k | v
    q, k, v = qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:]
    # head h owns channels [h*hs, (h+1)*hs) of each of q, k, v
    q = q.reshape(B, T, num_heads, hs).transpose(1, 2)     # [B,NH,T,hs]
    k = k.reshape(B, T, num_heads, hs).transpose(1, 2)
    v = v.reshape(B, T, num_heads, hs).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))   # [B,NH,T,T]
    future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))
    scores = scores - scores.max(dim=-1, keepdim=True).values.detach()
    e = torch.exp(scores)
    att = e / e.sum(dim=-1, keepdim=True)
    y = (att @ v).transpose(1, 2).reshape(B, T, C)
    return linear(y, projw, projb)


def logits_fn(params, config, inputs):
    """Logits over the real vocabulary only: [B, T, V]."""
    L = config["num_layers"]
    NH = config["num_heads"]
    V = config["vocab_size"]
    B, T = inputs.shape
    if T > config["max_seq_len"]:
        raise ValueError(f"sequence length {T} > max_seq_len {config['max_seq_len']}")
    if int(inputs.min()) < 0 or int(inputs.max()) >= V:
        raise ValueError("input token out of range [0, V)")
    p = params
    x = p["wte"][inputs] + p["wpe"][:T]
    for l in range(L):
        h = layernorm(x, p["ln1w"][l], p["ln1b"][l])
        x = x + causal_self_attention(h, p["qkvw"][l], p["qkvb"][l],
                                      p["attprojw"][l], p["attprojb"][l], NH)
        h = layernorm(x, p["ln2w"][l], p["ln2b"][l])
        h = gelu_tanh(linear(h, p["fcw"][l], p["fcb"][l]))
        x = x + linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = layernorm(x, p["lnfw"], p["lnfb"])
    logits = x @ p["wte"].transpose(0, 1)                   # [B,T,Vp], tied head
    return logits[..., :V]


def cross_entropy_mean(logits, targets):
    m = logits.max(dim=-1, keepdim=True).values.detach()
    lse = m.squeeze(-1) + torch.log(torch.exp(logits - m).sum(dim=-1))
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (lse - picked).mean()


def forward(params, config, inputs, targets):
    """Mean cross-entropy loss (a 0-d tensor, differentiable) of one batch.

    inputs, targets: integer tensors [B, T] with values in [0, V).
    """
    inputs = torch.as_tensor(inputs, dtype=torch.long)
    targets = torch.as_tensor(targets, dtype=torch.long)
    if int(targets.min()) < 0 or int(targets.max()) >= config["vocab_size"]:
        raise ValueError("target token out of range [0, V)")
    return cross_entropy_mean(logits_fn(params, config, inputs), targets)


def loss_and_grads(params, config, inputs, targets):
    """(loss as float, dict of gradients) via autograd; params are untouched."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    loss = forward(leaves, config, inputs, targets)
    grads = torch.autograd.grad(loss, [leaves[k] for k in PARAM_NAMES])
    return float(loss), dict(zip(PARAM_NAMES, grads))


# ----------------------------------------------------------------------------
# AdamW, by hand

def adamw_init_state(params):
    m = {k: torch.zeros_like(v) for k, v in params.items()}
    v = {k: torch.zeros_like(t) for k, t in params.items()}
    return m, v


def adamw_step(params, grads, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW update, in place on params, m and v. t counts from 1.

        m     = beta1*m + (1-beta1)*g
        v     = beta2*v + (1-beta2)*g^2
        m_hat = m / (1 - beta1^t)
        v_hat = v / (1 - beta2^t)
        p    -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)

    wd = weight_decay for DECAY_NAMES (matrices and embeddings), 0 otherwise.
    This is the same arithmetic as torch.optim.AdamW (decoupled decay on the
    pre-update weights).
    """
    if t < 1:
        raise ValueError("AdamW step t counts from 1")
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    with torch.no_grad():
        for name in PARAM_NAMES:
            p, g = params[name], grads[name]
            m[name].mul_(beta1).add_(g, alpha=1.0 - beta1)
            v[name].mul_(beta2).add_(g * g, alpha=1.0 - beta2)
            m_hat = m[name] / bc1
            v_hat = v[name] / bc2
            wd = weight_decay if name in DECAY_NAMES else 0.0
            update = m_hat / (torch.sqrt(v_hat) + eps) + wd * p
            p.sub_(lr * update)


# ----------------------------------------------------------------------------
# self-test

def _builtin_loss(params, config, inputs, targets):
    """The same model through torch's built-in ops, as a cross-check."""
    import torch.nn.functional as F
    p = params
    L, NH, C, V = (config["num_layers"], config["num_heads"], config["channels"],
                   config["vocab_size"])
    B, T = inputs.shape
    hs = C // NH
    x = F.embedding(inputs, p["wte"]) + F.embedding(torch.arange(T), p["wpe"])
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        q, k, v = F.linear(h, p["qkvw"][l], p["qkvb"][l]).split(C, dim=-1)
        q, k, v = (z.view(B, T, NH, hs).permute(0, 2, 1, 3) for z in (q, k, v))
        att = torch.einsum("bhtd,bhsd->bhts", q, k) / math.sqrt(hs)
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = torch.einsum("bhts,bhsd->bhtd", att, v).permute(0, 2, 1, 3).reshape(B, T, C)
        x = x + F.linear(y, p["attprojw"][l], p["attprojb"][l])
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = F.linear(x, p["wte"])[..., :V]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def self_test(verbose=True):
    import tempfile
    torch.manual_seed(0)
    failures = []

    def check(name, ok, detail=""):
        if verbose or not ok:
            print(f"  [{'ok' if ok else 'FAIL'}] {name}" + (f"  ({detail})" if detail else ""))
        if not ok:
            failures.append(name)

    cfg = make_config(max_seq_len=16, vocab_size=50, num_layers=2, num_heads=2,
                      channels=16, padded_vocab_size=64)
    params = random_params(cfg, seed=1)
    g = torch.Generator().manual_seed(2)
    B, T = 2, 8
    tok = torch.randint(0, cfg["vocab_size"], (B * T + 1,), generator=g)
    inputs, targets = tok[:-1].view(B, T), tok[1:].view(B, T)

    # 1. loss at init is close to ln(V) (logits are small)
    loss = float(forward(params, cfg, inputs, targets))
    lnV = math.log(cfg["vocab_size"])
    check("loss at init ~ ln(V)", abs(loss - lnV) < 0.05, f"loss {loss:.5f}, ln V {lnV:.5f}")

    # 2. explicit forward == torch built-in ops
    ref = float(_builtin_loss(params, cfg, inputs, targets))
    check("forward matches torch built-ins", abs(loss - ref) < 1e-12,
          f"|diff| {abs(loss - ref):.2e}")

    # 3. autograd gradients vs central finite differences on sampled entries
    _, grads = loss_and_grads(params, cfg, inputs, targets)
    worst = 0.0
    h = 1e-5
    for name in PARAM_NAMES:
        flat = params[name].view(-1)
        gflat = grads[name].reshape(-1)
        rows = cfg["vocab_size"] * cfg["channels"] if name == "wte" else flat.numel()
        idx = torch.randint(0, rows, (4,), generator=g).tolist()
        idx.append(int(gflat[:rows].abs().argmax()))
        for i in idx:
            old = float(flat[i])
            flat[i] = old + h
            lp = float(forward(params, cfg, inputs, targets))
            flat[i] = old - h
            lm = float(forward(params, cfg, inputs, targets))
            flat[i] = old
            fd = (lp - lm) / (2 * h)
            err = abs(fd - float(gflat[i])) / max(1e-3, abs(fd))
            worst = max(worst, err)
    check("autograd vs finite differences", worst < 1e-6, f"worst rel err {worst:.2e}")

    # 4. padded wte rows: no gradient, no effect on the loss
    V = cfg["vocab_size"]
    check("padded wte rows get zero gradient", bool((grads["wte"][V:] == 0).all()))
    p2 = {k: v.clone() for k, v in params.items()}
    p2["wte"][V:] += 10.0
    l2 = float(forward(p2, cfg, inputs, targets))
    check("padded wte rows do not change the loss", abs(l2 - loss) == 0.0)

    # 5. causality: changing token t changes no logits before t
    lg = logits_fn(params, cfg, inputs)
    inp2 = inputs.clone()
    inp2[:, 5] = (inp2[:, 5] + 1) % V
    lg2 = logits_fn(params, cfg, inp2)
    check("attention is causal",
          torch.equal(lg[:, :5], lg2[:, :5]) and not torch.allclose(lg[:, 5:], lg2[:, 5:]))

    # 6. hand-written AdamW == torch.optim.AdamW with decay / no-decay groups
    hp = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
    mine = {k: v.clone() for k, v in params.items()}
    m, v = adamw_init_state(mine)
    theirs = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.AdamW(
        [{"params": [theirs[k] for k in PARAM_NAMES if k in DECAY_NAMES],
          "weight_decay": hp["weight_decay"]},
         {"params": [theirs[k] for k in PARAM_NAMES if k not in DECAY_NAMES],
          "weight_decay": 0.0}],
        lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])
    for step in range(1, 4):
        _, gr = loss_and_grads(mine, cfg, inputs, targets)
        adamw_step(mine, gr, m, v, step, **hp)
        opt.zero_grad()
        forward(theirs, cfg, inputs, targets).backward()
        opt.step()
    diff = max(float((mine[k] - theirs[k].detach()).abs().max()) for k in PARAM_NAMES)
    check("adamw_step matches torch.optim.AdamW (3 steps)", diff < 1e-13, f"max diff {diff:.2e}")
    moved = float((mine["wte"][V:] - params["wte"][V:]).abs().max())
    expect = params["wte"][V:] * (1 - hp["lr"] * hp["weight_decay"]) ** 3
    check("padded wte rows move by weight decay only",
          moved > 0 and float((mine["wte"][V:] - expect).abs().max()) < 1e-15)

    # 7. file round trips
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.bin")
        write_llmc_checkpoint(path, cfg, params)
        cfg2, p3 = load_llmc_checkpoint(path)
        same_cfg = all(cfg2[k] == cfg[k] for k in cfg) and cfg2["version"] == 3
        exact = all(torch.equal(p3[k], params[k].float().double()) for k in PARAM_NAMES)
        check("checkpoint v3 write/read round trip", same_cfg and exact)
        expected_size = 4 * (HEADER_INTS + num_parameters(cfg))
        check("checkpoint size", os.path.getsize(path) == expected_size)

        # a version-1 file (Vp = V) written by hand
        cfg1 = make_config(16, 50, 2, 2, 16)
        p1 = random_params(cfg1, seed=3)
        header = np.zeros(HEADER_INTS, dtype="<i4")
        header[:7] = [CKPT_MAGIC, 1, 16, 50, 2, 2, 16]
        path1 = os.path.join(d, "v1.bin")
        with open(path1, "wb") as f:
            f.write(header.tobytes())
            for k in PARAM_NAMES:
                f.write(p1[k].float().numpy().astype("<f4").tobytes())
        c1, q1 = load_llmc_checkpoint(path1)
        check("checkpoint v1 read (Vp = V)",
              c1["version"] == 1 and c1["padded_vocab_size"] == 50
              and all(torch.equal(q1[k], p1[k].float().double()) for k in PARAM_NAMES))

        spath = os.path.join(d, "s.bin")
        toks = torch.randint(0, 65536, (1000,), generator=g)
        write_token_shard(spath, toks)
        back = read_token_shard(spath)
        check("token shard write/read round trip",
              torch.equal(back, toks) and os.path.getsize(spath) == 1024 + 2000)

    if failures:
        print(f"self-test FAILED: {len(failures)} check(s): {', '.join(failures)}")
        return 1
    print("self-test PASSED")
    return 0


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--self-test", action="store_true", help="run the built-in checks")
    ap.add_argument("--loss", nargs=2, metavar=("CKPT", "SHARD"),
                    help="print the loss of the first batch of SHARD under CKPT")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if args.loss:
        cfg, params = load_llmc_checkpoint(args.loss[0])
        tok = read_token_shard(args.loss[1])
        n = args.batch * args.seq
        x = tok[:n].view(args.batch, args.seq)
        y = tok[1:n + 1].view(args.batch, args.seq)
        with torch.no_grad():
            print(f"{float(forward(params, cfg, x, y)):.8f}")
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
