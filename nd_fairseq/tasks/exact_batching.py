"""Two fixes of this fairseq build's batching, for any translation-style task.

1. Every example is batched: the compiled ``batch_by_size`` of ve-fairseq 0.12.3 drops the last
   ``len % --required-batch-size-multiple`` examples of a split (fairseq-generate on 100
   sentences prints 96), see ``data/complete_batches.py``.
2. A resumed run sees the batches of an uninterrupted one (see ``get_batch_iterator``).

Standard, the teacher, ND and every baseline train and decode with ``--task
negative_distillation``, which has these fixes, so that they differ only in their criterion.
"""
from ..data import CompleteBatchesLanguagePairDataset


class ExactBatchingMixin:
    """Put before ``TranslationTask`` in a task's bases."""

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        CompleteBatchesLanguagePairDataset.adopt(self.datasets[split])

    def build_dataset_for_inference(self, src_tokens, src_lengths, constraints=None):
        dataset = super().build_dataset_for_inference(src_tokens, src_lengths, constraints)
        return CompleteBatchesLanguagePairDataset.adopt(dataset)

    def get_batch_iterator(self, dataset, *args, epoch=1, disable_iterator_cache=False, update_epoch_batch_itr=False,
                           **kwargs):
        """fairseq's iterator, composed so that a resumed run sees the batches of an
        uninterrupted one.

        When the iterator is reused across epochs (the default for pair datasets), an
        uninterrupted run composes its batches once, with the seed of the epoch it started
        in, and only reshuffles them later; a run resumed at epoch k would compose them anew
        with the seed of epoch k, so every later batch differs. Composing with epoch 1's seed
        in both cases makes resuming exact; the iterator still counts the real epochs.
        """
        reused = not disable_iterator_cache and not update_epoch_batch_itr and self.can_reuse_epoch_itr(dataset)
        cached = reused and dataset in self.dataset_to_epoch_iter
        itr = super().get_batch_iterator(
            dataset,
            *args,
            epoch=1 if reused else epoch,
            disable_iterator_cache=disable_iterator_cache,
            update_epoch_batch_itr=update_epoch_batch_itr,
            **kwargs,
        )
        if reused and not cached:
            # a cached iterator keeps its own epoch count: touching it would skip epochs
            dataset.set_epoch(epoch)
            itr.epoch = max(epoch, 1)
        return itr
