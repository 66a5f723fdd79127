// The C ABI (include/voxlite.h) over the C++ runtime: argument checks, error codes, the thread-local message.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <unistd.h>

#include "bundle.h"
#include "errors.h"
#include "json.h"
#include "text_frontend.h"
#include "voxcpm.h"
#include "voxlite.h"

#ifndef VOXLITE_VERSION_STRING
#define VOXLITE_VERSION_STRING "0.0.0"
#endif
#ifndef VOXLITE_DEFAULT_BUNDLE_DIR
#define VOXLITE_DEFAULT_BUNDLE_DIR ""
#endif

using namespace voxlite::runtime;

struct voxlite_model {
    std::shared_ptr<const Bundle> bundle;
    std::unique_ptr<VoxCPM> voxcpm;
    std::atomic<bool> busy{false};
};

struct voxlite_stream {
    voxlite_model* model = nullptr;
    std::unique_ptr<AudioSource> source;
    std::vector<float> chunk;
    bool over = false;
};

namespace {

thread_local std::string last_error;

int fail(int status, const std::string& message) {
    last_error = message;
    return status;
}

template <class F>
int guarded(F&& f) {
    try {
        last_error.clear();
        return f();
    } catch (const Error& e) {
        return fail(e.status, e.what());
    } catch (const voxlite::json::Error& e) {
        return fail(VOXLITE_BUNDLE_ERROR, e.what());
    } catch (const std::bad_alloc&) {
        return fail(VOXLITE_OUT_OF_MEMORY, "out of memory");
    } catch (const std::invalid_argument& e) {  // the kernels' and the text front end's input errors
        return fail(VOXLITE_INVALID_ARGUMENT, e.what());
    } catch (const std::domain_error& e) {
        return fail(VOXLITE_INVALID_ARGUMENT, e.what());
    } catch (const std::exception& e) {
        return fail(VOXLITE_INTERNAL_ERROR, e.what());
    } catch (...) {
        return fail(VOXLITE_INTERNAL_ERROR, "unknown error");
    }
}

// Holds a model for one call (or a stream's life): VOXLITE_BUSY if another one has it.
struct Claim {
    voxlite_model* model;
    bool owned = false;
    explicit Claim(voxlite_model* m) : model(m) {
        bool expected = false;
        if (!model->busy.compare_exchange_strong(expected, true))
            throw Error(VOXLITE_BUSY, "the model is busy (another synthesis or an open stream is using it); use one "
                                      "model per thread");
        owned = true;
    }
    ~Claim() {
        if (owned) model->busy.store(false);
    }
    void release_to_stream() { owned = false; }
};

SynthesisOptions to_options(const voxlite_options* o) {
    SynthesisOptions s;
    if (!o) return s;
    if (o->struct_size < offsetof(voxlite_options, prompt_text) + sizeof(const char*) || o->struct_size > (1 << 16))
        throw invalid_input("options.struct_size is wrong: initialise options with voxlite_options_default()");
    s.seed = o->seed;
    s.steps = o->steps;
    s.cfg = o->cfg;
    s.flow_start = o->flow_start;
    s.speed = o->speed;
    s.volume = o->volume;
    if (std::isnan(o->cfg) || std::isnan(o->flow_start)) throw invalid_input("cfg / flow_start is NaN");
    s.prompt_samples = o->prompt_samples;
    s.prompt_length = o->prompt_length;
    s.prompt_sample_rate = o->prompt_sample_rate;
    if (o->prompt_text) s.prompt_text = std::string(o->prompt_text);
    return s;
}

void check_model(voxlite_model* model) {
    if (!model) throw invalid_input("model is NULL");
}

void check_text(const char* text) {
    if (!text) throw invalid_input("text is NULL");
}

}  // namespace

extern "C" {

const char* voxlite_version(void) { return VOXLITE_VERSION_STRING; }
int voxlite_api_version(void) { return VOXLITE_API_VERSION; }
const char* voxlite_last_error(void) { return last_error.c_str(); }
void voxlite_free(void* p) { std::free(p); }

const char* voxlite_status_string(int status) {
    switch (status) {
        case VOXLITE_OK: return "ok";
        case VOXLITE_DONE: return "done";
        case VOXLITE_INVALID_ARGUMENT: return "invalid argument";
        case VOXLITE_BUNDLE_ERROR: return "bundle error";
        case VOXLITE_UNSUPPORTED: return "unsupported";
        case VOXLITE_BACKEND_ERROR: return "backend error";
        case VOXLITE_CANCELLED: return "cancelled";
        case VOXLITE_BUSY: return "busy";
        case VOXLITE_IO_ERROR: return "i/o error";
        case VOXLITE_OUT_OF_MEMORY: return "out of memory";
        case VOXLITE_INTERNAL_ERROR: return "internal error";
        default: return "unknown status";
    }
}

void voxlite_config_default(voxlite_config* c) {
    if (!c) return;
    std::memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->backend = "cpu";
    c->verify = 1;
}

void voxlite_options_default(voxlite_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->cfg = -1.0f;
    o->flow_start = -1.0f;
    o->speed = 1.0f;
    o->volume = 1.0f;
}

int voxlite_open(const voxlite_config* config, voxlite_model** out) {
    return guarded([&] {
        if (!out) throw invalid_input("model output pointer is NULL");
        *out = nullptr;
        voxlite_config defaults;
        voxlite_config_default(&defaults);
        const voxlite_config& c = config ? *config : defaults;
        if (c.struct_size != sizeof(voxlite_config))
            throw invalid_input("config.struct_size is wrong: initialise config with voxlite_config_default()");
        if (c.threads < 0 || c.threads > 1024) throw invalid_input("threads must be 0 (automatic) to 1024");
        std::string path = c.bundle_path ? c.bundle_path : "";
        if (path.empty()) {
            const char* env = std::getenv("VOXLITE_DEFAULT_BUNDLE");
            path = env && *env ? env : VOXLITE_DEFAULT_BUNDLE_DIR;
        }
        if (path.empty())
            throw invalid_input("no bundle: set config.bundle_path or the VOXLITE_DEFAULT_BUNDLE environment variable");
        EngineOptions engine;
        engine.device = engine_device(c.backend ? c.backend : "cpu");
        engine.threads = c.threads;
        engine.cache_dir = c.cache_dir ? c.cache_dir : "";
        auto model = std::make_unique<voxlite_model>();
        model->bundle = Bundle::open(path, c.verify != 0);
        if (model->bundle->model_type() != "voxcpm")
            throw unsupported("bundle '" + model->bundle->name() + "' is a '" + model->bundle->model_type() +
                              "' model; the C API runs voxcpm bundles (the default voice, VoxCPM) for now");
        std::string precision = c.precision ? c.precision : "";
        if (!precision.empty()) {
            bool any = false;
            for (const char* comp : {"voxcpm-lm", "codec"})
                if (const Component* k = model->bundle->component_of_kind(comp, false))
                    for (const auto& [n, g] : k->graphs) any = any || g.file(precision);
            if (!any) throw invalid_input("precision '" + precision + "': no graph of the bundle has that variant");
        }
        model->voxcpm = std::make_unique<VoxCPM>(model->bundle, engine, precision);
        *out = model.release();
        return VOXLITE_OK;
    });
}

void voxlite_close(voxlite_model* model) { delete model; }

int voxlite_sample_rate(const voxlite_model* model) { return model ? model->bundle->sample_rate() : 0; }
const char* voxlite_model_name(const voxlite_model* model) { return model ? model->bundle->name().c_str() : ""; }
int voxlite_supports_voice_cloning(const voxlite_model* model) {
    return model && model->voxcpm->voice_cloning() ? 1 : 0;
}

int voxlite_synthesize(voxlite_model* model, const char* text, const voxlite_options* options, voxlite_audio* audio) {
    return guarded([&] {
        if (!audio) throw invalid_input("audio output pointer is NULL");
        *audio = voxlite_audio{nullptr, 0, 0};
        check_model(model);
        check_text(text);
        Claim claim(model);
        auto source = model->voxcpm->start(text, to_options(options), false);
        std::vector<float> all, piece;
        while (source->next(piece)) all.insert(all.end(), piece.begin(), piece.end());
        float* samples = static_cast<float*>(std::malloc(std::max<size_t>(1, all.size()) * sizeof(float)));
        if (!samples) throw std::bad_alloc();
        std::memcpy(samples, all.data(), all.size() * sizeof(float));
        *audio = voxlite_audio{samples, all.size(), model->voxcpm->sample_rate()};
        return VOXLITE_OK;
    });
}

void voxlite_audio_free(voxlite_audio* audio) {
    if (!audio) return;
    std::free(audio->samples);
    *audio = voxlite_audio{nullptr, 0, 0};
}

int voxlite_synthesize_stream(voxlite_model* model, const char* text, const voxlite_options* options,
                              voxlite_audio_callback callback, void* user) {
    return guarded([&] {
        check_model(model);
        check_text(text);
        if (!callback) throw invalid_input("callback is NULL");
        Claim claim(model);
        auto source = model->voxcpm->start(text, to_options(options), true);
        std::vector<float> piece;
        while (source->next(piece))
            if (callback(piece.data(), piece.size(), user) != 0)
                throw Error(VOXLITE_CANCELLED, "cancelled by the audio callback");
        return VOXLITE_OK;
    });
}

int voxlite_stream_open(voxlite_model* model, const char* text, const voxlite_options* options,
                        voxlite_stream** stream) {
    return guarded([&] {
        if (!stream) throw invalid_input("stream output pointer is NULL");
        *stream = nullptr;
        check_model(model);
        check_text(text);
        Claim claim(model);
        auto s = std::make_unique<voxlite_stream>();
        s->model = model;
        s->source = model->voxcpm->start(text, to_options(options), true);
        claim.release_to_stream();
        *stream = s.release();
        return VOXLITE_OK;
    });
}

int voxlite_stream_next(voxlite_stream* stream, const float** samples, size_t* n) {
    return guarded([&] {
        if (!stream || !samples || !n) throw invalid_input("stream, samples and n must not be NULL");
        *samples = nullptr;
        *n = 0;
        if (stream->over) return int(VOXLITE_DONE);
        try {
            if (!stream->source->next(stream->chunk)) {
                stream->over = true;
                return int(VOXLITE_DONE);
            }
        } catch (...) {
            stream->over = true;  // an error ends the stream
            throw;
        }
        *samples = stream->chunk.data();
        *n = stream->chunk.size();
        return int(VOXLITE_OK);
    });
}

void voxlite_stream_close(voxlite_stream* stream) {
    if (!stream) return;
    stream->source.reset();
    stream->model->busy.store(false);
    delete stream;
}

int voxlite_phonemize(voxlite_model* model, const char* text, char** phonemes) {
    return guarded([&] {
        if (!phonemes) throw invalid_input("phonemes output pointer is NULL");
        *phonemes = nullptr;
        check_model(model);
        check_text(text);
        Claim claim(model);
        std::string p = model->voxcpm->text().phonemize(text);
        char* out = static_cast<char*>(std::malloc(p.size() + 1));
        if (!out) throw std::bad_alloc();
        std::memcpy(out, p.c_str(), p.size() + 1);
        *phonemes = out;
        return VOXLITE_OK;
    });
}

int voxlite_text_to_ids(voxlite_model* model, const char* text, int64_t** ids, size_t* n) {
    return guarded([&] {
        if (!ids || !n) throw invalid_input("ids and n must not be NULL");
        *ids = nullptr;
        *n = 0;
        check_model(model);
        check_text(text);
        Claim claim(model);
        std::vector<int64_t> v = model->voxcpm->text().encode(text);
        int64_t* out = static_cast<int64_t*>(std::malloc(std::max<size_t>(1, v.size()) * sizeof(int64_t)));
        if (!out) throw std::bad_alloc();
        std::memcpy(out, v.data(), v.size() * sizeof(int64_t));
        *ids = out;
        *n = v.size();
        return VOXLITE_OK;
    });
}

int voxlite_write_wav(const char* path, const float* samples, size_t n, int sample_rate) {
    return guarded([&] {
        if (!path || !*path) throw invalid_input("path is empty");
        if (!samples && n) throw invalid_input("samples is NULL");
        if (sample_rate <= 0) throw invalid_input("sample_rate must be positive");
        if (n > (size_t(0x7FFFFFFF) - 44) / 2) throw invalid_input("too many samples for a WAV file");
        std::string tmp = std::string(path) + ".part-" + std::to_string(::getpid());
        FILE* f = std::fopen(tmp.c_str(), "wb");
        if (!f) throw Error(VOXLITE_IO_ERROR, std::string("cannot write ") + path + ": " + std::strerror(errno));
        auto u32 = [&](uint32_t v) { uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}; std::fwrite(b, 1, 4, f); };
        auto u16 = [&](uint16_t v) { uint8_t b[2] = {uint8_t(v), uint8_t(v >> 8)}; std::fwrite(b, 1, 2, f); };
        const uint32_t data_bytes = uint32_t(n * 2);
        std::fwrite("RIFF", 1, 4, f); u32(36 + data_bytes); std::fwrite("WAVEfmt ", 1, 8, f);
        u32(16); u16(1); u16(1); u32(uint32_t(sample_rate)); u32(uint32_t(sample_rate) * 2); u16(2); u16(16);
        std::fwrite("data", 1, 4, f); u32(data_bytes);
        std::vector<uint8_t> pcm(n * 2);
        for (size_t i = 0; i < n; ++i) {  // as voxlite.audio: scale by 32768, floor, clip
            float x = std::floor(samples[i] * 32768.0f);
            int v = std::isnan(x) ? 0 : int(std::min(32767.0f, std::max(-32768.0f, x)));
            pcm[2 * i] = uint8_t(v & 0xFF);
            pcm[2 * i + 1] = uint8_t((v >> 8) & 0xFF);
        }
        std::fwrite(pcm.data(), 1, pcm.size(), f);
        bool ok = !std::ferror(f);
        ok = (std::fclose(f) == 0) && ok;
        if (!ok || std::rename(tmp.c_str(), path) != 0) {
            int err = errno;
            std::remove(tmp.c_str());
            throw Error(VOXLITE_IO_ERROR, std::string("cannot write ") + path + ": " + std::strerror(err));
        }
        return VOXLITE_OK;
    });
}

}  // extern "C"
