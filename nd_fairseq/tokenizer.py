"""``--tokenizer dailydialog``: raw text in the form of the DailyDialog pairs, for
fairseq-interactive and the hub (``fairseq-interactive ... --tokenizer dailydialog``).

The DailyDialog release separates punctuation from words ("how are you ?", "you ’ re"); our
preprocessing (``preprocess.dailydialog_pairs.normalise_turn``) then lowercases, splits "." and
the clitics 's 'll 've 're. A user types "How are you?", so encoding does the release's part
first and then calls that very function; decoding joins the punctuation back for reading.
"""
import re
from dataclasses import dataclass

from fairseq.data.encoders import register_tokenizer
from fairseq.dataclass import FairseqDataclass

from preprocess.dailydialog_pairs import normalise_turn

_RELEASE_PUNCTUATION = re.compile(r"""([,?!;:"()’])""")
_ATTACHED_LEFT = re.compile(r" ([,?!;:.)]|'s\b|'ll\b|'ve\b|'re\b)")


@dataclass
class DailyDialogTokenizerConfig(FairseqDataclass):
    pass


@register_tokenizer("dailydialog", dataclass=DailyDialogTokenizerConfig)
class DailyDialogTokenizer:
    def __init__(self, cfg=None):
        pass

    def encode(self, x: str) -> str:
        return normalise_turn(_RELEASE_PUNCTUATION.sub(r" \1 ", x)).strip()

    def decode(self, x: str) -> str:
        return _ATTACHED_LEFT.sub(r"\1", x).replace(" ’ ", "’")
