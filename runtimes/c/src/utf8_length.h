// Code points in a UTF-8 string (the unit of the text limits, as Python's len()).
#pragma once

#include <string>

namespace voxlite::runtime {

inline size_t utf8_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

}  // namespace voxlite::runtime
