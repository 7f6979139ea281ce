#!/usr/bin/python3
"""End-to-end check of meridian-train against the float64 PyTorch reference.

    check_against_torch.py --train-bin build/bin/meridian-train --workdir DIR

Builds a random tiny GPT-2 (padded vocabulary, noisy LayerNorm gains and
biases, random padded wte rows), writes it as an llm.c v3 checkpoint plus a
shard of random tokens, runs two AdamW steps of the C++ trainer on it, and
repeats the same two steps in float64 with tests/reference/gpt2_torch.py.

Compared:
  * the loss of step 1 and step 2 (relative tolerance --loss-tol, 1e-4)
  * every exported tensor after 2 steps: max |w_cpp - w_ref| / max |w_ref|
    per tensor (tolerance --weight-tol, 1e-4)
  * the padded wte rows [V, Vp): they get no gradient, so AdamW moves them by
    weight decay only: w * (1 - lr*wd)^2 (relative tolerance 1e-5)

One slice is compared loosely: the key part of qkvb (qkvb[:, C:2C]). Its
gradient is exactly zero in exact arithmetic (adding a constant to every
attention score of a row leaves the softmax unchanged), so what the trainer
computes there is float32 rounding noise of order 1e-9, and Adam with eps 1e-8
turns noise of that size into an update of up to lr per step. That slice is
only required to stay within 2*lr*steps of its initial value.

Exit status: 0 pass, 1 fail, 77 skip (PyTorch or numpy not importable).
"""

import argparse
import json
import math
import os
import subprocess
import sys

try:
    import numpy as np  # noqa: F401  (gpt2_torch needs it)
    import torch
except Exception as e:  # ImportError, or a broken install
    print(f"SKIP: cannot import torch/numpy ({e.__class__.__name__}: {e})")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_torch as ref  # noqa: E402

# The trainer run under test; its flags are the contract of this check.
B, T, STEPS = 4, 16, 2
HP = dict(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
CONFIG = ref.make_config(max_seq_len=32, vocab_size=100, num_layers=2,
                         num_heads=2, channels=32, padded_vocab_size=128)
NTOK = 4096
PAD_TOL = 1e-5


def parse_args(argv):
    ap = argparse.ArgumentParser(description="meridian-train vs the PyTorch reference")
    ap.add_argument("--train-bin", required=True, help="path to meridian-train")
    ap.add_argument("--workdir", required=True, help="scratch directory (created)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--loss-tol", type=float, default=1e-4)
    ap.add_argument("--weight-tol", type=float, default=1e-4)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds for the trainer")
    return ap.parse_args(argv)


def run_trainer(args, ckpt, shard, metrics, out):
    cmd = [args.train_bin,
           "--init-from", ckpt, "--data", shard,
           "--batch", str(B), "--seq", str(T), "--steps", str(STEPS),
           "--lr", repr(HP["lr"]), "--min-lr", repr(HP["lr"]), "--warmup", "0",
           "--weight-decay", repr(HP["weight_decay"]),
           "--beta1", repr(HP["beta1"]), "--beta2", repr(HP["beta2"]),
           "--adam-eps", repr(HP["eps"]), "--grad-clip", "0",
           "--threads", str(args.threads),
           "--metrics-out", metrics, "--export-llmc", out]
    print("running:", " ".join(cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=args.timeout, env=env, cwd=args.workdir)
    except subprocess.TimeoutExpired:
        print(f"FAIL: trainer did not finish within {args.timeout:.0f} s")
        return False
    except OSError as e:
        print(f"FAIL: cannot run {args.train_bin}: {e}")
        return False
    log = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        print(log[-4000:])
        print(f"FAIL: trainer exited with status {p.returncode}")
        return False
    return True


def read_step_losses(path):
    """Training losses sorted by step (lines with "loss"; eval lines ignored)."""
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e}") from None
            if isinstance(obj, dict) and "loss" in obj and "step" in obj:
                rows.append((int(obj["step"]), float(obj["loss"])))
    rows.sort()
    steps = [s for s, _ in rows]
    if len(set(steps)) != len(steps):
        raise ValueError(f"{path}: duplicate step numbers {steps}")
    return rows


def reference_run(init_params, tokens):
    """Two float64 AdamW steps; returns (losses, params after the steps)."""
    params = {k: v.clone() for k, v in init_params.items()}
    m, v = ref.adamw_init_state(params)
    losses = []
    for step in range(1, STEPS + 1):
        start = (step - 1) * B * T
        chunk = tokens[start:start + B * T + 1]
        x = chunk[:-1].view(B, T)
        y = chunk[1:].view(B, T)
        loss, grads = ref.loss_and_grads(params, CONFIG, x, y)
        losses.append(loss)
        ref.adamw_step(params, grads, m, v, step, **HP)
    return losses, params


def compare_weights(got, want, init, weight_tol):
    """Per-tensor table; returns True when every strict comparison passes."""
    C = CONFIG["channels"]
    V = CONFIG["vocab_size"]
    ok = True
    print()
    print(f"{'tensor':<14}{'shape':<16}{'max|w|':>10}{'max|dw|':>11}"
          f"{'max|diff|':>11}{'rel':>10}{'>tol':>7}  result")

    def row(name, shape, g, w, w0, tol, loose_bound=None):
        nonlocal ok
        scale = float(w.abs().max())
        moved = float((w - w0).abs().max())
        diff = (g - w).abs()
        maxdiff = float(diff.max())
        rel = maxdiff / scale if scale > 0 else maxdiff
        nbad = int((diff > tol * scale).sum())
        if loose_bound is not None:
            good = float((g - w0).abs().max()) <= loose_bound
            verdict = "ok (loose)" if good else "FAIL (loose)"
        else:
            good = rel <= tol
            verdict = "ok" if good else "FAIL"
        ok = ok and good
        print(f"{name:<14}{str(tuple(shape)):<16}{scale:>10.4f}{moved:>11.2e}"
              f"{maxdiff:>11.2e}{rel:>10.2e}{nbad:>7}  {verdict}")

    for name in ref.PARAM_NAMES:
        g, w, w0 = got[name], want[name], init[name]
        if name == "wte":
            row("wte[:V]", (V, C), g[:V], w[:V], w0[:V], weight_tol)
            row("wte[V:]", tuple(w[V:].shape), g[V:], w[V:], w0[V:], PAD_TOL)
        elif name == "qkvb":
            qv = torch.cat([torch.arange(0, C), torch.arange(2 * C, 3 * C)])
            row("qkvb[q,v]", (w.shape[0], 2 * C), g[:, qv], w[:, qv], w0[:, qv], weight_tol)
            row("qkvb[k]", (w.shape[0], C), g[:, C:2 * C], w[:, C:2 * C], w0[:, C:2 * C],
                weight_tol, loose_bound=2 * HP["lr"] * STEPS)
        else:
            row(name, tuple(w.shape), g, w, w0, weight_tol)
    print("(max|dw|: how far the reference moved the tensor in 2 steps; rel: max|diff| / "
          "max|w|; >tol: elements off by more than tol*max|w|)")
    return ok


def main(argv):
    args = parse_args(argv)
    if os.sep in args.train_bin:  # the trainer runs in the workdir
        args.train_bin = os.path.abspath(args.train_bin)
    os.makedirs(args.workdir, exist_ok=True)
    wd = os.path.abspath(args.workdir)
    ckpt = os.path.join(wd, "ckpt.bin")
    shard = os.path.join(wd, "shard.bin")
    metrics = os.path.join(wd, "metrics.jsonl")
    out = os.path.join(wd, "out.bin")
    for path in (metrics, out):
        if os.path.exists(path):
            os.remove(path)  # the trainer appends metrics; start clean

    torch.set_num_threads(max(1, args.threads))
    params = ref.random_params(CONFIG, seed=args.seed)
    ref.write_llmc_checkpoint(ckpt, CONFIG, params)
    g = torch.Generator().manual_seed(args.seed + 1)
    tokens = torch.randint(0, CONFIG["vocab_size"], (NTOK,), generator=g)
    ref.write_token_shard(shard, tokens)
    # start the reference from exactly what the trainer reads (float32 values)
    _, init = ref.load_llmc_checkpoint(ckpt)
    tokens = ref.read_token_shard(shard)
    print(f"model: {CONFIG}, {ref.num_parameters(CONFIG)} parameters; "
          f"{NTOK} tokens; B={B} T={T} steps={STEPS} {HP}")

    if not run_trainer(args, ckpt, shard, metrics, out):
        return 1

    failed = []
    # losses
    try:
        rows = read_step_losses(metrics)
    except (OSError, ValueError) as e:
        print(f"FAIL: metrics: {e}")
        return 1
    ref_losses, ref_params = reference_run(init, tokens)
    if len(rows) < STEPS:
        print(f"FAIL: metrics file has {len(rows)} training step lines, expected {STEPS}")
        return 1
    if len(rows) > STEPS:
        print(f"note: {len(rows)} step lines; comparing the first {STEPS}")
    print()
    print(f"{'step':<6}{'trainer loss':>16}{'reference loss':>18}{'rel diff':>11}  result")
    for i in range(STEPS):
        step, got = rows[i]
        want = ref_losses[i]
        rel = abs(got - want) / abs(want)
        good = math.isfinite(got) and rel <= args.loss_tol
        if not good:
            failed.append(f"loss of step {step}")
        print(f"{step:<6}{got:>16.8f}{want:>18.8f}{rel:>11.2e}  {'ok' if good else 'FAIL'}")
    print(f"(ln V = {math.log(CONFIG['vocab_size']):.5f}, "
          f"ln Vp = {math.log(CONFIG['padded_vocab_size']):.5f})")

    # exported weights
    try:
        out_cfg, got = ref.load_llmc_checkpoint(out)
    except (OSError, ValueError) as e:
        print(f"FAIL: exported checkpoint: {e}")
        return 1
    if out_cfg.get("version") != 3:
        failed.append(f"export version {out_cfg.get('version')} (expected 3)")
    mismatch = [k for k in CONFIG if out_cfg[k] != CONFIG[k]]
    if mismatch:
        print("FAIL: exported config differs: " +
              ", ".join(f"{k} {out_cfg[k]} != {CONFIG[k]}" for k in mismatch))
        return 1
    if not all(torch.isfinite(t).all() for t in got.values()):
        failed.append("non-finite exported weights")
    if not compare_weights(got, ref_params, init, args.weight_tol):
        failed.append("exported weights")

    print()
    if failed:
        print("FAIL: " + "; ".join(failed))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
