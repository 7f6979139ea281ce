#!/usr/bin/python3
"""Checks meridian-train's Hugging Face export against its llm.c export.

    check_hf_export.py --bin-dir build/bin --workdir DIR

Trains a tiny GPT-2 (padded vocabulary: V 300, Vp 320) for one step on the
synthetic corpus, writing the same weights with --export-llmc and
--export-hf, then reads both files by hand (struct + json + numpy, nothing
of Meridian's) and compares every tensor through the mapping that
transformers' GPT-2 implies:

  * model.safetensors: an 8-byte little-endian header length, a JSON header
    padded with spaces to a multiple of 8, tensors tiling the data section;
    "format": "pt" metadata; transformer.* names; no lm_head (tied);
  * wte holds the V real rows of llm.c's [Vp, C] table;
  * Conv1D weights (c_attn, c_proj, c_fc, mlp.c_proj) are llm.c's [out, in]
    matrices transposed to [in, out]; everything else is copied as is;
  * config.json has the fields GPT2LMHeadModel.from_pretrained reads.

Then a second run starts from the exported directory (--init-from) and
re-exports llm.c: it must equal the first llm.c file byte for byte (the
padded wte rows are zero in both).

Exit status: 0 pass, 1 fail, 77 skip (numpy not importable).
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys

try:
    import numpy as np
except Exception as e:  # ImportError, or a broken install
    print(f"SKIP: cannot import numpy ({e.__class__.__name__}: {e})")
    sys.exit(77)

L, NH, C, V, MAXT = 2, 2, 32, 300, 64


def read_llmc(path):
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(1024), dtype="<i4")
        params = np.frombuffer(f.read(), dtype="<f4")
    assert header[0] == 20240326 and header[1] == 3, header[:8]
    maxT, v, l, nh, c, vp = (int(x) for x in header[2:8])
    shapes = [("wte", (vp, c)), ("wpe", (maxT, c)), ("ln1w", (l, c)), ("ln1b", (l, c)),
              ("qkvw", (l, 3 * c, c)), ("qkvb", (l, 3 * c)), ("attprojw", (l, c, c)), ("attprojb", (l, c)),
              ("ln2w", (l, c)), ("ln2b", (l, c)), ("fcw", (l, 4 * c, c)), ("fcb", (l, 4 * c)),
              ("fcprojw", (l, c, 4 * c)), ("fcprojb", (l, c)), ("lnfw", (c,)), ("lnfb", (c,))]
    tensors, at = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        tensors[name] = params[at:at + n].reshape(shape)
        at += n
    assert at == params.size, (at, params.size)
    return dict(maxT=maxT, V=v, L=l, NH=nh, C=c, Vp=vp), tensors


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    text = blob[8:8 + n].decode("utf-8")
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    assert text.rstrip(" ") == text.rstrip(), "header padding must be spaces"
    header = json.loads(text)
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", (name, info["dtype"])
        assert end - begin == 4 * int(np.prod(info["shape"], dtype=np.int64)), name
        spans.append((begin, end))
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    covered = 0
    for begin, end in sorted(spans):
        assert begin == covered, f"gap or overlap at byte {begin}"
        covered = end
    assert covered == len(data), "bytes after the last tensor"
    return metadata, tensors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    train = os.path.join(args.bin_dir, "meridian-train")
    subprocess.run([os.path.join(args.bin_dir, "meridian-data"), "synth", "--out", data, "--train-bytes", "50000",
                    "--val-bytes", "5000"], check=True, stdout=subprocess.DEVNULL)
    common = ["--seq", "32", "--batch", "4", "--threads", "1", "--data", os.path.join(data, "train_*.bin")]
    llmc, hf = os.path.join(work, "model.bin"), os.path.join(work, "hf")
    subprocess.run([train, "--vocab", str(V), "--n-layer", str(L), "--n-head", str(NH), "--n-embd", str(C),
                    "--max-seq", str(MAXT), "--steps", "1", "--lr", "1e-3", "--export-llmc", llmc, "--export-hf", hf]
                   + common, check=True, stderr=subprocess.DEVNULL)

    config, ref = read_llmc(llmc)
    metadata, st = read_safetensors(os.path.join(hf, "model.safetensors"))
    failures = []

    def expect(what, ok):
        print(("ok:   " if ok else "FAIL: ") + what)
        if not ok:
            failures.append(what)

    expect("metadata format is pt", metadata.get("format") == "pt")
    expect("no lm_head.weight (tied)", "lm_head.weight" not in st)
    expected_names = {"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
                      "transformer.ln_f.bias"}
    per_layer = {  # HF suffix -> (llm.c tensor, transposed)
        "ln_1.weight": ("ln1w", False), "ln_1.bias": ("ln1b", False),
        "attn.c_attn.weight": ("qkvw", True), "attn.c_attn.bias": ("qkvb", False),
        "attn.c_proj.weight": ("attprojw", True), "attn.c_proj.bias": ("attprojb", False),
        "ln_2.weight": ("ln2w", False), "ln_2.bias": ("ln2b", False),
        "mlp.c_fc.weight": ("fcw", True), "mlp.c_fc.bias": ("fcb", False),
        "mlp.c_proj.weight": ("fcprojw", True), "mlp.c_proj.bias": ("fcprojb", False),
    }
    for layer in range(L):
        expected_names |= {f"transformer.h.{layer}.{s}" for s in per_layer}
    expect(f"tensor names are GPT2LMHeadModel's ({len(expected_names)})", set(st) == expected_names)

    wte = st["transformer.wte.weight"]
    expect(f"wte is [V={V}, C] = llm.c wte[:V]", wte.shape == (V, C) and np.array_equal(wte, ref["wte"][:V]))
    expect("llm.c's padded wte rows are zero", not ref["wte"][V:].any())
    expect("wpe", np.array_equal(st["transformer.wpe.weight"], ref["wpe"]))
    expect("ln_f", np.array_equal(st["transformer.ln_f.weight"], ref["lnfw"])
           and np.array_equal(st["transformer.ln_f.bias"], ref["lnfb"]))
    matched = 0
    for layer in range(L):
        for suffix, (name, transposed) in per_layer.items():
            got = st[f"transformer.h.{layer}.{suffix}"]
            want = ref[name][layer].T if transposed else ref[name][layer]
            same = got.shape == want.shape and np.array_equal(got, want)
            matched += same
            if suffix in ("attn.c_attn.weight", "mlp.c_proj.weight") or not same:
                expect(f"h.{layer}.{suffix} {list(got.shape)} == llm.c {name}[{layer}]" + (".T" if transposed else ""),
                       same)
    expect(f"all {L * len(per_layer)} per-layer tensors equal llm.c's (Conv1D weights transposed)",
           matched == L * len(per_layer))
    # One element spelled out: Conv1D weight[i, o] is llm.c's [o, i].
    expect("c_attn.weight[3, 40] == qkvw[0][40, 3]",
           st["transformer.h.0.attn.c_attn.weight"][3, 40] == ref["qkvw"][0][40, 3])

    with open(os.path.join(hf, "config.json")) as f:
        cfg = json.load(f)
    want_cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": L, "n_head": NH,
                "n_embd": C, "vocab_size": V, "n_positions": MAXT, "n_ctx": MAXT, "layer_norm_epsilon": 1e-5,
                "activation_function": "gelu_new", "tie_word_embeddings": True}
    expect("config.json: " + ", ".join(f"{k}={v}" for k, v in want_cfg.items()),
           all(cfg.get(k) == v for k, v in want_cfg.items()))

    # Back in: Meridian reads the directory and writes the same llm.c bytes.
    again = os.path.join(work, "again.bin")
    subprocess.run([train, "--init-from", hf, "--steps", "0", "--export-llmc", again] + common, check=True,
                   stderr=subprocess.DEVNULL)
    with open(llmc, "rb") as a, open(again, "rb") as b:
        expect("--init-from the HF directory re-exports the identical llm.c file", a.read() == b.read())

    print("PASS" if not failures else f"FAIL ({len(failures)} checks)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
