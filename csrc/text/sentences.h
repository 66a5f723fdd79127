// Long text -> sentence chunks for sentence-by-sentence generation (the Python package and the C API both call
// this; python/voxlite/text/sentences.py documents the rules).
//
// A sentence ends after . ! ? followed by whitespace (closing quotes / brackets kept on it) or after CJK 。！？
// (no space needed); the period of an abbreviation is not an end when more must follow (titles, e.g., initials;
// etc., No., Jan. ... and dotted a.m. / U.S. only before a lower-case word). Sentences are merged into chunks of
// at most max_tokens (as `count` counts them); a longer sentence is cut at commas / semicolons / spaces, then at
// characters. Text is UTF-8; invalid UTF-8 throws std::invalid_argument.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace voxlite::text {

std::vector<std::string> split_sentences(std::string_view utf8);
// count(piece) -> tokens; max_tokens < 1 throws std::invalid_argument.
std::vector<std::string> chunk_text(std::string_view utf8, int max_tokens,
                                    const std::function<int(const std::string&)>& count);

}  // namespace voxlite::text
