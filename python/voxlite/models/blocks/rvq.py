"""Residual vector quantizer (SoundStream / EnCodec / DAC), the PyTorch reference of the native RVQ kernel.

One module covers both conventions:
- EnCodec: codebooks live in the latent space (``codebook_dim == dim``), nearest by squared L2.
- DAC: factorized codes: per stage an in-projection to ``codebook_dim``, search by cosine similarity
  (both sides L2-normalised), and an out-projection of the raw codeword back to the latent space.
Exported bundles keep the codebooks as tensors (folded through the out-projection) for the native kernel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualVQ(nn.Module):
    def __init__(self, n_q: int, codebook_size: int, dim: int, codebook_dim: int | None = None,
                 normalize: bool = False):
        super().__init__()
        codebook_dim = codebook_dim or dim
        self.n_q, self.codebook_size, self.dim, self.codebook_dim = n_q, codebook_size, dim, codebook_dim
        self.normalize = normalize
        self.codebooks = nn.Parameter(torch.randn(n_q, codebook_size, codebook_dim))
        self.projected = codebook_dim != dim or normalize
        if self.projected:
            self.in_proj_weight = nn.Parameter(torch.randn(n_q, codebook_dim, dim) / dim ** 0.5)
            self.in_proj_bias = nn.Parameter(torch.zeros(n_q, codebook_dim))
            self.out_proj_weight = nn.Parameter(torch.randn(n_q, dim, codebook_dim) / codebook_dim ** 0.5)
            self.out_proj_bias = nn.Parameter(torch.zeros(n_q, dim))

    def _stages(self, n_stages: int | None) -> int:
        n = self.n_q if n_stages is None else n_stages
        if not 1 <= n <= self.n_q:
            raise ValueError(f"n_stages must be in 1..{self.n_q}, got {n}")
        return n

    def stage_output(self, q: int, codes: torch.Tensor) -> torch.Tensor:
        """Latent contribution of stage ``q`` for codes (B, T) -> (B, D, T)."""
        z = F.embedding(codes, self.codebooks[q])  # (B, T, Dc)
        if self.projected:
            z = z @ self.out_proj_weight[q].T + self.out_proj_bias[q]
        return z.transpose(1, 2)

    def decode(self, codes: torch.Tensor, n_stages: int | None = None) -> torch.Tensor:
        """codes (B, n_q', T) with n_q' >= n_stages -> latents (B, D, T)."""
        n = self._stages(n_stages if n_stages is not None else codes.shape[1])
        return sum(self.stage_output(q, codes[:, q]) for q in range(n))

    def encode(self, z: torch.Tensor, n_stages: int | None = None) -> torch.Tensor:
        """latents (B, D, T) -> codes (B, n_stages, T)."""
        n = self._stages(n_stages)
        residual = z
        codes = []
        for q in range(n):
            r = residual.transpose(1, 2)  # (B, T, D)
            book = self.codebooks[q]
            if self.projected:
                r = r @ self.in_proj_weight[q].T + self.in_proj_bias[q]
            if self.normalize:
                r, book = F.normalize(r, dim=-1), F.normalize(book, dim=-1)
            dist = (book * book).sum(-1) - 2 * r @ book.T  # ||r||^2 is the same for every codeword
            idx = dist.argmin(-1)  # (B, T); first index on ties
            codes.append(idx)
            residual = residual - self.stage_output(q, idx)
        return torch.stack(codes, dim=1)

    def kernel_codebooks(self) -> torch.Tensor:
        """Per-stage codewords in latent space (n_q, K, D): what the native decode kernel sums."""
        if not self.projected:
            return self.codebooks.detach().clone()
        return torch.stack([self.stage_output(q, torch.arange(self.codebook_size)[None])[0].T
                            for q in range(self.n_q)]).detach()
