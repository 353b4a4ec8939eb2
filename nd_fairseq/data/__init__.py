from .complete_batches import CompleteBatchesLanguagePairDataset  # noqa: F401
