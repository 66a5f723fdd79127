#include "voxcpm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "bundle.h"
#include "errors.h"
#include "kvcache.h"
#include "noise.h"
#include "solvers.h"
#include "text/sentences.h"
#include "text_frontend.h"
#include "text/unicode.h"

namespace voxlite::runtime {
namespace {

constexpr size_t MAX_TEXT_CHARS = 5000;      // as the Python pipeline: longer input is refused
constexpr double MAX_PROMPT_SECONDS = 30.0;
constexpr int MAX_CHUNK_TOKENS = 150;
constexpr int KV_START_PATCHES = 64;
constexpr int PROMPT_CONTEXT_PATCHES = 2;
constexpr int STREAM_CHUNK_FRAMES = 32;
constexpr int MAX_STEPS = 1000;
constexpr double MAX_CFG = 100.0, MAX_VOLUME = 4.0;

double number(const json::Value& hp, const char* key, double fallback) {
    const json::Value* v = hp.find(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_number()) throw bundle_error(std::string("hparams.") + key + " must be a number");
    return v->number();
}

int integer(const json::Value& hp, const char* key, int fallback, bool required = false) {
    const json::Value* v = hp.find(key);
    if (!v || v->is_null()) {
        if (required) throw bundle_error(std::string("hparams is missing '") + key + "'");
        return fallback;
    }
    try {
        int64_t x = v->integer();
        if (x < INT32_MIN || x > INT32_MAX) throw json::Error("out of range", 0);
        return int(x);
    } catch (const json::Error&) {
        throw bundle_error(std::string("hparams.") + key + " must be an integer");
    }
}

std::string string_of(const json::Value& hp, const char* key) {
    const json::Value* v = hp.find(key);
    return v && v->is_string() ? v->str() : std::string();
}

VoxCPMHParams parse_hparams(const json::Value& hp, const std::string& where) {
    VoxCPMHParams h;
    try {
        h.patch_size = integer(hp, "patch_size", 0, true);
        h.feat_dim = integer(hp, "feat_dim", 0, true);
        h.vocab_size = integer(hp, "vocab_size", 0, true);
        h.audio_start_token = integer(hp, "audio_start_token", 0, true);
        h.max_positions = integer(hp, "max_positions", 0, true);
        h.step_kv = string_of(hp, "step_kv");
        h.cfg = number(hp, "cfg", h.cfg);
        h.steps = integer(hp, "steps", h.steps);
        h.sway_coef = number(hp, "sway_coef", h.sway_coef);
        h.zero_init_ratio = number(hp, "zero_init_ratio", h.zero_init_ratio);
        h.min_len = integer(hp, "min_len", h.min_len);
        h.max_len_ratio = number(hp, "max_len_ratio", h.max_len_ratio);
        h.max_len_offset = integer(hp, "max_len_offset", h.max_len_offset);
        h.max_len_cap = integer(hp, "max_len_cap", h.max_len_cap);
        h.flow_start = number(hp, "flow_start", h.flow_start);
        h.stop_threshold = number(hp, "stop_threshold", h.stop_threshold);
        h.audio_position_rate = number(hp, "audio_position_rate", h.audio_position_rate);
        if (const json::Value* vp = hp.find("voice_prompt"); vp && vp->is_bool()) h.voice_prompt = vp->boolean();
        const json::Value* kv = hp.find("kv");
        if (!kv || !kv->is_object()) throw bundle_error("hparams.kv must be an object");
        for (const auto& [name, g] : kv->object()) {
            KVGroupSpec s{name, integer(g, "n_layers", 0, true), integer(g, "n_kv_heads", 0, true),
                          integer(g, "head_dim", 0, true)};
            std::string dtype = string_of(g, "dtype");
            if (!dtype.empty() && dtype != "float32") throw unsupported("KV cache dtype " + dtype);
            if (s.n_layers < 1 || s.n_kv_heads < 1 || s.head_dim < 1) throw bundle_error("kv." + name + ": bad sizes");
            h.kv.push_back(s);
        }
    } catch (const Error& e) {
        throw Error(e.status, where + ": " + e.what());
    }
    if (h.patch_size < 1 || h.feat_dim < 1 || h.vocab_size < 1 || h.max_positions < 1 || h.max_len_cap < 1 ||
        h.audio_start_token < 0 || h.audio_start_token >= h.vocab_size || !(h.stop_threshold > 0 && h.stop_threshold < 1) ||
        !(h.flow_start >= 0 && h.flow_start <= 1) || h.steps < 1 || h.min_len < 0 || h.cfg < 0)
        throw bundle_error(where + ": hyper-parameters out of range");
    return h;
}

TensorView f32_view(const float* data, std::vector<int64_t> shape) { return {DType::f32, std::move(shape), data}; }
TensorView i64_view(const int64_t* data, std::vector<int64_t> shape) { return {DType::i64, std::move(shape), data}; }

void apply_gain(std::vector<float>& x, double gain) {
    if (gain == 1.0) return;
    const float g = float(gain);
    for (float& v : x) v = std::min(1.0f, std::max(-1.0f, v * g));
}

// KV cache groups of the step graph (python: pipelines.generation.KVGroups): fixed-size buffers read in place,
// doubled (up to `limit`) when full.
class KVGroups {
public:
    KVGroups(const std::vector<KVGroupSpec>& specs, size_t capacity, size_t limit) : specs_(specs), limit_(limit) {
        for (const auto& s : specs) {
            caches_.push_back(std::make_unique<KVCache>(s.n_layers, 1, s.n_kv_heads, std::min(capacity, limit),
                                                         s.head_dim, KVDtype::float32));
            for (int l = 0; l < s.n_layers; ++l) {  // the graphs' tensor names, made once (not per step)
                const std::string layer = s.name + "." + std::to_string(l);
                inputs_.push_back("cache." + layer);
                keys_.push_back("present." + layer + ".key");
                values_.push_back("present." + layer + ".value");
            }
        }
    }
    size_t length() const { return caches_.front()->length(); }

    void append(Session& graph) {
        for (size_t g = 0, k = 0; g < specs_.size(); ++g) {
            std::vector<KVSource> ks, vs;
            for (int l = 0; l < specs_[g].n_layers; ++l, ++k) {
                ks.push_back(source(graph.output(keys_[k])));
                vs.push_back(source(graph.output(values_[k])));
            }
            caches_[g]->append(ks, vs);
        }
    }

    void make_room(size_t positions) {
        for (auto& c : caches_) {
            if (c->length() + positions <= c->capacity()) continue;
            size_t cap = std::min(limit_, std::max(2 * c->capacity(), c->length() + positions));
            auto grown = std::make_unique<KVCache>(c->n_layers(), 1, c->n_heads(), cap, c->head_dim(), KVDtype::float32);
            if (c->length()) {
                std::vector<KVSource> ks, vs;
                for (size_t l = 0; l < c->n_layers(); ++l) {
                    ks.push_back(prefix(*c, l, 0));
                    vs.push_back(prefix(*c, l, 1));
                }
                grown->append(ks, vs);
            }
            c = std::move(grown);
        }
    }

    void add_feeds(std::vector<std::pair<std::string, TensorView>>& feeds) {
        for (size_t g = 0, k = 0; g < specs_.size(); ++g) {
            KVCache& c = *caches_[g];
            for (size_t l = 0; l < c.n_layers(); ++l, ++k)
                feeds.emplace_back(inputs_[k], f32_view(reinterpret_cast<const float*>(c.layer_data(l)),
                                                        {2, 1, int64_t(c.n_heads()), int64_t(c.capacity()),
                                                         int64_t(c.head_dim())}));
        }
    }

private:
    static KVSource source(const TensorView& t) {
        if (t.shape.size() != 4) throw bundle_error("present K/V outputs must be (batch, heads, positions, head_dim)");
        KVSource s;
        s.data = t.f32();
        for (int i = 0; i < 4; ++i) s.shape[i] = size_t(t.shape[i]);
        s.strides[3] = 1;
        for (int i = 2; i >= 0; --i) s.strides[i] = s.strides[i + 1] * t.shape[i + 1];
        return s;
    }
    static KVSource prefix(KVCache& c, size_t layer, int which) {
        KVSource s;
        const size_t H = c.n_heads(), cap = c.capacity(), D = c.head_dim();
        s.data = reinterpret_cast<const float*>(c.layer_data(layer)) + size_t(which) * H * cap * D;
        s.shape[0] = 1; s.shape[1] = H; s.shape[2] = c.length(); s.shape[3] = D;
        s.strides[0] = int64_t(H * cap * D); s.strides[1] = int64_t(cap * D); s.strides[2] = int64_t(D); s.strides[3] = 1;
        return s;
    }
    std::vector<KVGroupSpec> specs_;
    std::vector<std::string> inputs_, keys_, values_;  // per layer, groups in order
    size_t limit_;
    std::vector<std::unique_ptr<KVCache>> caches_;
};

// Time-stretch of (T, D) frames by linear interpolation (python: voxlite.audio.FrameStretcher).
class FrameStretcher {
public:
    FrameStretcher(double speed, int dim) : speed_(speed), dim_(dim) {}
    std::vector<float> push(const float* frames, size_t n) {
        frames_.insert(frames_.end(), frames, frames + n * dim_);
        total_ += n;
        long upto = long(std::ceil((double(total_) - 0.5) / speed_ - 0.5));
        while (upto > next_ && (double(upto) - 0.5) * speed_ - 0.5 + 1 >= double(total_)) --upto;
        return emit(upto, false);
    }
    std::vector<float> flush() {
        if (!total_) return {};
        long n = std::max(1L, long(std::floor(double(total_) / speed_ + 0.5)));
        return emit(n, true);
    }

private:
    std::vector<float> emit(long upto, bool final) {
        std::vector<float> out;
        if (upto <= next_) return out;
        out.resize(size_t(upto - next_) * dim_);
        for (long j = next_; j < upto; ++j) {
            double pos = std::min(std::max((double(j) + 0.5) * speed_ - 0.5, 0.0), double(total_ - 1));
            long lo = long(std::floor(pos));
            long hi = std::min(lo + 1, long(total_) - 1);
            float w = float(pos - double(lo));
            const float* a = &frames_[size_t(lo - base_) * dim_];
            const float* b = &frames_[size_t(hi - base_) * dim_];
            float* o = &out[size_t(j - next_) * dim_];
            for (int d = 0; d < dim_; ++d) o[d] = a[d] * (1.0f - w) + b[d] * w;
        }
        next_ = upto;
        if (!final) {
            long keep_from = long(std::floor(std::max((double(upto) + 0.5) * speed_ - 0.5, 0.0)));
            if (keep_from > base_) {
                frames_.erase(frames_.begin(), frames_.begin() + size_t(keep_from - base_) * dim_);
                base_ = keep_from;
            }
        }
        return out;
    }
    double speed_;
    int dim_;
    std::vector<float> frames_;
    size_t total_ = 0;
    long next_ = 0, base_ = 0;
};

}  // namespace

// ------------------------------------------------------------------------------------------ one chunk's patches

// Python: VoxCPMModel.generate_patches, one patch per next().
class PatchGenerator {
public:
    PatchGenerator(VoxCPM& m, const std::vector<int64_t>& ids, const std::vector<float>& prompt, size_t n_prompt,
                   uint64_t seed, int steps, double cfg, double flow_start, int max_len)
        : m_(m), hp_(m.hp_), seed_(seed), cfg_(cfg), flow_start_(flow_start), n_prompt_(n_prompt),
          stop_logit_(std::log(hp_.stop_threshold / (1.0 - hp_.stop_threshold))) {  // P(stop) = threshold
        const int P = hp_.patch_size, D = hp_.feat_dim;
        for (int64_t id : ids)
            if (id < 0 || id >= hp_.vocab_size) throw invalid_input("text ids outside the vocabulary");
        const size_t n_text = ids.size() + 1, T = n_text + n_prompt;
        long positions = long(hp_.max_positions) - long(T) + 1;
        if (positions < 1)
            throw invalid_input("input is too long: " + std::to_string(T) + " positions (text + prompt patches); "
                                "this model holds " + std::to_string(hp_.max_positions));
        max_len_ = std::min<long>(max_len, positions);
        if (flow_start_ > 0) {
            ts_.resize(size_t(steps) + 1);
            fm_timesteps(steps, 1.0, 0.0, TimeSchedule::sway, hp_.sway_coef, ts_.data());
            for (double& t : ts_) t *= flow_start_;
            zero_init_ = flow_start_ >= 1 ? std::max(1, int(double(ts_.size()) * hp_.zero_init_ratio)) : 0;
        }
        std::vector<int64_t> tokens(T, 0);
        std::copy(ids.begin(), ids.end(), tokens.begin());
        tokens[ids.size()] = hp_.audio_start_token;
        std::vector<float> text_mask(T, 0.0f), audio_mask(T, 1.0f);
        for (size_t i = 0; i < n_text; ++i) text_mask[i] = 1.0f, audio_mask[i] = 0.0f;
        std::vector<float> feats(T * P * D, 0.0f);
        std::copy(prompt.begin(), prompt.end(), feats.begin() + n_text * P * D);
        const int64_t t = int64_t(T);
        Session& prefill = *m_.prefill_;
        prefill.run({{"text_tokens", i64_view(tokens.data(), {1, t})},
                     {"text_mask", f32_view(text_mask.data(), {1, t})},
                     {"audio_feats", f32_view(feats.data(), {1, t, P, D})},
                     {"audio_mask", f32_view(audio_mask.data(), {1, t})}});
        kv_ = std::make_unique<KVGroups>(hp_.kv, T + KV_START_PATCHES, T + size_t(max_len_));
        kv_->append(prefill);
        cond_.assign(feats.end() - P * D, feats.end());
        read_outputs(prefill);
    }

    // The next patch (P * D floats), or false after the last one.
    bool next(std::vector<float>& patch) {
        if (done_) return false;
        const int P = hp_.patch_size, D = hp_.feat_dim;
        const size_t n = size_t(P) * D;
        if (flow_start_ == 0) {
            patch = prior_;
        } else {
            std::vector<float> x(n);
            standard_normal(seed_, uint64_t(i_), x.data(), n);
            if (flow_start_ < 1) {  // solvers.shallow_start, in float32 as NumPy does it
                const float a = float(1.0 - flow_start_), b = float(flow_start_);
                for (size_t k = 0; k < n; ++k) x[k] = a * prior_[k] + b * x[k];
            }
            Session& locdit = m_.session(m_.locdit_, m_.lm_, "locdit");
            std::vector<float> v(n);
            for (size_t s = size_t(zero_init_); s + 1 < ts_.size(); ++s) {
                const double t = ts_[s], dt = ts_[s + 1] - t;
                const float tf = float(t);
                locdit.run({{"x", f32_view(x.data(), {1, P, D})}, {"t", f32_view(&tf, {1})},
                            {"mu", f32_view(mu_.data(), {1, int64_t(mu_.size())})},
                            {"cond", f32_view(cond_.data(), {1, P, D})}});
                TensorView out = locdit.output("velocity");
                if (out.size() != 2 * n) throw bundle_error("locdit velocity must be (2, P, D)");
                cfg_velocity(out.f32(), out.f32() + n, v.data(), 1, int64_t(n), cfg_, CfgMode::zero_star);
                euler_step(x.data(), v.data(), dt, x.data(), int64_t(n));
            }
            patch = std::move(x);
        }
        cond_ = patch;
        bool stop = i_ > hp_.min_len && double(stop_logits_[1] - stop_logits_[0]) > stop_logit_;
        if (stop || i_ + 1 == max_len_) {
            done_ = true;
            return true;
        }
        kv_->make_room(1);
        std::vector<std::pair<std::string, TensorView>> feeds;
        kv_->add_feeds(feeds);
        length_ = int64_t(kv_->length());
        feeds.emplace_back("patch", f32_view(patch.data(), {1, P, D}));
        feeds.emplace_back("length", i64_view(&length_, {1}));
        if (hp_.audio_position_rate > 0) {
            position_ = float((double(n_prompt_) + double(i_) + 0.5) * hp_.audio_position_rate);
            feeds.emplace_back("position", f32_view(&position_, {1}));
        }
        Session& step = *m_.step_;
        step.run(feeds);
        kv_->append(step);
        read_outputs(step);
        ++i_;
        return true;
    }

private:
    void read_outputs(Session& g) {
        TensorView mu = g.output("mu"), stop = g.output("stop_logits");
        mu_.assign(mu.f32(), mu.f32() + mu.size());
        if (stop.size() != 2) throw bundle_error("stop_logits must be (1, 2)");
        stop_logits_[0] = stop.f32()[0];
        stop_logits_[1] = stop.f32()[1];
        if (m_.has_prior_) {
            TensorView prior = g.output("prior");
            prior_.assign(prior.f32(), prior.f32() + prior.size());
        }
    }

    VoxCPM& m_;
    const VoxCPMHParams& hp_;
    uint64_t seed_;
    double cfg_, flow_start_;
    size_t n_prompt_;
    double stop_logit_;
    long max_len_ = 0, i_ = 0;
    int zero_init_ = 0;
    bool done_ = false;
    std::vector<double> ts_;
    std::unique_ptr<KVGroups> kv_;
    std::vector<float> mu_, prior_, cond_;
    float stop_logits_[2] = {0, 0};
    int64_t length_ = 0;
    float position_ = 0;
};

// ------------------------------------------------------------------------------------------ stream decoders

namespace {

class StreamDecoder {
public:
    virtual ~StreamDecoder() = default;
    virtual void push(const float* frames, size_t n, std::deque<std::vector<float>>& out) = 0;  // (n, D) frames
    virtual void flush(std::deque<std::vector<float>>& out) = 0;
};

// python: pipelines.streaming.WindowedStreamDecoder
class WindowedDecoder final : public StreamDecoder {
public:
    WindowedDecoder(std::function<std::vector<float>(const std::vector<float>&, size_t)> decode, int dim, int hop,
                    int left, int right, int max_chunk)
        : decode_(std::move(decode)), dim_(dim), hop_(hop), left_(left), right_(right), max_chunk_(max_chunk) {}

    void push(const float* frames, size_t n, std::deque<std::vector<float>>& out) override {
        frames_.insert(frames_.end(), frames, frames + n * dim_);
        total_ += long(n);
        long ready = total_ - right_;
        if (ready - emitted_ < wanted_) return;
        std::vector<float> audio = span(ready, false);
        wanted_ = std::min<long>(2 * (ready - emitted_), max_chunk_);
        emitted_ = ready;
        if (!audio.empty()) out.push_back(std::move(audio));
    }
    void flush(std::deque<std::vector<float>>& out) override {
        if (total_ <= emitted_) return;
        std::vector<float> audio = span(total_, true);
        emitted_ = total_;
        if (!audio.empty()) out.push_back(std::move(audio));
    }

private:
    std::vector<float> span(long end, bool final) {
        long lo = std::max(0L, long(samples_ / hop_) - left_);
        long hi = std::min(total_, end + right_);
        std::vector<float> window(frames_.begin() + size_t(lo) * dim_, frames_.begin() + size_t(hi) * dim_);
        std::vector<float> audio = decode_(window, size_t(hi - lo));
        long a = long(samples_) - lo * hop_;
        long b = final ? long(audio.size()) : std::min<long>((end - lo) * hop_, long(audio.size()));
        if (b <= a) return {};
        samples_ = size_t(lo * hop_ + b);
        return std::vector<float>(audio.begin() + a, audio.begin() + b);
    }
    std::function<std::vector<float>(const std::vector<float>&, size_t)> decode_;
    int dim_, hop_, left_, right_, max_chunk_;
    std::vector<float> frames_;
    long total_ = 0, emitted_ = 0, wanted_ = 1;
    size_t samples_ = 0;
};

// python: pipelines.streaming.StatefulStreamDecoder (causal codecs: the decoder_stream graph carries its states)
class StatefulDecoder final : public StreamDecoder {
public:
    StatefulDecoder(Session& graph, const std::vector<std::pair<std::string, std::vector<int64_t>>>& states, int dim)
        : graph_(graph), dim_(dim) {
        for (const auto& [name, shape] : states) {
            size_t n = 1;
            for (int64_t d : shape) n *= size_t(d);
            states_.push_back({name, shape, std::vector<float>(n, 0.0f)});
        }
    }

    void push(const float* frames, size_t n, std::deque<std::vector<float>>& out) override {
        std::vector<float> latents(n * dim_);  // (n, D) -> (1, D, n)
        for (size_t t = 0; t < n; ++t)
            for (int d = 0; d < dim_; ++d) latents[size_t(d) * n + t] = frames[t * dim_ + d];
        std::vector<std::pair<std::string, TensorView>> feeds{{"latents", f32_view(latents.data(), {1, dim_, int64_t(n)})}};
        for (const auto& s : states_) feeds.emplace_back(s.name, f32_view(s.value.data(), s.shape));
        graph_.run(feeds);
        for (auto& s : states_) {
            TensorView next = graph_.output("new_" + s.name);
            if (next.size() != s.value.size()) throw bundle_error("decoder_stream state '" + s.name + "' changed size");
            std::copy(next.f32(), next.f32() + next.size(), s.value.begin());
        }
        TensorView audio = graph_.output("audio");  // (1, C, S)
        if (audio.shape.size() != 3) throw bundle_error("codec decoder_stream audio must be (1, channels, samples)");
        const size_t C = size_t(audio.shape[1]), S = size_t(audio.shape[2]);
        std::vector<float> mono(audio.f32(), audio.f32() + S);
        for (size_t c = 1; c < C; ++c)
            for (size_t k = 0; k < S; ++k) mono[k] += audio.f32()[c * S + k];
        if (C > 1)
            for (float& v : mono) v /= float(C);
        out.push_back(std::move(mono));
    }
    void flush(std::deque<std::vector<float>>&) override {}

private:
    struct State {
        std::string name;
        std::vector<int64_t> shape;
        std::vector<float> value;
    };
    Session& graph_;
    int dim_;
    std::vector<State> states_;
};

}  // namespace

// ------------------------------------------------------------------------------------------ the model

VoxCPM::VoxCPM(std::shared_ptr<const Bundle> bundle, const EngineOptions& engine, const std::string& precision)
    : bundle_(std::move(bundle)), engine_(engine), precision_(precision) {
    const Bundle& b = *bundle_;
    const Component& lm = *b.component_of_kind("voxcpm-lm");
    const Component& codec = *b.component_of_kind("codec");
    lm_ = lm.name;
    codec_ = codec.name;
    hp_ = parse_hparams(*lm.hparams, "bundle '" + b.name() + "': components." + lm_ + ".hparams");
    if (hp_.step_kv != "buffer")
        throw bundle_error("voxcpm bundle '" + b.name() + "' has a step graph with another cache contract than "
                           "'buffer': re-export it (python -m export voxcpm)");
    const json::Value& chp = *codec.hparams;
    codec_kind_ = string_of(chp, "kind");
    hop_length_ = integer(chp, "hop_length", 0, true);
    latent_dim_ = integer(chp, "latent_dim", 0, true);
    channels_ = integer(chp, "channels", 1);
    if (const json::Value* w = chp.find("window"); w && w->is_object()) {
        window_left_ = integer(*w, "left", 0, true);
        window_right_ = integer(*w, "right", 0, true);
    }
    if (latent_dim_ != hp_.feat_dim)
        throw bundle_error("codec latent_dim " + std::to_string(latent_dim_) + " != lm feat_dim " +
                           std::to_string(hp_.feat_dim));
    sample_rate_ = b.sample_rate();
    if (sample_rate_ <= 0) throw bundle_error("bundle '" + b.name() + "' has a codec but no sample_rate");
    voice_cloning_ = b.has_capability("voice-cloning");
    if (voice_cloning_ && !hp_.voice_prompt)
        throw bundle_error("bundle '" + b.name() + "' declares voice-cloning but its lm takes no voice prompt");
    for (const char* g : {"prefill", "step", "locdit"})
        if (!lm.graphs.count(g)) throw bundle_error("voxcpm bundle '" + b.name() + "' has no lm graph '" + g + "'");
    const GraphSpec& step = lm.graphs.at("step");
    has_prior_ = lm.graphs.at("prefill").has_output("prior") && step.has_output("prior");
    if (hp_.flow_start < 1.0 && !has_prior_)
        throw bundle_error("the bundle's default flow_start < 1 needs a prior head, which this bundle lacks");
    std::set<std::string> expected{"patch", "length"}, actual;
    for (const auto& g : hp_.kv)
        for (int l = 0; l < g.n_layers; ++l) expected.insert("cache." + g.name + "." + std::to_string(l));
    if (hp_.audio_position_rate > 0) expected.insert("position");
    for (const auto& t : step.inputs) actual.insert(t.name);
    if (expected != actual) throw bundle_error("voxcpm step graph inputs do not match hparams");
    if (!codec.graphs.count("decoder")) throw bundle_error("codec has no decoder graph");
    // open what every synthesis uses now, so the first call pays no compile time
    session(prefill_, lm_, "prefill");
    session(step_, lm_, "step");
    session(decoder_, codec_, "decoder");
    if (const Component* text = b.component_of_kind("text", false))
        text_ = std::make_unique<TextFrontEnd>(b, *text, engine_, precision_);
}

VoxCPM::~VoxCPM() = default;

Session& VoxCPM::session(std::unique_ptr<Session>& slot, const std::string& component, const std::string& graph) {
    if (!slot) slot = open_session(*bundle_, bundle_->graph(component + "/" + graph), precision_, engine_);
    return *slot;
}

TextFrontEnd& VoxCPM::text() {
    if (!text_)
        throw bundle_error("bundle '" + bundle_->name() + "' has no text front end: text input needs one");
    return *text_;
}

VoxCPM::Resolved VoxCPM::resolve(const SynthesisOptions& o) const {
    Resolved r{o.seed, o.steps ? o.steps : hp_.steps, o.cfg < 0 ? hp_.cfg : o.cfg,
               o.flow_start < 0 ? hp_.flow_start : o.flow_start, o.speed, o.volume};
    if (o.steps < 0 || r.steps < 1 || r.steps > MAX_STEPS)
        throw invalid_input("steps must be an integer in 1.." + std::to_string(MAX_STEPS) + " (0: the default)");
    if (!std::isfinite(r.cfg) || r.cfg > MAX_CFG)
        throw invalid_input("cfg must be a finite number in [0, 100] (negative: the default)");
    if (!std::isfinite(r.flow_start) || r.flow_start > 1)
        throw invalid_input("flow_start must be in [0, 1] (1: the solve starts from noise; 0: the prior's estimate, "
                            "no solve; negative: the default)");
    if (r.flow_start < 1 && !has_prior_)
        throw invalid_input("flow_start < 1 starts the solve from the prior head's patch; this bundle has none");
    if (!(r.speed >= 0.5 && r.speed <= 2.0)) throw invalid_input("speed must be from 0.5 to 2 (1: normal)");
    if (r.speed != 1.0 && codec_kind_ != "mel")
        throw invalid_input("speed: this bundle decodes '" + codec_kind_ + "' codec latents, which cannot be "
                            "time-stretched without changing the voice (speed works with mel-vocoder voices)");
    if (!(r.gain >= 0 && r.gain <= MAX_VOLUME)) throw invalid_input("volume must be a linear gain from 0 to 4");
    return r;
}

std::vector<float> VoxCPM::decode(const std::vector<float>& frames, size_t n_frames) {
    const int D = latent_dim_;
    std::vector<float> latents(frames.size());  // (T, D) -> (1, D, T)
    for (size_t t = 0; t < n_frames; ++t)
        for (int d = 0; d < D; ++d) latents[size_t(d) * n_frames + t] = frames[t * D + d];
    decoder_->run({{"latents", f32_view(latents.data(), {1, D, int64_t(n_frames)})}});
    TensorView audio = decoder_->output("audio");  // (1, C, S)
    if (audio.shape.size() != 3) throw bundle_error("codec decoder audio must be (1, channels, samples)");
    const size_t C = size_t(audio.shape[1]), S = size_t(audio.shape[2]);
    const float* a = audio.f32();
    if (C == 1) return std::vector<float>(a, a + S);
    std::vector<float> mono(S);
    for (size_t s = 0; s < S; ++s) {
        float sum = 0;
        for (size_t c = 0; c < C; ++c) sum += a[c * S + s];
        mono[s] = sum / float(C);
    }
    return mono;
}

std::vector<float> VoxCPM::encode_prompt(const float* samples, size_t n, int rate, int max_patches) {
    if (rate != sample_rate_)
        throw invalid_input("prompt audio is at " + std::to_string(rate) + " Hz; the C API takes it at the bundle's " +
                            std::to_string(sample_rate_) + " Hz (resample it first)");
    const size_t patch_len = size_t(hp_.patch_size) * hop_length_;
    if (n > size_t(max_patches + 1) * patch_len)
        throw invalid_input("input is too long: the prompt audio alone is longer than this model's " +
                            std::to_string(hp_.max_positions) + " positions");
    const size_t pad = (patch_len - n % patch_len) % patch_len;
    std::vector<float> x(size_t(channels_) * (n + pad), 0.0f);
    for (int c = 0; c < channels_; ++c) std::copy(samples, samples + n, x.begin() + c * (n + pad) + pad);
    Session& enc = session(encoder_, codec_, "encoder");
    enc.run({{"audio", f32_view(x.data(), {1, channels_, int64_t(n + pad)})}});
    TensorView lat = enc.output("latents");  // (1, D, T)
    const size_t D = size_t(hp_.feat_dim), T = size_t(lat.shape.at(2)), N = T / size_t(hp_.patch_size);
    std::vector<float> patches(N * hp_.patch_size * D);  // (N, P, D)
    for (size_t k = 0; k < N * hp_.patch_size; ++k)
        for (size_t d = 0; d < D; ++d) patches[k * D + d] = lat.f32()[d * T + k];
    return patches;
}

// ------------------------------------------------------------------------------------------ text -> audio

namespace {

class VoxCPMSource final : public AudioSource {
public:
    VoxCPMSource(std::vector<std::string> chunks, std::vector<float> prompt, size_t n_prompt,
                 std::function<std::unique_ptr<PatchGenerator>(size_t)> make,
                 std::function<std::unique_ptr<StreamDecoder>()> make_decoder,
                 std::function<std::vector<float>(const std::vector<float>&, size_t)> decode_offline, int P, int D,
                 int hop, double speed, double gain, bool streaming)
        : chunks_(std::move(chunks)), prompt_(std::move(prompt)), n_prompt_(n_prompt), make_(std::move(make)),
          make_decoder_(std::move(make_decoder)), decode_(std::move(decode_offline)), P_(P), D_(D), hop_(hop),
          speed_(speed), gain_(gain), streaming_(streaming) {}

    bool next(std::vector<float>& out) override {
        while (queue_.empty()) {
            if (chunk_ >= chunks_.size()) return false;
            if (streaming_) stream_step(); else offline_chunk();
        }
        out = std::move(queue_.front());
        queue_.pop_front();
        apply_gain(out, gain_);
        return true;
    }

private:
    std::vector<float> context() const {  // the prompt's last patches (python: VoxCPMModel._context)
        size_t keep = std::min<size_t>(PROMPT_CONTEXT_PATCHES, n_prompt_);
        return std::vector<float>(prompt_.end() - keep * P_ * D_, prompt_.end());
    }

    void offline_chunk() {
        auto gen = make_(chunk_);
        std::vector<float> frames, patch;
        while (gen->next(patch)) frames.insert(frames.end(), patch.begin(), patch.end());
        if (speed_ != 1.0) {
            FrameStretcher s(speed_, D_);
            std::vector<float> a = s.push(frames.data(), frames.size() / D_), b = s.flush();
            a.insert(a.end(), b.begin(), b.end());
            frames = std::move(a);
        }
        std::vector<float> ctx = context();
        size_t n_ctx = ctx.size() / (size_t(P_) * D_);
        ctx.insert(ctx.end(), frames.begin(), frames.end());
        std::vector<float> audio = decode_(ctx, ctx.size() / D_);
        size_t skip = std::min(audio.size(), n_ctx * P_ * hop_);
        queue_.emplace_back(audio.begin() + skip, audio.end());
        if (queue_.back().empty()) queue_.pop_back();
        ++chunk_;
    }

    void stream_step() {
        if (!gen_) {
            gen_ = make_(chunk_);
            decoder_ = make_decoder_();
            stretcher_ = speed_ != 1.0 ? std::make_unique<FrameStretcher>(speed_, D_) : nullptr;
            // a causal decoder starts from the prompt's last patches, their audio dropped; a windowed one takes no
            // context (python: VoxCPMModel._decode_stream)
            std::vector<float> ctx = context();
            if (warm_with_context_ && !ctx.empty()) {
                std::deque<std::vector<float>> dropped;
                for (size_t k = 0; k < ctx.size(); k += size_t(P_) * D_) decoder_->push(&ctx[k], size_t(P_), dropped);
            }
        }
        std::vector<float> patch;
        if (gen_->next(patch)) {
            push_frames(patch);
            return;
        }
        if (stretcher_) {
            std::vector<float> rest = stretcher_->flush();
            if (!rest.empty()) decoder_->push(rest.data(), rest.size() / D_, queue_);
        }
        decoder_->flush(queue_);
        gen_.reset();
        decoder_.reset();
        ++chunk_;
    }

    void push_frames(const std::vector<float>& patch) {
        if (!stretcher_) {
            decoder_->push(patch.data(), patch.size() / D_, queue_);
            return;
        }
        std::vector<float> f = stretcher_->push(patch.data(), patch.size() / D_);
        if (!f.empty()) decoder_->push(f.data(), f.size() / D_, queue_);
    }

public:
    bool warm_with_context_ = false;  // a causal stream decoder

private:
    std::vector<std::string> chunks_;
    std::vector<float> prompt_;
    size_t n_prompt_;
    std::function<std::unique_ptr<PatchGenerator>(size_t)> make_;
    std::function<std::unique_ptr<StreamDecoder>()> make_decoder_;
    std::function<std::vector<float>(const std::vector<float>&, size_t)> decode_;
    int P_, D_, hop_;
    double speed_, gain_;
    bool streaming_;
    size_t chunk_ = 0;
    std::unique_ptr<PatchGenerator> gen_;
    std::unique_ptr<StreamDecoder> decoder_;
    std::unique_ptr<FrameStretcher> stretcher_;
    std::deque<std::vector<float>> queue_;
};

}  // namespace

std::unique_ptr<AudioSource> VoxCPM::start(const std::string& text, const SynthesisOptions& options, bool streaming) {
    Resolved r = resolve(options);
    size_t chars = voxlite::text::utf8_to_u32(text).size();  // code points, as Python counts; bad UTF-8 throws
    if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) throw invalid_input("text is empty");
    if (chars > MAX_TEXT_CHARS)
        throw invalid_input("text is too long: " + std::to_string(chars) + " characters; the limit is " +
                            std::to_string(MAX_TEXT_CHARS));
    size_t first = text.find_first_not_of(" \t\r\n\f\v");
    if (text.compare(first, 6, "<speak") == 0)
        throw unsupported("SSML input: the C API reads plain text (SSML is supported by the Python package)");
    TextFrontEnd& tf = this->text();
    const bool has_prompt = options.prompt_samples != nullptr || options.prompt_length > 0;
    if (!voice_cloning_ && (has_prompt || options.prompt_text))
        throw invalid_input("bundle '" + bundle_->name() + "' is a single voice and takes no voice prompt");
    if (has_prompt != bool(options.prompt_text))
        throw invalid_input("a voice prompt needs both prompt audio (the recording) and prompt_text (its transcript)");
    std::vector<float> prompt;
    size_t n_prompt = 0, n_prompt_patches = 0;
    if (has_prompt) {
        const std::string& pt = *options.prompt_text;
        if (pt.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
            throw invalid_input("prompt_text (the transcript of the prompt audio) is empty");
        if (voxlite::text::utf8_to_u32(pt).size() > MAX_TEXT_CHARS) throw invalid_input("prompt_text is too long");
        if (!options.prompt_samples || options.prompt_length == 0) throw invalid_input("prompt audio is empty");
        if (double(options.prompt_length) > MAX_PROMPT_SECONDS * std::max(1, options.prompt_sample_rate))
            throw invalid_input("prompt audio is too long: the limit is 30 s");
        for (size_t k = 0; k < options.prompt_length; ++k)
            if (!std::isfinite(options.prompt_samples[k])) throw invalid_input("prompt audio holds NaN or infinity");
        n_prompt = size_t(tf.count(pt));
        long room = long(hp_.max_positions) - long(n_prompt) - 1;
        prompt = encode_prompt(options.prompt_samples, options.prompt_length, options.prompt_sample_rate,
                               int(std::max(room, 0L)));
        n_prompt_patches = prompt.size() / (size_t(hp_.patch_size) * hp_.feat_dim);
        n_prompt += n_prompt_patches;
    }
    long available = long(hp_.max_positions) - long(n_prompt) - 1;
    int limit = int(std::min<long>(MAX_CHUNK_TOKENS, available / 3));
    if (limit < 1) throw invalid_input("the voice prompt fills this model's positions; use a shorter one");
    std::vector<std::string> chunks =
        voxlite::text::chunk_text(text, limit, [&](const std::string& s) { return tf.count(s); });
    if (chunks.empty()) throw invalid_input("text is empty");
    std::optional<std::string> prompt_text = options.prompt_text;
    auto make = [this, chunks, prompt_text, prompt, n_prompt_patches, r](size_t i) {
        auto [ids, n_target] = this->text().encode_pair(chunks[i], prompt_text ? &*prompt_text : nullptr);
        if (n_target == 0) throw invalid_input("text '" + chunks[i] + "' has no tokens");
        int max_len = std::min(int(n_target * hp_.max_len_ratio + hp_.max_len_offset), hp_.max_len_cap);
        return std::make_unique<PatchGenerator>(*this, ids, prompt, n_prompt_patches, r.seed + i, r.steps, r.cfg,
                                                r.flow_start, max_len);
    };
    auto decode_offline = [this](const std::vector<float>& frames, size_t n) { return decode(frames, n); };
    std::function<std::unique_ptr<StreamDecoder>()> make_decoder;
    if (streaming) {
        if (window_left_ >= 0) {
            make_decoder = [this, decode_offline]() -> std::unique_ptr<StreamDecoder> {
                return std::make_unique<WindowedDecoder>(decode_offline, latent_dim_, hop_length_, window_left_,
                                                         window_right_, STREAM_CHUNK_FRAMES);
            };
        } else {
            const Component& codec = bundle_->component(codec_);
            if (!codec.graphs.count("decoder_stream"))
                throw invalid_input("codec '" + codec_ + "' of bundle '" + bundle_->name() + "' has no streaming "
                                    "decoder (a non-causal codec exported without a window)");
            if (string_of(*codec.hparams, "stream_init") == "graph")
                throw unsupported("this codec's streaming decoder starts from a graph-made state; the C API streams "
                                  "decoders whose states start at zero (use voxlite_synthesize)");
            std::vector<std::pair<std::string, std::vector<int64_t>>> states;
            if (const json::Value* ss = codec.hparams->find("stream_states"); ss && ss->is_array()) {
                for (const json::Value& st : ss->array()) {
                    std::vector<int64_t> shape;
                    for (const json::Value& d : st.find("shape") ? st.find("shape")->array() : json::Value::ArrayT{})
                        shape.push_back(d.is_string() ? 1 : d.integer());  // "batch" -> 1
                    states.emplace_back(st.find("name") ? st.find("name")->str() : "", shape);
                }
            }
            Session& graph = session(decoder_stream_, codec_, "decoder_stream");
            make_decoder = [&graph, states, this]() -> std::unique_ptr<StreamDecoder> {
                return std::make_unique<StatefulDecoder>(graph, states, latent_dim_);
            };
        }
    }
    auto source = std::make_unique<VoxCPMSource>(std::move(chunks), std::move(prompt), n_prompt_patches,
                                          make, make_decoder, decode_offline, hp_.patch_size, hp_.feat_dim,
                                          hop_length_, r.speed, r.gain, streaming);
    source->warm_with_context_ = streaming && window_left_ < 0;
    return source;
}

}  // namespace voxlite::runtime
