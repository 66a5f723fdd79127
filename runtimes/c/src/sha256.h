// SHA-256 (FIPS 180-4) of a file, streamed: the bundle's integrity check, same digests as Python's hashlib.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace voxlite::runtime {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t n);
    std::string hexdigest();  // finishes the hash; the object is spent afterwards

private:
    void block(const uint8_t* p);
    uint32_t h_[8];
    uint8_t buf_[64];
    size_t used_ = 0;
    uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, size_t n);
// Throws std::runtime_error naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace voxlite::runtime
