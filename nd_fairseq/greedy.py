"""Greedy responses of a model to a batch's queries, inside training: for the teacher's hard
targets (``negative_responses.py``) and the baselines that learn from their own generations
(vocabulary unlikelihood, negative training). fairseq's ``SequenceGenerator`` with beam 1, the
whole batch at once, in eval mode (no dropout) and without gradients."""
import torch
from fairseq.data import data_utils
from fairseq.sequence_generator import SequenceGenerator
from torch import Tensor


@torch.no_grad()
def greedy_responses(model, net_input, tgt_dict, max_len_b: int = 50) -> Tensor:
    """B x T token ids, EOS included, padded with the dictionary's pad (the recipe's decoding:
    greedy, at most ``max_len_b`` tokens)."""
    was_training = model.training
    model.eval()
    try:
        generator = SequenceGenerator([model], tgt_dict, beam_size=1, max_len_a=0, max_len_b=max_len_b)
        query = {k: net_input[k] for k in ("src_tokens", "src_lengths")}
        hypos = generator.generate([model], {"net_input": query})
    finally:
        model.train(was_training)
    return data_utils.collate_tokens([h[0]["tokens"] for h in hypos], tgt_dict.pad())


def forced_forward(model, net_input, responses: Tensor, tgt_dict):
    """The model's output on the batch's queries, teacher-forced on ``responses`` (B x T, as
    ``greedy_responses`` returns them): its decoder input is each response shifted right with
    EOS first, as fairseq's collater makes it from a target."""
    pad, eos = tgt_dict.pad(), tgt_dict.eos()
    rows = [row[row.ne(pad)] for row in responses]
    shifted = data_utils.collate_tokens(rows, pad, eos, move_eos_to_beginning=True).to(responses.device)
    return model(net_input["src_tokens"], net_input["src_lengths"], shifted)
