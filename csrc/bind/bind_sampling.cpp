// Bindings of the sampling kernels (csrc/sampling.h) as voxlite._native.sampling_*.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <optional>
#include <string>

#include "ndarray.h"
#include "registry.h"
#include "sampling.h"

using namespace nb::literals;

namespace voxlite::bind {

namespace {

using AnyIn = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

void require_2d(size_t ndim, const char* name) {
    if (ndim != 2)
        throw std::invalid_argument(std::string(name) + " must be 2-D [B, V], got " + std::to_string(ndim) +
                                    "-D");
}

TokenHistory history_view(const std::optional<AnyIn>& history) {
    TokenHistory h;
    if (!history) return h;
    const AnyIn& a = *history;
    if (a.ndim() != 2)
        throw std::invalid_argument("history must be 2-D [B, H], got " + std::to_string(a.ndim()) + "-D");
    if (a.dtype() == nb::dtype<int64_t>()) h.ids64 = static_cast<const int64_t*>(a.data());
    else if (a.dtype() == nb::dtype<int32_t>()) h.ids32 = static_cast<const int32_t*>(a.data());
    else throw std::invalid_argument("history must be an int64 or int32 array");
    h.batch = static_cast<int64_t>(a.shape(0));
    h.length = static_cast<int64_t>(a.shape(1));
    return h;
}

SamplingOptions make_options(int64_t window, double repetition_penalty, double temperature, int64_t top_k,
                             double top_p, double min_p) {
    SamplingOptions o;
    o.window = window;
    o.repetition_penalty = repetition_penalty;
    o.temperature = temperature;
    o.top_k = top_k;
    o.top_p = top_p;
    o.min_p = min_p;
    return o;
}

}  // namespace

void register_sampling(nb::module_& m) {
    m.def(
        "sampling_process_logits",
        [](In<float> logits, std::optional<AnyIn> history, int64_t window, double repetition_penalty,
           double temperature, int64_t top_k, double top_p, double min_p) {
            require_2d(logits.ndim(), "logits");
            const int64_t B = static_cast<int64_t>(logits.shape(0)), V = static_cast<int64_t>(logits.shape(1));
            const TokenHistory h = history_view(history);
            const SamplingOptions o = make_options(window, repetition_penalty, temperature, top_k, top_p, min_p);
            auto out = new_array<float>({logits.shape(0), logits.shape(1)});
            {
                nb::gil_scoped_release release;
                process_logits(logits.data(), B, V, h, o, out.data());
            }
            return out;
        },
        "logits"_a, "history"_a = nb::none(), "window"_a = 0, "repetition_penalty"_a = 1.0,
        "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0, "min_p"_a = 0.0,
        "Repetition penalty, temperature, top-k, top-p, min-p on logits float32 [B, V]; history int64/int32 "
        "[B, H] (-1 = padding) or None. Returns float32 [B, V] with -inf for removed tokens. "
        "temperature 0 skips the division. Exact rules in csrc/sampling.h.");

    m.def(
        "sampling_sample",
        [](In<float> logits, std::optional<AnyIn> history, int64_t window, double repetition_penalty,
           double temperature, int64_t top_k, double top_p, double min_p, uint64_t seed, uint64_t step) {
            require_2d(logits.ndim(), "logits");
            const int64_t B = static_cast<int64_t>(logits.shape(0)), V = static_cast<int64_t>(logits.shape(1));
            const TokenHistory h = history_view(history);
            const SamplingOptions o = make_options(window, repetition_penalty, temperature, top_k, top_p, min_p);
            auto out = new_array<int64_t>({logits.shape(0)});
            {
                nb::gil_scoped_release release;
                sample(logits.data(), B, V, h, o, seed, step, out.data());
            }
            return out;
        },
        "logits"_a, "history"_a = nb::none(), "window"_a = 0, "repetition_penalty"_a = 1.0,
        "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0, "min_p"_a = 0.0, "seed"_a = 0, "step"_a = 0,
        "Process logits float32 [B, V] like sampling_process_logits, then draw one token per row with the "
        "counter-based RNG u(seed, step, row) by inverse CDF in token-index order. temperature 0 = greedy "
        "argmax of the penalised logits. Returns int64 [B].");

    m.def(
        "sampling_greedy",
        [](In<float> logits) {
            require_2d(logits.ndim(), "logits");
            auto out = new_array<int64_t>({logits.shape(0)});
            {
                nb::gil_scoped_release release;
                greedy(logits.data(), static_cast<int64_t>(logits.shape(0)), static_cast<int64_t>(logits.shape(1)),
                       out.data());
            }
            return out;
        },
        "logits"_a, "Argmax of logits float32 [B, V] per row (lowest index on ties). Returns int64 [B].");

    m.def(
        "sampling_cfg_logits",
        [](In<float> cond, In<float> uncond, double scale, const std::string& space) {
            require_2d(cond.ndim(), "cond");
            require_2d(uncond.ndim(), "uncond");
            if (cond.shape(0) != uncond.shape(0) || cond.shape(1) != uncond.shape(1))
                throw std::invalid_argument("cond and uncond must have the same shape, got [" +
                                            std::to_string(cond.shape(0)) + ", " + std::to_string(cond.shape(1)) +
                                            "] and [" + std::to_string(uncond.shape(0)) + ", " +
                                            std::to_string(uncond.shape(1)) + "]");
            CfgSpace sp;
            if (space == "logits") sp = CfgSpace::Logits;
            else if (space == "logprobs") sp = CfgSpace::LogProbs;
            else throw std::invalid_argument("space must be 'logits' or 'logprobs', got '" + space + "'");
            auto out = new_array<float>({cond.shape(0), cond.shape(1)});
            {
                nb::gil_scoped_release release;
                cfg_logits(cond.data(), uncond.data(), static_cast<int64_t>(cond.shape(0)),
                           static_cast<int64_t>(cond.shape(1)), scale, sp, out.data());
            }
            return out;
        },
        "cond"_a, "uncond"_a, "scale"_a, "space"_a = "logits",
        "Classifier-free guidance: uncond + scale * (cond - uncond) on float32 [B, V] (computed in double); "
        "space='logprobs' log-softmaxes both first. -inf in either input gives -inf. Returns float32 [B, V].");

    m.def(
        "sampling_log_softmax",
        [](In<float> logits) {
            require_2d(logits.ndim(), "logits");
            auto out = new_array<float>({logits.shape(0), logits.shape(1)});
            {
                nb::gil_scoped_release release;
                log_softmax(logits.data(), static_cast<int64_t>(logits.shape(0)),
                            static_cast<int64_t>(logits.shape(1)), out.data());
            }
            return out;
        },
        "logits"_a, "Numerically stable log-softmax of float32 [B, V] per row (double inside). Returns float32 [B, V].");

    m.def(
        "sampling_uniform",
        [](uint64_t seed, uint64_t step, uint64_t rows) {
            if (rows > (uint64_t{1} << 31)) throw std::invalid_argument("rows must be <= 2^31");
            auto out = new_array<double>({static_cast<size_t>(rows)});
            for (uint64_t r = 0; r < rows; ++r) out.data()[r] = counter_uniform(seed, step, r);
            return out;
        },
        "seed"_a, "step"_a, "rows"_a,
        "The counter-based uniforms u(seed, step, row) in [0, 1) that sampling_sample uses for rows 0..rows-1. "
        "Returns float64 [rows].");
}

}  // namespace voxlite::bind
