#!/usr/bin/env python3
"""Trains the embedded demo model of shears: a BPE tokenizer and a small Llama
(LlamaForCausalLM layout) on the Brown corpus splits written by prepare-corpus.js.

Run with Debian's python3-torch (torch 1.13, CPU):
    /usr/bin/python3 scripts/demo-model/train.py
Writes assets/demo-model/{config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, metrics.json}. Single-threaded, fixed seeds, fixed data order.
--stop-after N stops after N steps (same schedule) and writes nothing: with the
checksums printed along the way it checks that a re-run reproduces a prefix.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import llama  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "build", "demo-model", "corpus")
ASSETS = os.path.join(ROOT, "assets", "demo-model")

SEED = 1234
VOCAB_SIZE = 2048
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "hidden_act": "silu",
    "max_position_embeddings": 256,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "rms_norm_eps": 1e-5,
    "initializer_range": 0.02,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "mlp_bias": False,
    "tie_word_embeddings": False,
    "bos_token_id": bpe.BOS_ID,
    "eos_token_id": bpe.EOS_ID,
    "pad_token_id": None,
    "use_cache": True,
    "torch_dtype": "float16",
}
SEQ_LEN = 256        # training window (tokens predicted per row)
BATCH = 16
LR = 3e-3
MIN_LR_FRAC = 0.1
WARMUP = 100
WEIGHT_DECAY = 0.1
EVAL_WINDOWS, EVAL_LEN = 64, 128   # shears cross-check protocol on eval.txt


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def lr_at(step, total):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    p = (step - WARMUP) / max(1, total - WARMUP)
    return LR * (MIN_LR_FRAC + (1 - MIN_LR_FRAC) * 0.5 * (1 + math.cos(math.pi * p)))


def checksum(model):
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def window_ppl(model, ids, length, max_windows=None):
    """Protocol perplexity: non-overlapping windows of `length` tokens (trailing partial
    window dropped), mean NLL of the length-1 next-token predictions per window, exp of
    the mean over windows. Returns (ppl, windows used)."""
    n = len(ids) // length
    if max_windows is not None:
        n = min(n, max_windows)
    x = torch.tensor(ids[:n * length], dtype=torch.long).view(n, length)
    means = []
    for i in range(0, n, 16):
        chunk = x[i:i + 16]
        logits = model(chunk[:, :-1])
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1),
                              reduction="none").view(chunk.shape[0], -1)
        means.append(nll.double().mean(dim=1))
    return math.exp(torch.cat(means).mean().item()), n


def unigram_ppl(train_ids, eval_ids, vocab):
    """Add-one smoothed unigram model from the training tokens, perplexity on eval_ids."""
    counts = np.bincount(np.asarray(train_ids), minlength=vocab).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(np.exp(-logp[np.asarray(eval_ids)].mean()))


def ids_sha256(ids):
    """Fingerprint of a token sequence (uint32 little-endian), for the Node tokenizer test."""
    return hashlib.sha256(np.asarray(ids, dtype="<u4").tobytes()).hexdigest()


def doc_stream(tok, docs):
    """Training stream: every document as BOS + tokens + EOS, concatenated."""
    out = []
    for d in docs:
        out.extend(tok.encode(d, bos=True))
        out.append(bpe.EOS_ID)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1400, help="length of the LR schedule")
    ap.add_argument("--stop-after", type=int, default=None, help="stop early, write nothing")
    ap.add_argument("--out", default=ASSETS)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    t0 = time.time()

    train_docs = read(os.path.join(CORPUS, "train.txt")).split("\n\n")
    val_text = read(os.path.join(CORPUS, "validation.txt"))
    eval_text = read(os.path.join(ASSETS, "eval.txt"))
    log("corpus: %d train documents" % len(train_docs))

    tok = bpe.train_bpe(train_docs, VOCAB_SIZE, log=log)
    train_ids = doc_stream(tok, train_docs)
    val_ids = tok.encode(val_text, bos=True)
    eval_ids = tok.encode(eval_text, bos=True)
    log("tokens: train %d, validation %d, eval.txt %d; first eval ids %s"
        % (len(train_ids), len(val_ids), len(eval_ids), eval_ids[:16]))

    model = llama.LlamaForCausalLM(CONFIG)
    n_params = sum(p.numel() for p in model.parameters())
    log("model: %d parameters; init checksum %s" % (n_params, checksum(model)))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.95), eps=1e-8)

    # Rows of SEQ_LEN + 1 tokens; each epoch shifts the cut points and reshuffles the
    # rows with a seeded generator, so the data order is a function of SEED only.
    data = torch.tensor(train_ids, dtype=torch.long)
    gen = torch.Generator().manual_seed(SEED)
    rows, epoch = None, -1
    step_in_epoch = 0
    train_start = time.time()
    ema = None
    for step in range(args.steps):
        if rows is None or (step_in_epoch + 1) * BATCH > rows.shape[0]:
            epoch += 1
            shift = (epoch * 97) % SEQ_LEN
            n_rows = (len(data) - shift - 1) // SEQ_LEN
            idx = shift + torch.arange(n_rows)[:, None] * SEQ_LEN + torch.arange(SEQ_LEN + 1)[None, :]
            rows = data[idx][torch.randperm(n_rows, generator=gen)]
            step_in_epoch = 0
            log("epoch %d: %d rows" % (epoch, n_rows))
        batch = rows[step_in_epoch * BATCH:(step_in_epoch + 1) * BATCH]
        step_in_epoch += 1
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        done = step + 1
        if done % 50 == 0 or done == 1:
            el = time.time() - train_start
            log("step %d/%d loss %.4f (ema %.4f) lr %.2e, %.1f s/step, eta %.0f s"
                % (done, args.steps, loss.item(), ema, lr_at(step, args.steps), el / done,
                   el / done * (args.steps - done)))
        if done % 50 == 0 or done == args.stop_after:
            log("step %d checksum %s" % (done, checksum(model)))
        if args.stop_after is not None and done >= args.stop_after:
            log("stopped after %d steps (nothing written)" % done)
            return
    train_seconds = time.time() - train_start

    # Round to the stored dtype and evaluate exactly the weights that are written.
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    val_ppl, val_n = window_ppl(model, val_ids, SEQ_LEN)
    train_ppl, train_n = window_ppl(model, train_ids, SEQ_LEN, max_windows=len(val_ids) // SEQ_LEN)
    eval_ppl, eval_n = window_ppl(model, eval_ids, EVAL_LEN, max_windows=EVAL_WINDOWS)
    val_pred = [t for i in range(val_n) for t in val_ids[i * SEQ_LEN + 1:(i + 1) * SEQ_LEN]]
    uni_val = unigram_ppl(train_ids, val_pred, VOCAB_SIZE)
    log("final: train ppl %.3f, validation ppl %.3f (unigram %.3f), eval.txt %dx%d ppl %.4f"
        % (train_ppl, val_ppl, uni_val, eval_n, EVAL_LEN, eval_ppl))

    os.makedirs(args.out, exist_ok=True)
    arrays = {n: t.detach().numpy().astype(np.float16) for n, t in model.state_dict().items()}
    if CONFIG["tie_word_embeddings"]:
        arrays.pop("lm_head.weight")
    safetensors_io.write(os.path.join(args.out, "model.safetensors"), arrays, {"format": "pt"})
    write_json(os.path.join(args.out, "config.json"), CONFIG)
    write_json(os.path.join(args.out, "tokenizer.json"), tok.to_hf_json())
    write_json(os.path.join(args.out, "tokenizer_config.json"), tok.hf_config(CONFIG["max_position_embeddings"]))
    metrics = {
        "parameters": n_params,
        "storage_dtype": "float16",
        "vocab_size": VOCAB_SIZE,
        "bpe_merges": len(tok.merges),
        "seed": SEED,
        "steps": args.steps,
        "batch": BATCH,
        "seq_len": SEQ_LEN,
        "epochs_started": epoch + 1,
        "tokens": {"train": len(train_ids), "validation": len(val_ids), "eval_txt": len(eval_ids)},
        "token_ids_sha256": {"validation": ids_sha256(val_ids), "eval_txt": ids_sha256(eval_ids),
                             "encoding": "uint32 little-endian, BOS first, whole text as one string"},
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - t0, 1),
        "final_train_loss_ema": round(ema, 4),
        "train_ppl": train_ppl,
        "train_ppl_windows": train_n,
        "validation_ppl": val_ppl,
        "validation_ppl_windows": val_n,
        "validation_unigram_ppl": uni_val,
        "perplexity_protocol": "non-overlapping windows of seq_len tokens, BOS once at the start of the text, mean NLL of the L-1 predictions per window, exp of the mean over windows; weights rounded to float16 first",
        "eval_txt": {"windows": eval_n, "window_len": EVAL_LEN, "ppl": eval_ppl, "first_16_ids": eval_ids[:16],
                     "tokenization": "whole file contents as one string, BOS once at the start"},
        "final_checksum": checksum(model),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    write_json(os.path.join(args.out, "metrics.json"), metrics)
    log("wrote %s (%.0f s in all)" % (args.out, time.time() - t0))


def write_json(path, obj):
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
