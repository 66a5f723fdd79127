// Python bindings of the English text normaliser (csrc/text/english_normalize.h) and, for its tests, of the
// re-compatible regex engine it runs on (csrc/text/regex.h).
//
// Names bound in voxlite._native (the prefixes keep them apart from the other kernels'):
//   en_cardinal(n) en_ordinal(n) en_year(n)            -> str; ValueError out of range (0 <= n < 10**12)
//   en_roman_value(s)                                  -> int | None
//   en_fold_accents(text) en_clean_layout(text) en_read_web(text) en_read_phone_numbers(text)
//   en_expand_abbreviations(text) en_normalize_numbers(text) en_read_roman_numerals(text) en_read_acronyms(text)
//   en_read_symbols(text) en_normalize_text(text)      -> str (en_normalize_numbers: ValueError for a number too
//                                                         large to read)
//   en_normalize_text_utf8(data: bytes) -> bytes       the same on UTF-8 bytes (the C API's path): invalid UTF-8
//                                                      raises ValueError
//   en_amount(s) en_date(y, month, day, day_first=False) en_phone_groups(groups)  (SSML's <say-as> helpers)
//   normalize_regex(pattern, flags=0)                  a compiled pattern (tests): .search(text, pos=0,
//                                                      endpos=None) / .match / .fullmatch -> list of spans
//                                                      [(start, end) | None per group] or None; .sub(repl, text,
//                                                      count=0) with a template; .findall(text); .finditer(text)
//                                                      -> list of span lists; .split(text, maxsplit=0);
//                                                      .groups; .pattern; .flags
//   normalize_regex_patterns()                         -> [(pattern, flags)] the normaliser has compiled so far
//   normalize_unicode_version()                        -> "14.0.0"
// Text goes in as str: one that cannot be UTF-8 (a lone surrogate) raises UnicodeEncodeError (a ValueError)
// naming the character and its position. The text functions release the GIL while they run.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "registry.h"
#include "text/english_normalize.h"
#include "text/regex.h"
#include "text/unicode.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace voxlite::bind {

namespace {

namespace vt = voxlite::text;

// str -> UTF-8; a str that is not valid Unicode (lone surrogates) raises Python's UnicodeEncodeError.
std::string utf8_of(nb::handle s) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(s.ptr(), &size);
    if (!data) throw nb::python_error();
    return std::string(data, static_cast<size_t>(size));
}

std::u32string u32_of(nb::handle s) { return vt::utf8_to_u32(utf8_of(s)); }

nb::str to_str(const std::u32string& s) {
    const std::string u = vt::u32_to_utf8(s);
    return nb::str(u.data(), u.size());
}

using TextFn = std::string (*)(std::string_view);

void def_text(nb::module_& m, const char* name, TextFn fn, const char* doc) {
    m.def(
        name,
        [fn](nb::str text) {
            const std::string in = utf8_of(text);
            std::string out;
            {
                nb::gil_scoped_release release;
                out = fn(in);
            }
            return out;
        },
        "text"_a, doc);
}

nb::object spans(const std::optional<vt::Match>& m) {
    if (!m) return nb::none();
    nb::list out;
    for (size_t g = 0; g <= m->groups(); ++g) {
        if (m->matched(g))
            out.append(nb::make_tuple(static_cast<int64_t>(m->start(g)), static_cast<int64_t>(m->end(g))));
        else
            out.append(nb::none());
    }
    return out;
}

size_t end_of(nb::handle endpos) {
    if (endpos.is_none()) return vt::Regex::npos;
    const int64_t e = nb::cast<int64_t>(endpos);
    return e < 0 ? 0 : static_cast<size_t>(e);
}

size_t pos_of(int64_t pos) { return pos < 0 ? 0 : static_cast<size_t>(pos); }

}  // namespace

void register_text_normalize(nb::module_& m) {
    // ------------------------------------------------------------ numbers
    m.def("en_cardinal", [](int64_t n) { return vt::cardinal(n); }, "n"_a,
          "0 <= n < 10**12 in words: 1984 -> 'one thousand nine hundred eighty-four'; ValueError otherwise.");
    m.def("en_ordinal", [](int64_t n) { return vt::ordinal(n); }, "n"_a, "103 -> 'one hundred third'.");
    m.def("en_year", [](int64_t n) { return vt::year(n); }, "n"_a,
          "How a year is read: 1984 -> 'nineteen eighty-four', 1905 -> 'nineteen oh five', 2005 -> 'two thousand "
          "five'.");
    m.def("en_roman_value", [](nb::str s) { return vt::roman_value(utf8_of(s)); }, "s"_a,
          "The value of a well-formed Roman numeral 1-3999, else None.");

    // ------------------------------------------------------------ text
    def_text(m, "en_fold_accents", &vt::fold_accents, "Latin letters with diacritics -> plain letters.");
    def_text(m, "en_clean_layout", &vt::clean_layout, "Quotes, dashes and whitespace.");
    def_text(m, "en_read_web", &vt::read_web, "E-mail and web addresses as people read them.");
    def_text(m, "en_read_phone_numbers", &vt::read_phone_numbers, "Phone numbers digit by digit, in their groups.");
    def_text(m, "en_expand_abbreviations", &vt::expand_abbreviations, "Abbreviations and dotted initialisms.");
    def_text(m, "en_normalize_numbers", &vt::normalize_numbers,
             "Digits -> words; ValueError for a number too large to read (10**12 and above).");
    def_text(m, "en_read_roman_numerals", &vt::read_roman_numerals, "Roman numerals after keywords and names.");
    def_text(m, "en_read_acronyms", &vt::read_acronyms, "All-capitals tokens people spell.");
    def_text(m, "en_read_symbols", &vt::read_symbols, "Remaining symbols as words, stray digits one by one.");
    def_text(m, "en_normalize_text", &vt::normalize_text,
             "Written English -> what is spoken (voxlite.text.english_normalize's rules).");

    m.def(
        "en_normalize_text_utf8",
        [](nb::bytes data) {
            const std::string in(data.c_str(), data.size());
            std::string out;
            {
                nb::gil_scoped_release release;
                out = vt::normalize_text(in);
            }
            return nb::bytes(out.data(), out.size());
        },
        "data"_a,
        "en_normalize_text on UTF-8 bytes, as the C API takes text: invalid UTF-8 raises ValueError naming the byte "
        "offset.");

    // ------------------------------------------------------------ SSML helpers
    m.def("en_amount", [](nb::str s) { return vt::read_amount(utf8_of(s)); }, "s"_a,
          "A written quantity ('1,200', '3.14', '.5', '-2') as a cardinal, never as a year.");
    m.def("en_date", &vt::read_date, "y"_a, "month"_a, "day"_a, "day_first"_a = false,
          "'March fifth, twenty twenty-four' (day_first: 'the fifth of March, ...'), None when month or day is out "
          "of range.");
    m.def(
        "en_phone_groups",
        [](const std::vector<nb::str>& groups) {
            std::vector<std::string> g;
            for (const auto& s : groups) g.push_back(utf8_of(s));
            return vt::read_phone_groups(g);
        },
        "groups"_a, "Phone number groups digit by digit, joined by ', ' ('800' after the first group: a number).");

    // ------------------------------------------------------------ regex engine (tests)
    nb::class_<vt::Regex>(m, "normalize_regex",
                          "A pattern compiled by the native normaliser's regex engine (Python re semantics, a "
                          "subset): for tests against re.")
        .def("__init__",
             [](vt::Regex* self, nb::str pattern, unsigned flags) { new (self) vt::Regex(u32_of(pattern), flags); },
             "pattern"_a, "flags"_a = 0)
        .def_prop_ro("pattern", [](const vt::Regex& r) { return to_str(r.pattern()); })
        .def_prop_ro("flags", &vt::Regex::flags)
        .def_prop_ro("groups", &vt::Regex::groups)
        .def(
            "search",
            [](const vt::Regex& r, nb::str text, int64_t pos, nb::handle endpos) {
                const std::u32string s = u32_of(text);
                return spans(r.search(s, pos_of(pos), end_of(endpos)));
            },
            "text"_a, "pos"_a = 0, "endpos"_a = nb::none())
        .def(
            "match",
            [](const vt::Regex& r, nb::str text, int64_t pos, nb::handle endpos) {
                const std::u32string s = u32_of(text);
                return spans(r.match(s, pos_of(pos), end_of(endpos)));
            },
            "text"_a, "pos"_a = 0, "endpos"_a = nb::none())
        .def(
            "fullmatch",
            [](const vt::Regex& r, nb::str text, int64_t pos, nb::handle endpos) {
                const std::u32string s = u32_of(text);
                return spans(r.fullmatch(s, pos_of(pos), end_of(endpos)));
            },
            "text"_a, "pos"_a = 0, "endpos"_a = nb::none())
        .def(
            "sub",
            [](const vt::Regex& r, nb::str repl, nb::str text, size_t count) {
                return to_str(r.sub(u32_of(text), std::u32string_view(u32_of(repl)), count));
            },
            "repl"_a, "text"_a, "count"_a = 0)
        .def(
            "findall",
            [](const vt::Regex& r, nb::str text) {
                nb::list out;
                for (const auto& row : r.findall(u32_of(text))) {
                    if (row.size() == 1 && r.groups() <= 1) {
                        out.append(to_str(row[0]));
                    } else {
                        nb::list items;
                        for (const auto& x : row) items.append(to_str(x));
                        out.append(nb::steal(PyList_AsTuple(items.ptr())));
                    }
                }
                return out;
            },
            "text"_a)
        .def(
            "finditer",
            [](const vt::Regex& r, nb::str text) {
                const std::u32string s = u32_of(text);
                nb::list out;
                for (const auto& mt : r.finditer(s)) out.append(spans(mt));
                return out;
            },
            "text"_a)
        .def(
            "split",
            [](const vt::Regex& r, nb::str text, size_t maxsplit) {
                nb::list out;
                for (const auto& piece : r.split(u32_of(text), maxsplit)) {
                    if (piece)
                        out.append(to_str(*piece));
                    else
                        out.append(nb::none());
                }
                return out;
            },
            "text"_a, "maxsplit"_a = 0);

    m.def("normalize_regex_patterns", &vt::normalizer_patterns,
          "The (pattern, flags) of every regular expression the native normaliser has compiled so far.");
    m.def("normalize_unicode_version", [] { return std::string(vt::unicode_version()); },
          "The Unicode version of the native text tables (what CPython 3.11 ships).");
}

}  // namespace voxlite::bind
