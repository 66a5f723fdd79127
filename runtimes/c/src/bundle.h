// Bundles on disk: manifest.json parsed and validated with the same rules (and refusals) as the Python package's
// voxlite.bundle, every listed file checked for size and sha256 before anything runs. Directories only (zip
// archives: the Python package extracts them; open the extracted directory).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "json.h"

namespace voxlite::runtime {

struct TensorSpec {
    std::string name, dtype;
};

struct GraphSpec {
    std::string name;  // qualified: component/graph
    std::vector<TensorSpec> inputs, outputs;
    std::vector<std::pair<std::string, std::string>> files;  // precision -> relative path, manifest order
    const json::Value* metadata = nullptr;                   // object or nullptr
    bool has_output(const std::string& n) const;
    bool has_input(const std::string& n) const;
    const std::string* file(const std::string& precision) const;
};

struct Component {
    std::string name, kind;
    std::map<std::string, GraphSpec> graphs;
    std::map<std::string, std::string> files;  // role -> relative path
    std::vector<std::string> tensor_files;
    const json::Value* hparams = nullptr;      // object (never null after parsing: an empty one if absent)
};

struct FileEntry {
    std::string sha256;
    int64_t bytes = 0;
};

class Bundle {
public:
    // Throws Error(VOXLITE_BUNDLE_ERROR) naming the first problem. verify: sha256 of every file (sizes always).
    static std::shared_ptr<const Bundle> open(const std::string& path, bool verify);

    const std::string& root() const { return root_; }
    const std::string& name() const { return name_; }
    const std::string& model_type() const { return model_type_; }
    int sample_rate() const { return sample_rate_; }  // 0: none
    bool has_capability(const std::string& c) const;
    const Component& component(const std::string& name) const;
    // The one component of `kind`; nullptr when there is none and !required; Error when several.
    const Component* component_of_kind(const std::string& kind, bool required = true) const;
    const GraphSpec& graph(const std::string& qualified) const;
    // The variant to run: `precision` empty -> the manifest default, fp32, or the first; else the asked one, or the
    // least precise variant at least as precise (never a less precise one), as voxlite.bundle.Bundle does.
    std::string pick_precision(const GraphSpec& g, const std::string& precision) const;
    // Absolute path of a listed relative path, refusing anything that resolves outside the bundle.
    std::string path_of(const std::string& relpath) const;

private:
    std::string root_, name_, model_type_, default_precision_;
    int sample_rate_ = 0;
    std::vector<std::string> capabilities_;
    std::map<std::string, Component> components_;
    std::map<std::string, FileEntry> files_;
    json::Value raw_;
    json::Value empty_object_;
};

int precision_bits(const std::string& precision);  // 0: no known numeric type

}  // namespace voxlite::runtime
