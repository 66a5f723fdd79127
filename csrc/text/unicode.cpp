// Unicode properties for the native text front end (see unicode.h). The tables come from CPython 3.11's
// unicodedata (tools/gen_unicode_tables.py); each lookup is a binary search over sorted ranges, with an ASCII fast
// path for the properties the regex engine asks for on every character.
#include "unicode.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <stdexcept>

namespace voxlite::text {

namespace {

struct CodeRange {
    char32_t first, last;
};
struct DigitRange {
    char32_t first, last;
    int value;  // of `first`
};
struct CaseRun {
    char32_t first, last;
    int stride;
    int32_t delta;
};
struct SpecialCase {
    char32_t cp;
    char32_t to[3];  // 0-terminated when shorter
};
struct CombiningRange {
    char32_t first, last;
    int ccc;
};
struct Decomposition {
    char32_t cp;
    uint16_t offset;
    uint8_t length;
};

#include "unicode_tables.inc"

template <typename T, size_t N>
const T* find_range(const T (&table)[N], char32_t c) {
    // the last entry whose first <= c, if c <= its last
    const T* it = std::upper_bound(table, table + N, c, [](char32_t v, const T& r) { return v < r.first; });
    if (it == table) return nullptr;
    --it;
    return c <= it->last ? it : nullptr;
}

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t c) {
    return find_range(table, c) != nullptr;
}

template <size_t N>
std::optional<char32_t> run_map(const CaseRun (&table)[N], char32_t c) {
    const CaseRun* r = find_range(table, c);
    if (!r || (c - r->first) % static_cast<char32_t>(r->stride) != 0) return std::nullopt;
    return static_cast<char32_t>(static_cast<int64_t>(c) + r->delta);
}

template <size_t N>
const SpecialCase* find_special(const SpecialCase (&table)[N], char32_t c) {
    const SpecialCase* it =
        std::lower_bound(table, table + N, c, [](const SpecialCase& s, char32_t v) { return s.cp < v; });
    return it != table + N && it->cp == c ? it : nullptr;
}

enum : uint8_t { kWord = 1, kSpace = 2, kDecimal = 4, kDigit = 8, kAlpha = 16, kUpper = 32, kLower = 64 };

struct AsciiTable {
    std::array<uint8_t, 128> flags{};
    AsciiTable() {
        for (char32_t c = 0; c < 128; ++c) {
            uint8_t f = 0;
            if (in_ranges(kWordRanges, c)) f |= kWord;
            if (in_ranges(kSpaceRanges, c)) f |= kSpace;
            if (find_range(kDecimalRanges, c)) f |= kDecimal;
            if (in_ranges(kDigitRanges, c)) f |= kDigit;
            if (in_ranges(kAlphaRanges, c)) f |= kAlpha;
            if (in_ranges(kUpperRanges, c)) f |= kUpper;
            if (in_ranges(kLowerRanges, c)) f |= kLower;
            flags[c] = f;
        }
    }
};

const AsciiTable& ascii() {
    static const AsciiTable table;
    return table;
}

[[noreturn]] void bad_utf8(size_t offset, const char* what) {
    throw std::invalid_argument("invalid UTF-8 at byte " + std::to_string(offset) + ": " + what);
}

constexpr char32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;

}  // namespace

const char* unicode_version() { return VOXLITE_UNICODE_VERSION; }

// ------------------------------------------------------------------------------------------------ UTF-8

std::u32string utf8_to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char b = p[i];
        if (b < 0x80) {
            out.push_back(b);
            ++i;
            continue;
        }
        int len;
        char32_t cp;
        unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
            cp = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            cp = b & 0x0F;
            if (b == 0xE0) lo = 0xA0;       // overlong
            else if (b == 0xED) hi = 0x9F;  // surrogates
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            cp = b & 0x07;
            if (b == 0xF0) lo = 0x90;       // overlong
            else if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            bad_utf8(i, "invalid start byte");
        }
        if (i + 1 >= n) bad_utf8(i, "unexpected end of data");
        if (p[i + 1] < lo || p[i + 1] > hi) bad_utf8(i, "invalid continuation byte");
        for (int k = 1; k < len; ++k) {
            if (i + k >= n) bad_utf8(i, "unexpected end of data");
            const unsigned char c = p[i + k];
            if ((c & 0xC0) != 0x80) bad_utf8(i, "invalid continuation byte");
            cp = (cp << 6) | (c & 0x3F);
        }
        out.push_back(cp);
        i += static_cast<size_t>(len);
    }
    return out;
}

char32_t decode_utf8_at(std::string_view s, size_t i, size_t& len) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    const size_t avail = s.size() - i;
    len = 1;
    if (c < 0x80) return c;
    size_t n;
    char32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0xFFFD;
    }
    if (avail < n || b(1) < lo || b(1) > hi) return 0xFFFD;
    for (size_t k = 1; k < n; ++k) {
        if (b(k) < 0x80 || b(k) > 0xBF) return 0xFFFD;
        cp = (cp << 6) | (b(k) & 0x3F);
    }
    len = n;
    return cp;
}

std::vector<std::string> split_code_points(std::string_view s) {
    std::vector<std::string> out;
    for (size_t i = 0, n; i < s.size(); i += n) {
        decode_utf8_at(s, i, n);
        out.emplace_back(s.substr(i, n));
    }
    return out;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        if (c >= 0xD800 && c <= 0xDFFF) throw std::invalid_argument("a surrogate code point cannot be UTF-8");
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c <= 0x10FFFF) {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        throw std::invalid_argument("code point above U+10FFFF");
    }
}

std::string u32_to_utf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) append_utf8(out, c);
    return out;
}

// ------------------------------------------------------------------------------------------------ properties

bool is_word(char32_t c) { return c < 128 ? (ascii().flags[c] & kWord) != 0 : in_ranges(kWordRanges, c); }
bool is_space(char32_t c) { return c < 128 ? (ascii().flags[c] & kSpace) != 0 : in_ranges(kSpaceRanges, c); }
bool is_decimal(char32_t c) {
    return c < 128 ? (ascii().flags[c] & kDecimal) != 0 : find_range(kDecimalRanges, c) != nullptr;
}
bool is_digit(char32_t c) { return c < 128 ? (ascii().flags[c] & kDigit) != 0 : in_ranges(kDigitRanges, c); }
bool is_alpha(char32_t c) { return c < 128 ? (ascii().flags[c] & kAlpha) != 0 : in_ranges(kAlphaRanges, c); }
bool is_upper(char32_t c) { return c < 128 ? (ascii().flags[c] & kUpper) != 0 : in_ranges(kUpperRanges, c); }
bool is_lower(char32_t c) { return c < 128 ? (ascii().flags[c] & kLower) != 0 : in_ranges(kLowerRanges, c); }

int decimal_value(char32_t c) {
    if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
    if (c < 128) return -1;
    const DigitRange* r = find_range(kDecimalRanges, c);
    return r ? r->value + static_cast<int>(c - r->first) : -1;
}

char32_t sre_lower(char32_t c) {
    if (c < 128) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return run_map(kSreLowerRuns, c).value_or(c);
}

bool sre_cased(char32_t c) { return in_ranges(kSreCasedRanges, c); }

const char32_t* sre_extra_cases(char32_t lo) {
    const SpecialCase* s = find_special(kIgnoreCaseFixes, lo);
    return s ? s->to : nullptr;
}

namespace {

template <size_t NR, size_t NS>
std::u32string map_case(std::u32string_view s, const CaseRun (&runs)[NR], const SpecialCase (&special)[NS]) {
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (const SpecialCase* sp = find_special(special, c)) {
            for (char32_t t : sp->to)
                if (t) out.push_back(t);
            continue;
        }
        out.push_back(run_map(runs, c).value_or(c));
    }
    return out;
}

}  // namespace

std::u32string to_upper(std::u32string_view s) { return map_case(s, kUpperRuns, kUpperSpecial); }
std::u32string to_lower(std::u32string_view s) { return map_case(s, kLowerRuns, kLowerSpecial); }

std::u32string to_upper_ascii(std::u32string_view s) {
    std::u32string out(s);
    for (char32_t& c : out)
        if (c >= 'a' && c <= 'z') c -= 32;
    return out;
}

// ------------------------------------------------------------------------------------------------ NFKD

int combining_class(char32_t c) {
    if (c < 0x300) return 0;
    const CombiningRange* r = find_range(kCombiningRanges, c);
    return r ? r->ccc : 0;
}

std::u32string nfkd(std::u32string_view s) {
    std::u32string out;
    out.reserve(s.size() + s.size() / 4);
    for (char32_t c : s) {
        if (c < 0xA0) {
            out.push_back(c);
        } else if (c >= kHangulFirst && c <= kHangulLast) {  // Hangul syllables: algorithmic (Unicode ch. 3.12)
            const char32_t si = c - kHangulFirst;
            out.push_back(0x1100 + si / (21 * 28));
            out.push_back(0x1161 + (si % (21 * 28)) / 28);
            if (si % 28) out.push_back(0x11A7 + si % 28);
        } else {
            const Decomposition* end = kDecompositions + std::size(kDecompositions);
            const Decomposition* d = std::lower_bound(kDecompositions, end, c,
                                                      [](const Decomposition& x, char32_t v) { return x.cp < v; });
            if (d != end && d->cp == c)
                out.append(kDecompPool + d->offset, d->length);
            else
                out.push_back(c);
        }
    }
    // canonical ordering: each run of combining marks (class != 0) stably sorted by class
    size_t i = 0;
    while (i < out.size()) {
        if (combining_class(out[i]) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < out.size() && combining_class(out[j]) != 0) ++j;
        if (j - i > 1)
            std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                             [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
        i = j;
    }
    return out;
}

// ------------------------------------------------------------------------------------------------ str helpers

bool str_isdigit(std::u32string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char32_t c) { return is_digit(c); });
}

bool str_isalpha(std::u32string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char32_t c) { return is_alpha(c); });
}

std::u32string_view rstrip(std::u32string_view s) {
    size_t e = s.size();
    while (e > 0 && is_space(s[e - 1])) --e;
    return s.substr(0, e);
}

std::u32string_view strip(std::u32string_view s) {
    s = rstrip(s);
    size_t b = 0;
    while (b < s.size() && is_space(s[b])) ++b;
    return s.substr(b);
}

std::u32string_view lstrip_chars(std::u32string_view s, std::u32string_view chars) {
    size_t b = 0;
    while (b < s.size() && chars.find(s[b]) != std::u32string_view::npos) ++b;
    return s.substr(b);
}

std::u32string_view rstrip_chars(std::u32string_view s, std::u32string_view chars) {
    size_t e = s.size();
    while (e > 0 && chars.find(s[e - 1]) != std::u32string_view::npos) --e;
    return s.substr(0, e);
}

std::u32string_view strip_chars(std::u32string_view s, std::u32string_view chars) {
    return lstrip_chars(rstrip_chars(s, chars), chars);
}

}  // namespace voxlite::text
