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

}  // namespace voxlite::text
