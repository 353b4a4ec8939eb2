"""The label-smoothed MLE part that the unlikelihood and negative-training baselines start from."""


def mle_part(criterion, model, sample):
    """(net_output, L_mle, sample_size, logging_output with nll_loss and the batch sizes) of a
    ``LabelSmoothedCrossEntropyCriterion`` subclass; the caller adds its own terms and ``loss``."""
    net_output = model(**sample["net_input"])
    mle_loss, nll_loss = criterion.compute_loss(model, net_output, sample, reduce=True)
    sample_size = sample["target"].size(0) if criterion.sentence_avg else sample["ntokens"]
    logging_output = {"nll_loss": nll_loss.data, "ntokens": sample["ntokens"],
                      "nsentences": sample["target"].size(0), "sample_size": sample_size}
    return net_output, mle_loss, sample_size, logging_output
