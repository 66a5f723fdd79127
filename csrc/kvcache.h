// A preallocated key/value cache for exported decoder step graphs.
//
// One buffer, allocated (zeroed) once and never reallocated, laid out
//     [n_layers, 2 (0 = keys, 1 = values), batch, n_heads, max_len, head_dim]
// so that layer l's keys for head h are a [max_len, head_dim] row-major block and the valid
// prefix of a layer is a strided [batch, n_heads, length, head_dim] view.
//
// Protocol for one decoder step producing t new positions:
//     for each layer: write(layer, k_new, v_new)   // [B, H, t, D] at positions [length, length+t)
//     advance(t)                                   // commit; every layer must have written them
// append() does both for all layers. trim(n) keeps the first n positions (reusing a prompt),
// reset() empties the cache. Positions >= length hold zeros or stale (finite) data from before a
// trim/reset, so graphs that take the fixed-size buffer plus a length/mask never read garbage.
//
// Elements are float32 or float16 (IEEE half, handled as raw 16-bit words: the cache only moves
// bytes). Not thread-safe: one instance must not be written from several threads at once;
// distinct instances are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace voxlite {

enum class KVDtype { float32, float16 };

size_t kv_itemsize(KVDtype dtype);
const char* kv_dtype_name(KVDtype dtype);

// A [batch, n_heads, t, head_dim] array of the cache's element type, any (element) strides.
struct KVSource {
    const void* data = nullptr;
    size_t shape[4] = {0, 0, 0, 0};
    int64_t strides[4] = {0, 0, 0, 0};  // in elements
};

class KVCache {
public:
    KVCache(size_t n_layers, size_t batch, size_t n_heads, size_t max_len, size_t head_dim,
            KVDtype dtype);

    size_t n_layers() const { return n_layers_; }
    size_t batch() const { return batch_; }
    size_t n_heads() const { return n_heads_; }
    size_t capacity() const { return max_len_; }
    size_t head_dim() const { return head_dim_; }
    KVDtype dtype() const { return dtype_; }
    size_t itemsize() const { return itemsize_; }
    size_t nbytes() const { return nbytes_; }

    size_t length() const { return length_; }           // committed positions
    size_t written(size_t layer) const;                  // positions of `layer` holding data

    // Copies k, v (shape [batch, n_heads, t, head_dim]) to positions [length, length + t) of
    // `layer`; a repeated write before advance() replaces the earlier one.
    void write(size_t layer, const KVSource& k, const KVSource& v);
    // Commits t positions; every layer must have written at least length + t positions.
    void advance(size_t t);
    // write() for every layer (all validated before anything is copied), then advance(t).
    void append(const std::vector<KVSource>& ks, const std::vector<KVSource>& vs);
    void trim(size_t n);  // keep positions [0, n), n <= length
    void reset() { trim(0); }

    // Start of layer's [2, batch, n_heads, max_len, head_dim] block.
    unsigned char* layer_data(size_t layer);
    // Copies the valid prefix of keys (which = 0) or values (which = 1) of `layer` into out,
    // a C-contiguous [batch, n_heads, length, head_dim] buffer of at least out_bytes bytes.
    void copy_prefix(size_t layer, int which, void* out, size_t out_bytes) const;

private:
    void check_layer(size_t layer, const char* fn) const;
    void check_source(size_t layer, const KVSource& s, const char* what, size_t t) const;
    void copy_in(size_t layer, int which, const KVSource& s);

    size_t n_layers_, batch_, n_heads_, max_len_, head_dim_;
    KVDtype dtype_;
    size_t itemsize_, nbytes_;
    size_t length_ = 0;
    std::vector<size_t> written_;
    std::unique_ptr<unsigned char, void (*)(void*)> data_;
};

}  // namespace voxlite
