"""A LanguagePairDataset whose batching never drops examples.

The compiled ``batch_by_size`` of the fairseq build we run on (ve-fairseq 0.12.3) silently
drops the last ``len(indices) % required_batch_size_multiple`` examples: with the default
``--required-batch-size-multiple 8``, fairseq-generate on 100 sentences prints 96.
"""
import numpy as np
from fairseq.data import LanguagePairDataset


class CompleteBatchesLanguagePairDataset(LanguagePairDataset):
    def batch_by_size(self, indices, max_tokens=None, max_sentences=None, required_batch_size_multiple=1):
        batches = super().batch_by_size(indices, max_tokens, max_sentences, required_batch_size_multiple)
        covered = np.concatenate(batches) if len(batches) else np.empty(0, dtype=np.int64)
        if len(covered) == len(indices):
            return batches
        # The dropped remainder is smaller than the multiple; batched with multiple 1 it is
        # kept whole (in the original order), still within max_tokens/max_sentences.
        missing = np.asarray(indices)[~np.isin(indices, covered)]
        return list(batches) + list(super().batch_by_size(missing, max_tokens, max_sentences, 1))

    @classmethod
    def adopt(cls, dataset: LanguagePairDataset) -> LanguagePairDataset:
        """Give an existing LanguagePairDataset this batching, keeping all its state.

        Re-classing avoids re-reading the data or repeating LanguagePairDataset's long
        constructor; the subclass adds no state of its own.
        """
        if type(dataset) is LanguagePairDataset:
            dataset.__class__ = cls
        return dataset
