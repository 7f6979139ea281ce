#!/usr/bin/python3
"""PyTorch peer for `meridian-bench train`: time one full GPT-2 training step.

A step is forward + cross-entropy, backward, torch.optim.AdamW step (not
fused) and zero_grad, in float32 eager mode on the CPU with
torch.set_num_threads(--threads). The model is a plain module-based GPT-2
(nn.Linear, nn.LayerNorm, GELU tanh, manual causal attention; torch 1.13 has
no scaled_dot_product_attention), LM head tied to the token embedding, which
is padded to a multiple of 64 rows; the loss covers the real vocabulary only,
as in Meridian. Data are random tokens.

Prints exactly one JSON line on stdout:
  {"impl":"pytorch","torch":"...","threads":N,"ms_per_step_median":x,
   "ms_per_step_all":[...],"tokens_per_s":x,"params":N,
   "forward_ms_median":x,"backward_ms_median":x,"optimizer_ms_median":x}
The phases split the same timed step: forward with the loss, backward,
optimizer step with zero_grad.
Diagnostics, if any, go to stderr.
"""

import argparse
import inspect
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(n_embd, eps=1e-5)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.attproj = nn.Linear(n_embd, n_embd)
        self.ln2 = nn.LayerNorm(n_embd, eps=1e-5)
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.fcproj = nn.Linear(4 * n_embd, n_embd)

    def attention(self, x, mask):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=-1)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.attproj(y)

    def forward(self, x, mask):
        x = x + self.attention(self.ln1(x), mask)
        x = x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x


class GPT2(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, vocab, padded_vocab, max_seq):
        super().__init__()
        self.vocab = vocab
        self.wte = nn.Embedding(padded_vocab, n_embd)
        self.wpe = nn.Embedding(max_seq, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.lnf = nn.LayerNorm(n_embd, eps=1e-5)
        # True above the diagonal = a future position, masked out
        self.register_buffer("mask", torch.ones(max_seq, max_seq, dtype=torch.bool).triu(1),
                             persistent=False)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln" in name:
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x, self.mask)
        x = self.lnf(x)
        logits = F.linear(x, self.wte.weight)[..., :self.vocab]   # tied head, real vocab
        return F.cross_entropy(logits.reshape(-1, self.vocab), targets.reshape(-1))


def make_optimizer(model, lr=3e-4, weight_decay=0.1):
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)
    kwargs = dict(lr=lr, betas=(0.9, 0.95), eps=1e-8)
    if "fused" in inspect.signature(torch.optim.AdamW.__init__).parameters:
        kwargs["fused"] = False   # torch >= 2.0; 1.13's AdamW has no fused path
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], **kwargs)


def time_steps(model, args):
    """Times warm-up then measured steps (forward + loss, backward, AdamW) on
    random tokens and prints the JSON line meridian-bench reads; 1 on a
    non-finite loss. Shared by every model peer, so they time alike."""
    model.train()
    opt = make_optimizer(model)
    n_params = sum(p.numel() for p in model.parameters())

    def batch():
        tok = torch.randint(0, args.vocab, (args.batch, args.seq + 1))
        return tok[:, :-1].contiguous(), tok[:, 1:].contiguous()

    times, phases = [], {"forward": [], "backward": [], "optimizer": []}
    for i in range(args.warmup_steps + args.steps):
        x, y = batch()
        t0 = time.perf_counter()
        loss = model(x, y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        if not math.isfinite(float(loss)):
            print(f"non-finite loss at step {i}", file=sys.stderr)
            return 1
        if i >= args.warmup_steps:
            times.append((t3 - t0) * 1e3)
            phases["forward"].append((t1 - t0) * 1e3)
            phases["backward"].append((t2 - t1) * 1e3)
            phases["optimizer"].append((t3 - t2) * 1e3)

    median = statistics.median(times)
    out = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "ms_per_step_median": round(median, 3),
        "ms_per_step_all": [round(t, 3) for t in times],
        "tokens_per_s": round(args.batch * args.seq / (median / 1e3), 1),
        "params": n_params,
    }
    for phase, ms in phases.items():
        out[phase + "_ms_median"] = round(statistics.median(ms), 3)
    print(json.dumps(out, separators=(",", ":")))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description="PyTorch GPT-2 training-step timer")
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.n_embd % args.n_head:
        ap.error("--n-embd must be divisible by --n-head")
    if args.steps < 1 or args.warmup_steps < 0 or args.threads < 1:
        ap.error("need --steps >= 1, --warmup-steps >= 0, --threads >= 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    padded_vocab = (args.vocab + 63) // 64 * 64
    model = GPT2(args.n_layer, args.n_head, args.n_embd, args.vocab, padded_vocab, args.seq)
    return time_steps(model, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
