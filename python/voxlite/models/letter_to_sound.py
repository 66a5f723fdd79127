"""Letter-to-sound model: a word's letters -> its phonemes, for words the default voice's lexicon lacks.

    letters (with word-start / word-end marks) -> embedding, each position repeated ``upsample`` times (plus a
    learned sub-position embedding) -> bidirectional transformer (``blocks.transformer``) -> logits over
    [CTC blank, phoneme symbols]

Non-autoregressive, trained with CTC (letters and phonemes run in the same order, so the alignment is monotonic;
the upsampling leaves room for words with more symbols than letters, stress marks included): one forward pass per
word, greedy decoding (best symbol per position, repeats merged, blanks dropped) in NumPy at run time
(``voxlite.text.letter_to_sound``). Trained on the lexicon itself (``recipes/default_voice/train_letter_to_sound.py``),
so its symbols and stress conventions are the lexicon's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .blocks.transformer import Transformer, TransformerConfig

LETTERS = "abcdefghijklmnopqrstuvwxyz'"


@dataclass
class LetterToSoundConfig:
    symbols: str  # output symbols (id k + 1; id 0 is the CTC blank)
    letters: str = LETTERS  # input letters (id k + 3; 0 unknown, 1 word start, 2 word end)
    dim: int = 192
    ffn_dim: int = 512
    n_layers: int = 4
    n_heads: int = 4
    upsample: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


class LetterToSound(nn.Module):
    def __init__(self, config: LetterToSoundConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed_letters = nn.Embedding(len(c.letters) + 3, c.dim)
        self.embed_subposition = nn.Embedding(c.upsample, c.dim)
        self.encoder = Transformer(TransformerConfig(dim=c.dim, ffn_dim=c.ffn_dim, n_layers=c.n_layers,
                                                     n_heads=c.n_heads, n_kv_heads=c.n_heads, causal=False))
        self.head = nn.Linear(c.dim, len(c.symbols) + 1)

    def forward(self, letter_ids: torch.Tensor) -> torch.Tensor:
        """(B, L) int64 letter ids, word marks included -> (B, L * upsample, 1 + n_symbols) logits."""
        B, L = letter_ids.shape
        x = self.embed_letters(letter_ids).repeat_interleave(self.config.upsample, dim=1)  # (B, L*U, C)
        sub = torch.arange(L * self.config.upsample, device=x.device) % self.config.upsample
        x = x + self.embed_subposition(sub)[None]
        h, _ = self.encoder(x)
        return self.head(h)

    @torch.no_grad()
    def read(self, word: str) -> str | None:
        """A word's phonemes, decoded as at run time (the G2P's ``letter_to_sound`` callable during training, so
        training text is read as the bundle reads it)."""
        from ..text.letter_to_sound import ctc_greedy

        if not any(ch in self.config.letters for ch in word.lower()):
            return None
        logits = self(torch.tensor([encode_letters(word, self.config.letters)]))[0]
        return ctc_greedy(logits.float().numpy(), self.config.symbols) or None


def load_checkpoint(path) -> LetterToSound:
    """``train_letter_to_sound.py``'s model.pt or its packed (float16) copy -> a float32 model in eval mode."""
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = LetterToSound(LetterToSoundConfig(**payload["config"]))
    model.load_state_dict({k: v.float() for k, v in payload["model"].items()})
    return model.eval()


def encode_letters(word: str, letters: str = LETTERS) -> list[int]:
    """A word -> letter ids with the word marks (lower-cased; letters outside ``letters`` are id 0)."""
    index = {ch: i + 3 for i, ch in enumerate(letters)}
    return [1, *(index.get(ch, 0) for ch in word.lower()), 2]
