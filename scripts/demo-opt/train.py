#!/usr/bin/env python3
"""Trains shears' second demo model: a small OPT (OPTForCausalLM layout: LayerNorm with
bias, learned positions, ReLU MLP fc1/fc2, every Linear with a bias, tied embeddings) on
the Brown corpus training split, with the demo Llama's tokenizer, so the structured
methods that need biases and ReLU neurons (`bias`) and the OPT code paths can be
measured on trained weights.

Run with Debian's python3-torch (torch 1.13, CPU), after prepare-corpus.js:
    /usr/bin/python3 scripts/demo-opt/train.py
Reads build/demo-model/corpus/{train,validation}.txt and assets/demo-model/{tokenizer.json,
tokenizer_config.json, eval.txt, calib.txt}; writes assets/demo-opt/{config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, metrics.json}.
Single-threaded, fixed seeds, fixed data order. --stop-after N stops after N steps
(same schedule) and writes nothing, to check that a re-run reproduces a prefix.
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
LLAMA_SCRIPTS = os.path.join(HERE, "..", "demo-model")
sys.path.insert(0, HERE)
sys.path.insert(1, LLAMA_SCRIPTS)
import bpe  # noqa: E402
import opt  # noqa: E402
import safetensors_io  # noqa: E402


def _load_llama_train():
    """The demo Llama's train.py, under another name (this file is also called train.py):
    its perplexity protocol, schedule, checksums and JSON writer are shared on purpose."""
    spec = importlib.util.spec_from_file_location("demo_llama_train", os.path.join(LLAMA_SCRIPTS, "train.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


common = _load_llama_train()

ROOT = common.ROOT
CORPUS = common.CORPUS
LLAMA_ASSETS = common.ASSETS
ASSETS = os.path.join(ROOT, "assets", "demo-opt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

SEED = common.SEED
VOCAB_SIZE = common.VOCAB_SIZE
CONFIG = {
    "architectures": ["OPTForCausalLM"],
    "model_type": "opt",
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 256,
    "word_embed_proj_dim": 256,
    "ffn_dim": 1024,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "max_position_embeddings": 256,
    "activation_function": "relu",
    "do_layer_norm_before": True,
    "_remove_final_layer_norm": False,
    "layer_norm_elementwise_affine": True,
    "enable_bias": True,
    "tie_word_embeddings": True,
    "init_std": 0.02,
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "layerdrop": 0.0,
    # The shared tokenizer's ids: <unk> 0 (never produced: byte fallback), <s> 1, </s> 2.
    # Padding is <unk>, not OPT's usual 1, which is this tokenizer's BOS.
    "pad_token_id": bpe.UNK_ID,
    "bos_token_id": bpe.BOS_ID,
    "eos_token_id": bpe.EOS_ID,
    "use_cache": True,
    "torch_dtype": "float16",
}
SEQ_LEN = 256        # training window = context length
BATCH = 8            # half the demo Llama's: twice the steps in the same ~20 min of one shared core
WEIGHT_DECAY = common.WEIGHT_DECAY
EVAL_WINDOWS = 32    # eval.txt cross-check: 32 windows of the full context (every position row)
log = common.log


def load_tokenizer():
    """The demo Llama's tokenizer, rebuilt from its tokenizer.json (both demo models share it)."""
    tj = json.load(open(os.path.join(LLAMA_ASSETS, "tokenizer.json"), encoding="utf-8"))
    vocab = sorted(tj["model"]["vocab"], key=tj["model"]["vocab"].get)
    assert len(vocab) == VOCAB_SIZE
    return bpe.Tokenizer(vocab, tj["model"]["merges"])


def batches(train_ids, log_epoch):
    """Rows of SEQ_LEN + 1 tokens, BATCH at a time, forever; each epoch shifts the cut points
    by 97 tokens and reshuffles rows with a generator seeded once, as the demo Llama did."""
    data = torch.tensor(train_ids, dtype=torch.long)
    gen = torch.Generator().manual_seed(SEED)
    epoch = 0
    while True:
        shift = (epoch * 97) % SEQ_LEN
        n_rows = (len(data) - shift - 1) // SEQ_LEN
        idx = shift + torch.arange(n_rows)[:, None] * SEQ_LEN + torch.arange(SEQ_LEN + 1)[None, :]
        rows = data[idx][torch.randperm(n_rows, generator=gen)]
        log_epoch(epoch, n_rows)
        for i in range(n_rows // BATCH):
            yield rows[i * BATCH:(i + 1) * BATCH]
        epoch += 1


@torch.no_grad()
def firing(model, lines, tok):
    """Per layer, how often each fc1 neuron is active (ReLU output > 0) over every token
    position of `lines`, each line encoded alone with BOS (as a calibration pass sees it)."""
    layers, ffn = CONFIG["num_hidden_layers"], CONFIG["ffn_dim"]
    active = torch.zeros(layers, ffn, dtype=torch.float64)
    tokens = 0

    def count(i, h):
        active[i] += (h > 0).reshape(-1, ffn).sum(dim=0).double()

    for line in lines:
        ids = tok.encode(line, bos=True)
        model(torch.tensor([ids], dtype=torch.long), on_mlp_hidden=count)
        tokens += len(ids)
    rate = active / tokens
    per_layer = []
    for i in range(layers):
        r = rate[i]
        per_layer.append({
            "mean_fraction_active": round(r.mean().item(), 6),
            "neurons_never_active": int((r == 0).sum()),
            "neurons_active_below_1pct": int((r < 0.01).sum()),
            "neurons_active_below_10pct": int((r < 0.10).sum()),
            "neurons_active_above_90pct": int((r > 0.90).sum()),
            "median_neuron_fraction": round(r.median().item(), 6),
        })
    return {"lines": len(lines), "tokens": tokens, "ffn_dim": ffn, "layers": per_layer,
            "definition": "fraction of (token, neuron) pairs with relu(fc1(LN(x))) > 0; per neuron, the fraction of tokens it is active on"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=800, help="length of the LR schedule")
    ap.add_argument("--stop-after", type=int, default=None, help="stop early, write nothing")
    ap.add_argument("--out", default=ASSETS)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    t0 = time.time()

    if not os.path.isfile(os.path.join(CORPUS, "train.txt")):
        sys.exit("no %s: run `node scripts/demo-model/prepare-corpus.js` first (npm run demo-opt:train does)" % CORPUS)
    train_docs = common.read(os.path.join(CORPUS, "train.txt")).split("\n\n")
    val_text = common.read(os.path.join(CORPUS, "validation.txt"))
    eval_text = common.read(os.path.join(LLAMA_ASSETS, "eval.txt"))
    calib_lines = common.read(os.path.join(LLAMA_ASSETS, "calib.txt")).splitlines()
    tok = load_tokenizer()
    train_ids = common.doc_stream(tok, train_docs)
    val_ids = tok.encode(val_text, bos=True)
    eval_ids = tok.encode(eval_text, bos=True)
    log("tokens: train %d, validation %d, eval.txt %d; first eval ids %s"
        % (len(train_ids), len(val_ids), len(eval_ids), eval_ids[:16]))

    model = opt.OPTForCausalLM(CONFIG)
    n_params = sum(p.numel() for p in model.parameters())  # the tied lm_head counts once
    log("model: %d parameters; init checksum %s" % (n_params, common.checksum(model)))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optim = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=common.LR, betas=(0.9, 0.95), eps=1e-8)

    epochs = []
    data = batches(train_ids, lambda e, n: (epochs.append(e), log("epoch %d: %d rows" % (e, n))))
    train_start = time.time()
    ema = None
    for step in range(args.steps):
        batch = next(data)
        for g in optim.param_groups:
            g["lr"] = common.lr_at(step, args.steps)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), batch[:, 1:].reshape(-1))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        done = step + 1
        if done % 50 == 0 or done == 1:
            el = time.time() - train_start
            log("step %d/%d loss %.4f (ema %.4f) lr %.2e, %.2f s/step, eta %.0f s"
                % (done, args.steps, loss.item(), ema, common.lr_at(step, args.steps), el / done,
                   el / done * (args.steps - done)))
        if done % 50 == 0 or done == args.stop_after:
            log("step %d checksum %s" % (done, common.checksum(model)))
        if args.stop_after is not None and done >= args.stop_after:
            log("stopped after %d steps (nothing written)" % done)
            return
    train_seconds = time.time() - train_start

    # Round to the stored dtype and measure exactly the weights that are written.
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    val_ppl, val_n = common.window_ppl(model, val_ids, SEQ_LEN)
    train_ppl, train_n = common.window_ppl(model, train_ids, SEQ_LEN, max_windows=len(val_ids) // SEQ_LEN)
    eval_ppl, eval_n = common.window_ppl(model, eval_ids, SEQ_LEN, max_windows=EVAL_WINDOWS)
    val_pred = [t for i in range(val_n) for t in val_ids[i * SEQ_LEN + 1:(i + 1) * SEQ_LEN]]
    uni_val = common.unigram_ppl(train_ids, val_pred, VOCAB_SIZE)
    fire = firing(model, calib_lines, tok)
    log("final: train ppl %.3f, validation ppl %.3f (unigram %.3f), eval.txt %dx%d ppl %.4f"
        % (train_ppl, val_ppl, uni_val, eval_n, SEQ_LEN, eval_ppl))
    for i, f in enumerate(fire["layers"]):
        log("layer %d fc1 on calib.txt: %.4f active; %d never, %d below 1%%, %d below 10%% of tokens"
            % (i, f["mean_fraction_active"], f["neurons_never_active"], f["neurons_active_below_1pct"],
               f["neurons_active_below_10pct"]))

    os.makedirs(args.out, exist_ok=True)
    state = model.state_dict()
    arrays = {n: t.detach().numpy().astype(np.float16) for n, t in state.items() if n != "lm_head.weight"}
    safetensors_io.write(os.path.join(args.out, "model.safetensors"), arrays, {"format": "pt"})
    common.write_json(os.path.join(args.out, "config.json"), CONFIG)
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(LLAMA_ASSETS, name), os.path.join(args.out, name))
    metrics = {
        "parameters": n_params,
        "stored_tensors": len(arrays),
        "storage_dtype": "float16",
        "vocab_size": VOCAB_SIZE,
        "tokenizer": "assets/demo-model/tokenizer.json (copied unchanged)",
        "seed": SEED,
        "steps": args.steps,
        "batch": BATCH,
        "seq_len": SEQ_LEN,
        "epochs_started": len(epochs),
        "tokens": {"train": len(train_ids), "validation": len(val_ids), "eval_txt": len(eval_ids)},
        "token_ids_sha256": {"validation": common.ids_sha256(val_ids), "eval_txt": common.ids_sha256(eval_ids),
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
        "eval_txt": {"file": "assets/demo-model/eval.txt", "windows": eval_n, "window_len": SEQ_LEN, "ppl": eval_ppl,
                     "first_16_ids": eval_ids[:16], "tokenization": "whole file contents as one string, BOS once at the start"},
        "fc1_firing_calib": dict(fire, file="assets/demo-model/calib.txt"),
        "final_checksum": common.checksum(model),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    common.write_json(os.path.join(args.out, "metrics.json"), metrics)
    log("wrote %s (%.0f s in all)" % (args.out, time.time() - t0))


if __name__ == "__main__":
    main()
