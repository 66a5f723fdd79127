// Residual vector quantisation (RVQ) as used by neural audio codecs (EnCodec, DAC, Mimi, ...).
//
// Layouts follow the codecs' PyTorch code: latents are channels-first [B, D, T], codes are
// [B, n_q, T] and codebooks are [n_q, K, Dc] (stage, codeword, codeword dimension).
//
//   decode: out[b, :, t] = sum_{q < n_stages} codebooks[q, codes[b, q, t], :]
//   encode: per frame, stage by stage, pick the codeword nearest to the current residual and
//           subtract its latent-space contribution from the residual.
//
// Per-stage output projections (DAC's 1x1 out_proj conv) are folded into the codebooks once at
// load time (Python: voxlite.kernels.rvq.fold_projection), so decode is a gather-sum.
// All functions validate their arguments and throw std::invalid_argument; they keep no state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace voxlite {

// Sum of the first n_stages stages' codewords. codes [B, n_q, T] (C order), codebooks
// [n_q, K, D], out [B, D, T]. Every code used (q < n_stages) must lie in [0, K); all are
// checked before out is written. n_stages in 1..n_q.
void rvq_decode(const int64_t* codes, size_t batch, size_t n_q, size_t frames,
                const float* codebooks, size_t codebook_n_q, size_t codebook_size, size_t dim,
                size_t n_stages, float* out);
void rvq_decode(const int32_t* codes, size_t batch, size_t n_q, size_t frames,
                const float* codebooks, size_t codebook_n_q, size_t codebook_size, size_t dim,
                size_t n_stages, float* out);

struct RvqEncodeArgs {
    const float* latents = nullptr;  // [batch, dim, frames]
    size_t batch = 0, dim = 0, frames = 0;

    const float* codebooks = nullptr;  // [n_q, codebook_size, codebook_dim]: searched
    size_t n_q = 0, codebook_size = 0, codebook_dim = 0;

    size_t n_stages = 0;  // 1..n_q

    // Optional per-stage input projection to codebook space, e = in_proj[q] @ r + in_bias[q].
    const float* in_proj = nullptr;  // [n_q, codebook_dim, dim]
    const float* in_bias = nullptr;  // [n_q, codebook_dim]; only together with in_proj
    // Cosine search (DAC): the projected residual and the codewords are L2-normalised first.
    bool normalize = false;
    // Latent-space contribution of codeword k of stage q; when null, codebooks themselves
    // (which needs codebook_dim == dim).
    const float* out_codebooks = nullptr;  // [n_q, codebook_size, dim]
};

// codes: [batch, n_stages, frames]. Ties between equal distances go to the lowest index.
// Non-finite latents, codebooks, in_proj or in_bias are a std::invalid_argument, and so is a
// residual that becomes non-finite (a used out_codebooks row with NaN/Inf, or overflow).
// Codewords shorter than 32 dims are searched via a transposed copy of the codebook.
void rvq_encode(const RvqEncodeArgs& args, int64_t* codes);

}  // namespace voxlite
