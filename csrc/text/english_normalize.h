// English text normalisation: what is spoken for written English as people type it. The one implementation used
// by Python (voxlite.text.english_normalize calls it through voxlite._native) and by the C API.
//
// A line-by-line port of the former Python module (kept as tests/reference/english_normalize.py, whose docstring,
// also kept in python/voxlite/text/english_normalize.py, lists the rules): the same regular expressions, verbatim,
// in the same order, run by the re-compatible engine of regex.h over UTF-32, with the same callbacks; Unicode
// properties as CPython 3.11's str (Unicode 14.0.0, unicode.h). Tests hold it to the reference output exactly.
//
// Text is UTF-8 in and out; invalid UTF-8 throws std::invalid_argument. Where the Python raises ValueError (a
// number out of range for cardinal / ordinal / year, normalize_numbers on a number too large to read) these throw
// std::domain_error. All functions are thread-safe (the compiled patterns are immutable after a thread-safe
// first-use initialisation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace voxlite::text {

// Numbers in words. cardinal: 0 <= n < 10**12, else std::domain_error ("number out of range: n").
std::string cardinal(int64_t n);
std::string ordinal(int64_t n);
std::string year(int64_t n);  // 1984 -> "nineteen eighty-four", 1905 -> "nineteen oh five", 2005 -> "two thousand five"
// The value of a well-formed Roman numeral 1-3999 ("XIV" -> 14), nullopt otherwise ("IIII", "VX", "MIX").
std::optional<int64_t> roman_value(std::string_view s);

// The steps of normalize_text, each usable alone (as the Python functions of the same names).
std::string fold_accents(std::string_view text);
std::string clean_layout(std::string_view text);
std::string read_web(std::string_view text);
std::string read_phone_numbers(std::string_view text);
std::string expand_abbreviations(std::string_view text);
std::string normalize_numbers(std::string_view text);  // std::domain_error for a number of 10**12 or more
std::string read_roman_numerals(std::string_view text);
std::string read_acronyms(std::string_view text);
std::string read_symbols(std::string_view text);

// Written English -> what is spoken: no digits and no symbols but ' - , . ; : ! ? are left.
std::string normalize_text(std::string_view text);
std::u32string normalize_text_u32(std::u32string_view text);

// Helpers SSML's <say-as> reuses (Python: _amount, _date, _phone_groups).
std::string read_amount(std::string_view s);  // "1,200" -> "one thousand two hundred", "-.5" -> "minus point five"
// "March fifth, twenty twenty-four" (day_first: "the fifth of March, ..."); nullopt when month or day is out of
// range; a year below 100 is 20xx (< 50) or 19xx.
std::optional<std::string> read_date(int64_t y, int64_t month, int64_t day, bool day_first = false);
std::string read_phone_groups(const std::vector<std::string>& groups);  // "five five five, zero one four two"

// The (pattern, flags) of every regular expression the normaliser has compiled so far (tests compare them with
// the reference's).
std::vector<std::pair<std::string, unsigned>> normalizer_patterns();

}  // namespace voxlite::text
