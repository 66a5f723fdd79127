// Python bindings of the English text front end: the JSON parser (csrc/json.h), the letter-to-sound codec
// (csrc/text/letter_to_sound.h) and the G2P (csrc/text/english_g2p.h). voxlite.text.english_g2p and
// voxlite.text.letter_to_sound wrap these; the JSON functions serve tests and tools.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common.h"
#include "json.h"
#include "ndarray.h"
#include "registry.h"
#include "text/english_g2p.h"
#include "text/letter_to_sound.h"
#include "text/unicode.h"

using namespace nb::literals;
using voxlite::require;

namespace voxlite::bind {

namespace {

// ------------------------------------------------------------------ JSON

nb::object to_python(const json::Value& v) {
    switch (v.type()) {
        case json::Value::Type::Null: return nb::none();
        case json::Value::Type::Bool: return nb::bool_(v.boolean());
        case json::Value::Type::Number:
            if (v.is_exact_integer()) return nb::int_(v.integer());
            return nb::float_(v.number());
        case json::Value::Type::String: return nb::str(v.str().data(), v.str().size());
        case json::Value::Type::Array: {
            nb::list out;
            for (const json::Value& e : v.array()) out.append(to_python(e));
            return std::move(out);
        }
        case json::Value::Type::Object: {
            nb::dict out;
            for (const auto& [k, e] : v.object()) out[nb::str(k.data(), k.size())] = to_python(e);
            return std::move(out);
        }
    }
    return nb::none();
}

// A parsed document and one value in it (the document stays alive while any of its values is referenced).
struct JsonValue {
    std::shared_ptr<const json::Value> doc;
    const json::Value* v;
};

JsonValue wrap_doc(json::Value v) {
    auto doc = std::make_shared<const json::Value>(std::move(v));
    const json::Value* root = doc.get();
    return JsonValue{std::move(doc), root};
}

json::Value parse_released(std::string_view text) {
    nb::gil_scoped_release release;
    return json::parse(text);
}

// ------------------------------------------------------------------ G2P

// The bound G2P: the native object and a lock that lets one thread in at a time (the GIL is released while the
// G2P runs; the Python callables it calls take it back).
struct G2P {
    text::EnglishG2P g2p;
    std::mutex mutex;
    std::atomic<std::thread::id> owner{};
    explicit G2P(text::EnglishG2P g) : g2p(std::move(g)) {}
};

template <typename F>
auto locked(G2P& self, F&& f) -> decltype(f(self.g2p)) {
    if (self.owner.load() == std::this_thread::get_id())
        throw std::runtime_error("EnglishG2P was called again from inside its own letter_to_sound / normalize");
    nb::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(self.mutex);
    struct Owner {
        std::atomic<std::thread::id>& o;
        explicit Owner(std::atomic<std::thread::id>& o_) : o(o_) { o = std::this_thread::get_id(); }
        ~Owner() { o = std::thread::id(); }
    } owner(self.owner);
    return f(self.g2p);
}

// Python's garbage collector sees the callables the G2P holds (a callable referring back to the G2P is a cycle
// it can then collect).
template <typename Fn>
PyObject* python_callable(const Fn& fn) {
    using Wrapper = typename nb::detail::type_caster<Fn>::pyfunc_wrapper_t;
    const Wrapper* w = fn.template target<Wrapper>();
    return w ? w->f : nullptr;
}

int g2p_traverse(PyObject* self, visitproc visit, void* arg) {
#if PY_VERSION_HEX >= 0x03090000
    Py_VISIT(Py_TYPE(self));
#endif
    if (!nb::inst_ready(self)) return 0;
    const G2P* g = nb::inst_ptr<G2P>(self);
    Py_VISIT(python_callable(g->g2p.letter_to_sound()));
    Py_VISIT(python_callable(g->g2p.normalize()));
    return 0;
}

int g2p_clear(PyObject* self) {
    if (!nb::inst_ready(self)) return 0;
    G2P* g = nb::inst_ptr<G2P>(self);  // unreachable: no other thread can be using it
    g->g2p.set_letter_to_sound({});
    g->g2p.set_normalize({});
    return 0;
}

PyType_Slot g2p_slots[] = {{Py_tp_traverse, (void*)g2p_traverse}, {Py_tp_clear, (void*)g2p_clear}, {0, nullptr}};

text::Lexicon& table(text::EnglishG2P& g, bool user) { return user ? g.user_lexicon() : g.lexicon(); }

nb::object ids_array(const std::vector<int64_t>& ids) {
    auto arr = new_array<int64_t>({1, ids.size()});
    std::copy(ids.begin(), ids.end(), arr.data());
    return nb::cast(arr);
}

std::vector<std::string> symbols_of(nb::handle symbols) {
    if (nb::isinstance<nb::str>(symbols)) return text::split_code_points(nb::cast<std::string>(symbols));
    return nb::cast<std::vector<std::string>>(symbols);
}

template <typename T>
std::string ctc(const In<T>& logits, nb::handle symbols) {
    require(logits.ndim() == 2, "logits must be 2-D (positions, 1 + symbols), got " + std::to_string(logits.ndim()) +
                                    "-D");
    const std::vector<std::string> syms = symbols_of(symbols);
    return text::ctc_greedy(logits.data(), logits.shape(0), logits.shape(1), syms);
}

std::string_view utf8_of(nb::handle h, const char* what) {
    if (!PyUnicode_Check(h.ptr())) throw nb::type_error((std::string(what) + " must map str to str").c_str());
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(h.ptr(), &size);
    if (!data) throw nb::python_error();
    return std::string_view(data, static_cast<size_t>(size));
}

// A dict of str -> str as a Lexicon (in the dict's order)
text::Lexicon lexicon_of(const nb::dict& d, const char* what) {
    text::Lexicon lex;
    lex.reserve(d.size());
    for (auto [k, v] : d) lex.set(utf8_of(k, what), utf8_of(v, what));
    return lex;
}

using LtsFn = text::LetterToSoundFn;
using NormFn = text::NormalizeFn;

}  // namespace

void register_text_g2p(nb::module_& m) {
    // ------------------------------------------------------------ exceptions
    // JSONError(ValueError) with .offset, the byte offset of the error (0 for type and I/O errors).
    const std::string module_name = nb::cast<std::string>(m.attr("__name__"));
    PyObject* json_error = PyErr_NewException((module_name + ".JSONError").c_str(), PyExc_ValueError, nullptr);
    if (!json_error) throw nb::python_error();
    m.attr("JSONError") = nb::handle(json_error);  // the module holds a reference; ours lives as long as the process
    nb::register_exception_translator(
        [](const std::exception_ptr& p, void* payload) {
            try {
                std::rethrow_exception(p);
            } catch (const json::Error& e) {
                PyObject* type = static_cast<PyObject*>(payload);
                nb::object inst = nb::steal(PyObject_CallFunction(type, "s", e.what()));
                if (!inst.is_valid()) return;  // the call set an error
                nb::setattr(inst, "offset", nb::int_(e.offset));
                PyErr_SetObject(type, inst.ptr());
            }
        },
        json_error);
    // TextError(ValueError): text the G2P refuses (voxlite.text.english_g2p raises InvalidInput with its message)
    PyObject* text_error = PyErr_NewException((module_name + ".TextError").c_str(), PyExc_ValueError, nullptr);
    if (!text_error) throw nb::python_error();
    m.attr("TextError") = nb::handle(text_error);
    nb::register_exception_translator(
        [](const std::exception_ptr& p, void* payload) {
            try {
                std::rethrow_exception(p);
            } catch (const text::TextError& e) {
                const std::string& msg = e.message();  // whole, NULs included
                nb::object s = nb::steal(PyUnicode_DecodeUTF8(msg.data(), static_cast<Py_ssize_t>(msg.size()),
                                                              "replace"));
                if (s.is_valid()) PyErr_SetObject(static_cast<PyObject*>(payload), s.ptr());
            }
        },
        text_error);
    nb::exception<text::LexiconError>(m, "LexiconError", PyExc_RuntimeError);

    // ------------------------------------------------------------ JSON
    m.def(
        "json_loads", [](std::string_view text) { return to_python(parse_released(text)); }, "text"_a,
        "Strict JSON (RFC 8259; csrc/json.h) -> Python objects (integer literals that fit int64 -> int, other "
        "numbers -> float); JSONError (a ValueError with .offset) naming the byte offset and what was expected.");
    m.def(
        "json_loads",
        [](nb::bytes data) { return to_python(parse_released(std::string_view(data.c_str(), data.size()))); },
        "data"_a);
    m.def(
        "json_load_file",
        [](const std::string& path) {
            json::Value v;
            {
                nb::gil_scoped_release release;
                v = json::parse_file(path);
            }
            return to_python(v);
        },
        "path"_a, "json_loads of a file's bytes; JSONError naming the path on an I/O or parse error.");

    nb::class_<JsonValue>(m, "JsonValue",
                          "A value of a parsed JSON document, read through csrc/json.h's accessors (each raises "
                          "JSONError naming the expected type when the type differs).")
        .def_prop_ro("type", [](const JsonValue& j) { return json::Value::type_name(j.v->type()); })
        .def("boolean", [](const JsonValue& j) { return j.v->boolean(); })
        .def("number", [](const JsonValue& j) { return j.v->number(); })
        .def("integer", [](const JsonValue& j) { return j.v->integer(); })
        .def("str", [](const JsonValue& j) { return j.v->str(); })
        .def("size", [](const JsonValue& j) { return j.v->size(); })
        .def("keys",
             [](const JsonValue& j) {
                 std::vector<std::string> keys;
                 for (const auto& kv : j.v->object()) keys.push_back(kv.first);
                 return keys;
             })
        .def(
            "find",
            [](const JsonValue& j, std::string_view key) -> std::optional<JsonValue> {
                const json::Value* f = j.v->find(key);
                if (!f) return std::nullopt;
                return JsonValue{j.doc, f};
            },
            "key"_a)
        .def("__getitem__", [](const JsonValue& j, size_t i) { return JsonValue{j.doc, &(*j.v)[i]}; })
        .def("to_python", [](const JsonValue& j) { return to_python(*j.v); });
    m.def(
        "json_parse", [](std::string_view text) { return wrap_doc(parse_released(text)); }, "text"_a,
        "Strict JSON -> JsonValue (csrc/json.h's Value).");
    m.def(
        "json_parse",
        [](nb::bytes data) { return wrap_doc(parse_released(std::string_view(data.c_str(), data.size()))); },
        "data"_a);

    // ------------------------------------------------------------ letter-to-sound codec
    using Codec = text::LetterToSoundCodec;
    nb::class_<Codec>(m, "LetterToSoundCodec",
                      "The letter-to-sound graph's codec (csrc/text/letter_to_sound.h): encode a word to the graph's "
                      "letter ids, decode its logits (greedy CTC).")
        .def(nb::init<std::string_view, std::string_view>(), "letters_json"_a, "symbols_json"_a,
             "From the graph's voxlite.letters / voxlite.symbols metadata (JSON strings); ValueError if unreadable.")
        .def(
            "encode",
            [](const Codec& c, std::string_view word) -> nb::object {
                auto ids = c.encode(word);
                if (!ids) return nb::none();
                return ids_array(*ids);
            },
            "word"_a,
            "int64 (1, L + 2) letter ids (word start, letters of the lower-cased word, word end), or None when there "
            "is nothing to read (empty, more than MAX_LETTERS letters, no letter of the alphabet).")
        .def(
            "decode",
            [](const Codec& c, const In<float>& logits) {
                require(logits.ndim() == 2, "logits must be 2-D (positions, 1 + symbols), got " +
                                                std::to_string(logits.ndim()) + "-D");
                return c.decode(logits.data(), logits.shape(0), logits.shape(1));
            },
            "logits"_a, "float32 (T, V) logits -> symbols (greedy CTC; possibly empty).")
        .def_prop_ro("letters", &Codec::letters)
        .def_prop_ro("symbols", &Codec::symbols)
        .def_ro_static("MAX_LETTERS", &Codec::MAX_LETTERS)
        .def_ro_static("WORD_START", &Codec::WORD_START)
        .def_ro_static("WORD_END", &Codec::WORD_END);
    m.def("ctc_greedy", &ctc<float>, "logits"_a, "symbols"_a,
          "Greedy CTC: (T, 1 + len(symbols)) logits -> symbols (argmax per position, lowest id on ties, NaN the "
          "largest; repeats merged, blanks (id 0) dropped). `symbols`: a str (one symbol per character) or a list.");
    m.def("ctc_greedy", &ctc<double>, "logits"_a, "symbols"_a);

    // ------------------------------------------------------------ G2P
    m.def("english_inventory", &text::inventory, "The G2P's symbol of each id: pad, bos, eos, space, punctuation, "
                                                 "phonemes.");
    m.def("english_to_inventory", &text::to_inventory, "phonemes"_a, "what"_a = "phonemes",
          "voxlite.text.phonemes.to_inventory (TextError for an unknown symbol or nothing).");
    m.def("english_split_inline", &text::split_inline, "text"_a, "voxlite.text.phonemes.split_inline.");
    m.def("python_repr", &text::python_repr, "text"_a, "Python's repr() of a str, as the G2P's messages quote text.");

    nb::class_<G2P>(m, "EnglishG2P",
                    "The English G2P (csrc/text/english_g2p.h). One thread at a time runs it (calls from other threads "
                    "wait; the GIL is released meanwhile). TextError for refused text.",
                    nb::type_slots(g2p_slots))
        .def(
            "__init__",
            [](G2P* self, const nb::dict& lexicon, LtsFn letter_to_sound, NormFn normalize,
               std::optional<std::vector<std::string>> symbols) {
                new (self) G2P(text::EnglishG2P(lexicon_of(lexicon, "lexicon"), std::move(letter_to_sound),
                                                std::move(normalize), symbols.value_or(std::vector<std::string>{})));
            },
            "lexicon"_a, "letter_to_sound"_a.none() = nb::none(), "normalize"_a.none() = nb::none(),
            "symbols"_a.none() = nb::none(),
            "`lexicon`: word -> phonemes. `letter_to_sound`: word -> phonemes or None (no model: None). "
            "`normalize`: text -> normalised text (None: the native normaliser). `symbols`: the id of each symbol "
            "(None: english_inventory()).")
        .def_static(
            "from_file",
            [](const std::string& path, LtsFn letter_to_sound, NormFn normalize) {
                text::Lexicon lex;
                {
                    nb::gil_scoped_release release;
                    lex = text::load_lexicon(path);
                }
                return new G2P(text::EnglishG2P(std::move(lex), std::move(letter_to_sound), std::move(normalize)));
            },
            "path"_a, "letter_to_sound"_a.none() = nb::none(), "normalize"_a.none() = nb::none(),
            nb::rv_policy::take_ownership,
            "From a voxlite-lexicon JSON file; LexiconError (voxlite.text.lexicon.load's refusals) if unreadable.")
        .def(
            "phonemize", [](G2P& s, std::string_view t) { return locked(s, [&](auto& g) { return g.phonemize(t); }); },
            "text"_a)
        .def(
            "encode",
            [](G2P& s, std::string_view t, bool add) { return locked(s, [&](auto& g) { return g.encode(t, add); }); },
            "text"_a, "add_bos_eos"_a = true)
        .def(
            "encode_phonemes",
            [](G2P& s, std::string_view ph, bool add) {
                return locked(s, [&](auto& g) { return g.encode_phonemes(ph, add); });
            },
            "phonemes"_a, "add_bos_eos"_a = true)
        .def(
            "count", [](G2P& s, std::string_view t) { return locked(s, [&](auto& g) { return g.count(t); }); },
            "text"_a)
        .def(
            "encode_pair",
            [](G2P& s, std::string_view t, std::optional<std::string> prompt) {
                return locked(s, [&](auto& g) {
                    return g.encode_pair(t, prompt ? std::optional<std::string_view>(*prompt) : std::nullopt);
                });
            },
            "text"_a, "prompt_text"_a.none() = nb::none())
        .def(
            "word", [](G2P& s, std::string_view w) { return locked(s, [&](auto& g) { return g.word(w); }); },
            "word"_a)
        .def(
            "lookup_uncached",
            [](G2P& s, std::string_view w) { return locked(s, [&](auto& g) { return g.lookup_uncached(w); }); },
            "word"_a)
        .def(
            "entry", [](G2P& s, std::string_view w) { return locked(s, [&](auto& g) { return g.entry(w); }); },
            "word"_a)
        .def(
            "suffixed", [](G2P& s, std::string_view w) { return locked(s, [&](auto& g) { return g.suffixed(w); }); },
            "word"_a)
        .def(
            "compound",
            [](G2P& s, std::string_view w, std::optional<int> max_pieces) {
                return locked(s, [&](auto& g) { return g.compound(w, max_pieces.value_or(0)); });
            },
            "word"_a, "max_pieces"_a.none() = nb::none())
        .def(
            "spell", [](G2P& s, std::string_view w) { return locked(s, [&](auto& g) { return g.spell(w); }); },
            "word"_a)
        .def(
            "add_user_entry",
            [](G2P& s, const std::string& w, const std::string& ph) {
                locked(s, [&](auto& g) { g.add_user_entry(w, ph); });
            },
            "word"_a, "phonemes"_a,
            "A user pronunciation (inventory symbols): wins over the lexicon; a word not all lower case gives its "
            "lower-case form the same unless that has one.")
        // the lexicon / user lexicon as mappings (user=True: the user lexicon); changes clear the word cache
        .def(
            "get_entry",
            [](G2P& s, const std::string& w, bool user) {
                return locked(s, [&](auto& g) -> std::optional<std::string> {
                    const auto ps = table(g, user).find(w);
                    if (!ps) return std::nullopt;
                    return std::string(*ps);
                });
            },
            "word"_a, "user"_a = false)
        .def(
            "set_entry",
            [](G2P& s, const std::string& w, const std::string& ph, bool user) {
                locked(s, [&](auto& g) {
                    table(g, user).set(w, ph);
                    g.clear_cache();
                });
            },
            "word"_a, "phonemes"_a, "user"_a = false)
        .def(
            "del_entry",
            [](G2P& s, const std::string& w, bool user) {
                return locked(s, [&](auto& g) {
                    const bool erased = table(g, user).erase(w);
                    g.clear_cache();
                    return erased;
                });
            },
            "word"_a, "user"_a = false)
        .def(
            "clear_entries",
            [](G2P& s, bool user) {
                locked(s, [&](auto& g) {
                    table(g, user).clear();
                    g.clear_cache();
                });
            },
            "user"_a = false)
        .def(
            "entry_keys",
            [](G2P& s, bool user) {
                return locked(s, [&](auto& g) {
                    std::vector<std::string> keys;
                    keys.reserve(table(g, user).size());
                    table(g, user).for_each([&](std::string_view k, std::string_view) { keys.emplace_back(k); });
                    return keys;
                });
            },
            "user"_a = false)
        .def(
            "entry_count", [](G2P& s, bool user) { return locked(s, [&](auto& g) { return table(g, user).size(); }); },
            "user"_a = false)
        .def(
            "set_letter_to_sound",
            [](G2P& s, LtsFn fn) {
                locked(s, [&](auto& g) {
                    nb::gil_scoped_acquire acquire;  // g2p_traverse reads the callables under the GIL
                    g.set_letter_to_sound(std::move(fn));
                });
            },
            "letter_to_sound"_a.none())
        .def(
            "set_normalize",
            [](G2P& s, NormFn fn) {
                locked(s, [&](auto& g) {
                    nb::gil_scoped_acquire acquire;
                    g.set_normalize(std::move(fn));
                });
            },
            "normalize"_a.none())
        .def("clear_cache", [](G2P& s) { locked(s, [&](auto& g) { g.clear_cache(); }); })
        .def_prop_ro("cache_size", [](G2P& s) { return locked(s, [&](auto& g) { return g.cache_size(); }); })
        .def_prop_ro("has_letter_to_sound",
                     [](G2P& s) { return locked(s, [&](auto& g) { return g.has_letter_to_sound(); }); })
        .def_prop_ro("symbols", [](G2P& s) { return s.g2p.symbols(); })
        .def_prop_ro("vocab_size", [](G2P& s) { return s.g2p.vocab_size(); });
}

}  // namespace voxlite::bind
