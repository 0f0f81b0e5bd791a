#!/usr/bin/env python3
"""Re-reads the committed demo model from assets/demo-model only (config.json,
model.safetensors, tokenizer.json) and recomputes what train.py recorded in
metrics.json: the eval.txt token ids and the 64 x 128 window perplexity.
Catches a wrong tensor name, shape or byte order in the safetensors writer.

    /usr/bin/python3 scripts/demo-model/check.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import llama  # noqa: E402
import safetensors_io  # noqa: E402
import train  # noqa: E402


def main():
    torch.set_num_threads(1)
    assets = train.ASSETS
    load = lambda name: json.load(open(os.path.join(assets, name), encoding="utf-8"))  # noqa: E731
    cfg, metrics, tj = load("config.json"), load("metrics.json"), load("tokenizer.json")
    vocab = sorted(tj["model"]["vocab"], key=tj["model"]["vocab"].get)
    tok = bpe.Tokenizer(vocab, tj["model"]["merges"])
    ids = tok.encode(train.read(os.path.join(assets, "eval.txt")), bos=True)
    model = llama.LlamaForCausalLM(cfg)
    tensors = safetensors_io.read(os.path.join(assets, "model.safetensors"))
    state = {k: torch.from_numpy(v.astype("float32")) for k, v in tensors.items()}
    if cfg["tie_word_embeddings"]:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True)
    model.eval()
    ev = metrics["eval_txt"]
    ppl, n = train.window_ppl(model, ids, ev["window_len"], max_windows=ev["windows"])
    ok_ids = ids[:16] == ev["first_16_ids"] and train.ids_sha256(ids) == metrics["token_ids_sha256"]["eval_txt"]
    print("eval.txt ids match metrics.json: %s" % ok_ids)
    print("eval.txt %d x %d ppl from the files: %.6f (metrics.json: %.6f)" % (n, ev["window_len"], ppl, ev["ppl"]))
    if not ok_ids or abs(ppl - ev["ppl"]) > 1e-4 * ev["ppl"]:
        sys.exit("check failed")


if __name__ == "__main__":
    main()
