"""SentencePiece-style BPE with byte fallback, trained from scratch and exported as a
Hugging Face tokenizer.json (Llama-2 layout: Prepend + Replace normalizer, no
pre-tokenizer, BPE with byte_fallback, BOS added by a TemplateProcessing post-processor).

Encoding here reproduces what the exported tokenizer.json does in Hugging Face
tokenizers (and @huggingface/tokenizers): normalize the whole text ("\u2581" prepended,
spaces -> "\u2581"), then apply the merges by rank, lowest rank first, leftmost first on
ties; a resulting piece missing from the vocabulary becomes its UTF-8 byte tokens.
Training only learns pieces in which "\u2581" can appear first and "\n" only alone, so
no merge can cross a chunk boundary and encoding chunk by chunk (with a cache) gives
exactly the same result as encoding the whole string at once.
"""
import collections
import re

SPACE = "\u2581"
SPECIALS = ["<unk>", "<s>", "</s>"]
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
BYTE_TOKENS = ["<0x%02X>" % b for b in range(256)]
_CHUNK = re.compile("\n|" + SPACE + "[^" + SPACE + "\n]*|[^" + SPACE + "\n]+")


def normalize(text):
    return SPACE + text.replace(" ", SPACE)


def chunks(normalized):
    return _CHUNK.findall(normalized)


def train_bpe(texts, vocab_size, log=print):
    """Learns merges on the chunks of `texts` until the vocabulary has vocab_size entries.
    Deterministic: the most frequent pair wins, ties go to the smallest pair (as strings)."""
    word_freq = collections.Counter()
    for t in texts:
        word_freq.update(chunks(normalize(t)))
    char_freq = collections.Counter()
    for w, f in word_freq.items():
        for ch in w:
            char_freq[ch] += f
    alphabet = sorted(char_freq, key=lambda c: (-char_freq[c], c))
    vocab = SPECIALS + BYTE_TOKENS + alphabet
    if len(vocab) >= vocab_size:
        raise ValueError("vocab_size %d too small for %d base tokens" % (vocab_size, len(vocab)))
    words = [list(w) for w in sorted(word_freq)]
    freqs = [word_freq["".join(w)] for w in words]
    pair_count = collections.Counter()
    pair_words = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += freqs[i]
            pair_words[(a, b)].add(i)
    merges = []
    known = set(vocab)
    while len(vocab) < vocab_size and pair_count:
        best = min(pair_count, key=lambda p: (-pair_count[p], p))
        if pair_count[best] < 2:
            break
        a, b = best
        merged = a + b
        merges.append(best)
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
        for i in sorted(pair_words.pop(best, ())):
            w = words[i]
            f = freqs[i]
            for p in zip(w, w[1:]):
                pair_count[p] -= f
                if pair_count[p] <= 0:
                    del pair_count[p]
            out = []
            j = 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for p in zip(out, out[1:]):
                pair_count[p] += f
                pair_words[p].add(i)
        if len(merges) % 250 == 0:
            log("bpe: %d merges, vocab %d" % (len(merges), len(vocab)))
    return Tokenizer(vocab, merges)


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = list(vocab)
        self.merges = [tuple(m) for m in merges]
        self.ids = {t: i for i, t in enumerate(self.vocab)}
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self.cache = {}

    def _bpe(self, chunk):
        cached = self.cache.get(chunk)
        if cached is not None:
            return cached
        parts = list(chunk)
        ranks = self.ranks
        while len(parts) > 1:
            best_rank, best_j = None, -1
            for j in range(len(parts) - 1):
                r = ranks.get((parts[j], parts[j + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank, best_j = r, j
            if best_rank is None:
                break
            parts[best_j:best_j + 2] = [parts[best_j] + parts[best_j + 1]]
        ids = []
        for p in parts:
            i = self.ids.get(p)
            if i is not None:
                ids.append(i)
            else:
                ids.extend(self.ids[BYTE_TOKENS[b]] for b in p.encode("utf-8"))
        self.cache[chunk] = ids
        return ids

    def encode(self, text, bos=True):
        """Token ids of text; with bos, BOS first (what tokenizer.json's post-processor adds)."""
        ids = [BOS_ID] if bos else []
        if text == "":
            return ids
        for c in chunks(normalize(text)):
            ids.extend(self._bpe(c))
        return ids

    def to_hf_json(self):
        added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for i, t in enumerate(SPECIALS)]
        bos = SPECIALS[BOS_ID]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": SPACE},
                {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
            "pre_tokenizer": None,
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": bos, "type_id": 1}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {bos: {"id": bos, "ids": [BOS_ID], "tokens": [bos]}}},
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": SPECIALS[UNK_ID],
                "continuing_subword_prefix": None, "end_of_word_suffix": None,
                "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                "vocab": {t: i for i, t in enumerate(self.vocab)},
                "merges": [list(m) for m in self.merges]},
        }

    def hf_config(self, model_max_length):
        return {
            "tokenizer_class": "LlamaTokenizerFast",
            "bos_token": SPECIALS[BOS_ID],
            "eos_token": SPECIALS[EOS_ID],
            "unk_token": SPECIALS[UNK_ID],
            "add_bos_token": True,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": model_max_length,
        }
