#include "text_frontend.h"

#include "bundle.h"
#include "errors.h"
#include "text/english_g2p.h"
#include "text/letter_to_sound.h"

namespace voxlite::runtime {

TextFrontEnd::TextFrontEnd(const Bundle& bundle, const Component& text, const EngineOptions& engine,
                           const std::string& precision) {
    const json::Value* type = text.hparams->find("type");
    std::string kind = type && type->is_string() ? type->str() : "";
    if (kind != "voxlite-g2p-en")
        throw unsupported("bundle '" + bundle.name() + "': text front end '" + kind + "' is not in the C API yet "
                          "(it reads the English G2P, voxlite-g2p-en)");
    auto lexicon = text.files.find("lexicon");
    if (lexicon == text.files.end())
        throw bundle_error("bundle '" + bundle.name() + "': text component '" + text.name + "' has no lexicon file");
    voxlite::text::LetterToSoundFn letter_to_sound;
    auto graph = text.graphs.find("letter_to_sound");
    if (graph != text.graphs.end()) {
        letter_to_sound_ = open_session(bundle, graph->second, precision, engine);
        try {
            codec_ = std::make_unique<text::LetterToSoundCodec>(letter_to_sound_->metadata("voxlite.letters"),
                                                                letter_to_sound_->metadata("voxlite.symbols"));
        } catch (const std::invalid_argument& e) {
            throw bundle_error(std::string("letter-to-sound graph without readable letters / symbols metadata: ") +
                               e.what());
        }
        Session* session = letter_to_sound_.get();
        letter_to_sound = text::letter_to_sound_function(
            *codec_, [session](const std::vector<int64_t>& ids, std::vector<float>& logits, size_t& T, size_t& V) {
                session->run({{"letter_ids", TensorView{DType::i64, {1, int64_t(ids.size())}, ids.data()}}});
                TensorView out = session->output("logits");
                if (out.shape.size() != 3) throw bundle_error("letter-to-sound logits must be (1, T, V)");
                T = size_t(out.shape[1]);
                V = size_t(out.shape[2]);
                logits.assign(out.f32(), out.f32() + out.size());
            });
    }
    try {
        g2p_ = std::make_unique<text::EnglishG2P>(
            text::EnglishG2P::from_file(bundle.path_of(lexicon->second), std::move(letter_to_sound)));
    } catch (const text::LexiconError& e) {
        throw bundle_error(e.what());
    }
}

TextFrontEnd::~TextFrontEnd() = default;

int TextFrontEnd::count(const std::string& text) { return int(g2p_->count(text)); }

std::pair<std::vector<int64_t>, int> TextFrontEnd::encode_pair(const std::string& text, const std::string* prompt) {
    auto [ids, n] = prompt ? g2p_->encode_pair(text, std::string_view(*prompt)) : g2p_->encode_pair(text);
    return {std::move(ids), int(n)};
}

std::vector<int64_t> TextFrontEnd::encode(const std::string& text) { return g2p_->encode(text); }

std::string TextFrontEnd::phonemize(const std::string& text) { return g2p_->phonemize(text); }

}  // namespace voxlite::runtime
