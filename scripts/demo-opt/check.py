#!/usr/bin/env python3
"""Re-reads the committed OPT demo model from assets/demo-opt only (config.json,
model.safetensors, tokenizer.json) and recomputes what train.py recorded in
metrics.json: the eval.txt token ids, its window perplexity and the fc1 firing
statistics on calib.txt. Catches a wrong tensor name, shape or tie in what was written.

    /usr/bin/python3 scripts/demo-opt/check.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402  (this directory's train.py: the OPT one)

common, opt, bpe, safetensors_io = train.common, train.opt, train.bpe, train.safetensors_io


def main():
    torch.set_num_threads(1)
    assets = train.ASSETS
    load = lambda name: json.load(open(os.path.join(assets, name), encoding="utf-8"))  # noqa: E731
    cfg, metrics, tj = load("config.json"), load("metrics.json"), load("tokenizer.json")
    tok = bpe.Tokenizer(sorted(tj["model"]["vocab"], key=tj["model"]["vocab"].get), tj["model"]["merges"])
    ids = tok.encode(common.read(os.path.join(train.LLAMA_ASSETS, "eval.txt")), bos=True)
    model = opt.OPTForCausalLM(cfg)
    tensors = safetensors_io.read(os.path.join(assets, "model.safetensors"))
    state = {k: torch.from_numpy(v.astype("float32")) for k, v in tensors.items()}
    state["lm_head.weight"] = state["model.decoder.embed_tokens.weight"]  # tied, not stored
    model.load_state_dict(state, strict=True)
    model.eval()
    ev = metrics["eval_txt"]
    ppl, n = common.window_ppl(model, ids, ev["window_len"], max_windows=ev["windows"])
    ok_ids = ids[:16] == ev["first_16_ids"] and common.ids_sha256(ids) == metrics["token_ids_sha256"]["eval_txt"]
    calib = common.read(os.path.join(train.LLAMA_ASSETS, "calib.txt")).splitlines()
    fire = train.firing(model, calib, tok)
    ok_fire = fire["layers"] == metrics["fc1_firing_calib"]["layers"]
    print("eval.txt ids match metrics.json: %s" % ok_ids)
    print("eval.txt %d x %d ppl from the files: %.6f (metrics.json: %.6f)" % (n, ev["window_len"], ppl, ev["ppl"]))
    print("fc1 firing on calib.txt matches metrics.json: %s" % ok_fire)
    if not ok_ids or not ok_fire or abs(ppl - ev["ppl"]) > 1e-4 * ev["ppl"]:
        sys.exit("check failed")


if __name__ == "__main__":
    main()
