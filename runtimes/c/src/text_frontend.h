// The text front end of a bundle's text component in the C runtime: the native English G2P (csrc/text, the same
// code the Python package calls) over the bundle's lexicon, with the letter-to-sound graph run on this engine.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine.h"

namespace voxlite::text {
class EnglishG2P;
class LetterToSoundCodec;
}  // namespace voxlite::text

namespace voxlite::runtime {

class Bundle;
struct Component;

class TextFrontEnd {
public:
    TextFrontEnd(const Bundle& bundle, const Component& text, const EngineOptions& engine, const std::string& precision);
    ~TextFrontEnd();
    int count(const std::string& text);
    // (ids of prompt_text + text as one utterance, number of ids of text alone)
    std::pair<std::vector<int64_t>, int> encode_pair(const std::string& text, const std::string* prompt_text);
    std::vector<int64_t> encode(const std::string& text);
    std::string phonemize(const std::string& text);

private:
    std::unique_ptr<Session> letter_to_sound_;
    std::unique_ptr<text::LetterToSoundCodec> codec_;
    std::unique_ptr<text::EnglishG2P> g2p_;
};

}  // namespace voxlite::runtime
