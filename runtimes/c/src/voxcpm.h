// The voxcpm family in C++: the same loop, options, chunking and decoding as python/voxlite/pipelines/voxcpm.py
// (read its docstring for the model), on the engine of engine.h and csrc's kernels (KV cache, flow solver,
// noise). Supported here: text-to-speech (the default voice, converted VoxCPM checkpoints) with an optional voice
// prompt at the bundle's rate; codecs decoded offline by their `decoder` graph, and streamed in windows (mel
// vocoders such as the default voice's) or by their `decoder_stream` graph's states (causal codecs such as VoxCPM's
// AudioVAE). Python-only for now: SSML, pauses.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine.h"

namespace voxlite {
class KVCache;
}

namespace voxlite::runtime {

class Bundle;
struct Component;
class TextFrontEnd;

struct SynthesisOptions {
    uint64_t seed = 0;
    int steps = 0;              // 0: default
    double cfg = -1;            // < 0: default
    double flow_start = -1;     // < 0: default
    double speed = 1.0;
    double volume = 1.0;
    const float* prompt_samples = nullptr;
    size_t prompt_length = 0;
    int prompt_sample_rate = 0;
    std::optional<std::string> prompt_text;
};

struct KVGroupSpec {
    std::string name;
    int n_layers = 0, n_kv_heads = 0, head_dim = 0;
};

struct VoxCPMHParams {
    int patch_size = 0, feat_dim = 0, vocab_size = 0, audio_start_token = 0, max_positions = 0;
    std::vector<KVGroupSpec> kv;
    std::string step_kv;
    double cfg = 2.0;
    int steps = 10;
    double sway_coef = 1.0, zero_init_ratio = 0.04;
    int min_len = 2;
    double max_len_ratio = 6.0;
    int max_len_offset = 10, max_len_cap = 2000;
    double flow_start = 1.0, stop_threshold = 0.5, audio_position_rate = 0.0;
    bool voice_prompt = true;
};

class AudioSource;

class VoxCPM {
public:
    VoxCPM(std::shared_ptr<const Bundle> bundle, const EngineOptions& engine, const std::string& precision);
    ~VoxCPM();
    int sample_rate() const { return sample_rate_; }
    bool voice_cloning() const { return voice_cloning_; }
    TextFrontEnd& text();

    // The audio of `text`, pulled chunk by chunk. streaming: chunks as the stream decoder gives them (Python's
    // stream()); else one piece per sentence chunk, decoded whole (Python's synthesize()). The source borrows this
    // model until it is destroyed.
    std::unique_ptr<AudioSource> start(const std::string& text, const SynthesisOptions& options, bool streaming);

private:
    friend class PatchGenerator;
    struct Resolved {
        uint64_t seed;
        int steps;
        double cfg, flow_start, speed, gain;
    };
    Resolved resolve(const SynthesisOptions& options) const;
    std::vector<float> encode_prompt(const float* samples, size_t n, int rate, int max_patches);
    std::vector<float> decode(const std::vector<float>& frames, size_t n_frames);  // (T, D) -> samples

    std::shared_ptr<const Bundle> bundle_;
    EngineOptions engine_;
    std::string precision_, lm_, codec_;
    VoxCPMHParams hp_;
    int sample_rate_ = 0, hop_length_ = 0, latent_dim_ = 0, window_left_ = -1, window_right_ = -1, channels_ = 1;
    std::string codec_kind_;
    bool voice_cloning_ = false, has_prior_ = false;
    std::unique_ptr<Session> prefill_, step_, locdit_, decoder_, encoder_, decoder_stream_;
    std::unique_ptr<TextFrontEnd> text_;
    Session& session(std::unique_ptr<Session>& slot, const std::string& component, const std::string& graph);
};

// Pulls audio: next() fills `out` with the next piece (non-empty) and returns true, or returns false at the end.
class AudioSource {
public:
    virtual ~AudioSource() = default;
    virtual bool next(std::vector<float>& out) = 0;
};

}  // namespace voxlite::runtime
