// OpenVINO implementation of engine.h.
#include <openvino/openvino.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bundle.h"
#include "engine.h"
#include "errors.h"

namespace voxlite::runtime {
namespace {

ov::Core& core() {
    // One Core per process: it is thread-safe, and plugins are loaded once.
    static ov::Core* instance = new ov::Core();  // never destroyed: plugins may outlive static destructors
    return *instance;
}

ov::element::Type element_type(DType d) { return d == DType::f32 ? ov::element::f32 : ov::element::i64; }

class OpenVINOSession final : public Session {
public:
    OpenVINOSession(const std::string& path, const std::string& precision, const EngineOptions& options)
        : path_(path), profile_(std::getenv("VOXLITE_PROFILE") != nullptr) {
        precision_ = precision;
        try {
            std::shared_ptr<ov::Model> model = core().read_model(path);
            for (const auto& key : {"voxlite.letters", "voxlite.symbols"}) {
                if (model->has_rt_info("framework", key))
                    metadata_[key] = model->get_rt_info<std::string>("framework", key);
            }
            ov::AnyMap config{ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY), ov::hint::num_requests(1)};
            if (options.device == "CPU") {
                config.emplace(ov::num_streams(1));
                // OpenVINO runs f32 graphs in bf16 by default on CPUs with native bf16 (AVX-512 BF16, AMX): the
                // free-running voice then diverges from the Python backend, which asks for f32 as well.
                config.emplace(ov::hint::inference_precision(ov::element::f32));
                if (options.threads > 0) config.emplace(ov::inference_num_threads(options.threads));
            }
            if (!options.cache_dir.empty()) config.emplace(ov::cache_dir(options.cache_dir));
            compiled_ = core().compile_model(model, options.device, config);
            request_ = compiled_.create_infer_request();
            for (const auto& port : compiled_.outputs())
                for (const auto& n : port.get_names()) output_ports_.emplace(n, port);
        } catch (const ov::Exception& e) {
            throw backend_error("OpenVINO could not compile " + path + " for " + options.device + ": " + e.what());
        }
    }

    void run(const std::vector<std::pair<std::string, TensorView>>& inputs) override {
        try {
            for (const auto& [name, t] : inputs) {
                ov::Shape shape(t.shape.begin(), t.shape.end());
                // wraps the caller's buffer: no copy (OpenVINO only reads inputs)
                request_.set_tensor(name, ov::Tensor(element_type(t.dtype), shape, const_cast<void*>(t.data)));
            }
            auto start = std::chrono::steady_clock::now();
            request_.infer();
            if (profile_) {
                seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                ++calls_;
            }
        } catch (const ov::Exception& e) {
            throw backend_error(std::string("OpenVINO inference failed: ") + e.what());
        }
    }

    ~OpenVINOSession() override {
        if (profile_)  // VOXLITE_PROFILE=1: where inference time went, per graph
            std::fprintf(stderr, "voxlite profile: %s: %ld calls, %.1f ms\n", path_.c_str(), calls_, 1e3 * seconds_);
    }

    TensorView output(const std::string& name) override {
        auto it = output_ports_.find(name);
        if (it == output_ports_.end()) throw bundle_error("graph has no output '" + name + "'");
        ov::Tensor t = request_.get_tensor(it->second);
        TensorView v;
        if (t.get_element_type() == ov::element::f32) v.dtype = DType::f32;
        else if (t.get_element_type() == ov::element::i64) v.dtype = DType::i64;
        else throw unsupported("graph output '" + name + "' is " + t.get_element_type().get_type_name());
        for (size_t d : t.get_shape()) v.shape.push_back(int64_t(d));
        v.data = t.data();
        return v;
    }

    std::string metadata(const std::string& key) const override {
        auto it = metadata_.find(key);
        return it == metadata_.end() ? std::string() : it->second;
    }

private:
    ov::CompiledModel compiled_;
    ov::InferRequest request_;
    std::map<std::string, ov::Output<const ov::Node>> output_ports_;
    std::map<std::string, std::string> metadata_;
    std::string path_;
    bool profile_;
    long calls_ = 0;
    double seconds_ = 0;
};

}  // namespace

size_t TensorView::size() const {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    return n;
}

const float* TensorView::f32() const {
    if (dtype != DType::f32) throw Error(VOXLITE_INTERNAL_ERROR, "tensor is not float32");
    return static_cast<const float*>(data);
}

std::string engine_device(const std::string& backend) {
    std::string b = backend;
    std::transform(b.begin(), b.end(), b.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (b.empty() || b == "cpu") return "CPU";
    if (b == "gpu") return "GPU";
    if (b == "npu") return "NPU";
    if (b == "auto") return "AUTO";
    throw unsupported("backend '" + backend + "': this build runs OpenVINO devices cpu, gpu, npu or auto");
}

std::string engine_version() {
    const ov::Version v = ov::get_openvino_version();
    return std::string("OpenVINO ") + v.buildNumber;
}

std::unique_ptr<Session> open_session(const Bundle& bundle, const GraphSpec& graph, const std::string& precision,
                                      const EngineOptions& options) {
    std::string chosen = bundle.pick_precision(graph, precision);
    std::string path = bundle.path_of(*graph.file(chosen));
    return std::make_unique<OpenVINOSession>(path, chosen, options);
}

}  // namespace voxlite::runtime
