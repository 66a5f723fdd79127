"""Hyper-parameters of a unit seq2seq component (kind ``unit-seq2seq``): phoneme / character ids -> semantic units
(stage S1 of Spear-TTS and Make-A-Voice; ``export/unit_seq2seq.py`` writes it, ``pipelines/unit_seq2seq.py`` runs it)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import HParams
from .voxcpm import KVGroup


@dataclass(frozen=True)
class UnitSeq2SeqHParams(HParams):
    n_src_vocab: int  # source ids 0..n_src_vocab-1
    n_units: int  # unit ids 0..n_units-1 (the step graph's logits cover n_units + 2: BOS and EOS follow)
    bos: int  # fed first (n_units)
    eos: int  # ends the units (n_units + 1)
    n_src_ctx: int  # longest source
    n_tgt_ctx: int  # target positions (BOS included): at most this many units are generated
    kv: dict[str, KVGroup]  # "dec": the step graph's self-attention cache
    n_dec_layers: int  # cross.<i>.key|value for i < n_dec_layers: encode's outputs, step's inputs
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)

    def check(self) -> None:
        for name in ("n_src_vocab", "n_units", "n_src_ctx", "n_tgt_ctx", "n_dec_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.bos != self.n_units or self.eos != self.n_units + 1:
            raise ValueError(f"bos / eos must be n_units / n_units + 1 ({self.n_units} / {self.n_units + 1}), got "
                             f"{self.bos} / {self.eos}")
        if set(self.kv) != {"dec"}:
            raise ValueError(f"kv: needs the one group 'dec', got {sorted(self.kv)}")
        if self.kv["dec"].n_layers != self.n_dec_layers:
            raise ValueError(f"kv: group 'dec' has {self.kv['dec'].n_layers} layers, n_dec_layers says "
                             f"{self.n_dec_layers}")

    @property
    def n_tgt_vocab(self) -> int:
        return self.n_units + 2

    def cross_names(self) -> list[str]:
        """encode's outputs / step's cross inputs, in order."""
        return [f"cross.{i}.{kv}" for i in range(self.n_dec_layers) for kv in ("key", "value")]
