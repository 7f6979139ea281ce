#!/usr/bin/python3
"""PyTorch peer for `meridian-bench train --arch llama`: time one full Llama
training step.

The same step and timing as pytorch_gpt2_step.py: forward + cross-entropy,
backward, torch.optim.AdamW step (not fused) and zero_grad, float32 eager
mode on the CPU with torch.set_num_threads(--threads), random tokens.

The model is plain PyTorch written from Hugging Face's LlamaForCausalLM (no
transformers package), with Meridian's parameter shapes: token embedding
padded to a multiple of 64 rows; per layer RMSNorm -> fused q/k/v projection
-> rotary embedding (rotate_half, inv_freq = theta^(-2i/hs), the "llama3"
rope_scaling when given) -> grouped-query attention (k, v repeated per query
head with repeat_interleave, as HF's repeat_kv) -> causal softmax attention
(explicit: torch 1.13 has no scaled_dot_product_attention) -> o_proj ->
residual; RMSNorm -> down(silu(gate) * up) with gate and up fused -> residual;
final RMSNorm, LM head (tied to the embedding or its own Vp x C matrix), the
loss over the real vocabulary only. No biases anywhere.

Prints exactly one JSON line on stdout, the GPT-2 peer's shape:
  {"impl":"pytorch","torch":"...","threads":N,"ms_per_step_median":x,
   "ms_per_step_all":[...],"tokens_per_s":x,"params":N,
   "forward_ms_median":x,"backward_ms_median":x,"optimizer_ms_median":x}
Diagnostics, if any, go to stderr.
"""

import argparse
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_gpt2_step import time_steps


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_inv_freq(head_size, theta, scaling):
    """Hugging Face's default and "llama3" inverse frequencies, in float64."""
    inv = 1.0 / (theta ** (torch.arange(0, head_size, 2, dtype=torch.float64) / head_size))
    if scaling is None:
        return inv
    factor, low, high, old_len = scaling
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv
    llama = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * llama / factor + smooth * llama
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, llama)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Block(nn.Module):
    def __init__(self, n_embd, n_head, n_kv_head, ffn_hidden, eps):
        super().__init__()
        self.n_head, self.n_kv_head = n_head, n_kv_head
        self.hs = n_embd // n_head
        self.ffn = ffn_hidden
        self.ln1 = RMSNorm(n_embd, eps)
        self.qkv = nn.Linear(n_embd, (n_head + 2 * n_kv_head) * self.hs, bias=False)
        self.attproj = nn.Linear(n_embd, n_embd, bias=False)
        self.ln2 = RMSNorm(n_embd, eps)
        self.gate_up = nn.Linear(n_embd, 2 * ffn_hidden, bias=False)
        self.fcproj = nn.Linear(ffn_hidden, n_embd, bias=False)

    def attention(self, x, cos, sin, mask):
        B, T, C = x.shape
        hs, NH, KVH = self.hs, self.n_head, self.n_kv_head
        q, k, v = self.qkv(x).split([NH * hs, KVH * hs, KVH * hs], dim=-1)
        q = q.view(B, T, NH, hs).transpose(1, 2)                  # (B, NH, T, hs)
        k = k.view(B, T, KVH, hs).transpose(1, 2)                 # (B, KVH, T, hs)
        v = v.view(B, T, KVH, hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // KVH, dim=1)                 # (B, NH, T, hs)
        v = v.repeat_interleave(NH // KVH, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))   # (B, NH, T, T)
        att = att.masked_fill(mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.attproj(y)

    def forward(self, x, cos, sin, mask):
        x = x + self.attention(self.ln1(x), cos, sin, mask)
        gate, up = self.gate_up(self.ln2(x)).split(self.ffn, dim=-1)
        return x + self.fcproj(F.silu(gate) * up)


class Llama(nn.Module):
    def __init__(self, a, padded_vocab):
        super().__init__()
        self.vocab = a.vocab
        self.wte = nn.Embedding(padded_vocab, a.n_embd)
        self.blocks = nn.ModuleList(Block(a.n_embd, a.n_head, a.n_kv_head, a.ffn_hidden, a.norm_eps)
                                    for _ in range(a.n_layer))
        self.lnf = RMSNorm(a.n_embd, a.norm_eps)
        self.lm_head = None if a.tie_embeddings else nn.Parameter(torch.empty(padded_vocab, a.n_embd))
        hs = a.n_embd // a.n_head
        angles = torch.outer(torch.arange(a.seq, dtype=torch.float64), rope_inv_freq(hs, a.rope_theta, a.rope_scaling))
        emb = torch.cat((angles, angles), dim=-1)                 # (T, hs), rotate_half's layout
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        # True above the diagonal = a future position, masked out
        self.register_buffer("mask", torch.ones(a.seq, a.seq, dtype=torch.bool).triu(1), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p)                                  # RMSNorm weights
            else:
                std = 0.02 / math.sqrt(2 * a.n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for block in self.blocks:
            x = block(x, cos, sin, self.mask)
        x = self.lnf(x)
        head = self.wte.weight if self.lm_head is None else self.lm_head
        logits = F.linear(x, head)[..., :self.vocab]             # real vocab only
        return F.cross_entropy(logits.reshape(-1, self.vocab), targets.reshape(-1))


def main(argv):
    ap = argparse.ArgumentParser(description="PyTorch Llama training-step timer")
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=8)
    ap.add_argument("--n-kv-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--ffn-hidden", type=int, default=688)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--rope-scaling", default="",
                    help="factor,low_freq_factor,high_freq_factor,original_max_position_embeddings")
    ap.add_argument("--norm-eps", type=float, default=1e-5)
    ap.add_argument("--tie-embeddings", choices=["true", "false"], default="true")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.n_embd % args.n_head or (args.n_embd // args.n_head) % 2:
        ap.error("--n-embd must be divisible by --n-head into an even head size")
    if args.n_kv_head < 1 or args.n_head % args.n_kv_head:
        ap.error("--n-kv-head must divide --n-head")
    if args.steps < 1 or args.warmup_steps < 0 or args.threads < 1:
        ap.error("need --steps >= 1, --warmup-steps >= 0, --threads >= 1")
    args.tie_embeddings = args.tie_embeddings == "true"
    if args.rope_scaling:
        try:
            factor, low, high, old_len = (float(f) for f in args.rope_scaling.split(","))
        except ValueError:
            ap.error("--rope-scaling takes four numbers: factor,low,high,original_max_position_embeddings")
        args.rope_scaling = (factor, low, high, old_len)
    else:
        args.rope_scaling = None
    return run(args)


def run(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    padded_vocab = (args.vocab + 63) // 64 * 64
    model = Llama(args, padded_vocab)
    return time_steps(model, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
