// Bindings of the RVQ (rvq.h) and FSQ (fsq.h) kernels.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common.h"
#include "fsq.h"
#include "ndarray.h"
#include "registry.h"
#include "rvq.h"

namespace voxlite::bind {
namespace {

using namespace nb::literals;

// Checks build their messages only on failure.
[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

template <typename A>
std::string shape_str(const A& a) {
    std::string s = "(";
    for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

template <typename A>
void require_ndim(const A& a, size_t ndim, const char* what) {
    if (a.ndim() != ndim)
        fail(std::string(what) + " has shape " + shape_str(a) + ", expected " +
             std::to_string(ndim) + " dimensions");
}

size_t stages_arg(const std::optional<int64_t>& n, size_t all) {
    if (!n) return all;
    return *n < 0 ? 0 : static_cast<size_t>(*n);  // 0 is rejected by the kernel
}

template <typename Code>
Out<float> decode(In<Code> codes, In<float> codebooks, std::optional<int64_t> n_stages) {
    require_ndim(codes, 3, "rvq_decode: codes [B, n_q, T]");
    require_ndim(codebooks, 3, "rvq_decode: codebooks [n_q, K, D]");
    const size_t B = codes.shape(0), n_q = codes.shape(1), T = codes.shape(2);
    const size_t D = codebooks.shape(2);
    const size_t S = stages_arg(n_stages, n_q);
    Out<float> out = new_array<float>({B, D, T});
    {
        nb::gil_scoped_release release;
        rvq_decode(codes.data(), B, n_q, T, codebooks.data(), codebooks.shape(0),
                   codebooks.shape(1), D, S, out.data());
    }
    return out;
}

Out<int64_t> encode(In<float> latents, In<float> codebooks, std::optional<int64_t> n_stages,
                    std::optional<In<float>> in_proj, std::optional<In<float>> in_bias,
                    bool normalize, std::optional<In<float>> out_codebooks) {
    require_ndim(latents, 3, "rvq_encode: latents [B, D, T]");
    require_ndim(codebooks, 3, "rvq_encode: codebooks [n_q, K, Dc]");
    RvqEncodeArgs a;
    a.latents = latents.data();
    a.batch = latents.shape(0);
    a.dim = latents.shape(1);
    a.frames = latents.shape(2);
    a.codebooks = codebooks.data();
    a.n_q = codebooks.shape(0);
    a.codebook_size = codebooks.shape(1);
    a.codebook_dim = codebooks.shape(2);
    a.n_stages = stages_arg(n_stages, a.n_q);
    a.normalize = normalize;
    const std::string nq = std::to_string(a.n_q), K = std::to_string(a.codebook_size);
    const std::string D = std::to_string(a.dim), Dc = std::to_string(a.codebook_dim);
    if (in_proj) {
        if (in_proj->ndim() != 3 || in_proj->shape(0) != a.n_q ||
            in_proj->shape(1) != a.codebook_dim || in_proj->shape(2) != a.dim)
            fail("rvq_encode: in_proj has shape " + shape_str(*in_proj) +
                 ", expected [n_q, Dc, D] = (" + nq + ", " + Dc + ", " + D + ")");
        a.in_proj = in_proj->data();
    }
    if (in_bias) {
        if (in_bias->ndim() != 2 || in_bias->shape(0) != a.n_q ||
            in_bias->shape(1) != a.codebook_dim)
            fail("rvq_encode: in_bias has shape " + shape_str(*in_bias) +
                 ", expected [n_q, Dc] = (" + nq + ", " + Dc + ")");
        a.in_bias = in_bias->data();
    }
    if (out_codebooks) {
        if (out_codebooks->ndim() != 3 || out_codebooks->shape(0) != a.n_q ||
            out_codebooks->shape(1) != a.codebook_size || out_codebooks->shape(2) != a.dim)
            fail("rvq_encode: out_codebooks has shape " + shape_str(*out_codebooks) +
                 ", expected [n_q, K, D] = (" + nq + ", " + K + ", " + D + ")");
        a.out_codebooks = out_codebooks->data();
    }
    if (a.n_stages < 1 || a.n_stages > a.n_q)
        fail("rvq_encode: n_stages=" + std::to_string(a.n_stages) + " must be in 1.." + nq);
    Out<int64_t> codes = new_array<int64_t>({a.batch, a.n_stages, a.frames});
    {
        nb::gil_scoped_release release;
        rvq_encode(a, codes.data());
    }
    return codes;
}

void check_levels(const In<int64_t>& levels, const char* fn) {
    if (levels.ndim() != 1)
        fail(std::string(fn) + ": levels must be 1-D, got shape " + shape_str(levels));
}

nb::tuple fsq_quantize_py(In<float> z, In<int64_t> levels) {
    check_levels(levels, "fsq_quantize");
    const size_t d = levels.shape(0);
    if (z.ndim() != 2 || z.shape(1) != d)
        fail("fsq_quantize: z has shape " + shape_str(z) +
             ", expected [N, d] with d = len(levels) = " + std::to_string(d));
    const size_t n = z.shape(0);
    Out<int64_t> codes = new_array<int64_t>({n});
    Out<float> zhat = new_array<float>({n, d});
    {
        nb::gil_scoped_release release;
        fsq_quantize(z.data(), n, levels.data(), d, codes.data(), zhat.data());
    }
    return nb::make_tuple(codes, zhat);
}

Out<float> fsq_dequantize_py(In<int64_t> codes, In<int64_t> levels) {
    check_levels(levels, "fsq_dequantize");
    if (codes.ndim() != 1)
        fail("fsq_dequantize: codes must be 1-D [N], got shape " + shape_str(codes));
    const size_t n = codes.shape(0), d = levels.shape(0);
    Out<float> zhat = new_array<float>({n, d});
    {
        nb::gil_scoped_release release;
        fsq_dequantize(codes.data(), n, levels.data(), d, zhat.data());
    }
    return zhat;
}

Out<int64_t> fsq_codes_to_digits_py(In<int64_t> codes, In<int64_t> levels) {
    check_levels(levels, "fsq_codes_to_digits");
    if (codes.ndim() != 1)
        fail("fsq_codes_to_digits: codes must be 1-D [N], got shape " + shape_str(codes));
    const size_t n = codes.shape(0), d = levels.shape(0);
    Out<int64_t> digits = new_array<int64_t>({n, d});
    {
        nb::gil_scoped_release release;
        fsq_codes_to_digits(codes.data(), n, levels.data(), d, digits.data());
    }
    return digits;
}

}  // namespace

void register_rvq(nb::module_& m) {
    static const char* decode_doc =
        "rvq_decode(codes, codebooks, n_stages=None) -> float32 [B, D, T]\n\n"
        "Sum of codebooks[q, codes[b, q, t], :] over the first n_stages stages (default: all\n"
        "n_q stages of codes). codes: int64 or int32 [B, n_q, T]; codebooks: float32 [n_q', K, D]\n"
        "with n_q' >= n_q. Codes outside [0, K) raise ValueError (checked before writing).";
    m.def("rvq_decode", &decode<int64_t>, "codes"_a, "codebooks"_a, "n_stages"_a = nb::none(),
          decode_doc);
    m.def("rvq_decode", &decode<int32_t>, "codes"_a, "codebooks"_a, "n_stages"_a = nb::none(),
          decode_doc);
    m.def("rvq_encode", &encode, "latents"_a, "codebooks"_a, "n_stages"_a = nb::none(),
          "in_proj"_a = nb::none(), "in_bias"_a = nb::none(), "normalize"_a = false,
          "out_codebooks"_a = nb::none(),
          "rvq_encode(latents, codebooks, n_stages=None, in_proj=None, in_bias=None,\n"
          "           normalize=False, out_codebooks=None) -> int64 [B, n_stages, T]\n\n"
          "Greedy residual VQ. latents: float32 [B, D, T]; codebooks: float32 [n_q, K, Dc].\n"
          "Per frame and stage q: e = in_proj[q] @ r + in_bias[q] (float32 [n_q, Dc, D] and\n"
          "[n_q, Dc]; identity when absent, then Dc == D), L2-normalised together with the\n"
          "codewords if normalize; k = argmin |e - c_k|^2 (ties -> lowest k);\n"
          "r -= out_codebooks[q, k] (float32 [n_q, K, D]; codebooks[q, k] when absent).");
    m.def("fsq_quantize", &fsq_quantize_py, "z"_a, "levels"_a,
          "fsq_quantize(z, levels) -> (codes int64 [N], zhat float32 [N, d])\n\n"
          "Finite scalar quantisation of float32 z [N, d] with int64 levels [d] (each 2..1000),\n"
          "vector-quantize-pytorch conventions: zhat in [-1, 1], code = sum digit_i * basis_i\n"
          "with dimension 0 fastest.");
    m.def("fsq_dequantize", &fsq_dequantize_py, "codes"_a, "levels"_a,
          "fsq_dequantize(codes, levels) -> float32 [N, d]\n\n"
          "Inverse of fsq_quantize's codes: int64 codes [N] in [0, prod(levels)) -> zhat.");
    m.def("fsq_codes_to_digits", &fsq_codes_to_digits_py, "codes"_a, "levels"_a,
          "fsq_codes_to_digits(codes, levels) -> int64 [N, d]\n\n"
          "Per-dimension level indices (digit_i in [0, levels[i])) of int64 codes [N].");
}

}  // namespace voxlite::bind
