// KV cache storage and copies; see kvcache.h for the layout and protocol.
// Checks build their messages only on failure: write/advance run once per layer and step.
#include "kvcache.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace voxlite {
namespace {

std::string num(size_t v) { return std::to_string(v); }

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

size_t checked_mul(size_t a, size_t b) {
    if (b != 0 && a > std::numeric_limits<size_t>::max() / b)
        fail("KVCache: the buffer size overflows size_t");
    return a * b;
}

unsigned char* zeroed_bytes(size_t n) {
    void* p = std::calloc(n > 0 ? n : 1, 1);  // lazily zeroed pages for large buffers
    if (!p) throw std::bad_alloc();
    return static_cast<unsigned char*>(p);
}

}  // namespace

size_t kv_itemsize(KVDtype dtype) { return dtype == KVDtype::float16 ? 2 : 4; }

const char* kv_dtype_name(KVDtype dtype) {
    return dtype == KVDtype::float16 ? "float16" : "float32";
}

KVCache::KVCache(size_t n_layers, size_t batch, size_t n_heads, size_t max_len, size_t head_dim,
                 KVDtype dtype)
    : n_layers_(n_layers), batch_(batch), n_heads_(n_heads), max_len_(max_len),
      head_dim_(head_dim), dtype_(dtype), itemsize_(kv_itemsize(dtype)), nbytes_(0),
      written_(n_layers, 0), data_(nullptr, std::free) {
    if (n_layers < 1 || batch < 1 || n_heads < 1 || max_len < 1 || head_dim < 1)
        fail("KVCache: n_layers, batch, n_heads, max_len and head_dim must all be >= 1, got (" +
             num(n_layers) + ", " + num(batch) + ", " + num(n_heads) + ", " + num(max_len) +
             ", " + num(head_dim) + ")");
    size_t n = checked_mul(n_layers, 2);
    for (size_t dim : {batch, n_heads, max_len, head_dim, itemsize_}) n = checked_mul(n, dim);
    nbytes_ = n;
    data_.reset(zeroed_bytes(nbytes_));
}

void KVCache::check_layer(size_t layer, const char* fn) const {
    if (layer >= n_layers_)
        fail(std::string("KVCache.") + fn + ": layer " + num(layer) + " out of range [0, " +
             num(n_layers_) + ")");
}

size_t KVCache::written(size_t layer) const {
    check_layer(layer, "written");
    return written_[layer];
}

unsigned char* KVCache::layer_data(size_t layer) {
    check_layer(layer, "buffer");
    return data_.get() + layer * 2 * batch_ * n_heads_ * max_len_ * head_dim_ * itemsize_;
}

void KVCache::check_source(size_t layer, const KVSource& s, const char* what, size_t t) const {
    if (s.shape[0] != batch_ || s.shape[1] != n_heads_ || s.shape[2] != t ||
        s.shape[3] != head_dim_)
        fail(std::string("KVCache.write: ") + what + " for layer " + num(layer) + " has shape (" +
             num(s.shape[0]) + ", " + num(s.shape[1]) + ", " + num(s.shape[2]) + ", " +
             num(s.shape[3]) + "), expected [batch, n_heads, t, head_dim] = (" + num(batch_) +
             ", " + num(n_heads_) + ", " + num(t) + ", " + num(head_dim_) + ")");
    if (t > max_len_ - length_)
        fail("KVCache.write: overflow: " + num(t) + " new positions at length " + num(length_) +
             " exceed the capacity " + num(max_len_) + " (layer " + num(layer) + ")");
}

void KVCache::copy_in(size_t layer, int which, const KVSource& s) {
    const size_t es = itemsize_, D = head_dim_, t = s.shape[2];
    const int64_t ies = static_cast<int64_t>(es);
    unsigned char* plane = layer_data(layer) + which * batch_ * n_heads_ * max_len_ * D * es;
    const unsigned char* src = static_cast<const unsigned char*>(s.data);
    const int64_t* st = s.strides;  // in elements, may be negative
    const bool rows_contiguous = D == 1 || st[3] == 1;
    const bool block_contiguous = rows_contiguous && (t <= 1 || st[2] == static_cast<int64_t>(D));
    for (size_t b = 0; b < batch_; ++b)
        for (size_t h = 0; h < n_heads_; ++h) {
            unsigned char* dst = plane + ((b * n_heads_ + h) * max_len_ + length_) * D * es;
            const unsigned char* from =
                src + (static_cast<int64_t>(b) * st[0] + static_cast<int64_t>(h) * st[1]) * ies;
            if (block_contiguous) {
                std::memcpy(dst, from, t * D * es);
            } else if (rows_contiguous) {
                for (size_t i = 0; i < t; ++i)
                    std::memcpy(dst + i * D * es, from + static_cast<int64_t>(i) * st[2] * ies,
                                D * es);
            } else {
                for (size_t i = 0; i < t; ++i)
                    for (size_t d = 0; d < D; ++d)
                        std::memcpy(dst + (i * D + d) * es,
                                    from + (static_cast<int64_t>(i) * st[2] +
                                            static_cast<int64_t>(d) * st[3]) * ies,
                                    es);
            }
        }
}

void KVCache::write(size_t layer, const KVSource& k, const KVSource& v) {
    check_layer(layer, "write");
    const size_t t = k.shape[2];
    check_source(layer, k, "k", t);
    check_source(layer, v, "v", t);
    copy_in(layer, 0, k);
    copy_in(layer, 1, v);
    written_[layer] = length_ + t;
}

void KVCache::advance(size_t t) {
    if (t > max_len_ - length_)
        fail("KVCache.advance: " + num(t) + " positions at length " + num(length_) +
             " exceed the capacity " + num(max_len_));
    for (size_t l = 0; l < n_layers_; ++l)
        if (written_[l] < length_ + t)
            fail("KVCache.advance(" + num(t) + "): layer " + num(l) + " has written " +
                 num(written_[l] > length_ ? written_[l] - length_ : 0) +
                 " new positions since length " + num(length_) + "; write all layers first");
    length_ += t;
}

void KVCache::append(const std::vector<KVSource>& ks, const std::vector<KVSource>& vs) {
    if (ks.size() != n_layers_ || vs.size() != n_layers_)
        fail("KVCache.append: expected " + num(n_layers_) +
             " keys and values (one per layer), got " + num(ks.size()) + " and " +
             num(vs.size()));
    const size_t t = ks[0].shape[2];
    for (size_t l = 0; l < n_layers_; ++l) {  // validate everything before copying anything
        check_source(l, ks[l], "k", t);
        check_source(l, vs[l], "v", t);
    }
    for (size_t l = 0; l < n_layers_; ++l) {
        copy_in(l, 0, ks[l]);
        copy_in(l, 1, vs[l]);
        written_[l] = length_ + t;
    }
    length_ += t;
}

void KVCache::trim(size_t n) {
    if (n > length_)
        fail("KVCache.trim: cannot keep " + num(n) + " positions, length is " + num(length_));
    length_ = n;
    for (size_t& w : written_) w = n;
}

void KVCache::copy_prefix(size_t layer, int which, void* out, size_t out_bytes) const {
    check_layer(layer, which == 0 ? "contiguous_keys" : "contiguous_values");
    const size_t es = itemsize_, D = head_dim_;
    const size_t row = length_ * D * es;
    if (out_bytes < batch_ * n_heads_ * row)
        fail("KVCache: output holds " + num(out_bytes / es) + " elements, needs " +
             num(batch_ * n_heads_ * length_ * D));
    const size_t plane_bytes = batch_ * n_heads_ * max_len_ * D * es;
    const unsigned char* plane = data_.get() + (layer * 2 + static_cast<size_t>(which)) * plane_bytes;
    unsigned char* o = static_cast<unsigned char*>(out);
    for (size_t bh = 0; bh < batch_ * n_heads_; ++bh)
        std::memcpy(o + bh * row, plane + bh * max_len_ * D * es, row);
}

}  // namespace voxlite
