// Letter-to-sound codec: see letter_to_sound.h.
#include "text/letter_to_sound.h"
#include "text/unicode.h"

#include <cmath>
#include <stdexcept>
#include <utility>

#include "json.h"

namespace voxlite::text {

std::vector<std::string> parse_alphabet(std::string_view json_text, const char* what) {
    json::Value v;
    try {
        v = json::parse(json_text);
    } catch (const json::Error& e) {
        throw std::invalid_argument(std::string(what) + ": " + e.what());
    }
    if (v.is_string()) return split_code_points(v.str());
    if (!v.is_array())
        throw std::invalid_argument(std::string(what) + ": expected a JSON string or array of strings, got " +
                                    json::Value::type_name(v.type()));
    std::vector<std::string> out;
    out.reserve(v.size());
    for (const json::Value& e : v.array()) {
        if (!e.is_string())
            throw std::invalid_argument(std::string(what) + ": expected an array of strings, found " +
                                        json::Value::type_name(e.type()));
        out.push_back(e.str());
    }
    return out;
}

LetterToSoundCodec::LetterToSoundCodec(std::string_view letters_json, std::string_view symbols_json)
    : LetterToSoundCodec(parse_alphabet(letters_json, "voxlite.letters"),
                         parse_alphabet(symbols_json, "voxlite.symbols")) {}

LetterToSoundCodec::LetterToSoundCodec(std::vector<std::string> letters, std::vector<std::string> symbols)
    : letters_(std::move(letters)), symbols_(std::move(symbols)) {
    for (size_t k = 0; k < letters_.size(); ++k) {
        const std::string& s = letters_[k];
        if (s.empty()) continue;
        size_t n;
        const char32_t cp = decode_utf8_at(s, 0, n);
        if (n == s.size()) index_[cp] = static_cast<int64_t>(k) + 3;  // a repeated letter: the last one's id
    }
}

std::optional<std::vector<int64_t>> LetterToSoundCodec::encode(std::string_view word) const {
    std::vector<int64_t> ids;
    ids.reserve(word.size() + 2);
    ids.push_back(WORD_START);
    bool known = false;
    for (size_t i = 0, n; i < word.size(); i += n) {
        char32_t cp = decode_utf8_at(word, i, n);
        if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
        if (ids.size() > MAX_LETTERS) return std::nullopt;  // already MAX_LETTERS letters before this one
        const auto it = index_.find(cp);
        if (it != index_.end()) {
            ids.push_back(it->second);
            known = true;
        } else {
            ids.push_back(0);
        }
    }
    if (!known) return std::nullopt;  // also the empty word
    ids.push_back(WORD_END);
    return ids;
}

namespace {

template <typename T>
std::string ctc_greedy_impl(const T* logits, size_t T_, size_t V, const std::vector<std::string>& symbols) {
    if (T_ > 0 && V == 0) throw std::invalid_argument("ctc_greedy: logits have no symbol axis (V = 0)");
    std::string out;
    size_t prev = static_cast<size_t>(-1);
    for (size_t t = 0; t < T_; ++t) {
        const T* row = logits + t * V;
        size_t best = 0;
        T best_v = row[0];
        if (!std::isnan(best_v)) {
            for (size_t j = 1; j < V; ++j) {
                const T v = row[j];
                if (std::isnan(v)) {  // numpy: the first NaN is the maximum
                    best = j;
                    break;
                }
                if (v > best_v) {
                    best_v = v;
                    best = j;
                }
            }
        }
        if (best != prev && best > 0) {
            if (best > symbols.size())
                throw std::out_of_range("ctc_greedy: symbol id " + std::to_string(best) + " but only " +
                                        std::to_string(symbols.size()) + " symbols");
            out += symbols[best - 1];
        }
        prev = best;
    }
    return out;
}

}  // namespace

std::string ctc_greedy(const float* logits, size_t T, size_t V, const std::vector<std::string>& symbols) {
    return ctc_greedy_impl(logits, T, V, symbols);
}

std::string ctc_greedy(const double* logits, size_t T, size_t V, const std::vector<std::string>& symbols) {
    return ctc_greedy_impl(logits, T, V, symbols);
}

std::string LetterToSoundCodec::decode(const float* logits, size_t T, size_t V) const {
    return ctc_greedy_impl(logits, T, V, symbols_);
}

std::function<std::optional<std::string>(const std::string&)> letter_to_sound_function(LetterToSoundCodec codec,
                                                                                       LetterToSoundRunner run) {
    return [codec = std::move(codec), run = std::move(run)](const std::string& word) -> std::optional<std::string> {
        auto ids = codec.encode(word);
        if (!ids) return std::nullopt;
        std::vector<float> logits;
        size_t T = 0, V = 0;
        run(*ids, logits, T, V);
        if (logits.size() < T * V) throw std::invalid_argument("letter-to-sound runner gave fewer logits than T * V");
        std::string ps = codec.decode(logits.data(), T, V);
        if (ps.empty()) return std::nullopt;
        return ps;
    };
}

}  // namespace voxlite::text
