"""Logging the extra loss terms and counts of the criteria in fairseq's units."""
import math

from fairseq.logging import metrics


def log_loss_terms(logging_outputs, keys) -> None:
    """Each term as fairseq logs ``loss``: its sum over the logging outputs that have it, per
    their sample_size, in bits. A term is present only in the outputs of the steps that
    computed it (e.g. not before UL's queue is full)."""
    for key in keys:
        logs = [log for log in logging_outputs if key in log]
        size = sum(log.get("sample_size", 0) for log in logs)
        if size > 0:
            metrics.log_scalar(key, sum(log[key] for log in logs) / size / math.log(2), size, round=4)


def log_counts(logging_outputs, keys) -> None:
    """Each count summed over the logging outputs that have it."""
    for key in keys:
        if any(key in log for log in logging_outputs):
            metrics.log_scalar_sum(key, sum(log.get(key, 0) for log in logging_outputs))
