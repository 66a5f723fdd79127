// RVQ decode (gather-sum) and encode (greedy nearest codeword per stage on the residual).
//
// Conventions checked against the codecs' PyTorch code:
// - EnCodec (encodec/quantization/core_vq.py): EuclideanCodebook.quantize takes the max of
//   -(|x|^2 - 2 x.e + |e|^2); ResidualVectorQuantization.encode subtracts layer.decode(indices)
//   (the raw codeword; project_in/out are identities when codebook_dim == dim) from the residual.
// - DAC (dac/nn/quantize.py): VectorQuantize projects the residual with in_proj (1x1 conv with
//   bias), F.normalize()s encodings and codebook (x / max(|x|, 1e-12)), takes the max of -dist,
//   then out_proj(codebook[idx]) -- the *unnormalised* codeword -- is subtracted from the
//   residual. Here out_proj is folded into out_codebooks at load time.
// Ties go to the lowest index (torch's max returns the first maximum on CPU).
#include "rvq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common.h"

namespace voxlite {
namespace {

constexpr size_t kLanes = 8;      // partial sums per dot product in dot_rows
constexpr size_t kColBlock = 16;  // codewords per block in dot_cols
constexpr size_t kTile = 32;      // frames processed together (multiple of 4)
// Codewords shorter than this are searched with dot_cols (no horizontal sums), longer ones
// with dot_rows (measured crossover between 32 and 64 dims).
constexpr size_t kColsBelowDim = 32;

size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

// out[i * ldo + j] = <A_i, B_j> for rows i < m (m even) and j < n_rows, rows of n floats.
// Blocked 2 rows of A x 4 rows of B, each with kLanes partial sums (vectorised over the
// contiguous rows); the loop over j is outside so a block of B rows stays in L1 while the A
// tile is reused. The arithmetic for a given (i, j) does not depend on m, n_rows or positions.
VOXLITE_HOT void dot_rows(const float* A, size_t m, const float* B, size_t n_rows, size_t n,
                          float* out, size_t ldo) {
    const size_t nv = n - n % kLanes;
    for (size_t j = 0; j < n_rows; j += 4) {
        const size_t nj = std::min<size_t>(4, n_rows - j);
        const float* b0 = B + j * n;  // missing rows of a partial block repeat b0
        const float* b1 = nj > 1 ? b0 + n : b0;
        const float* b2 = nj > 2 ? b0 + 2 * n : b0;
        const float* b3 = nj > 3 ? b0 + 3 * n : b0;
        for (size_t i = 0; i < m; i += 2) {
            const float* a0 = A + i * n;
            const float* a1 = a0 + n;
            float acc[8][kLanes];
            for (auto& row : acc)
                for (float& x : row) x = 0.f;
            for (size_t d = 0; d < nv; d += kLanes) {
                for (size_t l = 0; l < kLanes; ++l) {
                    const float y0 = a0[d + l], y1 = a1[d + l];
                    acc[0][l] += y0 * b0[d + l];
                    acc[1][l] += y0 * b1[d + l];
                    acc[2][l] += y0 * b2[d + l];
                    acc[3][l] += y0 * b3[d + l];
                    acc[4][l] += y1 * b0[d + l];
                    acc[5][l] += y1 * b1[d + l];
                    acc[6][l] += y1 * b2[d + l];
                    acc[7][l] += y1 * b3[d + l];
                }
            }
            float s[8];
            for (size_t r = 0; r < 8; ++r) {
                const float* v = acc[r];
                s[r] = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
            }
            for (size_t d = nv; d < n; ++d) {
                s[0] += a0[d] * b0[d];
                s[1] += a0[d] * b1[d];
                s[2] += a0[d] * b2[d];
                s[3] += a0[d] * b3[d];
                s[4] += a1[d] * b0[d];
                s[5] += a1[d] * b1[d];
                s[6] += a1[d] * b2[d];
                s[7] += a1[d] * b3[d];
            }
            for (size_t c = 0; c < nj; ++c) {
                out[i * ldo + j + c] = s[c];
                out[(i + 1) * ldo + j + c] = s[4 + c];
            }
        }
    }
}

// Same dot products for short rows, with B given transposed and padded:
// BT[d * kp + j] = B_j[d] for j < kp (kp % kColBlock == 0). Blocked 4 rows of A x kColBlock
// codewords, vectorised over the codewords, so no horizontal sums are needed.
VOXLITE_HOT void dot_cols(const float* A, size_t m, const float* BT, size_t kp, size_t n,
                          float* out, size_t ldo) {
    for (size_t j = 0; j < kp; j += kColBlock) {
        for (size_t i = 0; i < m; i += 4) {
            const float* a0 = A + i * n;
            const float* a1 = a0 + n;
            const float* a2 = a1 + n;
            const float* a3 = a2 + n;
            float acc[4][kColBlock];
            for (auto& row : acc)
                for (float& x : row) x = 0.f;
            for (size_t d = 0; d < n; ++d) {
                const float* bt = BT + d * kp + j;
                const float y0 = a0[d], y1 = a1[d], y2 = a2[d], y3 = a3[d];
                for (size_t l = 0; l < kColBlock; ++l) {
                    acc[0][l] += y0 * bt[l];
                    acc[1][l] += y1 * bt[l];
                    acc[2][l] += y2 * bt[l];
                    acc[3][l] += y3 * bt[l];
                }
            }
            for (size_t f = 0; f < 4; ++f)
                for (size_t l = 0; l < kColBlock; ++l) out[(i + f) * ldo + j + l] = acc[f][l];
        }
    }
}

// argmin_k |c_k|^2 - 2 <e, c_k> given dots[k] = <e, c_k> (overwritten with the scores);
// the first minimum wins. Vectorised min over kLanes lanes, then a scan for its first index.
VOXLITE_HOT size_t nearest(float* dots, const float* norms, size_t K) {
    for (size_t k = 0; k < K; ++k) dots[k] = norms[k] - 2.f * dots[k];
    const float inf = std::numeric_limits<float>::infinity();
    float lane[kLanes];
    for (float& x : lane) x = inf;
    const size_t kv = K - K % kLanes;
    for (size_t k = 0; k < kv; k += kLanes)
        for (size_t l = 0; l < kLanes; ++l) lane[l] = dots[k + l] < lane[l] ? dots[k + l] : lane[l];
    float best = inf;
    for (float x : lane) best = x < best ? x : best;
    for (size_t k = kv; k < K; ++k) best = dots[k] < best ? dots[k] : best;
    for (size_t k = 0; k < K; ++k)
        if (dots[k] == best) return k;
    return 0;  // all scores NaN (cannot happen with finite inputs)
}

VOXLITE_HOT void subtract_row(float* r, const float* c, size_t n) {
    for (size_t d = 0; d < n; ++d) r[d] -= c[d];
}

VOXLITE_HOT void add_row(float* acc, const float* c, size_t n) {
    for (size_t d = 0; d < n; ++d) acc[d] += c[d];
}

// Row-wise F.normalize: x / max(|x|, 1e-12).
void normalize_rows(float* x, size_t rows, size_t n) {
    for (size_t i = 0; i < rows; ++i) {
        float* row = x + i * n;
        double ss = 0.0;
        for (size_t d = 0; d < n; ++d) ss += static_cast<double>(row[d]) * row[d];
        const float inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
        for (size_t d = 0; d < n; ++d) row[d] *= inv;
    }
}

bool all_finite(const float* x, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return false;
    return true;
}

template <typename Code>
void decode_impl(const Code* codes, size_t batch, size_t n_q, size_t frames,
                 const float* codebooks, size_t codebook_n_q, size_t K, size_t D,
                 size_t n_stages, float* out) {
    require(n_q >= 1, "rvq_decode: codes need at least one stage (n_q >= 1)");
    require(K >= 1 && D >= 1, "rvq_decode: codebooks must have K >= 1 codewords of D >= 1 dims");
    require(n_stages >= 1 && n_stages <= n_q,
            "rvq_decode: n_stages=" + std::to_string(n_stages) + " must be in 1.." +
                std::to_string(n_q) + " (stages in codes)");
    require(codebook_n_q >= n_q, "rvq_decode: codes have " + std::to_string(n_q) +
                                     " stages but codebooks only " + std::to_string(codebook_n_q));
    // Check every code that will be used before writing anything.
    for (size_t b = 0; b < batch; ++b)
        for (size_t q = 0; q < n_stages; ++q) {
            const Code* row = codes + (b * n_q + q) * frames;
            for (size_t t = 0; t < frames; ++t) {
                const int64_t c = static_cast<int64_t>(row[t]);
                if (c < 0 || c >= static_cast<int64_t>(K))  // message built only on failure
                    throw std::invalid_argument(
                        "rvq_decode: code " + std::to_string(c) + " at [b=" + std::to_string(b) +
                        ", q=" + std::to_string(q) + ", t=" + std::to_string(t) +
                        "] is outside [0, " + std::to_string(K) + ")");
            }
        }
    // Accumulate a tile of frames in frame-major scratch (contiguous codeword rows), then
    // transpose into the channels-first output.
    std::vector<float> acc(kTile * D);
    for (size_t b = 0; b < batch; ++b) {
        for (size_t t0 = 0; t0 < frames; t0 += kTile) {
            const size_t nt = std::min(kTile, frames - t0);
            std::fill(acc.begin(), acc.begin() + nt * D, 0.f);
            for (size_t q = 0; q < n_stages; ++q) {
                const Code* row = codes + (b * n_q + q) * frames + t0;
                const float* cb = codebooks + q * K * D;
                for (size_t i = 0; i < nt; ++i)
                    add_row(acc.data() + i * D, cb + static_cast<size_t>(row[i]) * D, D);
            }
            float* o = out + b * D * frames + t0;
            for (size_t d = 0; d < D; ++d)
                for (size_t i = 0; i < nt; ++i) o[d * frames + i] = acc[i * D + d];
        }
    }
}

}  // namespace

void rvq_decode(const int64_t* codes, size_t batch, size_t n_q, size_t frames,
                const float* codebooks, size_t codebook_n_q, size_t codebook_size, size_t dim,
                size_t n_stages, float* out) {
    decode_impl(codes, batch, n_q, frames, codebooks, codebook_n_q, codebook_size, dim, n_stages,
                out);
}

void rvq_decode(const int32_t* codes, size_t batch, size_t n_q, size_t frames,
                const float* codebooks, size_t codebook_n_q, size_t codebook_size, size_t dim,
                size_t n_stages, float* out) {
    decode_impl(codes, batch, n_q, frames, codebooks, codebook_n_q, codebook_size, dim, n_stages,
                out);
}

void rvq_encode(const RvqEncodeArgs& a, int64_t* codes) {
    const size_t B = a.batch, D = a.dim, T = a.frames;
    const size_t K = a.codebook_size, Dc = a.codebook_dim, S = a.n_stages;
    require(a.n_q >= 1 && K >= 1 && Dc >= 1,
            "rvq_encode: codebooks must be [n_q >= 1, K >= 1, Dc >= 1]");
    require(D >= 1, "rvq_encode: latents must have D >= 1 channels");
    require(S >= 1 && S <= a.n_q, "rvq_encode: n_stages=" + std::to_string(S) +
                                      " must be in 1.." + std::to_string(a.n_q));
    require(a.in_bias == nullptr || a.in_proj != nullptr,
            "rvq_encode: in_bias is only meaningful together with in_proj");
    require(a.in_proj != nullptr || Dc == D,
            "rvq_encode: without in_proj the codebook dim (" + std::to_string(Dc) +
                ") must equal the latent dim (" + std::to_string(D) + ")");
    require(a.out_codebooks != nullptr || Dc == D,
            "rvq_encode: without out_codebooks the codebook dim (" + std::to_string(Dc) +
                ") must equal the latent dim (" + std::to_string(D) +
                "); pass out_codebooks = fold_projection(codebooks, out_weight, out_bias)");
    // Non-finite latents or searched codewords are reported up front; a non-finite used row of
    // out_codebooks (or an overflow) shows up in the final residual, checked per tile below.
    require(all_finite(a.latents, B * D * T), "rvq_encode: latents contain NaN or Inf");
    require(all_finite(a.codebooks, S * K * Dc), "rvq_encode: codebooks contain NaN or Inf");
    if (a.in_proj)
        require(all_finite(a.in_proj, S * Dc * D), "rvq_encode: in_proj contains NaN or Inf");
    if (a.in_bias)
        require(all_finite(a.in_bias, S * Dc), "rvq_encode: in_bias contains NaN or Inf");

    // Once per call: the searched codewords (normalised copies for cosine search), their
    // squared norms, and for short codewords a transposed, zero-padded copy for dot_cols.
    std::vector<float> normalized;
    const float* search = a.codebooks;
    if (a.normalize) {
        normalized.assign(a.codebooks, a.codebooks + S * K * Dc);
        normalize_rows(normalized.data(), S * K, Dc);
        search = normalized.data();
    }
    std::vector<float> norms(S * K);
    for (size_t r = 0; r < S * K; ++r) {
        double ss = 0.0;
        for (size_t d = 0; d < Dc; ++d)
            ss += static_cast<double>(search[r * Dc + d]) * search[r * Dc + d];
        norms[r] = static_cast<float>(ss);
    }
    const bool by_cols = Dc < kColsBelowDim;
    const size_t ld = by_cols ? round_up(K, kColBlock) : K;  // row stride of the dot tile
    std::vector<float> transposed;
    if (by_cols) {
        transposed.assign(S * Dc * ld, 0.f);
        for (size_t q = 0; q < S; ++q)
            for (size_t k = 0; k < K; ++k)
                for (size_t d = 0; d < Dc; ++d)
                    transposed[(q * Dc + d) * ld + k] = search[(q * K + k) * Dc + d];
    }
    const float* latent_rows = a.out_codebooks ? a.out_codebooks : a.codebooks;  // [n_q, K, D]
    const bool separate_e = a.in_proj != nullptr || a.normalize;

    std::vector<float> R(kTile * D);                    // residual tile, frame-major
    std::vector<float> E(separate_e ? kTile * Dc : 0);  // projected / normalised residual
    std::vector<float> dots(kTile * ld);
    for (size_t b = 0; b < B; ++b) {
        const float* lat = a.latents + b * D * T;
        for (size_t t0 = 0; t0 < T; t0 += kTile) {
            const size_t nt = std::min(kTile, T - t0);
            const size_t mp = round_up(nt, 4);  // padded rows are zeros and never read back
            std::fill(R.begin(), R.end(), 0.f);
            for (size_t d = 0; d < D; ++d)
                for (size_t i = 0; i < nt; ++i) R[i * D + d] = lat[d * T + t0 + i];
            for (size_t q = 0; q < S; ++q) {
                const float* e = R.data();
                if (a.in_proj) {
                    dot_rows(R.data(), mp, a.in_proj + q * Dc * D, Dc, D, E.data(), Dc);
                    if (a.in_bias)
                        for (size_t i = 0; i < mp; ++i)
                            for (size_t c = 0; c < Dc; ++c) E[i * Dc + c] += a.in_bias[q * Dc + c];
                    e = E.data();
                } else if (a.normalize) {
                    std::copy(R.begin(), R.begin() + mp * D, E.begin());
                }
                if (a.normalize) {
                    normalize_rows(E.data(), mp, Dc);
                    e = E.data();
                }
                if (by_cols)
                    dot_cols(e, mp, transposed.data() + q * Dc * ld, ld, Dc, dots.data(), ld);
                else
                    dot_rows(e, mp, search + q * K * Dc, K, Dc, dots.data(), ld);
                const float* rows = latent_rows + q * K * D;
                int64_t* out = codes + (b * S + q) * T + t0;
                for (size_t i = 0; i < nt; ++i) {
                    const size_t k = nearest(dots.data() + i * ld, norms.data() + q * K, K);
                    out[i] = static_cast<int64_t>(k);
                    subtract_row(R.data() + i * D, rows + k * D, D);
                }
            }
            require(all_finite(R.data(), nt * D),
                    "rvq_encode: the residual became NaN or Inf (non-finite or huge values in "
                    "the used out_codebooks/codebooks rows)");
        }
    }
}

}  // namespace voxlite
