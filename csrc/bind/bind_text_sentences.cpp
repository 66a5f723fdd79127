// Python bindings of the sentence splitter and chunker (csrc/text/sentences.h) and of the shared noise
// (csrc/noise.h): what the Python pipelines and the C API must compute identically.
#include <nanobind/nanobind.h>
#include <nanobind/stl/function.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "ndarray.h"
#include "noise.h"
#include "registry.h"
#include "text/sentences.h"

using namespace nb::literals;

namespace voxlite::bind {

void register_text_sentences(nb::module_& m) {
    m.def("split_sentences", [](const std::string& text) { return voxlite::text::split_sentences(text); },
          "text"_a, "Text -> its sentences, stripped (csrc/text/sentences.h).");
    m.def(
        "chunk_text",
        [](const std::string& text, int max_tokens, const std::function<int(const std::string&)>& count) {
            return voxlite::text::chunk_text(text, max_tokens, count);
        },
        "text"_a, "max_tokens"_a, "count"_a, "Sentences merged into chunks of at most max_tokens (count(chunk)).");
    m.def(
        "standard_normal",
        [](uint64_t seed, uint64_t stream, size_t n) {
            Out<float> out = new_array<float>({n});
            voxlite::standard_normal(seed, stream, out.data(), n);
            return out;
        },
        "seed"_a, "stream"_a, "n"_a, "n float32 standard normals of (seed, stream) (csrc/noise.h).");
}

}  // namespace voxlite::bind
