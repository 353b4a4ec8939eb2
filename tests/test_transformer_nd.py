"""transformer_nd: the exposed features are the ones the decoder really computes."""
import math

import torch

from nd_fairseq.models.transformer_nd import TransformerNDModel

from .helpers import first_batch, setup


def capture_self_attention(model):
    """Forward hooks recording each decoder layer's self-attention input and output."""
    seen = []

    def hook(module, args, kwargs, output):
        seen.append((kwargs.get("query", args[0] if args else None), output[0]))

    handles = [layer.self_attn.register_forward_hook(hook, with_kwargs=True) for layer in model.decoder.layers]
    return seen, handles


def test_attention_logits_are_the_scores_the_layer_uses(databin, teacher_ckpt):
    for normalize_before in ([], ["--decoder-normalize-before"]):
        task, model, _ = setup(databin, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
                               "--criterion", "negative_distillation", *normalize_before)
        model.eval()
        sample = first_batch(task)
        prev = sample["net_input"]["prev_output_tokens"]
        assert prev.eq(task.target_dictionary.pad()).any(), "the batch should contain padding"
        seen, handles = capture_self_attention(model)
        with torch.no_grad():
            _, extra = model(**sample["net_input"], return_nd_features=True)
        for h in handles:
            h.remove()
        mask = extra["nd_attn_mask"]
        pad = prev.eq(task.target_dictionary.pad())
        for layer_idx, (layer, (attn_in, attn_out)) in enumerate(zip(model.decoder.layers, seen)):
            logits = extra["nd_attn_logits"][layer_idx]
            attn = layer.self_attn
            heads, d = attn.num_heads, attn.head_dim
            assert logits.shape == (prev.size(0), heads, prev.size(1), prev.size(1))
            # brute force: one dot product per (batch, head, query, key)
            q = attn.q_proj(attn_in)  # T x B x C
            k = attn.k_proj(attn_in)
            for b in range(prev.size(0)):
                for h in range(heads):
                    for i in range(prev.size(1)):
                        for j in range(i + 1):
                            if pad[b, i] or pad[b, j]:
                                assert not mask[b, 0, i, j]
                                continue
                            assert mask[b, 0, i, j]
                            dot = (q[i, b, h * d:(h + 1) * d] * k[j, b, h * d:(h + 1) * d]).sum() / math.sqrt(d)
                            assert torch.allclose(logits[b, h, i, j], dot, atol=1e-5)
                        assert not mask[b, 0, i, i + 1:].any()
            # and softmax over the valid keys, times V, reproduces the layer's own output
            v = attn.v_proj(attn_in).view(prev.size(1), prev.size(0), heads, d).permute(1, 2, 0, 3)
            probs = torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=-1).nan_to_num(0.0)
            out = attn.out_proj((probs @ v).permute(2, 0, 1, 3).reshape(prev.size(1), prev.size(0), -1))
            valid = ~pad.t()
            assert torch.allclose(out[valid], attn_out[valid], atol=1e-5)
        # hidden states are the layer outputs, batch-first
        for layer_idx, hidden in enumerate(extra["nd_hidden"]):
            assert torch.equal(hidden, extra["inner_states"][layer_idx + 1].transpose(0, 1))
        assert torch.equal(extra["nd_token_mask"], ~pad)


def test_no_extra_outputs_or_parameters_unless_asked(databin, teacher_ckpt, plain_teacher_ckpt):
    task, model, _ = setup(databin, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
                           "--criterion", "negative_distillation")
    model.eval()
    sample = first_batch(task)
    with torch.no_grad():
        plain_out, plain_extra = model(**sample["net_input"])
        nd_out, _ = model(**sample["net_input"], return_nd_features=True)
    assert not any(k.startswith("nd_") for k in plain_extra)
    assert torch.equal(plain_out, nd_out)
    # a checkpoint of fairseq's own transformer loads strictly into transformer_nd
    state = torch.load(plain_teacher_ckpt, map_location="cpu")
    assert isinstance(model, TransformerNDModel)
    model.load_state_dict(state["model"], strict=True)
