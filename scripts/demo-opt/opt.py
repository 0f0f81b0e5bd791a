"""An OPT decoder written to mean exactly what transformers' OPTForCausalLM means
(parameter names, shapes and arithmetic) for a config with do_layer_norm_before = true,
enable_bias = true, word_embed_proj_dim = hidden_size and no padding in the input:
token embedding + learned position embedding (row = position + 2, OPT's offset),
pre-norm blocks x + attn(LN(x)), x + fc2(relu(fc1(LN(x)))), every Linear with a bias,
LayerNorm (weight and bias, eps 1e-5), causal softmax attention with q scaled by
1/sqrt(head_dim) after its bias, final LayerNorm, lm_head tied to the token embedding.
"""
import torch
import torch.nn.functional as F
from torch import nn

POSITION_OFFSET = 2  # OPTLearnedPositionalEmbedding: position p reads row p + 2


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.head_dim = d // self.heads
        self.scaling = self.head_dim ** -0.5
        self.q_proj = nn.Linear(d, d, bias=True)
        self.k_proj = nn.Linear(d, d, bias=True)
        self.v_proj = nn.Linear(d, d, bias=True)
        self.out_proj = nn.Linear(d, d, bias=True)

    def forward(self, x, mask):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q = split(self.q_proj(x) * self.scaling)
        k = split(self.k_proj(x))
        v = split(self.v_proj(x))
        scores = torch.matmul(q, k.transpose(2, 3)) + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, -1)
        return self.out_proj(out)


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, m = cfg["hidden_size"], cfg["ffn_dim"]
        self.self_attn = Attention(cfg)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, m, bias=True)
        self.fc2 = nn.Linear(m, d, bias=True)
        self.final_layer_norm = nn.LayerNorm(d)

    def mlp_hidden(self, x):
        """The ReLU activations of fc1 (what the `bias` structured method looks at)."""
        return F.relu(self.fc1(self.final_layer_norm(x)))

    def forward(self, x, mask, on_mlp_hidden=None):
        x = x + self.self_attn(self.self_attn_layer_norm(x), mask)
        h = self.mlp_hidden(x)
        if on_mlp_hidden is not None:
            on_mlp_hidden(h)
        return x + self.fc2(h)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], d, padding_idx=cfg["pad_token_id"])
        self.embed_positions = nn.Embedding(cfg["max_position_embeddings"] + POSITION_OFFSET, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])


class Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.decoder = Decoder(cfg)


class OPTForCausalLM(nn.Module):
    """state_dict() keys are the Hugging Face names (model.decoder.layers.N.fc1.weight...);
    lm_head.weight is the token embedding itself (tied), as in OPT checkpoints."""

    def __init__(self, cfg):
        super().__init__()
        assert cfg["do_layer_norm_before"] and cfg["enable_bias"] and cfg["tie_word_embeddings"]
        assert cfg["word_embed_proj_dim"] == cfg["hidden_size"] and cfg["activation_function"] == "relu"
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.model.decoder.embed_tokens.weight
        # OPTPreTrainedModel._init_weights: N(0, init_std) weights, zero biases, zero padding
        # row; LayerNorm starts at weight 1, bias 0.
        std = cfg["init_std"]
        for mod in self.model.modules():  # not lm_head: its weight is the embedding
            if isinstance(mod, nn.Linear):
                nn.init.normal_(mod.weight, mean=0.0, std=std)
                nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.Embedding):
                nn.init.normal_(mod.weight, mean=0.0, std=std)
                if mod.padding_idx is not None:
                    with torch.no_grad():
                        mod.weight[mod.padding_idx].zero_()

    def forward(self, ids, on_mlp_hidden=None):
        """Logits for `ids` [batch, t]; on_mlp_hidden(layer_index, relu_activations) if given."""
        t = ids.shape[1]
        dec = self.model.decoder
        mask = torch.full((t, t), float("-inf")).triu(1)
        x = dec.embed_tokens(ids) + dec.embed_positions(torch.arange(t) + POSITION_OFFSET)
        for i, layer in enumerate(dec.layers):
            hook = None if on_mlp_hidden is None else (lambda h, i=i: on_mlp_hidden(i, h))
            x = layer(x, mask, hook)
        return self.lm_head(dec.final_layer_norm(x))
