#include "bundle.h"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "errors.h"
#include "sha256.h"

namespace voxlite::runtime {
namespace {

constexpr const char* FORMAT = "voxlite.bundle";
constexpr int64_t FORMAT_VERSION = 2;
constexpr int64_t MAX_MANIFEST_BYTES = 16 << 20;
const char* const CAPABILITIES[] = {"text-to-speech", "voice-cloning", "codec", "text-to-audio", "speech-to-speech",
                                    "multi-speaker", "singing"};
const char* const DTYPES[] = {"float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

[[noreturn]] void fail(const std::string& m) { throw bundle_error(m); }

const json::Value& req(const json::Value& obj, const char* key, json::Value::Type type, const std::string& where) {
    const json::Value* v = obj.find(key);
    if (!v) fail("manifest: " + where + " is missing '" + key + "'");
    bool ok = v->type() == type;
    if (type == json::Value::Type::Number) ok = ok && v->is_number();
    if (!ok) fail("manifest: " + where + "." + key + " must be " + json::Value::type_name(type) + ", got " +
                  json::Value::type_name(v->type()));
    return *v;
}

int64_t req_int(const json::Value& obj, const char* key, const std::string& where) {
    const json::Value& v = req(obj, key, json::Value::Type::Number, where);
    try {
        return v.integer();
    } catch (const json::Error&) {
        fail("manifest: " + where + "." + key + " must be an integer");
    }
}

const json::Value* opt_object(const json::Value& obj, const char* key, const std::string& where) {
    const json::Value* v = obj.find(key);
    if (!v || v->is_null()) return nullptr;
    if (!v->is_object()) fail("manifest: " + where + "." + key + " must be an object");
    return v;
}

bool is_name(const std::string& s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!(std::isalnum(c) || c == '_' || c == '.' || c == '-')) return false;
    return true;
}

const std::string& name_of(const std::string& value, const std::string& where) {
    if (!is_name(value)) fail("manifest: " + where + " " + quoted(value) + " must match [A-Za-z0-9_.-]+");
    return value;
}

const std::string& check_relpath(const std::string& p) {
    if (p.empty()) fail("bundle file path must be a non-empty string");
    if (p.find('\\') != std::string::npos || p.find('\0') != std::string::npos)
        fail("bundle file path " + quoted(p) + " contains a backslash or NUL");
    if (p[0] == '/' || (p.size() > 1 && p[1] == ':'))
        fail("bundle file path " + quoted(p) + " is absolute; paths must stay inside the bundle");
    size_t start = 0;
    while (true) {
        size_t end = p.find('/', start);
        std::string part = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (part.empty() || part == "." || part == "..")
            fail("bundle file path " + quoted(p) + " leaves the bundle or is not normalised");
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return p;
}

bool known(const std::string& s, const char* const* list, size_t n) {
    return std::find_if(list, list + n, [&](const char* x) { return s == x; }) != list + n;
}

TensorSpec tensor_spec(const json::Value& obj, const std::string& where) {
    if (!obj.is_object()) fail("manifest: " + where + " must be an object");
    TensorSpec t{req(obj, "name", json::Value::Type::String, where).str(),
                 req(obj, "dtype", json::Value::Type::String, where).str()};
    if (!known(t.dtype, DTYPES, std::size(DTYPES)))
        fail("manifest: " + where + " " + quoted(t.name) + " has unknown dtype " + quoted(t.dtype));
    for (const json::Value& d : req(obj, "shape", json::Value::Type::Array, where).array()) {
        bool ok = d.is_string();
        if (d.is_number()) {
            try {
                ok = d.integer() >= 0;
            } catch (const json::Error&) {
                ok = false;
            }
        }
        if (!ok) fail("manifest: " + where + " " + quoted(t.name) + " has a bad dimension (ints >= 0 or names)");
    }
    return t;
}

GraphSpec graph_spec(const std::string& qualified, const json::Value& obj) {
    std::string where = "graphs." + qualified;
    if (!obj.is_object()) fail("manifest: " + where + " must be an object");
    GraphSpec g;
    g.name = qualified;
    for (const auto& x : req(obj, "inputs", json::Value::Type::Array, where).array())
        g.inputs.push_back(tensor_spec(x, where + ".inputs"));
    for (const auto& x : req(obj, "outputs", json::Value::Type::Array, where).array())
        g.outputs.push_back(tensor_spec(x, where + ".outputs"));
    if (g.outputs.empty()) fail("manifest: " + where + " declares no outputs");
    for (const auto* specs : {&g.inputs, &g.outputs}) {
        std::vector<std::string> names;
        for (const auto& s : *specs) names.push_back(s.name);
        std::sort(names.begin(), names.end());
        if (std::adjacent_find(names.begin(), names.end()) != names.end())
            fail("manifest: " + where + " has duplicate " + (specs == &g.inputs ? "input" : "output") + " names");
    }
    const json::Value& files = req(obj, "files", json::Value::Type::Object, where);
    if (files.object().empty()) fail("manifest: " + where + " has no graph files");
    for (const auto& [precision, path] : files.object()) {
        name_of(precision, where + ".files precision");
        if (!path.is_string()) fail("manifest: " + where + ".files." + precision + " must be a path string");
        g.files.emplace_back(precision, check_relpath(path.str()));
    }
    g.metadata = opt_object(obj, "metadata", where);
    return g;
}

std::string real_path(const std::string& p) {
    char buf[PATH_MAX];
    if (!::realpath(p.c_str(), buf)) return {};
    return buf;
}

bool is_regular_file(const std::string& p, int64_t* size = nullptr) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (size) *size = int64_t(st.st_size);
    return true;
}

}  // namespace

int precision_bits(const std::string& precision) {
    std::string last = precision.substr(precision.rfind('-') == std::string::npos ? 0 : precision.rfind('-') + 1);
    if (last == "int4") return 4;
    if (last == "int8") return 8;
    if (last == "fp16" || last == "bf16") return 16;
    if (last == "fp32") return 32;
    return 0;
}

bool GraphSpec::has_output(const std::string& n) const {
    return std::any_of(outputs.begin(), outputs.end(), [&](const TensorSpec& t) { return t.name == n; });
}

bool GraphSpec::has_input(const std::string& n) const {
    return std::any_of(inputs.begin(), inputs.end(), [&](const TensorSpec& t) { return t.name == n; });
}

const std::string* GraphSpec::file(const std::string& precision) const {
    for (const auto& [p, f] : files)
        if (p == precision) return &f;
    return nullptr;
}

std::shared_ptr<const Bundle> Bundle::open(const std::string& path, bool verify) {
    struct stat st;
    if (path.empty() || ::stat(path.c_str(), &st) != 0) fail("no bundle at " + path);
    if (!S_ISDIR(st.st_mode))
        fail(path + " is not a bundle directory (archives: unpack them, or open them with the Python package)");
    auto b = std::make_shared<Bundle>();
    b->root_ = real_path(path);
    std::string manifest_path = b->root_ + "/manifest.json";
    int64_t size = 0;
    if (!is_regular_file(manifest_path, &size)) fail(path + " has no manifest.json");
    if (size > MAX_MANIFEST_BYTES) fail(manifest_path + " is larger than 16 MiB: not a manifest");
    std::ifstream in(manifest_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) fail("cannot read " + manifest_path);
    try {
        b->raw_ = json::parse(text.str());
    } catch (const json::Error& e) {
        fail(path + ": manifest.json is not valid JSON (" + e.what() + ")");
    }
    b->empty_object_ = json::parse("{}");
    const json::Value& raw = b->raw_;
    if (!raw.is_object()) fail("manifest.json must hold a JSON object");
    const json::Value* fmt = raw.find("format");
    if (!fmt || !fmt->is_string() || fmt->str() != FORMAT)
        fail(std::string("manifest: format is not '") + FORMAT + "': not a voxlite bundle");
    int64_t version = req_int(raw, "format_version", "manifest");
    if (version != FORMAT_VERSION) {
        if (version == 1)
            fail("bundle format_version 1 is older than this voxlite reads (2): rewrite it with `voxlite bundle "
                 "migrate OLD NEW` (or re-export it)");
        if (version > FORMAT_VERSION)
            fail("bundle format_version " + std::to_string(version) + " is newer than this voxlite reads (2): "
                 "upgrade voxlite");
        fail("bundle format_version " + std::to_string(version) + " is not a known version");
    }
    b->model_type_ = name_of(req(raw, "model_type", json::Value::Type::String, "manifest").str(), "model_type");
    b->name_ = req(raw, "name", json::Value::Type::String, "manifest").str();
    if (const json::Value* sr = raw.find("sample_rate"); sr && !sr->is_null()) {
        int64_t rate = 0;
        try {
            rate = sr->integer();
        } catch (const json::Error&) {
        }
        if (!sr->is_number() || rate <= 0 || rate > INT32_MAX)
            fail("manifest: sample_rate must be a positive integer or null");
        b->sample_rate_ = int(rate);
    }
    if (const json::Value* caps = raw.find("capabilities")) {
        if (!caps->is_array()) fail("manifest: capabilities must be a list of strings");
        for (const auto& c : caps->array()) {
            if (!c.is_string()) fail("manifest: capabilities must be a list of strings");
            if (!known(c.str(), CAPABILITIES, std::size(CAPABILITIES)))
                fail("manifest: unknown capability " + quoted(c.str()));
            b->capabilities_.push_back(c.str());
        }
    }
    for (const auto& [cname, obj] : req(raw, "components", json::Value::Type::Object, "manifest").object()) {
        std::string where = "components." + name_of(cname, "component name");
        if (!obj.is_object()) fail("manifest: " + where + " must be an object");
        Component c;
        c.name = cname;
        c.kind = name_of(req(obj, "kind", json::Value::Type::String, where).str(), where + ".kind");
        if (const json::Value* graphs = opt_object(obj, "graphs", where))
            for (const auto& [g, spec] : graphs->object())
                c.graphs[name_of(g, where + " graph name")] = graph_spec(cname + "/" + g, spec);
        if (const json::Value* files = opt_object(obj, "files", where))
            for (const auto& [role, p] : files->object()) {
                name_of(role, where + ".files role");
                if (!p.is_string()) fail("manifest: " + where + ".files." + role + " must be a path string");
                c.files[role] = check_relpath(p.str());
            }
        if (const json::Value* tensors = opt_object(obj, "tensors", where))
            for (const auto& [tname, t] : tensors->object()) {
                std::string at = where + ".tensors." + name_of(tname, "tensor name");
                if (!t.is_object()) fail("manifest: " + at + " must be an object");
                c.tensor_files.push_back(check_relpath(req(t, "file", json::Value::Type::String, at).str()));
            }
        const json::Value* hp = opt_object(obj, "hparams", where);
        c.hparams = hp ? hp : &b->empty_object_;
        b->components_[cname] = std::move(c);
    }
    for (const char* key : {"hparams", "provenance"}) opt_object(raw, key, "manifest");
    for (const auto& [p, entry] : req(raw, "files", json::Value::Type::Object, "manifest").object()) {
        check_relpath(p);
        if (p == "manifest.json") fail("manifest: files must not list manifest.json itself");
        std::string where = "files['" + p + "']";
        if (!entry.is_object()) fail("manifest: " + where + " must be an object");
        FileEntry f;
        f.sha256 = req(entry, "sha256", json::Value::Type::String, where).str();
        bool hex = f.sha256.size() == 64 && std::all_of(f.sha256.begin(), f.sha256.end(), [](char ch) {
                       return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
                   });
        if (!hex) fail("manifest: " + where + ".sha256 is not 64 lowercase hex digits");
        f.bytes = req_int(entry, "bytes", where);
        if (f.bytes < 0) fail("manifest: " + where + ".bytes is negative");
        b->files_[p] = f;
    }
    for (const auto& [cname, c] : b->components_) {
        std::vector<std::string> refs(c.tensor_files);
        for (const auto& [g, spec] : c.graphs)
            for (const auto& pf : spec.files) refs.push_back(pf.second);
        for (const auto& rf : c.files) refs.push_back(rf.second);
        for (const auto& r : refs)
            if (!b->files_.count(r)) fail("manifest names " + quoted(r) + " but does not list it (with its sha256) under files");
    }
    if (const json::Value* dp = raw.find("default_precision"); dp && !dp->is_null()) {
        if (!dp->is_string()) fail("manifest: default_precision must be a string");
        b->default_precision_ = dp->str();
        for (const auto& [cname, c] : b->components_)
            for (const auto& [g, spec] : c.graphs)
                if (!spec.file(b->default_precision_))
                    fail("manifest: default_precision " + quoted(b->default_precision_) + " is missing for graph " +
                         quoted(spec.name));
    }
    for (const auto& [p, entry] : b->files_) {
        std::string target = b->path_of(p);
        int64_t bytes = 0;
        if (!is_regular_file(target, &bytes)) fail("bundle file " + quoted(p) + " is missing from " + path);
        if (bytes != entry.bytes)
            fail("bundle file " + quoted(p) + " has " + std::to_string(bytes) + " bytes, manifest says " +
                 std::to_string(entry.bytes) + ": truncated or altered");
        if (verify) {
            std::string digest;
            try {
                digest = sha256_file(target);
            } catch (const std::runtime_error& e) {
                fail(e.what());
            }
            if (digest != entry.sha256)
                fail("bundle file " + quoted(p) + " does not match its sha256: altered or corrupt");
        }
    }
    return b;
}

std::string Bundle::path_of(const std::string& relpath) const {
    check_relpath(relpath);
    std::string joined = root_ + "/" + relpath;
    std::string real = real_path(joined);
    if (real.empty()) return joined;  // missing: the caller reports it
    if (real.compare(0, root_.size() + 1, root_ + "/") != 0)
        fail("bundle file " + quoted(relpath) + " resolves outside the bundle (" + real + ")");
    return real;
}

bool Bundle::has_capability(const std::string& c) const {
    return std::find(capabilities_.begin(), capabilities_.end(), c) != capabilities_.end();
}

const Component& Bundle::component(const std::string& n) const {
    auto it = components_.find(n);
    if (it == components_.end()) fail("bundle " + quoted(name_) + " has no component " + quoted(n));
    return it->second;
}

const Component* Bundle::component_of_kind(const std::string& kind, bool required) const {
    const Component* found = nullptr;
    for (const auto& [n, c] : components_) {
        if (c.kind != kind) continue;
        if (found) fail("bundle " + quoted(name_) + " has several " + quoted(kind) + " components");
        found = &c;
    }
    if (!found && required) fail("bundle " + quoted(name_) + " has no " + quoted(kind) + " component");
    return found;
}

const GraphSpec& Bundle::graph(const std::string& qualified) const {
    size_t slash = qualified.find('/');
    if (slash != std::string::npos) {
        auto c = components_.find(qualified.substr(0, slash));
        if (c != components_.end()) {
            auto g = c->second.graphs.find(qualified.substr(slash + 1));
            if (g != c->second.graphs.end()) return g->second;
        }
    }
    fail("bundle " + quoted(name_) + " has no graph " + quoted(qualified));
}

std::string Bundle::pick_precision(const GraphSpec& g, const std::string& precision) const {
    if (!precision.empty()) {
        if (g.file(precision)) return precision;
        int want = precision_bits(precision);
        std::vector<std::string> ok;
        for (const auto& [p, f] : g.files)
            if (want == 0 || precision_bits(p) >= want) ok.push_back(p);
        for (const std::string& candidate : {default_precision_, std::string("fp32")})
            if (!candidate.empty() && std::find(ok.begin(), ok.end(), candidate) != ok.end()) return candidate;
        if (ok.empty())
            fail("graph " + quoted(g.name) + " of bundle " + quoted(name_) + " has no variant as precise as " +
                 quoted(precision));
        return *std::min_element(ok.begin(), ok.end(), [](const std::string& a, const std::string& b) {
            return precision_bits(a) < precision_bits(b);
        });
    }
    for (const std::string& candidate : {default_precision_, std::string("fp32")})
        if (!candidate.empty() && g.file(candidate)) return candidate;
    return g.files.front().first;
}

}  // namespace voxlite::runtime
