// The inference engine behind the C API: OpenVINO (its wheel ships headers, libraries and a CMake package, so
// `pip install openvino` is all a build needs; ONNX Runtime's wheel has no headers). Pipelines see only this
// header: named float32 / int64 buffers in, named buffers out, so another engine could sit behind it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace voxlite::runtime {

class Bundle;
struct GraphSpec;

enum class DType { f32, i64 };

// A tensor in caller memory (inputs) or engine memory (outputs: valid until the session's next run).
struct TensorView {
    DType dtype = DType::f32;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    size_t size() const;
    const float* f32() const;
};

struct EngineOptions {
    std::string device = "CPU";  // OpenVINO device name
    int threads = 0;             // 0: the engine's default
    std::string cache_dir;       // compiled-graph cache, "" for none
};

class Session {
public:
    virtual ~Session() = default;
    // Runs the graph on `inputs` (every declared input, by name); outputs are read with output() afterwards.
    virtual void run(const std::vector<std::pair<std::string, TensorView>>& inputs) = 0;
    virtual TensorView output(const std::string& name) = 0;
    virtual std::string metadata(const std::string& key) const = 0;  // the ONNX metadata_props value, "" if absent
    const std::string& precision() const { return precision_; }

protected:
    std::string precision_;
};

// Compiles a bundle graph's chosen variant. Throws Error(VOXLITE_BACKEND_ERROR / VOXLITE_UNSUPPORTED).
std::unique_ptr<Session> open_session(const Bundle& bundle, const GraphSpec& graph, const std::string& precision,
                                      const EngineOptions& options);

// "cpu" -> "CPU" etc.; Error(VOXLITE_UNSUPPORTED) for a backend name this engine has no device for.
std::string engine_device(const std::string& backend);
std::string engine_version();

}  // namespace voxlite::runtime
