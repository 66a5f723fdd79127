// Binding of the KV cache (kvcache.h). Views returned by keys()/values()/buffer() alias the
// cache's single buffer and keep the KVCache object alive (rv_policy::reference_internal).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "kvcache.h"
#include "ndarray.h"
#include "registry.h"

namespace voxlite::bind {
namespace {

using namespace nb::literals;

// Checks build their messages only on failure (write() runs once per layer and step).
[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

using Src = nb::ndarray<nb::ro, nb::device::cpu>;        // any dtype / strides, checked here
using Dst = nb::ndarray<nb::device::cpu>;                // writable, checked here
using View = nb::ndarray<nb::numpy>;
using RoView = nb::ndarray<nb::numpy, nb::ro>;

nb::dlpack::dtype dl_dtype(KVDtype d) {
    if (d == KVDtype::float16)
        return nb::dlpack::dtype{static_cast<uint8_t>(nb::dlpack::dtype_code::Float), 16, 1};
    return nb::dtype<float>();
}

std::string dtype_str(nb::dlpack::dtype d) {
    std::string kind;
    switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
        case nb::dlpack::dtype_code::Int: kind = "int"; break;
        case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
        case nb::dlpack::dtype_code::Float: kind = "float"; break;
        case nb::dlpack::dtype_code::Bool: return "bool";
        case nb::dlpack::dtype_code::Complex: kind = "complex"; break;
        default: kind = "dtype code " + std::to_string(d.code) + " bits "; break;
    }
    return kind + std::to_string(d.bits);
}

template <typename A>
std::string shape_str(const A& a) {
    std::string s = "(";
    for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

size_t nonneg(int64_t v, const std::string& what) {
    if (v < 0) fail(what + " must be >= 0, got " + std::to_string(v));
    return static_cast<size_t>(v);
}

size_t layer_index(const KVCache& c, int64_t layer, const char* fn) {
    if (layer < 0 || static_cast<size_t>(layer) >= c.n_layers())
        fail(std::string("KVCache.") + fn + ": layer " + std::to_string(layer) +
             " out of range [0, " + std::to_string(c.n_layers()) + ")");
    return static_cast<size_t>(layer);
}

KVDtype parse_dtype(const std::string& s) {
    if (s == "float32") return KVDtype::float32;
    if (s == "float16") return KVDtype::float16;
    fail("KVCache: dtype must be 'float32' or 'float16', got '" + s + "'");
}

KVSource to_source(const KVCache& c, const Src& a, const char* what, size_t layer) {
    if (a.ndim() != 4)
        fail(std::string("KVCache: ") + what + " for layer " + std::to_string(layer) +
             " must be [batch, n_heads, t, head_dim], got shape " + shape_str(a));
    if (a.dtype() != dl_dtype(c.dtype()))
        fail(std::string("KVCache: ") + what + " for layer " + std::to_string(layer) +
             " has dtype " + dtype_str(a.dtype()) + ", the cache holds " +
             kv_dtype_name(c.dtype()));
    KVSource s;
    s.data = a.data();
    for (size_t i = 0; i < 4; ++i) {
        s.shape[i] = a.shape(i);
        s.strides[i] = a.stride(i);
    }
    return s;
}

size_t plane_elems(const KVCache& c) {
    return c.batch() * c.n_heads() * c.capacity() * c.head_dim();
}

RoView prefix_view(KVCache& c, int64_t layer, int which) {
    const size_t l = layer_index(c, layer, which == 0 ? "keys" : "values");
    const size_t L = c.capacity(), D = c.head_dim(), H = c.n_heads();
    const size_t shape[4] = {c.batch(), H, c.length(), D};
    const int64_t strides[4] = {static_cast<int64_t>(H * L * D), static_cast<int64_t>(L * D),
                                static_cast<int64_t>(D), 1};
    return RoView(c.layer_data(l) + which * plane_elems(c) * c.itemsize(), 4, shape, nb::handle(),
                  strides, dl_dtype(c.dtype()));
}

bool c_contiguous(const Dst& a) {
    int64_t expect = 1;
    for (size_t i = a.ndim(); i-- > 0;) {
        if (a.shape(i) != 1 && a.stride(i) != expect) return false;
        expect *= static_cast<int64_t>(a.shape(i));
    }
    return true;
}

nb::object contiguous(KVCache& c, int64_t layer, int which, nb::object out) {
    const char* fn = which == 0 ? "contiguous_keys" : "contiguous_values";
    const size_t l = layer_index(c, layer, fn);
    const size_t shape[4] = {c.batch(), c.n_heads(), c.length(), c.head_dim()};
    const size_t n = shape[0] * shape[1] * shape[2] * shape[3];
    const size_t es = c.itemsize();
    if (out.is_none()) {
        unsigned char* p = new unsigned char[n * es > 0 ? n * es : 1];
        nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<unsigned char*>(q); });
        View arr(p, 4, shape, owner, nullptr, dl_dtype(c.dtype()));
        {
            nb::gil_scoped_release release;
            c.copy_prefix(l, which, p, n * es);
        }
        return nb::cast(arr);
    }
    auto fail_out = [fn](const std::string& message) {
        fail(std::string("KVCache.") + fn + ": out " + message);
    };
    Dst o;  // no conversion: the copy must land in the caller's array (read-only ones fail here)
    if (!nb::try_cast(out, o, /*convert=*/false)) fail_out("must be a writable CPU array");
    if (o.dtype() != dl_dtype(c.dtype()))
        fail_out("has dtype " + dtype_str(o.dtype()) + ", the cache holds " +
                 kv_dtype_name(c.dtype()));
    if (!c_contiguous(o)) fail_out("must be C-contiguous");
    if (o.size() < n)
        fail_out("has " + std::to_string(o.size()) + " elements, needs at least " +
                 std::to_string(n) + " for shape (" + std::to_string(shape[0]) + ", " +
                 std::to_string(shape[1]) + ", " + std::to_string(shape[2]) + ", " +
                 std::to_string(shape[3]) + ")");
    {
        nb::gil_scoped_release release;
        c.copy_prefix(l, which, o.data(), o.size() * es);
    }
    bool same = o.ndim() == 4;
    for (size_t i = 0; same && i < 4; ++i) same = o.shape(i) == shape[i];
    if (same) return out;
    return nb::cast(View(o.data(), 4, shape, out, nullptr, dl_dtype(c.dtype())));
}

}  // namespace

void register_kvcache(nb::module_& m) {
    nb::class_<KVCache>(
        m, "KVCache", nb::is_weak_referenceable(),
        "Preallocated K/V cache: one zeroed buffer [n_layers, 2, batch, n_heads, max_len, head_dim]\n"
        "of float32 or float16, allocated once. Per step: write(layer, k, v) for every layer, then\n"
        "advance(t) (or append(ks, vs)). Views from keys()/values()/buffer() share its memory and\n"
        "keep it alive. Not for concurrent writes from several threads.")
        .def("__init__",
             [](KVCache* self, int64_t n_layers, int64_t batch, int64_t n_heads, int64_t max_len,
                int64_t head_dim, const std::string& dtype) {
                 new (self) KVCache(
                     nonneg(n_layers, "KVCache: n_layers"), nonneg(batch, "KVCache: batch"),
                     nonneg(n_heads, "KVCache: n_heads"), nonneg(max_len, "KVCache: max_len"),
                     nonneg(head_dim, "KVCache: head_dim"), parse_dtype(dtype));
             },
             "n_layers"_a, "batch"_a, "n_heads"_a, "max_len"_a, "head_dim"_a, "dtype"_a = "float32")
        .def_prop_ro("length", &KVCache::length, "Committed positions.")
        .def_prop_ro("capacity", &KVCache::capacity, "max_len: positions the buffer holds.")
        .def_prop_ro("n_layers", &KVCache::n_layers)
        .def_prop_ro("batch", &KVCache::batch)
        .def_prop_ro("n_heads", &KVCache::n_heads)
        .def_prop_ro("head_dim", &KVCache::head_dim)
        .def_prop_ro(
            "dtype", [](const KVCache& c) { return std::string(kv_dtype_name(c.dtype())); },
            "'float32' or 'float16'.")
        .def_prop_ro("nbytes", &KVCache::nbytes, "Size of the buffer in bytes.")
        .def("written",
             [](const KVCache& c, int64_t layer) {
                 return c.written(layer_index(c, layer, "written"));
             },
             "layer"_a, "Positions of this layer holding data (>= length after a write).")
        .def("write",
             [](KVCache& c, int64_t layer, Src k, Src v) {
                 const size_t l = layer_index(c, layer, "write");
                 const KVSource ks = to_source(c, k, "k", l), vs = to_source(c, v, "v", l);
                 nb::gil_scoped_release release;
                 c.write(l, ks, vs);
             },
             "layer"_a, "k"_a, "v"_a,
             "Copy k, v [batch, n_heads, t, head_dim] (cache dtype, any strides) to positions\n"
             "[length, length + t) of layer. Not committed until advance(t).")
        .def("advance", [](KVCache& c, int64_t t) { c.advance(nonneg(t, "KVCache.advance: t")); },
             "t"_a, "Commit t positions; every layer must have written them.")
        .def("append",
             [](KVCache& c, std::vector<Src> ks, std::vector<Src> vs) {
                 std::vector<KVSource> k, v;
                 for (size_t l = 0; l < ks.size(); ++l) k.push_back(to_source(c, ks[l], "k", l));
                 for (size_t l = 0; l < vs.size(); ++l) v.push_back(to_source(c, vs[l], "v", l));
                 nb::gil_scoped_release release;
                 c.append(k, v);
             },
             "layer_ks"_a, "layer_vs"_a,
             "write() every layer (one [batch, n_heads, t, head_dim] k and v per layer; all\n"
             "validated before any copy), then advance(t).")
        .def("trim", [](KVCache& c, int64_t n) { c.trim(nonneg(n, "KVCache.trim: n")); }, "n"_a,
             "Keep the first n <= length positions (prompt reuse).")
        .def("reset", &KVCache::reset, "Empty the cache (length 0); the buffer is kept.")
        .def("keys", [](KVCache& c, int64_t layer) { return prefix_view(c, layer, 0); }, "layer"_a,
             nb::rv_policy::reference_internal,
             "Read-only view [batch, n_heads, length, head_dim] of layer's keys (strided, no copy).")
        .def("values", [](KVCache& c, int64_t layer) { return prefix_view(c, layer, 1); },
             "layer"_a,
             nb::rv_policy::reference_internal,
             "Read-only view [batch, n_heads, length, head_dim] of layer's values (strided, no copy).")
        .def("buffer",
             [](KVCache& c, int64_t layer) {
                 const size_t l = layer_index(c, layer, "buffer");
                 const size_t shape[5] = {2, c.batch(), c.n_heads(), c.capacity(), c.head_dim()};
                 return View(c.layer_data(l), 5, shape, nb::handle(), nullptr, dl_dtype(c.dtype()));
             },
             "layer"_a, nb::rv_policy::reference_internal,
             "Writable C-contiguous view [2, batch, n_heads, max_len, head_dim] of layer's whole\n"
             "block (0 = keys, 1 = values), for graphs taking fixed-size caches and IO binding.")
        .def("contiguous_keys",
             [](KVCache& c, int64_t layer, nb::object out) { return contiguous(c, layer, 0, out); },
             "layer"_a, "out"_a = nb::none(),
             "Copy of the valid keys as a C-contiguous [batch, n_heads, length, head_dim] array.\n"
             "out: a writable C-contiguous array of the cache dtype with at least that many elements\n"
             "(e.g. preallocated for max_len); returned itself when its shape matches, else a view\n"
             "of its first elements with that shape.")
        .def("contiguous_values",
             [](KVCache& c, int64_t layer, nb::object out) { return contiguous(c, layer, 1, out); },
             "layer"_a, "out"_a = nb::none(), "Like contiguous_keys, for the values.")
        .def("__repr__", [](const KVCache& c) {
            return "KVCache(n_layers=" + std::to_string(c.n_layers()) + ", batch=" +
                   std::to_string(c.batch()) + ", n_heads=" + std::to_string(c.n_heads()) +
                   ", max_len=" + std::to_string(c.capacity()) + ", head_dim=" +
                   std::to_string(c.head_dim()) + ", dtype='" + kv_dtype_name(c.dtype()) +
                   "', length=" + std::to_string(c.length()) + ")";
        });
}

}  // namespace voxlite::bind
