// The run-time codec of the default voice's letter-to-sound graph (voxlite.models.letter_to_sound): a word ->
// the graph's letter ids, and the graph's logits -> phonemes. Engine-free (buffers only): Python runs the graph
// with ONNX Runtime between encode() and decode() (voxlite.text.letter_to_sound.LetterToSound), the C runtime
// with OpenVINO.
//
// The graph: letter_ids int64 (1, L) -> logits float (1, T, V), T = L * upsample, V = 1 + number of symbols (id 0
// the CTC blank). Its metadata carries the alphabet it was trained with: "voxlite.letters" and "voxlite.symbols",
// each a JSON string (one letter / symbol per character) or a JSON array of strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace voxlite::text {

class LetterToSoundCodec {
   public:
    static constexpr int64_t WORD_START = 1, WORD_END = 2;  // letter ids; 0 is an unknown letter, letters[k] is k + 3
    static constexpr size_t MAX_LETTERS = 48;               // longer "words" are not words: the caller spells them

    // From the graph's metadata values (JSON text); std::invalid_argument when either is not a JSON string or an
    // array of strings.
    LetterToSoundCodec(std::string_view letters_json, std::string_view symbols_json);
    LetterToSoundCodec(std::vector<std::string> letters, std::vector<std::string> symbols);

    // The graph's input for `word` (UTF-8): WORD_START, one id per character of the lower-cased word, WORD_END; or
    // nullopt when there is nothing to read (empty, more than MAX_LETTERS characters, no letter of the alphabet).
    // Lower-casing is ASCII's (the G2P only passes ASCII words).
    std::optional<std::vector<int64_t>> encode(std::string_view word) const;

    // Greedy CTC over (T, V) row-major logits: the best id per position (the lowest on ties, NaN counting as the
    // largest, as numpy's argmax), repeats merged, blanks dropped, ids mapped to symbols. Possibly empty.
    // std::invalid_argument when V == 0 and T > 0; std::out_of_range for an id past the symbols.
    std::string decode(const float* logits, size_t T, size_t V) const;

    const std::vector<std::string>& letters() const { return letters_; }
    const std::vector<std::string>& symbols() const { return symbols_; }

   private:
    std::vector<std::string> letters_, symbols_;
    std::unordered_map<char32_t, int64_t> index_;  // one-character letters -> id
};

// ctc_greedy on float32 / float64 logits with any symbol list (what LetterToSoundCodec::decode does).
std::string ctc_greedy(const float* logits, size_t T, size_t V, const std::vector<std::string>& symbols);
std::string ctc_greedy(const double* logits, size_t T, size_t V, const std::vector<std::string>& symbols);

// A JSON string (split into characters) or array of strings -> the list; std::invalid_argument otherwise.
std::vector<std::string> parse_alphabet(std::string_view json_text, const char* what);

// The G2P's letter_to_sound callable around a graph runner: encode, run (letter ids (1, L) -> logits (1, T, V),
// written to `logits` with T and V set), decode; nullopt when encode gives nothing or decoding is empty.
using LetterToSoundRunner =
    std::function<void(const std::vector<int64_t>& letter_ids, std::vector<float>& logits, size_t& T, size_t& V)>;
std::function<std::optional<std::string>(const std::string&)> letter_to_sound_function(LetterToSoundCodec codec,
                                                                                       LetterToSoundRunner run);

namespace detail {

// One code point of UTF-8 text at s[i] (i < size): the code point and its byte length. An invalid sequence reads as
// U+FFFD, one byte long.
inline char32_t decode_utf8(std::string_view s, size_t i, size_t& len) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    const size_t avail = s.size() - i;
    len = 1;
    if (c < 0x80) return c;
    size_t n;
    char32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0xFFFD;
    }
    if (avail < n || b(1) < lo || b(1) > hi) return 0xFFFD;
    for (size_t k = 1; k < n; ++k) {
        if (b(k) < 0x80 || b(k) > 0xBF) return 0xFFFD;
        cp = (cp << 6) | (b(k) & 0x3F);
    }
    len = n;
    return cp;
}

inline void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// The code points of UTF-8 text, each as its own UTF-8 string.
inline std::vector<std::string> split_chars(std::string_view s) {
    std::vector<std::string> out;
    for (size_t i = 0, n; i < s.size(); i += n) {
        decode_utf8(s, i, n);
        out.emplace_back(s.substr(i, n));
    }
    return out;
}

}  // namespace detail
}  // namespace voxlite::text
