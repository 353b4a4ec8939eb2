"""--arch transformer_cvae --criterion cvae (the CVAE baseline): its formulas against closed
forms and loops, z through beam search, and a tiny model that trains and decodes with stock fairseq."""
import math
import os
import subprocess

import pytest
import torch
from fairseq.sequence_generator import SequenceGenerator

from nd_fairseq.baseline_losses import bag_of_words_nll, gaussian_kl, kl_annealing_weight

from .helpers import BIN, TINY_TRAIN, USER_DIR, cli, first_batch, setup

PAD = 1


def test_kl_of_diagonal_gaussians_matches_the_closed_form():
    torch.manual_seed(0)
    mu_q, logvar_q, mu_p, logvar_p = (torch.randn(3, 4, dtype=torch.float64) for _ in range(4))
    got = gaussian_kl(mu_q, logvar_q, mu_p, logvar_p)
    mu_q, logvar_q, mu_p, logvar_p = (t.tolist() for t in (mu_q, logvar_q, mu_p, logvar_p))
    for b in range(3):
        expected = 0.0
        for d in range(4):  # one dimension: log(s_p / s_q) + (s_q^2 + (m_q - m_p)^2) / (2 s_p^2) - 1/2
            s_q, s_p = math.exp(logvar_q[b][d] / 2), math.exp(logvar_p[b][d] / 2)
            expected += math.log(s_p / s_q) + (s_q ** 2 + (mu_q[b][d] - mu_p[b][d]) ** 2) / (2 * s_p ** 2) - 0.5
        assert got[b].item() == pytest.approx(expected, rel=1e-12)
    zeros, ones = torch.zeros(1, 2), torch.ones(1, 2)
    assert gaussian_kl(zeros, zeros, zeros, zeros).item() == 0.0
    assert gaussian_kl(ones, zeros, zeros, zeros).item() == pytest.approx(1.0)  # 2 dims x 0.5


def test_kl_weight_rises_linearly_then_stays_one():
    assert [kl_annealing_weight(u, 4) for u in (0, 1, 2, 4, 9)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert kl_annealing_weight(0, 0) == 1.0


def test_bag_of_words_matches_a_loop():
    torch.manual_seed(1)
    logits = torch.randn(2, 7, dtype=torch.float64)
    target = torch.tensor([[3, 4, 3, 2], [5, 2, PAD, PAD]])
    mask = target.ne(PAD)
    expected = 0.0
    for b in range(2):
        lprobs = logits[b].log_softmax(-1)
        expected -= sum(lprobs[y].item() for y, keep in zip(target[b].tolist(), mask[b].tolist()) if keep)
    assert bag_of_words_nll(logits, target, mask).item() == pytest.approx(expected, rel=1e-6)  # in float32


def cvae_setup(databin, *extra):
    return setup(databin, "--task", "negative_distillation", "--arch", "transformer_cvae_tiny", "--criterion", "cvae",
                 "--label-smoothing", "0.1", "--cvae-latent-dim", "8", *extra)


def test_the_criterion_matches_its_terms_computed_by_hand(databin):
    task, model, criterion = cvae_setup(databin, "--cvae-kl-anneal-updates", "4")
    criterion.set_num_updates(1)
    sample = first_batch(task)
    torch.manual_seed(5)
    loss, _, log = criterion(model, sample)
    torch.manual_seed(5)  # the same z
    with torch.no_grad():
        x, extra = model(**sample["net_input"])
    cvae = extra["cvae"]
    lprobs = x.double().log_softmax(-1)
    target = sample["target"]
    mle = kl = bow = 0.0
    for b, row in enumerate(target.tolist()):
        bow_lprobs = cvae["bow_logits"][b].double().log_softmax(-1)
        for t, y in enumerate(row):
            if y != PAD:  # fairseq's label smoothing: (1 - eps - eps / (V - 1)) nll + eps / (V - 1) sum_c -log p_c
                eps_i = 0.1 / (lprobs.size(-1) - 1)
                mle += (1 - 0.1 - eps_i) * -lprobs[b, t, y].item() + eps_i * -lprobs[b, t].sum().item()
                bow -= bow_lprobs[y].item()
        for d in range(8):
            mq, lq, mp, lp = (cvae[k][b, d].item() for k in ("mu_q", "logvar_q", "mu_p", "logvar_p"))
            kl += 0.5 * (lp - lq + (math.exp(lq) + (mq - mp) ** 2) / math.exp(lp) - 1)
    assert float(log["loss_kl"]) == pytest.approx(kl, rel=1e-4)
    assert float(log["loss_bow"]) == pytest.approx(bow, rel=1e-5)
    assert float(loss) == pytest.approx(mle + 0.25 * kl + bow, rel=1e-5)


def test_z_is_drawn_from_the_prior_once_per_query_and_survives_beam_reordering(databin):
    task, model, _ = cvae_setup(databin)
    model.eval()
    net_input = first_batch(task)["net_input"]
    with torch.no_grad():
        out = model.encoder(net_input["src_tokens"], net_input["src_lengths"])
    assert "mu_q" not in out["cvae"]  # no response: the prior
    source_length = net_input["src_tokens"].size(1)
    assert out["encoder_out"][0].size(0) == source_length + 1 and not out["encoder_padding_mask"][0][:, -1].any()
    order = torch.arange(net_input["src_tokens"].size(0)).repeat_interleave(3)  # what beam search does with beam 3
    reordered = model.encoder.reorder_encoder_out(out, order)
    assert torch.equal(reordered["encoder_out"][0][-1], out["encoder_out"][0][-1][order])
    expected = model.encoder.latent_to_memory(out["cvae"]["z"])
    assert torch.allclose(out["encoder_out"][0][-1], expected)


def test_beam_one_with_a_sampled_z_equals_a_greedy_loop_with_the_same_z(databin):
    task, model, _ = cvae_setup(databin)
    model.eval()
    sample = first_batch(task)
    tgt_dict = task.target_dictionary
    generator = SequenceGenerator([model], tgt_dict, beam_size=1, max_len_b=8, min_len=1)
    torch.manual_seed(11)
    with torch.no_grad():
        hyps = generator.generate([model], sample)
    torch.manual_seed(11)  # the same draws: the encoder samples z first
    src, lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
    with torch.no_grad():
        encoder_out = model.encoder(src, lengths)
        for b in range(src.size(0)):
            one = model.encoder.reorder_encoder_out(encoder_out, torch.tensor([b]))
            tokens = [tgt_dict.eos()]
            while tokens[-1] != tgt_dict.eos() or len(tokens) == 1:
                if len(tokens) == 1 + 8:  # max_len_b 8 tokens, then EOS is forced
                    tokens.append(tgt_dict.eos())
                    break
                # the whole decoder re-run at every step, no incremental state
                logits = model.decoder(torch.tensor([tokens]), encoder_out=one)[0][0, -1]
                logits[tgt_dict.pad()] = logits[tgt_dict.unk()] = -math.inf  # fairseq's generator never emits these
                if len(tokens) == 1:
                    logits[tgt_dict.eos()] = -math.inf  # min_len 1
                tokens.append(int(logits.argmax()))
            assert hyps[b][0]["tokens"].tolist() == tokens[1:], b


def test_a_model_without_the_latent_networks_is_refused(databin):
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--criterion", "cvae",
                                   "--label-smoothing", "0.1")
    with pytest.raises(ValueError, match="needs --arch transformer_cvae"):
        criterion(model, first_batch(task))


def test_a_tiny_model_trains_and_decodes_reproducibly_with_stock_fairseq(databin, tmp_path):
    out = cli("fairseq-train", databin, "--user-dir", USER_DIR, *TINY_TRAIN, "--arch", "transformer_cvae_tiny",
              "--task", "negative_distillation", "--criterion", "cvae", "--label-smoothing", "0.1",
              "--cvae-kl-anneal-updates", "4", "--max-update", "8", "--save-dir", tmp_path,
              "--log-format", "json", "--log-interval", "1").stdout
    assert '"kl_weight": "1"' in out  # annealed within the run
    ckpt = os.path.join(tmp_path, "checkpoint_last.pt")

    def generate(*flags):
        text = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
                   "--path", ckpt, "--gen-subset", "test", "--max-len-b", "10", *flags).stdout
        return sorted(line for line in text.splitlines() if line.startswith("H-"))

    beam = generate("--beam", "5", "--seed", "3")
    assert len(beam) == 37 and beam == generate("--beam", "5", "--seed", "3")
    proc = subprocess.run(
        [os.path.join(BIN, "fairseq-interactive"), databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
         "--path", ckpt, "--source-lang", "src", "--target-lang", "tgt", "--beam", "2", "--seed", "3"],
        input="w1 w2 w3\nw4 w5\n", capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sum(line.startswith("H-") for line in proc.stdout.splitlines()) == 2
