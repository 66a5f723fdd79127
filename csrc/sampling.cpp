// Sampling kernels; the exact definitions (processing order, top-p rule, RNG) are in sampling.h.
#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common.h"

namespace voxlite {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

// Buffers reused across the rows of one call.
struct Scratch {
    std::vector<float> row;            // the row being processed (sample() only)
    std::vector<float> select;         // top-k: heap or copy for nth_element
    std::vector<uint8_t> seen;         // distinct-id marks for the penalty (all zero between rows)
    std::vector<int32_t> touched;      // ids marked in `seen`
    std::vector<int32_t> kept;         // finite tokens in index order (when a truncation step ran)
    std::vector<double> e;             // exp(x - m) parallel to `kept` (when have_e)
    std::vector<uint64_t> keys;        // top-p sort keys (see order_key)
    std::vector<uint64_t> keys_tmp;    // radix-sort buffer
    std::vector<uint8_t> mark;         // top-p: kept positions
    bool have_kept = false;
    bool have_e = false;
};

std::string at(int64_t b, int64_t i) {
    return "[" + std::to_string(b) + ", " + std::to_string(i) + "]";
}

void check_shape(int64_t batch, int64_t vocab) {
    require(batch >= 0, "batch must be >= 0");
    require(vocab >= 1, "vocab size V must be >= 1");
    require(vocab <= std::numeric_limits<int32_t>::max(), "vocab size V must be < 2^31");
}

void check_options(const SamplingOptions& o) {
    require(o.window >= 0, "window must be >= 0 (0 = whole history), got " + std::to_string(o.window));
    const double pen = o.repetition_penalty;
    require(std::isfinite(pen) && pen > 0.0,
            "repetition_penalty must be finite and > 0, got " + std::to_string(pen));
    require(static_cast<float>(pen) > 0.0f && std::isfinite(static_cast<float>(pen)),
            "repetition_penalty is not representable as a positive finite float32");
    const double t = o.temperature;
    require(std::isfinite(t) && t >= 0.0,
            "temperature must be finite and >= 0 (0 = greedy), got " + std::to_string(t));
    require(t == 0.0 || (static_cast<float>(t) > 0.0f && std::isfinite(static_cast<float>(t))),
            "temperature is not representable as a positive finite float32 (use 0 for greedy)");
    require(o.top_k >= 0, "top_k must be >= 0 (0 = disabled), got " + std::to_string(o.top_k));
    require(o.top_p > 0.0 && o.top_p <= 1.0,
            "top_p must be in (0, 1] (1 = disabled), got " + std::to_string(o.top_p));
    require(o.min_p >= 0.0 && o.min_p <= 1.0,
            "min_p must be in [0, 1] (0 = disabled), got " + std::to_string(o.min_p));
}

template <class Id>
void check_history_ids(const Id* ids, int64_t batch, int64_t length, int64_t vocab) {
    const int64_t n = batch * length;
    for (int64_t k = 0; k < n; ++k) {
        const int64_t id = static_cast<int64_t>(ids[k]);
        if (id < -1 || id >= vocab)
            throw std::invalid_argument("history" + at(k / length, k % length) + " = " + std::to_string(id) +
                                        " is out of range: token ids must be in [0, " + std::to_string(vocab) +
                                        ") or -1 (padding)");
    }
}

void check_history(const TokenHistory& h, int64_t batch, int64_t vocab) {
    require(!(h.ids64 && h.ids32), "history: give int64 or int32 ids, not both");
    if (!h.ids64 && !h.ids32) return;
    require(h.batch == batch, "history has " + std::to_string(h.batch) + " rows but logits have " +
                                  std::to_string(batch));
    require(h.length >= 0, "history length must be >= 0");
    if (h.length == 0) return;
    if (h.ids64) check_history_ids(h.ids64, batch, h.length, vocab);
    else check_history_ids(h.ids32, batch, h.length, vocab);
}

// Hot clones must not throw: an exception leaving a target_clones function can terminate the process
// (seen with GCC 12), so these return flags and the callers throw.
// The scans below work on the float bits as integers so the compiler can vectorise them without
// -ffast-math: fkey maps a float's bits to a signed integer with the same order (an involution);
// NaN / +inf are detected on the bits.
inline int32_t fkey(int32_t i) { return i ^ ((i >> 31) & 0x7FFFFFFF); }
inline int32_t bits_of(float v) {
    int32_t i;
    std::memcpy(&i, &v, sizeof i);
    return i;
}
inline float float_of(int32_t i) {
    float v;
    std::memcpy(&v, &i, sizeof v);
    return v;
}
inline int32_t is_nan_or_posinf(int32_t u) {
    return static_cast<int32_t>((u & 0x7FFFFFFF) > 0x7F800000) | static_cast<int32_t>(u == 0x7F800000);
}
constexpr int32_t kNegInfKey = -0x7F800001;  // fkey(bits of -inf = 0xFF800000) = 0x807FFFFF

struct Scan {
    float max;  // of the non-NaN values
    bool bad;   // NaN or +inf present
};

VOXLITE_HOT Scan scan_row(const float* x, int64_t vocab) {
    int32_t m = kNegInfKey, bad = 0;
    for (int64_t i = 0; i < vocab; ++i) {
        const int32_t u = bits_of(x[i]);
        const int32_t k = fkey(u);
        m = k > m ? k : m;
        bad |= is_nan_or_posinf(u);
    }
    return Scan{float_of(fkey(m)), bad != 0};
}

VOXLITE_HOT bool copy_row(const float* in, float* x, int64_t vocab) {
    int32_t bad = 0;
    for (int64_t i = 0; i < vocab; ++i) {
        const float v = in[i];
        bad |= is_nan_or_posinf(bits_of(v));
        x[i] = v;
    }
    return bad == 0;
}

VOXLITE_HOT float divide_and_max(float* x, int64_t vocab, float t) {
    int32_t m = kNegInfKey;
    for (int64_t i = 0; i < vocab; ++i) {
        const float v = x[i] / t;
        x[i] = v;
        const int32_t k = fkey(bits_of(v));
        m = k > m ? k : m;
    }
    return float_of(fkey(m));
}

VOXLITE_HOT float max_of(const float* x, int64_t vocab) {
    int32_t m = kNegInfKey;
    for (int64_t i = 0; i < vocab; ++i) {
        const int32_t k = fkey(bits_of(x[i]));
        m = k > m ? k : m;
    }
    return float_of(fkey(m));
}

[[noreturn]] void throw_bad_value(const float* x, int64_t vocab, int64_t b, const char* name) {
    for (int64_t i = 0; i < vocab; ++i) {
        if (std::isnan(x[i])) throw std::invalid_argument(std::string(name) + at(b, i) + " is NaN");
        if (x[i] == kPosInf) throw std::invalid_argument(std::string(name) + at(b, i) + " is +inf");
    }
    throw std::invalid_argument(std::string(name) + ": invalid value");
}

void copy_checked(const float* in, float* x, int64_t vocab, int64_t b) {
    if (!copy_row(in, x, vocab)) throw_bad_value(in, vocab, b, "logits");
}

// Rejects NaN / +inf and all -inf rows of a read-only input; returns the row max.
float checked_max(const float* x, int64_t vocab, int64_t b, const char* name) {
    const Scan sc = scan_row(x, vocab);
    if (sc.bad) throw_bad_value(x, vocab, b, name);
    require(sc.max > kNegInf, std::string(name) + " row " + std::to_string(b) + ": all values are -inf");
    return sc.max;
}

void check_rows(const float* logits, int64_t batch, int64_t vocab, const char* name) {
    for (int64_t b = 0; b < batch; ++b) checked_max(logits + b * vocab, vocab, b, name);
}

// Row max after penalty / temperature; rejects overflow to +inf and all -inf rows.
float check_processed_max(float m, int64_t b) {
    if (m == kPosInf)
        throw std::invalid_argument("row " + std::to_string(b) +
                                    ": logits overflow to +inf after repetition_penalty / temperature");
    require(m > kNegInf, "row " + std::to_string(b) + ": all logits are -inf");
    return m;
}

template <class Id>
void penalize(float* x, const Id* hist, int64_t length, int64_t window, float penalty, Scratch& s) {
    const int64_t start = (window == 0 || window >= length) ? 0 : length - window;
    s.touched.clear();
    for (int64_t j = start; j < length; ++j) {
        const int64_t id = static_cast<int64_t>(hist[j]);
        if (id < 0 || s.seen[id]) continue;  // padding, or already penalised
        s.seen[id] = 1;
        s.touched.push_back(static_cast<int32_t>(id));
        const float v = x[id];
        x[id] = v > 0.0f ? v / penalty : v * penalty;
    }
    for (int32_t id : s.touched) s.seen[id] = 0;
}

// Steps 1-2 of sampling.h on x (in place). Returns the row max.
float penalty_and_temperature(float* x, int64_t vocab, int64_t b, const TokenHistory& h,
                              const SamplingOptions& o, bool divide, Scratch& s) {
    const float penalty = static_cast<float>(o.repetition_penalty);
    if (penalty != 1.0f && h.length > 0 && (h.ids64 || h.ids32)) {
        if (h.ids64) penalize(x, h.ids64 + b * h.length, h.length, o.window, penalty, s);
        else penalize(x, h.ids32 + b * h.length, h.length, o.window, penalty, s);
    }
    const float t = static_cast<float>(o.temperature);
    const float m = (divide && t != 0.0f && t != 1.0f) ? divide_and_max(x, vocab, t) : max_of(x, vocab);
    return check_processed_max(m, b);
}

// k-th largest value of x (duplicates counted), 0 < k < vocab. A size-k min-heap for small k (one
// pass, most values rejected by one compare), nth_element on a copy otherwise.
float kth_largest(const float* x, int64_t vocab, int64_t k, Scratch& s) {
    if (k <= 1024 && k * 8 <= vocab) {
        std::vector<float>& heap = s.select;
        heap.assign(x, x + k);
        std::make_heap(heap.begin(), heap.end(), std::greater<float>());
        float top = heap.front();
        for (int64_t i = k; i < vocab; ++i) {
            const float v = x[i];
            if (v > top) {
                std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
                heap.back() = v;
                std::push_heap(heap.begin(), heap.end(), std::greater<float>());
                top = heap.front();
            }
        }
        return top;
    }
    s.select.assign(x, x + vocab);
    auto nth = s.select.begin() + (k - 1);
    std::nth_element(s.select.begin(), nth, s.select.end(), std::greater<float>());
    return *nth;
}

void gather_finite(const float* x, int64_t vocab, Scratch& s) {
    s.kept.clear();
    for (int64_t i = 0; i < vocab; ++i)
        if (x[i] > kNegInf) s.kept.push_back(static_cast<int32_t>(i));
    s.have_kept = true;
    s.have_e = false;
}

void compute_e(const float* x, double md, Scratch& s) {
    const size_t n = s.kept.size();
    s.e.resize(n);
    for (size_t j = 0; j < n; ++j) s.e[j] = std::exp(static_cast<double>(x[s.kept[j]]) - md);
    s.have_e = true;
}

// Sort key of the probability order: logit descending, then position in `kept` ascending (positions
// follow token ids). High 32 bits: the float's bits mapped to an order-preserving unsigned integer and
// inverted (so larger logits come first); -0 is folded into +0 so equal logits tie.
inline uint64_t order_key(float x, size_t pos) {
    uint32_t u;
    const float xp = x + 0.0f;  // -0 -> +0
    std::memcpy(&u, &xp, sizeof u);
    const uint32_t ascending = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (static_cast<uint64_t>(~ascending) << 32) | static_cast<uint64_t>(pos);
}

// Stable LSD radix sort on the high 32 bits (4 passes of 8 bits). Keys must arrive in position order;
// stability keeps equal logits in position (= token id) order.
void radix_sort_high32(std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp) {
    tmp.resize(keys.size());
    for (int shift = 32; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (uint64_t k : keys) ++count[((k >> shift) & 0xFF) + 1];
        for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
        for (uint64_t k : keys) tmp[count[(k >> shift) & 0xFF]++] = k;
        keys.swap(tmp);
    }
}

// Walks sorted keys, adding p = e / z; returns true and the number of kept tokens once the mass before
// a position reaches top_p (or the keys are exhausted with cum >= top_p, or all n tokens are covered).
bool prefix_cut(const std::vector<uint64_t>& keys, const std::vector<double>& e, double z, double top_p,
                size_t n, size_t* keep) {
    double cum = 0.0;
    for (size_t q = 0; q < keys.size(); ++q) {
        if (cum >= top_p) {  // the mass before position q already reaches top_p
            *keep = q;
            return true;
        }
        cum += e[static_cast<uint32_t>(keys[q])] / z;
    }
    *keep = keys.size();
    return cum >= top_p || keys.size() == n;
}

// top-p on the finite tokens s.kept with s.e (index order); removes the tail from x, s.kept and s.e.
void top_p_cut(float* x, double top_p, Scratch& s) {
    const size_t n = s.kept.size();
    double z = 0.0;
    for (size_t j = 0; j < n; ++j) z += s.e[j];  // token-index order
    size_t keep = n;
    bool found = false;
    if (n > 64) {
        // Pick a threshold 2^-K on e whose upper set {e >= 2^-K} holds a bit more than top_p of the mass
        // (mass per binary exponent of e, plus a margin for rounding). That set is the top of the
        // order (e is monotone in x), so sorting only it gives the exact prefix; if the cut were not
        // inside it after all, the full sort below decides.
        double mass[64] = {0.0};
        for (size_t j = 0; j < n; ++j) {
            uint64_t bits;
            std::memcpy(&bits, &s.e[j], sizeof bits);
            const int64_t k = 1023 - static_cast<int64_t>(bits >> 52);  // e in [2^-k, 2^(1-k)), e <= 1
            mass[k < 0 ? 0 : (k > 63 ? 63 : k)] += s.e[j];
        }
        const double target = top_p * z * (1.0 + 1e-6);
        double acc = 0.0;
        int K = 63;
        for (int k = 0; k < 63; ++k) {
            acc += mass[k];
            if (acc >= target) {
                K = k;
                break;
            }
        }
        if (K < 63) {
            const double thr = std::ldexp(1.0, -K);
            s.keys.clear();
            for (size_t j = 0; j < n; ++j)
                if (s.e[j] >= thr) s.keys.push_back(order_key(x[s.kept[j]], j));
            if (s.keys.size() > 512) radix_sort_high32(s.keys, s.keys_tmp);
            else std::sort(s.keys.begin(), s.keys.end());
            found = prefix_cut(s.keys, s.e, z, top_p, n, &keep);
        }
    }
    if (!found) {
        s.keys.resize(n);
        for (size_t j = 0; j < n; ++j) s.keys[j] = order_key(x[s.kept[j]], j);
        if (n > 512) radix_sort_high32(s.keys, s.keys_tmp);
        else std::sort(s.keys.begin(), s.keys.end());
        prefix_cut(s.keys, s.e, z, top_p, n, &keep);
    }
    if (keep >= n) return;
    s.mark.assign(n, 0);
    for (size_t q = 0; q < keep; ++q) s.mark[static_cast<uint32_t>(s.keys[q])] = 1;
    size_t w = 0;
    for (size_t j = 0; j < n; ++j) {
        if (s.mark[j]) {
            s.kept[w] = s.kept[j];
            s.e[w] = s.e[j];
            ++w;
        } else {
            x[s.kept[j]] = kNegInf;
        }
    }
    s.kept.resize(w);
    s.e.resize(w);
}

// Steps 3-5 of sampling.h on x (in place) with row max m. Afterwards, if s.have_kept, s.kept lists
// exactly the finite tokens in index order (and s.e their exp(x - m) if s.have_e).
void truncate(float* x, int64_t vocab, float m, const SamplingOptions& o, Scratch& s) {
    s.have_kept = false;
    s.have_e = false;
    const double md = static_cast<double>(m);

    // top-k: keep x >= k-th largest value.
    if (o.top_k > 0 && o.top_k < vocab) {
        const float thr = kth_largest(x, vocab, o.top_k, s);
        if (thr > kNegInf) {
            s.kept.clear();
            for (int64_t i = 0; i < vocab; ++i) {
                if (x[i] >= thr) s.kept.push_back(static_cast<int32_t>(i));
                else x[i] = kNegInf;
            }
            s.have_kept = true;
        }
    }

    // top-p: p = e / Z over what remains, in probability order (logit descending, lower index first).
    if (o.top_p < 1.0) {
        if (!s.have_kept) gather_finite(x, vocab, s);
        if (!s.have_e) compute_e(x, md, s);
        top_p_cut(x, o.top_p, s);
    }

    // min-p: p_i / p_max = exp(x_i - m).
    if (o.min_p > 0.0) {
        if (!s.have_kept) gather_finite(x, vocab, s);
        if (!s.have_e) compute_e(x, md, s);
        size_t w = 0;
        for (size_t j = 0; j < s.kept.size(); ++j) {
            if (s.e[j] >= o.min_p) {
                s.kept[w] = s.kept[j];
                s.e[w] = s.e[j];
                ++w;
            } else {
                x[s.kept[j]] = kNegInf;
            }
        }
        s.kept.resize(w);
        s.e.resize(w);
    }
}

// First index of the maximum m (present in x): a vectorisable test per block of 32, then a scan
// inside the first block that holds it.
VOXLITE_HOT int64_t first_index_of(const float* x, int64_t vocab, float m) {
    constexpr int64_t kBlock = 32;
    int64_t start = 0;
    for (; start + kBlock <= vocab; start += kBlock) {
        int32_t hit = 0;
        for (int64_t k = 0; k < kBlock; ++k) hit |= static_cast<int32_t>(x[start + k] == m);
        if (hit) break;
    }
    for (int64_t i = start; i < vocab; ++i)
        if (x[i] == m) return i;
    return 0;  // unreachable: m is an element of x
}

// Inverse-CDF draw over exp(x_i - m) in token-index order (see sampling.h).
int64_t draw(const float* x, int64_t vocab, float m, double u, Scratch& s) {
    if (!s.have_kept) gather_finite(x, vocab, s);
    if (!s.have_e) compute_e(x, static_cast<double>(m), s);
    const size_t n = s.kept.size();
    double total = 0.0;
    for (size_t j = 0; j < n; ++j) total += s.e[j];
    const double t = u * total;
    double cum = 0.0;
    int64_t last_positive = s.kept[0];
    for (size_t j = 0; j < n; ++j) {
        cum += s.e[j];
        if (s.e[j] > 0.0) last_positive = s.kept[j];
        if (cum > t) return s.kept[j];
    }
    return last_positive;
}

// Row max m and log(sum exp(x - m)) in double (row must have a finite value); the log-softmax is
// (x - m) - log_z, which stays exact near the max even for huge logits.
struct RowLse {
    double m;
    double log_z;
};

RowLse row_lse(const float* x, int64_t vocab) {
    const float m = max_of(x, vocab);
    const double md = static_cast<double>(m);
    double z = 0.0;
    for (int64_t i = 0; i < vocab; ++i) z += std::exp(static_cast<double>(x[i]) - md);
    return RowLse{md, std::log(z)};
}

}  // namespace

uint64_t splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double counter_uniform(uint64_t seed, uint64_t step, uint64_t row) {
    const uint64_t h = splitmix64(splitmix64(splitmix64(seed) ^ step) ^ row);
    return static_cast<double>(h >> 11) * 0x1.0p-53;
}

void process_logits(const float* logits, int64_t batch, int64_t vocab, const TokenHistory& history,
                    const SamplingOptions& options, float* out) {
    check_shape(batch, vocab);
    check_options(options);
    check_history(history, batch, vocab);
    Scratch s;
    s.seen.assign(static_cast<size_t>(vocab), 0);
    for (int64_t b = 0; b < batch; ++b) {
        float* x = out + b * vocab;
        copy_checked(logits + b * vocab, x, vocab, b);
        const float m = penalty_and_temperature(x, vocab, b, history, options, true, s);
        truncate(x, vocab, m, options, s);
    }
}

void sample(const float* logits, int64_t batch, int64_t vocab, const TokenHistory& history,
            const SamplingOptions& options, uint64_t seed, uint64_t step, int64_t* tokens) {
    check_shape(batch, vocab);
    check_options(options);
    check_history(history, batch, vocab);
    Scratch s;
    s.seen.assign(static_cast<size_t>(vocab), 0);
    s.row.resize(static_cast<size_t>(vocab));
    const bool greedy_mode = options.temperature == 0.0;
    for (int64_t b = 0; b < batch; ++b) {
        float* x = s.row.data();
        copy_checked(logits + b * vocab, x, vocab, b);
        const float m = penalty_and_temperature(x, vocab, b, history, options, !greedy_mode, s);
        if (greedy_mode) {
            tokens[b] = first_index_of(x, vocab, m);
            continue;
        }
        truncate(x, vocab, m, options, s);
        tokens[b] = draw(x, vocab, m, counter_uniform(seed, step, static_cast<uint64_t>(b)), s);
    }
}

void greedy(const float* logits, int64_t batch, int64_t vocab, int64_t* tokens) {
    check_shape(batch, vocab);
    for (int64_t b = 0; b < batch; ++b) {
        const float* x = logits + b * vocab;
        tokens[b] = first_index_of(x, vocab, checked_max(x, vocab, b, "logits"));
    }
}

void log_softmax(const float* logits, int64_t batch, int64_t vocab, float* out) {
    check_shape(batch, vocab);
    check_rows(logits, batch, vocab, "logits");
    for (int64_t b = 0; b < batch; ++b) {
        const float* x = logits + b * vocab;
        const RowLse r = row_lse(x, vocab);
        float* y = out + b * vocab;
        for (int64_t i = 0; i < vocab; ++i) y[i] = static_cast<float>((static_cast<double>(x[i]) - r.m) - r.log_z);
    }
}

void cfg_logits(const float* cond, const float* uncond, int64_t batch, int64_t vocab, double scale,
                CfgSpace space, float* out) {
    check_shape(batch, vocab);
    require(std::isfinite(scale), "cfg scale must be finite");
    check_rows(cond, batch, vocab, "cond");
    check_rows(uncond, batch, vocab, "uncond");
    const bool logprobs = space == CfgSpace::LogProbs;
    for (int64_t b = 0; b < batch; ++b) {
        const float* c = cond + b * vocab;
        const float* u = uncond + b * vocab;
        const RowLse lc = logprobs ? row_lse(c, vocab) : RowLse{0.0, 0.0};
        const RowLse lu = logprobs ? row_lse(u, vocab) : RowLse{0.0, 0.0};
        float* y = out + b * vocab;
        for (int64_t i = 0; i < vocab; ++i) {
            if (c[i] == kNegInf || u[i] == kNegInf) {
                y[i] = kNegInf;
                continue;
            }
            const double cd = (static_cast<double>(c[i]) - lc.m) - lc.log_z;  // 0 shifts in logits space
            const double ud = (static_cast<double>(u[i]) - lu.m) - lu.log_z;
            const double diff = cd - ud;
            const double scaled = scale * diff;
            y[i] = static_cast<float>(ud + scaled);
        }
    }
}

}  // namespace voxlite
