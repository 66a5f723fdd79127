// Sampling over logits: repetition penalty, temperature, top-k, top-p, min-p, seeded multinomial,
// greedy, classifier-free-guidance mixing and log-softmax. Batched over rows of a [B, V] float32
// buffer (row-major); the options are shared by every row.
//
// Usage:
//     voxlite::SamplingOptions opt;           // defaults disable everything (plain softmax sampling)
//     opt.temperature = 0.8; opt.top_k = 50; opt.top_p = 0.9;
//     voxlite::TokenHistory hist{ids, nullptr, B, H};      // optional, -1 = padding
//     opt.repetition_penalty = 1.1; opt.window = 64;
//     voxlite::sample(logits, B, V, hist, opt, seed, step, tokens);   // tokens: int64 [B]
//
// Processing order (Hugging Face generate(): penalties, temperature, top-k, top-p, min-p), per row:
//  1. Repetition penalty (CTRL / HF convention). The window is the last `window` columns of the history
//     row (0 = all columns; window > H = all); -1 entries are padding and are skipped, so histories are
//     expected right-aligned (most recent token last, padding on the left). Each distinct id in the window
//     is penalised once: x > 0 -> x / penalty, else x * penalty (float32 arithmetic with
//     float32(penalty)). penalty == 1 skips the step. Every history entry (not only the window) must be
//     -1 or in [0, V).
//  2. Temperature: x / float32(temperature) in float32. temperature == 1 is a no-op. temperature == 0:
//     sample() returns the greedy argmax of the penalised logits (steps 3-5 cannot change the argmax);
//     process_logits() skips the division and still applies steps 3-5.
//  3. top-k (0 or >= V disables): t = k-th largest value of the row (counting duplicates); keep x >= t,
//     so ties at the boundary are all kept (HF TopKLogitsWarper).
//  4. top-p (1 disables; must be in (0, 1]): with m the row maximum, e_i = exp(double(x_i) - m) for kept
//     tokens (0 for removed ones), Z = sum of e in token-index order (sequential), p_i = e_i / Z. Order
//     the tokens by probability descending, ties by lower index first; the order is taken on the logit
//     x_i (exp is monotone, so this is the exact probability order, unaffected by rounding of p;
//     -0 and +0 tie). Only the part of the order up to the cut is sorted. The
//     token at sorted position j is kept iff the sequential sum of p over positions < j is < top_p: the
//     smallest prefix whose cumulative probability reaches top_p (always at least one token). Same set
//     as HF TopPLogitsWarper up to float rounding.
//  5. min-p (0 disables; in [0, 1]): keep tokens with exp(double(x_i) - m) >= min_p, i.e.
//     p_i >= min_p * max_p computed as a ratio so the normaliser cancels. min_p == 1 keeps the max ties.
//  Removed tokens get -inf. Values never change in steps 3-5, only -inf is written.
//
// Sampling (sample()): e_i = exp(double(x_i) - m) over the processed row in token-index order, the
// running sum c_i = e_0 + ... + e_i (sequential double additions), total = c_{V-1}. With u from
// counter_uniform(seed, step, row) the token is the first i with c_i > u * total (if rounding leaves
// none, the last token with e_i > 0).
//
// exp is the C library's double exp. The NumPy reference (tests/reference/sampling.py) follows the same
// operations in the same order, so results match it bit for bit where NumPy's float64 exp agrees with
// libm (it does on x86-64 glibc); elsewhere a decision could differ only when a cumulative sum lies
// within an ulp of its threshold.
//
// Counter-based RNG (no state; same (seed, step, row) -> same u on every thread and platform):
//     mix(z)        = z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
//                     z ^= z >> 31                                    (all arithmetic mod 2^64)
//     splitmix64(x) = mix(x + 0x9E3779B97F4A7C15)
//     h             = splitmix64(splitmix64(splitmix64(seed) ^ step) ^ row)
//     u             = double(h >> 11) * 2^-53                         (53 bits, in [0, 1))
// `row` is the row index within the batch (0..B-1). splitmix64(0) == 0xE220A8397B1DCDAF (the first
// output of the reference SplitMix64 generator seeded with 0).
//
// Input contract (std::invalid_argument otherwise): V >= 1, no NaN and no +inf in logits, and every row
// has at least one finite value (also after the penalty and temperature, which could overflow).
// Kernels are single-threaded per call, allocate scratch once per call, and hold no global state.
#pragma once

#include <cstdint>

namespace voxlite {

struct SamplingOptions {
    int64_t window = 0;               // last `window` history columns (0 = all)
    double repetition_penalty = 1.0;  // > 0; 1 disables; applied as float32
    double temperature = 1.0;         // >= 0; 0 = greedy in sample(); applied as float32
    int64_t top_k = 0;                // >= 0; 0 or >= V disables
    double top_p = 1.0;               // (0, 1]; 1 disables
    double min_p = 0.0;               // [0, 1]; 0 disables
};

// Token history [batch, length], row-major, -1 = padding. At most one of ids64 / ids32 is set; both
// null means no history (the penalty is then a no-op).
struct TokenHistory {
    const int64_t* ids64 = nullptr;
    const int32_t* ids32 = nullptr;
    int64_t batch = 0;
    int64_t length = 0;
};

enum class CfgSpace { Logits, LogProbs };

// Steps 1-5 on logits [B, V] -> out [B, V] (may alias logits). temperature == 0: no division.
void process_logits(const float* logits, int64_t batch, int64_t vocab, const TokenHistory& history,
                    const SamplingOptions& options, float* out);

// Steps 1-5, then one seeded multinomial draw per row -> tokens [B].
void sample(const float* logits, int64_t batch, int64_t vocab, const TokenHistory& history,
            const SamplingOptions& options, uint64_t seed, uint64_t step, int64_t* tokens);

// Argmax per row, lowest index on ties -> tokens [B].
void greedy(const float* logits, int64_t batch, int64_t vocab, int64_t* tokens);

// out = uncond + scale * (cond - uncond), evaluated in double and rounded to float32; positions where
// either input is -inf are -inf (masked in either -> masked). LogProbs: both are log-softmaxed (double)
// first. scale == 1 returns cond (logits space; exact while cond - uncond is exact in double).
void cfg_logits(const float* cond, const float* uncond, int64_t batch, int64_t vocab, double scale,
                CfgSpace space, float* out);

// Numerically stable log-softmax per row: (x - m) - log(sum exp(x - m)) in double, rounded to float32.
void log_softmax(const float* logits, int64_t batch, int64_t vocab, float* out);

uint64_t splitmix64(uint64_t x);
double counter_uniform(uint64_t seed, uint64_t step, uint64_t row);

}  // namespace voxlite
