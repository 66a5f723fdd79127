// Helpers shared by the binding files: typed input views and freshly allocated NumPy outputs.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <initializer_list>
#include <vector>

namespace nb = nanobind;

namespace voxlite::bind {

// Read-only C-contiguous CPU input of element type T (nanobind converts or rejects others).
template <typename T>
using In = nb::ndarray<const T, nb::c_contig, nb::device::cpu>;

// Writable C-contiguous CPU array of element type T (updated in place).
template <typename T>
using InOut = nb::ndarray<T, nb::c_contig, nb::device::cpu>;

template <typename T>
using Out = nb::ndarray<nb::numpy, T>;

// A new NumPy array owning a zero-initialised buffer; data() may be written before returning.
template <typename T>
Out<T> new_array(const std::vector<size_t>& shape) {
    size_t n = 1;
    for (size_t s : shape) n *= s;
    T* data = new T[n > 0 ? n : 1]();
    nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
    return Out<T>(data, shape.size(), shape.data(), owner);
}

inline std::vector<size_t> shape_of(const nb::ndarray<>& a) {
    std::vector<size_t> s(a.ndim());
    for (size_t i = 0; i < a.ndim(); ++i) s[i] = a.shape(i);
    return s;
}

}  // namespace voxlite::bind
