// English text normalisation (see english_normalize.h): a port of tests/reference/english_normalize.py, section by
// section and in the same order, so the two can be read side by side. Each Python `re.sub(pattern, ...)` is
// `RE(pattern).sub(...)` here with the pattern verbatim (a C++ raw string), compiled once on first use.
#include "english_normalize.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <tuple>

#include "regex.h"
#include "unicode.h"

namespace voxlite::text {

namespace {

using U = std::u32string;
using UV = std::u32string_view;

// ----------------------------------------------------------------------------------------------- patterns

struct PatternRegistry {
    std::mutex mu;
    std::vector<std::pair<std::string, unsigned>> patterns;
};

PatternRegistry& registry() {
    static PatternRegistry r;
    return r;
}

Regex make_re(const U& pattern, unsigned flags = 0) {
    Regex r(pattern, flags);
    PatternRegistry& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mu);
    reg.patterns.emplace_back(u32_to_utf8(pattern), flags);
    return r;
}

// A pattern compiled on first use (thread-safe: a function-local static), then shared.
#define RE(...) ([&]() -> const Regex& { static const Regex r_ = make_re(__VA_ARGS__); return r_; }())

constexpr unsigned IGNORECASE = re_flags::IGNORECASE;

[[noreturn]] void value_error(const std::string& msg) { throw std::domain_error(msg); }

// ----------------------------------------------------------------------------------------------- str helpers

U replace_all(UV s, UV from, UV to) {
    U out;
    size_t i = 0;
    for (;;) {
        const size_t j = s.find(from, i);
        if (j == UV::npos) break;
        out.append(s.substr(i, j - i));
        out.append(to);
        i = j + from.size();
    }
    out.append(s.substr(i));
    return out;
}

bool starts_with(UV s, UV p) { return s.substr(0, p.size()) == p; }
bool ends_with(UV s, UV p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }
bool contains(UV s, UV p) { return s.find(p) != UV::npos; }

// str.rpartition / str.partition
std::tuple<U, U, U> rpartition(UV s, UV sep) {
    const size_t j = s.rfind(sep);
    if (j == UV::npos) return {U(), U(), U(s)};
    return {U(s.substr(0, j)), U(sep), U(s.substr(j + sep.size()))};
}
std::tuple<U, U, U> partition(UV s, UV sep) {
    const size_t j = s.find(sep);
    if (j == UV::npos) return {U(s), U(), U()};
    return {U(s.substr(0, j)), U(sep), U(s.substr(j + sep.size()))};
}

// str.split(sep)
std::vector<U> split(UV s, UV sep) {
    std::vector<U> out;
    size_t i = 0;
    for (;;) {
        const size_t j = s.find(sep, i);
        if (j == UV::npos) break;
        out.emplace_back(s.substr(i, j - i));
        i = j + sep.size();
    }
    out.emplace_back(s.substr(i));
    return out;
}

U join(const std::vector<U>& parts, UV sep) {
    U out;
    for (size_t k = 0; k < parts.size(); ++k) {
        if (k) out.append(sep);
        out.append(parts[k]);
    }
    return out;
}

// " ".join(s): the characters of s separated by spaces
U spaced(UV s) {
    U out;
    for (size_t k = 0; k < s.size(); ++k) {
        if (k) out.push_back(U' ');
        out.push_back(s[k]);
    }
    return out;
}

// Python's `s[a:b] in (",", ";", ":")` for a slice of at most one character
bool is_one_of(UV s, std::initializer_list<UV> options) {
    return std::find(options.begin(), options.end(), s) != options.end();
}

UV slice(UV s, size_t a, size_t b) {
    a = std::min(a, s.size());
    b = std::min(std::max(a, b), s.size());
    return s.substr(a, b - a);
}

std::string repr_utf8(UV s) {
    std::string out = "'";
    for (char32_t c : s) append_utf8(out, c);
    return out + "'";
}

// int(s) as Python does it for a str: whitespace around, a sign, Unicode decimal digits with single underscores
// between them, at most 4300 digits (sys.int_info.default_max_str_digits). The value saturates at +-10**18, which
// every use here only compares with small bounds or hands to cardinal (which refuses 10**12 and above).
constexpr int64_t kSaturated = 1000000000000000000LL;

int64_t py_int(UV text) {
    const UV s = strip(text);
    size_t i = 0;
    bool neg = false;
    if (i < s.size() && (s[i] == U'+' || s[i] == U'-')) {
        neg = s[i] == U'-';
        ++i;
    }
    int64_t v = 0;
    size_t digits = 0;
    bool after_digit = false;
    for (; i < s.size(); ++i) {
        if (s[i] == U'_' && after_digit && i + 1 < s.size()) {
            after_digit = false;
            continue;
        }
        const int d = decimal_value(s[i]);
        if (d < 0) value_error("invalid literal for int() with base 10: " + repr_utf8(text));
        ++digits;
        after_digit = true;
        v = v >= kSaturated / 10 ? kSaturated : v * 10 + d;
    }
    if (!after_digit) value_error("invalid literal for int() with base 10: " + repr_utf8(text));
    if (digits > 4300)
        value_error("Exceeds the limit (4300 digits) for integer string conversion: value has " +
                    std::to_string(digits) + " digits; use sys.set_int_max_str_digits() to increase the limit");
    return neg ? -v : v;
}

int64_t py_int(const Match& m, size_t g) { return py_int(m.view(g)); }

// Python's divmod for a positive divisor (floor division)
int64_t floordiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && (a < 0)); }
int64_t floormod(int64_t a, int64_t b) { return a - floordiv(a, b) * b; }

std::string out8(const U& s) { return u32_to_utf8(s); }
U in32(std::string_view s) { return utf8_to_u32(s); }

// ----------------------------------------------------------------------------------------------- numbers

constexpr const char32_t* kOnes[20] = {U"zero",    U"one",     U"two",       U"three",    U"four",
                                   U"five",    U"six",     U"seven",     U"eight",    U"nine",
                                   U"ten",     U"eleven",  U"twelve",    U"thirteen", U"fourteen",
                                   U"fifteen", U"sixteen", U"seventeen", U"eighteen", U"nineteen"};
constexpr const char32_t* kTens[10] = {U"_",     U"_",     U"twenty",  U"thirty", U"forty",
                                   U"fifty", U"sixty", U"seventy", U"eighty", U"ninety"};
constexpr std::pair<int64_t, const char32_t*> kScales[3] = {
    {1000000000LL, U"billion"}, {1000000LL, U"million"}, {1000LL, U"thousand"}};

U cardinal_u(int64_t n) {
    if (n < 0 || n >= 1000000000000LL) value_error("number out of range: " + std::to_string(n));
    if (n < 20) return kOnes[n];
    if (n < 100) {
        const int64_t t = n / 10, o = n % 10;
        return U(kTens[t]) + (o ? U"-" + U(kOnes[o]) : U());
    }
    if (n < 1000) {
        const int64_t h = n / 100, r = n % 100;
        return U(kOnes[h]) + U" hundred" + (r ? U" " + cardinal_u(r) : U());
    }
    for (const auto& [value, name] : kScales) {
        if (n >= value) {
            const int64_t q = n / value, r = n % value;
            return cardinal_u(q) + U" " + name + (r ? U" " + cardinal_u(r) : U());
        }
    }
    throw std::logic_error("cardinal: unreachable");
}

U ordinalize(const U& word) {
    static const std::map<U, U> irregular = {{U"one", U"first"}, {U"two", U"second"}, {U"three", U"third"},
                                             {U"five", U"fifth"}, {U"eight", U"eighth"}, {U"nine", U"ninth"},
                                             {U"twelve", U"twelfth"}};
    auto it = irregular.find(word);
    if (it != irregular.end()) return it->second;
    if (ends_with(word, U"y")) return word.substr(0, word.size() - 1) + U"ieth";
    return word + U"th";
}

U ordinal_u(int64_t n) {
    const U words = cardinal_u(n);
    auto [head, sep, last] = rpartition(words, U" ");
    auto [last_head, hyphen, last_tail] = rpartition(last, U"-");
    last = last_head + hyphen + ordinalize(last_tail);
    return head + sep + last;
}

U year_u(int64_t n) {
    const int64_t hi = floordiv(n, 100), lo = floormod(n, 100);
    if (floormod(n, 1000) < 10 && floormod(hi, 10) == 0) return cardinal_u(n);  // 2000-2009, 1000-1009
    if (lo == 0) return cardinal_u(hi) + U" hundred";
    if (lo < 10) return cardinal_u(hi) + U" oh " + kOnes[lo];
    return cardinal_u(hi) + U" " + cardinal_u(lo);
}

U plural(const U& words) {
    auto [head, sep, last] = rpartition(words, U" ");
    auto [last_head, hyphen, last_tail] = rpartition(last, U"-");
    last_tail = ends_with(last_tail, U"y") ? last_tail.substr(0, last_tail.size() - 1) + U"ies" : last_tail + U"s";
    return head + sep + last_head + hyphen + last_tail;
}

// A bare integer as read aloud: years as years, others as cardinals.
U number(UV s) {
    const int64_t n = py_int(s);
    if (s.size() == 4 && 1100 <= n && n <= 2099) return year_u(n);
    return cardinal_u(n);
}

U digits(UV s) {
    std::vector<U> words;
    for (char32_t d : s) {
        if (!is_digit(d)) continue;
        words.emplace_back(kOnes[py_int(UV(&d, 1))]);
    }
    return join(words, U" ");
}

// A written quantity (1,200, 3.14, .5, -2) as a cardinal, never as a year.
U amount(UV text) {
    U s = replace_all(text, U",", U"");
    U sign;
    if (s.empty() || s[0] == U'-' || s[0] == U'\u2212') {
        sign = U"minus ";
        s = s.empty() ? s : s.substr(1);
    }
    auto [whole, sep, frac] = partition(s, U".");
    U out = whole.empty() ? U() : cardinal_u(py_int(whole));
    if (!frac.empty()) out = (out.empty() ? U() : out + U" ") + U"point " + digits(frac);
    return sign + out;
}

constexpr const char32_t* kMonthNames[12] = {U"January", U"February", U"March",     U"April",   U"May",      U"June",
                                         U"July",    U"August",   U"September", U"October", U"November", U"December"};
constexpr UV kMonths = U"January|February|March|April|May|June|July|August|September|October|November|December";

std::optional<U> date(int64_t y, int64_t mo, int64_t d, bool day_first = false) {
    if (!(1 <= mo && mo <= 12 && 1 <= d && d <= 31)) return std::nullopt;
    if (y < 100) y += y < 50 ? 2000 : 1900;
    const U month = kMonthNames[mo - 1];
    if (day_first) {
        U out = U"the " + ordinal_u(d) + U" of " + month + U", ";
        return out + (1000 <= y && y < 10000 ? year_u(y) : cardinal_u(y));
    }
    U out = month + U" " + ordinal_u(d) + U", ";
    return out + (1000 <= y && y < 10000 ? year_u(y) : cardinal_u(y));
}

U iso_date(const Match& m) {
    const int64_t y = py_int(m, 1), mo = py_int(m, 2), d = py_int(m, 3);
    return date(y, mo, d).value_or(m.group(0));
}

U slash_date(const Match& m) {
    const int64_t a = py_int(m, 1), b = py_int(m, 2), y = py_int(m, 3);
    if (a > 12 && b <= 12) return date(y, b, a).value_or(m.group(0));  // 25/12/2024: the day comes first
    return date(y, a, b).value_or(m.group(0));
}

U dotted_date(const Match& m) {
    const int64_t y = py_int(m, 3), mo = py_int(m, 2), d = py_int(m, 1);
    return date(y, mo, d, true).value_or(m.group(0));
}

struct Currency {
    const char32_t* one;
    const char32_t* many;
    const char32_t* sub_one;  // nullptr: no subunit (yen)
    const char32_t* sub_many;
};

const Currency& currency(char32_t symbol) {
    static const std::map<char32_t, Currency> table = {{U'$', {U"dollar", U"dollars", U"cent", U"cents"}},
                                                       {U'€', {U"euro", U"euros", U"cent", U"cents"}},
                                                       {U'£', {U"pound", U"pounds", U"penny", U"pence"}},
                                                       {U'¥', {U"yen", U"yen", nullptr, nullptr}}};
    return table.at(symbol);
}

const U& money_scale(const U& scale) {
    static const std::map<U, U> table = {
        {U"k", U"thousand"}, {U"K", U"thousand"},    {U"thousand", U"thousand"}, {U"M", U"million"},
        {U"m", U"million"},  {U"mn", U"million"},    {U"million", U"million"},   {U"B", U"billion"},
        {U"bn", U"billion"}, {U"billion", U"billion"}, {U"T", U"trillion"},      {U"tn", U"trillion"},
        {U"trillion", U"trillion"}};
    return table.at(scale);
}

constexpr UV kNum = UR"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)";
constexpr UV kScaleRe = UR"((?:\s?(k|K|M|m|mn|B|bn|T|tn)|\s(thousand|million|billion|trillion))\b)";

U money_words(UV symbol, UV num, const std::optional<U>& scale) {
    const Currency& c = currency(symbol.at(0));
    if (scale && !scale->empty()) return amount(num) + U" " + money_scale(*scale) + U" " + c.many;
    auto [whole, sep, frac] = partition(replace_all(num, U",", U""), U".");
    const int64_t units = whole.empty() ? 0 : py_int(whole);
    if (!frac.empty() && (frac.size() != 2 || c.sub_one == nullptr)) return amount(num) + U" " + c.many;
    const int64_t cents = frac.empty() ? 0 : py_int(frac);
    std::vector<U> parts;
    if (units || !cents) parts.push_back(cardinal_u(units) + U" " + (units == 1 ? c.one : c.many));
    if (cents) parts.push_back(cardinal_u(cents) + U" " + (cents == 1 ? c.sub_one : c.sub_many));
    return join(parts, U" and ");
}

std::optional<U> group_or(const Match& m, size_t a, size_t b) {  // m.group(a) or m.group(b)
    if (!m.view(a).empty()) return m.group(a);
    return m.group_opt(b);
}

U money(const Match& m) { return money_words(m.view(1), m.view(2), group_or(m, 3, 4)); }
U money_after(const Match& m) { return money_words(m.view(3), m.view(1), m.group_opt(2)); }

U decimal(const Match& m) {
    std::vector<U> words;
    for (char32_t d : m.view(2)) words.emplace_back(kOnes[py_int(UV(&d, 1))]);
    return cardinal_u(py_int(m, 1)) + U" point " + join(words, U" ");
}

U time(const Match& m) {
    const int64_t h = py_int(m, 1), mi = py_int(m, 2);
    if (!(0 <= h && h <= 24 && 0 <= mi && mi < 60)) return m.group(0);
    if (mi == 0) return cardinal_u(h) + U" o'clock";
    if (mi < 10) return cardinal_u(h) + U" oh " + kOnes[mi];
    return cardinal_u(h) + U" " + cardinal_u(mi);
}

U clock_time(const Match& m) {
    const int64_t h = py_int(m, 1), mi = m.view(2).empty() ? 0 : py_int(m, 2);
    if (!(0 <= h && h <= 24 && 0 <= mi && mi < 60)) return m.group(0);
    const U spoken = cardinal_u(h) + (mi == 0 ? U() : mi < 10 ? U" oh " + U(kOnes[mi]) : U" " + cardinal_u(mi));
    return spoken + U" " + to_upper_ascii(m.view(3)) + U" M";
}

// abbreviation -> (singular, plural), in the Python dict's order; longest first when matched
struct UnitName {
    U abbr, one, many;
};

const std::vector<UnitName>& units() {
    static const std::vector<UnitName> table = {
        {U"km/h", U"kilometer per hour", U"kilometers per hour"},
        {U"kph", U"kilometer per hour", U"kilometers per hour"},
        {U"mph", U"mile per hour", U"miles per hour"}, {U"m/s", U"meter per second", U"meters per second"},
        {U"kWh", U"kilowatt hour", U"kilowatt hours"},
        {U"kg", U"kilogram", U"kilograms"}, {U"mg", U"milligram", U"milligrams"}, {U"g", U"gram", U"grams"},
        {U"km", U"kilometer", U"kilometers"}, {U"cm", U"centimeter", U"centimeters"},
        {U"mm", U"millimeter", U"millimeters"},
        {U"m", U"meter", U"meters"}, {U"ml", U"milliliter", U"milliliters"}, {U"mL", U"milliliter", U"milliliters"},
        {U"l", U"liter", U"liters"}, {U"L", U"liter", U"liters"},
        {U"TB", U"terabyte", U"terabytes"}, {U"GB", U"gigabyte", U"gigabytes"}, {U"MB", U"megabyte", U"megabytes"},
        {U"KB", U"kilobyte", U"kilobytes"}, {U"kB", U"kilobyte", U"kilobytes"},
        {U"GHz", U"gigahertz", U"gigahertz"}, {U"MHz", U"megahertz", U"megahertz"},
        {U"kHz", U"kilohertz", U"kilohertz"},
        {U"Hz", U"hertz", U"hertz"}, {U"kW", U"kilowatt", U"kilowatts"}, {U"W", U"watt", U"watts"},
        {U"V", U"volt", U"volts"},
        {U"lbs", U"pound", U"pounds"}, {U"lb", U"pound", U"pounds"}, {U"oz", U"ounce", U"ounces"},
        {U"ft", U"foot", U"feet"},
        {U"mi", U"mile", U"miles"}, {U"hrs", U"hour", U"hours"}, {U"hr", U"hour", U"hours"}, {U"h", U"hour", U"hours"},
        {U"min", U"minute", U"minutes"}, {U"sec", U"second", U"seconds"}, {U"ms", U"millisecond", U"milliseconds"},
        {U"°C", U"degree Celsius", U"degrees Celsius"}, {U"°F", U"degree Fahrenheit", U"degrees Fahrenheit"},
        {U"° C", U"degree Celsius", U"degrees Celsius"}, {U"° F", U"degree Fahrenheit", U"degrees Fahrenheit"},
        {U"°", U"degree", U"degrees"},
    };
    return table;
}

const UnitName& unit_name(UV abbr) {
    for (const auto& u : units())
        if (u.abbr == abbr) return u;
    throw std::logic_error("unknown unit");
}

// "|".join(re.escape(u) for u in sorted(keys, key=len, reverse=True)) (a stable sort, as Python's)
U alternation_longest_first(std::vector<U> keys) {
    std::stable_sort(keys.begin(), keys.end(), [](const U& a, const U& b) { return a.size() > b.size(); });
    std::vector<U> escaped;
    for (const auto& k : keys) escaped.push_back(regex_escape(k));
    return join(escaped, U"|");
}

const U& unit_alt() {
    static const U alt = [] {
        std::vector<U> keys;
        for (const auto& u : units()) keys.push_back(u.abbr);
        return alternation_longest_first(keys);
    }();
    return alt;
}

// "/unit" after an amount: the units without "/" and "°", then a few more words (dict order)
const std::vector<std::pair<U, U>>& per_words() {
    static const std::vector<std::pair<U, U>> table = [] {
        std::vector<std::pair<U, U>> t;
        for (const auto& u : units())
            if (!contains(u.abbr, U"/") && !starts_with(u.abbr, U"°")) t.emplace_back(u.abbr, u.one);
        for (const char32_t* w : {U"hour", U"day", U"week", U"month"}) t.emplace_back(w, w);
        t.emplace_back(U"mo", U"month");
        t.emplace_back(U"year", U"year");
        t.emplace_back(U"yr", U"year");
        for (const char32_t* w : {U"night", U"person", U"unit", U"piece", U"kilo", U"page"}) t.emplace_back(w, w);
        return t;
    }();
    return table;
}

const U& per_word(UV key) {
    for (const auto& [k, v] : per_words())
        if (k == key) return v;
    throw std::logic_error("unknown per-unit word");
}

const U& per_alt() {
    static const U alt = [] {
        std::vector<U> keys;
        for (const auto& kv : per_words()) keys.push_back(kv.first);
        return alternation_longest_first(keys);
    }();
    return alt;
}

U unit(const Match& m) {
    const UV num = m.view(1), unit_abbr = m.view(3);
    const bool hyphen = !m.view(2).empty();
    const UnitName& u = unit_name(unit_abbr);
    if (hyphen) return amount(num) + U"-" + u.one;  // "a 10-km run": an adjective, singular
    const U value(lstrip_chars(replace_all(num, U",", U""), U"-\u2212"));
    return amount(num) + U" " + (value == U"1" ? u.one : u.many);
}

U fraction_words(int64_t num, int64_t den, bool article = false) {
    U one, many;
    if (den == 2) {
        one = U"half", many = U"halves";
    } else if (den == 4) {
        one = U"quarter", many = U"quarters";
    } else {
        one = ordinal_u(den);
        many = plural(ordinal_u(den));
    }
    if (num == 1) return U(article ? U"a" : U"one") + U" " + one;
    return cardinal_u(num) + U" " + many;
}

U fraction(const Match& m) {
    static const std::map<U, U> special = {{U"24/7", U"twenty-four seven"}, {U"9/11", U"nine eleven"},
                                           {U"50/50", U"fifty-fifty"}, {U"20/20", U"twenty-twenty"}};
    auto it = special.find(m.group(0));
    if (it != special.end()) return it->second;
    const int64_t num = py_int(m, 1), den = py_int(m, 2);
    if (den < 2 || den > 100) return cardinal_u(num) + U" over " + cardinal_u(den);
    return fraction_words(num, den);
}

U mixed_fraction(const Match& m) {
    const int64_t whole = py_int(m, 1), num = py_int(m, 2), den = py_int(m, 3);
    if (!(0 < num && num < den && den <= 100)) return m.group(0);
    return cardinal_u(whole) + U" and " + fraction_words(num, den, true);
}

const Regex& sports_re() {
    return RE(UR"(\b(won|win|wins|winning|lost|lose|loses|beat|beats|defeat(?:ed|s)?|drew|draw|tied?|scored?|)"
              UR"(victory|loss|lead|led|final|game|match|goals?|innings?|half-time|halftime|scoreline)\b)",
              IGNORECASE);
}

U range_part(UV text) {
    const U s = replace_all(text, U",", U"");
    if (contains(s, U".")) return amount(s);
    return number(s);
}

// text.rfind(sub, 0, end) / text.find(sub, start)
std::ptrdiff_t rfind_before(UV text, UV sub, size_t end) {
    if (end < sub.size()) return -1;
    const size_t j = text.substr(0, end).rfind(sub);
    return j == UV::npos ? -1 : static_cast<std::ptrdiff_t>(j);
}
std::ptrdiff_t find_from(UV text, UV sub, size_t start) {
    if (start > text.size()) return -1;
    const size_t j = text.find(sub, start);
    return j == UV::npos ? -1 : static_cast<std::ptrdiff_t>(j);
}

U range_or_score(const Match& m, const U& text) {
    const UV a = m.view(1), b = m.view(2);
    const size_t start = static_cast<size_t>(m.start()), end = static_cast<size_t>(m.end());
    const std::ptrdiff_t sentence_start = std::max(
        {rfind_before(text, U". ", start), rfind_before(text, U"! ", start), rfind_before(text, U"? ", start)});
    std::ptrdiff_t sentence_end = static_cast<std::ptrdiff_t>(text.size());
    bool any = false;
    for (std::ptrdiff_t i : {find_from(text, U". ", end), find_from(text, U"! ", end), find_from(text, U"? ", end)}) {
        if (i >= 0) {
            sentence_end = any ? std::min(sentence_end, i) : i;
            any = true;
        }
    }
    const U ab = U(a) + U(b);
    const bool sports = sports_re()
                            .search(text, static_cast<size_t>(std::max<std::ptrdiff_t>(0, sentence_start)),
                                    static_cast<size_t>(sentence_end))
                            .has_value() &&
                        !contains(ab, U".") && !contains(ab, U",") && py_int(a) < 100 && py_int(b) < 100;
    if (sports) {
        auto score = [](UV x) { return py_int(x) == 0 ? U(U"nothing") : cardinal_u(py_int(x)); };
        U sa = score(a);
        return sa + U" to " + score(b);
    }
    U ra = range_part(a);
    return ra + U" to " + range_part(b);
}

U version(const Match& m) {
    std::vector<U> parts;
    for (const U& p : split(m.view(0), U".")) parts.push_back(cardinal_u(py_int(p)));
    return join(parts, U" point ");
}

U normalize_numbers_u(U text) {
    // numeric dates
    text = RE(UR"(\b(\d{4})-(\d{1,2})-(\d{1,2})\b)").sub(text, iso_date);
    text = RE(UR"((?<![\d/])\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b(?!/))").sub(text, slash_date);
    text = RE(UR"((?<![\d.])\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b(?!\.\d))").sub(text, dotted_date);
    // money
    text = RE(UR"(([$€£¥])\s?()" + U(kNum) + UR"()(?:)" + U(kScaleRe) + UR"()?)").sub(text, money);
    text = RE(UR"((?<![\w.])()" + U(kNum) + UR"()(?:\s?(k|K|M|m|mn|B|bn))?\s?([€£¥])(?!\w))").sub(text, money_after);
    // percentages
    text = RE(UR"((?<![\w.])([-\u2212]?(?:)" + U(kNum) + UR"())\s?%)").sub(text, [](const Match& m) {
        return amount(m.view(1)) + U" percent";
    });
    // times with a.m. / p.m., then clock times
    text = RE(UR"(\b(\d{1,2})(?::(\d{2}))?\s?([AaPp])(?:\.\s?[Mm]\.|\s?[Mm]\b|\s[Mm]\b))").sub(text, clock_time);
    text = RE(UR"(\b(\d{1,2}):(\d{2})\b(?!:\d))").sub(text, time);
    text = RE(UR"((?<![\w:.])(\d+):(\d)\b(?![:.]\d))").sub(text, [](const Match& m) {
        U a = number(m.view(1));
        return a + U" to " + number(m.view(2));
    });  // a ratio: one digit after the colon is never minutes
    text = RE(UR"(\b(\d{1,2}):(\d{2}):(\d{2})\b)").sub(text, [](const Match& m) {
        U out = cardinal_u(py_int(m, 1)) + U" ";
        out += cardinal_u(py_int(m, 2)) + U" and ";
        out += cardinal_u(py_int(m, 3));
        return out + U" second" + (py_int(m, 3) == 1 ? U"" : U"s");
    });
    // units
    text = RE(UR"((?<![\w.])((?:(?<!\w)[-\u2212])?(?:)" + U(kNum) + UR"())(?:\s?|(-))()" + unit_alt() +
              UR"()(?![\w/]|\s[CF]\b))")
               .sub(text, unit);
    text = RE(UR"((?<=[a-z]) ?/ ?()" + per_alt() + UR"()\b)").sub(text, [](const Match& m) {
        return U" per " + per_word(m.view(1));
    });
    text = RE(UR"(\b(dollars?|cents?|euros?|pounds?|penny|pence|yen) ?/ ?([a-z]+)\b)").sub(text, UR"(\1 per \2)");
    // fractions
    text = RE(UR"((?<![\w/.,])(\d+) (\d+)/(\d+)(?![\w/]|\.\d))").sub(text, mixed_fraction);
    text = RE(UR"((?<![\w/.,])(\d+)/(\d+)(?![\w/]|\.\d))").sub(text, fraction);
    // versions, thousands separators, decimals
    text = RE(UR"((?<![\w.])\d+(?:\.\d+){2,}\b)").sub(text, version);
    {
        const U& t = text;  // _sub_with_text: the callback sees the text being substituted
        text = RE(UR"((?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)[-\u2013])"
                  UR"((\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w-]|[.,]\d))")
                   .sub(t, [&t](const Match& m) { return range_or_score(m, t); });
    }
    text = RE(UR"((?<![\w.,])[-\u2212](?=(?:\d|\.\d)))").sub(text, U"minus ");
    // grouped with commas: a quantity, never a year ("1,200" -> one thousand two hundred)
    text = RE(UR"(\b(\d{1,3}(?:,\d{3})+(?:\.\d+)?)(?![.,]?\d))").sub(text, [](const Match& m) {
        return amount(m.view(1));
    });
    text = RE(UR"(\b(\d+)\.(\d+)\b)").sub(text, decimal);
    text = RE(UR"((?<![\w.])\.(\d+)\b)").sub(text, [](const Match& m) { return U"point " + digits(m.view(1)); });
    text = RE(UR"(\b(\d+) ?(st|nd|rd|th)\b)").sub(text, [](const Match& m) { return ordinal_u(py_int(m, 1)); });
    text = RE(UR"(\b(\d{1,2}) (?:of )?()" + U(kMonths) + UR"()\b)").sub(text, [](const Match& m) {
        return U"the " + ordinal_u(py_int(m, 1)) + U" of " + m.group(2);
    });
    text = RE(UR"(\b()" + U(kMonths) + UR"() (\d{1,2})\b(?!,\d))").sub(text, [](const Match& m) {
        return m.group(1) + U" " + ordinal_u(py_int(m, 2));
    });
    text = RE(UR"(\b(\d{4})'?s\b)").sub(text, [](const Match& m) { return plural(number(m.view(1))); });
    text = RE(UR"((?<![\w'])'?\b(\d0)s\b)").sub(text, [](const Match& m) { return plural(cardinal_u(py_int(m, 1))); });
    // numbers glued to letters: "MP3", "4K", "COVID19"
    text = RE(UR"((?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z]))").sub(text, U" ");
    text = RE(UR"(\b\d+\b)").sub(text, [](const Match& m) {
        return m.view(0).size() <= 12 ? number(m.view(0)) : m.group(0);
    });
    return text;
}

// ----------------------------------------------------------------------------------------------- abbreviations

// Expanded before sentence splitting, so their periods never end a sentence. (The Python dict, in its order.)
const std::vector<std::pair<U, U>>& abbreviations() {
    static const std::vector<std::pair<U, U>> table = {
        {U"Mr.", U"Mister"}, {U"Mrs.", U"Missus"}, {U"Ms.", U"Miz"}, {U"Dr.", U"Doctor"}, {U"Prof.", U"Professor"},
        {U"Jr.", U"Junior"}, {U"Sr.", U"Senior"}, {U"Gen.", U"General"}, {U"Capt.", U"Captain"},
        {U"Col.", U"Colonel"}, {U"Lt.", U"Lieutenant"}, {U"Sgt.", U"Sergeant"}, {U"Rev.", U"Reverend"},
        {U"Gov.", U"Governor"}, {U"Sen.", U"Senator"}, {U"Pres.", U"President"}, {U"Mt.", U"Mount"},
        {U"vs.", U"versus"}, {U"Inc.", U"Incorporated"}, {U"Ltd.", U"Limited"}, {U"Corp.", U"Corporation"},
        {U"approx.", U"approximately"}, {U"U.S.A.", U"United States of America"}, {U"U.S.", U"United States"},
        {U"U.K.", U"United Kingdom"}, {U"e.g.", U"for example"}, {U"i.e.", U"that is"}, {U"etc.", U"et cetera"},
        // written-form additions
        {U"Mx.", U"Mix"}, {U"Rep.", U"Representative"}, {U"Supt.", U"Superintendent"}, {U"Ave.", U"Avenue"},
        {U"Blvd.", U"Boulevard"}, {U"Rd.", U"Road"}, {U"Dept.", U"Department"}, {U"Univ.", U"University"},
        {U"Approx.", U"Approximately"}, {U"Vs.", U"Versus"}, {U"E.g.", U"For example"}, {U"I.e.", U"That is"},
        {U"Fig.", U"Figure"}, {U"fig.", U"figure"}, {U"Vol.", U"Volume"}, {U"vol.", U"volume"},
        {U"Ch.", U"Chapter"}, {U"ch.", U"chapter"}, {U"pp.", U"pages"}, {U"Ph.D.", U"P H D"}, {U"Ph.D", U"P H D"},
        {U"Ph. D.", U"P H D"},
        {U"Jan.", U"January"}, {U"Feb.", U"February"}, {U"Mar.", U"March"}, {U"Apr.", U"April"}, {U"Jun.", U"June"},
        {U"Jul.", U"July"}, {U"Aug.", U"August"}, {U"Sep.", U"September"}, {U"Sept.", U"September"},
        {U"Oct.", U"October"}, {U"Nov.", U"November"}, {U"Dec.", U"December"}, {U"Mon.", U"Monday"},
        {U"Tue.", U"Tuesday"}, {U"Tues.", U"Tuesday"}, {U"Wed.", U"Wednesday"}, {U"Thu.", U"Thursday"},
        {U"Thur.", U"Thursday"}, {U"Thurs.", U"Thursday"}, {U"Fri.", U"Friday"},
    };
    return table;
}

const U& abbreviation(UV abbr) {
    for (const auto& [a, w] : abbreviations())
        if (a == abbr) return w;
    throw std::logic_error("unknown abbreviation");
}

// a sentence-final one keeps its period; so does one followed by a capitalised word (as before for these)
bool keeps_period(UV abbr) {
    static const std::set<U> s = {U"etc.", U"U.S.", U"U.K.", U"U.S.A.", U"Inc.", U"Ltd.", U"Corp.", U"Jr.", U"Sr."};
    return s.count(U(abbr)) > 0;
}

// day and month names: keep the period only at the end of the text
bool calendar(UV abbr) {
    static const std::set<U> s = [] {
        std::set<U> out;
        for (const auto& [a, w] : abbreviations()) {
            const bool month = std::any_of(std::begin(kMonthNames), std::end(kMonthNames),
                                           [&w = w](const char32_t* name) { return w == name; });
            if (month || ends_with(w, U"day")) out.insert(a);
        }
        return out;
    }();
    return s.count(U(abbr)) > 0;
}

const Regex& abbrev_re() {
    static const U alt = [] {
        std::vector<U> keys;
        for (const auto& kv : abbreviations()) keys.push_back(kv.first);
        return alternation_longest_first(keys);
    }();
    return RE(UR"((?<![\w.])()" + alt + UR"()(?=(\s+\S)?))");
}

constexpr UV kMonthAbbr = U"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec";

U month_by_abbr(UV abbr) {  // {m[:3] and m[:4]: m} but for May
    for (const char32_t* name : kMonthNames) {
        const UV m(name);
        for (size_t n : {3, 4}) {
            const UV a = m.substr(0, n);
            if (a == abbr && to_lower(a) != U"may") return U(m);
        }
    }
    throw std::logic_error("unknown month abbreviation");
}

bool next_is_upper(const Match& m, size_t g) {  // nxt.strip()[:1].isupper()
    const UV s = strip(m.view(g));
    return !s.empty() && is_upper(s[0]);
}

U abbrev(const Match& m) {
    const UV abbr = m.view(1);
    const U& word = abbreviation(abbr);
    const bool has_next = m.matched(2);
    const UV rest = UV(m.string()).substr(static_cast<size_t>(m.end()));
    if (keeps_period(abbr) && ((!has_next && !is_one_of(slice(rest, 0, 1), {U",", U";", U":"})) ||
                               (has_next && next_is_upper(m, 2))))
        return word + U".";
    if ((calendar(abbr) || ends_with(abbr, U"D.") || abbr == U"Ph.D") && strip(rest).empty()) return word + U".";
    return word;
}

U initialism(const Match& m) {
    U letters;
    for (char32_t c : m.view(1)) {
        if (!is_alpha(c)) continue;
        if (!letters.empty()) letters.push_back(U' ');
        letters += to_upper(UV(&c, 1));
    }
    const bool has_next = m.matched(2);
    const UV rest = UV(m.string()).substr(static_cast<size_t>(m.end()));
    const bool end = !has_next && !is_one_of(slice(rest, 0, 1), {U",", U";", U":"});
    return letters + (end || (has_next && next_is_upper(m, 2)) ? U"." : U"");
}

U saint_or_street(const U& text) {
    return RE(UR"((?<![\w.])St\.)").sub(text, [&text](const Match& m) -> U {
        // before = text[:m.start()].rstrip(); prev = before.split()[-1] if before.split() else ""
        const UV before = rstrip(UV(text).substr(0, static_cast<size_t>(m.start())));
        size_t b = before.size();
        while (b > 0 && !is_space(before[b - 1])) --b;
        const U prev(before.substr(b));
        const U after = text.substr(static_cast<size_t>(m.end()));
        const bool next_cap = RE(UR"(\s+[A-Z][a-z])").match(after).has_value();
        const bool after_name = RE(UR"([A-Z][\w'-]*|\d+(?:st|nd|rd|th)?)").fullmatch(prev).has_value() &&
                                !RE(UR"([.!?]$)").search(prev).has_value();
        const bool at_end = strip(after).empty();
        if (after_name) return next_cap || at_end ? U"Street." : U"Street";
        return next_cap ? U"Saint" : at_end ? U"Street." : U"Street";
    });
}

U expand_abbreviations_u(U text) {
    // "St.": Street after a capitalised word or a number ("Baker St.", "5th St."), Saint before a capitalised word
    text = saint_or_street(text);
    text = RE(UR"((?<![\w.])No\.(?=\s*\d))").sub(text, U"number");
    // "a.m." / "p.m.": its period also ends a sentence at the end of the text or before a capitalised word
    text = RE(UR"((?<![\w.])([ap])\.m\.(?=(\s+[A-Z])|(\s*$))?)").sub(text, [](const Match& m) {
        return to_upper_ascii(m.view(1)) + U" M" + ((!m.view(2).empty() || m.matched(3)) ? U"." : U"");
    });
    text = RE(UR"((?<![\w.])(Sun|Sat)\.(?=,|\s+(?:\d|)" + U(kMonths) + U"|" + U(kMonthAbbr) + UR"()\b))")
               .sub(text, [](const Match& m) { return m.view(1) == U"Sun" ? U(U"Sunday") : U(U"Saturday"); });
    text = RE(UR"(\b()" + U(kMonthAbbr) + UR"()\b(?=\s+\d))").sub(text, [](const Match& m) {
        return month_by_abbr(m.view(1));
    });
    text = abbrev_re().sub(text, abbrev);
    text = RE(UR"((?<![\w.])PhDs\b)").sub(text, U"P H D's");
    text = RE(UR"((?<![\w.])PhD\b)").sub(text, U"P H D");
    text = RE(UR"((?<![\w.])(?:vs|Vs)\b(?!\.))").sub(text, U"versus");
    text = RE(UR"((?<![\w.])etc\b(?!\.))").sub(text, U"et cetera");
    // dotted initialisms: "F.B.I." "M.D." "N.Y.C."
    text = RE(UR"((?<![\w.])((?:[A-Za-z]\.){2,})(?=(\s+\S)?))").sub(text, initialism);
    return text;
}

// ----------------------------------------------------------------------------------------------- web, phones

constexpr UV kTlds =
    U"com|org|net|edu|gov|mil|int|io|co|ai|dev|app|info|biz|xyz|tech|me|tv|us|uk|ca|au|de|fr|es|it|nl|jp|in|eu|"
    U"ly|gl|ru|ch|se|no|nz|ie|be|at|pl|br|cn";
constexpr UV kFileExts = U"pdf|txt|doc|docx|csv|jpg|jpeg|png|gif|zip|html|py|mp4|mp3|wav|json|xml|xlsx|pptx|exe";

// read as words, not spelled
bool said_as_word(const U& s) {
    static const std::set<U> words = {U"com",  U"org", U"net", U"gov", U"info", U"biz", U"dev",
                                      U"app",  U"tech", U"co", U"me",  U"int",  U"edu", U"mil",
                                      U"zip",  U"json", U"gif", U"wav", U"exe"};
    return words.count(s) > 0;
}

bool is_file_ext(const U& s) {
    static const std::vector<U> exts = split(kFileExts, U"|");
    return std::find(exts.begin(), exts.end(), s) != exts.end();
}

const Regex& url_re() {
    return RE(UR"((?<![\w@.])((?:https?|ftp)://)?((?:www\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
              UR"((?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.(?:)" + U(kTlds) + U"|" + U(kFileExts) +
              UR"())(?![\w-]|\.[A-Za-z0-9]))"
              UR"((:\d+)?((?:/[^\s?#]*)?)(\?[^\s]*)?)");
}

const Regex& email_re() {
    return RE(UR"((?<![\w.+-])([A-Za-z0-9][\w.+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b)");
}

// One piece of a host, path or user name: separators spoken, two-letter pieces (io) spelled.
U read_name_part(const U& part, bool spell_short = false) {
    std::vector<U> out;
    for (const auto& opt : RE(UR"(([-_.+~]))").split(part)) {
        const U piece = opt.value_or(U());
        if (piece.empty()) continue;
        if (contains(U"-_.+~", piece)) {
            const char32_t c = piece[0];
            out.emplace_back(c == U'-'   ? U"dash"
                             : c == U'_' ? U"underscore"
                             : c == U'.' ? U"dot"
                             : c == U'+' ? U"plus"
                                         : U"tilde");
        } else if (str_isdigit(piece)) {
            out.push_back(piece.size() > 4 || piece[0] == U'0' ? digits(piece) : number(piece));
        } else if (spell_short && str_isalpha(piece) && !said_as_word(to_lower(piece)) &&
                   (piece.size() <= 2 || is_file_ext(to_lower(piece)))) {
            out.push_back(spaced(to_upper(piece)));
        } else {
            out.push_back(piece);
        }
    }
    return join(out, U" ");
}

U read_host(const U& host) {
    const std::vector<U> labels = split(host, U".");
    std::vector<U> spoken;
    for (size_t i = 0; i < labels.size(); ++i) {
        const U& label = labels[i];
        if (to_lower(label) == U"www")
            spoken.emplace_back(U"w w w");
        else
            spoken.push_back(read_name_part(label, i == labels.size() - 1 || label.size() <= 2));
    }
    return join(spoken, U" dot ");
}

U url(const Match& m) {
    const U host = m.group(2);
    const UV port = m.view(3);
    UV path = m.view(4);
    const UV stripped = rstrip_chars(path, U".,;:!?)");
    U trail(path.substr(stripped.size()));
    path = stripped;
    if (!m.view(5).empty()) {  // a query string is not read; its trailing punctuation is kept
        const UV q = m.view(5);
        trail = U(q.substr(rstrip_chars(q, U".,;:!?)").size()));
    }
    U out = read_host(host);
    if (!port.empty()) out += U" colon " + number(port.substr(1));
    const std::vector<U> segs = split(path, U"/");
    for (size_t k = 1; k < segs.size(); ++k)
        out += U" slash" + (segs[k].empty() ? U() : U" " + read_name_part(segs[k], true));
    return U" " + out + U" " + trail;
}

U email(const Match& m) {
    U user = read_name_part(m.group(1));
    return user + U" at " + read_host(m.group(2));
}

U read_web_u(U text) {
    text = email_re().sub(text, email);
    return url_re().sub(text, url);
}

U phone_groups(const std::vector<U>& groups) {
    std::vector<U> spoken;
    for (size_t i = 0; i < groups.size(); ++i) {
        const U& g = groups[i];
        if (i > 0 && g.size() == 3 && ends_with(g, U"00") && g[0] != U'0' && i < groups.size() - 1)
            spoken.push_back(cardinal_u(py_int(g)));  // 1-800-...
        else
            spoken.push_back(digits(g));
    }
    return join(spoken, U", ");
}

std::vector<U> groups_of(const Match& m, std::initializer_list<size_t> which) {
    std::vector<U> out;
    for (size_t g : which) out.push_back(m.group(g));
    return out;
}

U read_phone_numbers_u(U text) {
    text = RE(UR"((?<![\w+])\+(\d{1,3})[\s.-]?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})\b)")
               .sub(text, [](const Match& m) { return U"plus " + phone_groups(groups_of(m, {1, 2, 3, 4})); });
    text = RE(UR"((?<![\w+])\+(\d{1,3})((?:[\s.-]\d{2,5}){2,5})\b)").sub(text, [](const Match& m) {
        std::vector<U> groups = {m.group(1)};
        const U rest(strip_chars(m.view(2), U" .-"));
        for (const auto& g : RE(UR"([\s.-])").split(rest)) groups.push_back(g.value_or(U()));
        return U"plus " + phone_groups(groups);
    });
    text = RE(UR"((?<![\w-])1[-. ](\d{3})[-. ](\d{3})[-. ](\d{4})\b)").sub(text, [](const Match& m) {
        std::vector<U> groups = {U"1"};
        for (size_t g = 1; g <= 3; ++g) groups.push_back(m.group(g));
        return phone_groups(groups);
    });
    text = RE(UR"((?<![\w)])\((\d{3})\)\s?(\d{3})[-. ](\d{4})\b)").sub(text, [](const Match& m) {
        return phone_groups(groups_of(m, {1, 2, 3}));
    });
    text = RE(UR"((?<![\w.-])(\d{3})([-.])(\d{3})\2(\d{4})\b)").sub(text, [](const Match& m) {
        return phone_groups(groups_of(m, {1, 3, 4}));
    });
    text = RE(UR"((?<![\w.,-])(\d{3})-(\d{4})\b(?![-.]\d))").sub(text, [](const Match& m) {
        return phone_groups(groups_of(m, {1, 2}));
    });
    return text;
}

// ----------------------------------------------------------------------------------------------- symbols

U hash_and_signs(U text) {
    text = RE(UR"((?<![\w&])#\s?(?=\d))").sub(text, U"number ");
    text = RE(UR"((?<![\w&])#(?=[A-Za-z]))").sub(text, U"hashtag ");
    text = RE(UR"(\b[Aa]nd/or\b)").sub(text, [](const Match& m) { return U(1, m.view(0)[0]) + U"nd or"; });
    text = RE(UR"((?<![\w/])[Ww]/o(?=\s))").sub(text, U"without");
    text = RE(UR"((?<![\w/])[Ww]/(?=\s))").sub(text, U"with");
    text = RE(UR"((?<=\w)\+\+)").sub(text, U" plus plus");                // C++
    text = RE(UR"((?<![\w+])\+(?=\s?(?:\d|\.\d)))").sub(text, U"plus ");  // +5
    text = RE(UR"((?<=\d)\+(?!\w))").sub(text, U" plus");                 // 50+
    text = RE(UR"(\s*\+\s*)").sub(text, U" plus ");
    text = RE(UR"(\s*=\s*)").sub(text, U" equals ");
    text = RE(UR"(\s*[×]\s*)").sub(text, U" times ");
    text = RE(UR"((?<=\d)\s?x\s?(?=\d))").sub(text, U" by ");  // 1920x1080, 3 x 4
    text = RE(UR"((?<![\w~])~\s?(?=[\d$€£¥.]))").sub(text, U"about ");
    return text;
}

// (symbol, word) in the Python dict's order
const std::vector<std::pair<U, U>>& symbol_words() {
    static const std::vector<std::pair<U, U>> table = {
        {U"@", U"at"},     {U"/", U"slash"},   {U"~", U"about"}, {U"%", U"percent"}, {U"°", U"degrees"},
        {U"$", U"dollars"}, {U"€", U"euros"},   {U"£", U"pounds"}, {U"¥", U"yen"},     {U"+", U"plus"},
        {U"=", U"equals"}, {U"#", U"number"},  {U"&", U"and"},   {U"×", U"times"},   {U"\u2212", U"minus"}};
    return table;
}

U read_symbols_u(U text) {
    static const U alt = [] {
        std::vector<U> escaped;
        for (const auto& kv : symbol_words()) escaped.push_back(regex_escape(kv.first));
        return join(escaped, U"|");
    }();
    text = RE(UR"((?<=\w)/(?=\w))").sub(text, U" slash ");
    text = RE(alt).sub(text, [](const Match& m) {
        for (const auto& [sym, word] : symbol_words())
            if (sym == m.view(0)) return U" " + word + U" ";
        throw std::logic_error("unknown symbol");
    });
    text = RE(UR"([*^|<>\\_{}\[\]`])").sub(text, U" ");
    text = RE(UR"(\d+)").sub(text, [](const Match& m) { return U" " + digits(m.view(0)) + U" "; });
    return text;
}

// ----------------------------------------------------------------------------------------------- Roman numerals

int roman_digit(char32_t c) {
    switch (c) {
        case U'I': return 1;
        case U'V': return 5;
        case U'X': return 10;
        case U'L': return 50;
        case U'C': return 100;
        case U'D': return 500;
        case U'M': return 1000;
        default: return 0;
    }
}

U to_roman(int64_t n) {
    static const std::pair<int64_t, const char32_t*> table[] = {
        {1000, U"M"}, {900, U"CM"}, {500, U"D"}, {400, U"CD"}, {100, U"C"}, {90, U"XC"}, {50, U"L"},
        {40, U"XL"},  {10, U"X"},   {9, U"IX"},  {5, U"V"},    {4, U"IV"},  {1, U"I"}};
    U out;
    for (const auto& [value, sym] : table) {
        while (n >= value) {
            out += sym;
            n -= value;
        }
    }
    return out;
}

std::optional<int64_t> roman_value_u(UV s) {
    if (s.empty() || std::any_of(s.begin(), s.end(), [](char32_t c) { return roman_digit(c) == 0; }))
        return std::nullopt;
    int64_t total = 0, prev = 0;
    for (auto it = s.rbegin(); it != s.rend(); ++it) {
        const int64_t v = roman_digit(*it);
        total += v < prev ? -v : v;
        prev = std::max(prev, v);
    }
    if (0 < total && total < 4000 && to_roman(total) == s) return total;
    return std::nullopt;
}

constexpr UV kRomanKeywords =
    U"Chapter|Part|Volume|Book|Act|Scene|Section|Article|Appendix|Phase|Stage|Level|Class|Type|"
    U"Title|Psalm|Canto|Episode|Season|Round|Grade|Schedule|Unit|Annex|Division|Tier|Mark|Mk|Vatican|"
    U"World War|Super Bowl|Olympiad|Amendment|Stanza|Lesson|Exercise|Figure|Plate|Table|Model";
constexpr UV kBookParts = U"Chapter|Part|Volume|Book|Act|Scene|Section|Article|Appendix|Psalm|Canto|Stanza|Lesson";
constexpr UV kRegnalNames =
    U"Elizabeth|George|Henry|Louis|Charles|James|Edward|William|Richard|Mary|Peter|Catherine|Napoleon|"
    U"Alexander|Nicholas|Philip|Frederick|Francis|John|Paul|Pius|Leo|Benedict|Gregory|Innocent|Clement|"
    U"Urban|Ferdinand|Isabella|Victor|Emmanuel|Umberto|Wilhelm|Ludwig|Otto|Rudolf|Carl|Gustav|Olaf|"
    U"Harald|Haakon|Christian|Frederik|Juan|Carlos|Felipe|Alfonso|Anne|Victoria|Ivan|Selim|Mehmed|"
    U"Rameses|Ramesses|Amenhotep|Thutmose|Ptolemy|Cyrus|Darius|Xerxes|Constantine|Justinian|Stephen";
// capitalised words that are not names: "The IV drip", "In II Kings" stay as they are
constexpr UV kNotNames =
    U"The|A|An|This|That|These|Those|His|Her|Its|Our|Their|My|Your|In|On|At|For|With|By|From|To|Of|And|But|"
    U"Or|If|When|No|Every|Each|Some|Any|Is|Was|Are|Were|Not|See|Use|Get|Give|Take";

U read_roman_numerals_u(U text) {
    text = RE(UR"(\bWWII\b)").sub(text, U"World War two");
    text = RE(UR"(\bWWI\b)").sub(text, U"World War one");

    auto keyword = [](const Match& m) -> U {
        const U word = m.group(1), numeral = m.group(2);
        const std::optional<int64_t> v = roman_value_u(numeral);
        if (!v || (numeral.size() == 1 &&
                   !(contains(U"IV", numeral) ||
                     (numeral == U"X" && RE(U(kBookParts), IGNORECASE).fullmatch(word).has_value()))))
            return m.group(0);  // "Model X", "Grade C", "Type D": letters
        return word + U" " + cardinal_u(*v);
    };
    text = RE(UR"(\b()" + U(kRomanKeywords) + U"|" + to_lower(kRomanKeywords) + UR"() ([IVXLCDM]+)\b(?!['\w-]))")
               .sub(text, keyword);
    text = RE(UR"(\b()" + U(kRegnalNames) + UR"() I\b(?=\s*(?:[,.;:!?)]|$)|\s+(?:of|and)\b|'s\b))")
               .sub(text, [](const Match& m) { return m.group(1) + U" the first"; });

    auto regnal = [](const Match& m) -> U {
        const std::optional<int64_t> v = roman_value_u(m.view(2));
        if (!v || !(2 <= *v && *v <= 39)) return m.group(0);
        const U suffix = m.group(3);
        return m.group(1) + U" the " + ordinal_u(*v) + suffix;
    };
    return RE(UR"(\b(?!(?:)" + U(kNotNames) + UR"()\b)([A-Z][a-z][\w'-]*) ([IVX]{2,})\b('s)?(?![\w-]))")
        .sub(text, regnal);
}

// ----------------------------------------------------------------------------------------------- acronyms

bool spelled_acronym(const U& w) {
    static const std::set<U> s = [] {
        const U all =
            U"US USA UK EU UN UAE FBI CIA NSA IRS DOJ CDC WHO_ BBC CNN NBC CBS ABC HBO CEO CFO CTO COO VP HR PR IT_ "
            U"AI ML DNA RNA HIV ATM PIN_ ID IQ OK_ TV PC CPU GPU RAM_ USB URL API SDK PDF HTML CSS SQL JSON_ XML IBM "
            U"HP AMD BMW VW NYC LA DC NY NJ BC AD BCE CE MIT UCLA_ NHS MP MD EU ETA FAQ VIP DIY ASAP_ RSVP UFO IOU "
            U"GDP CPI IPO CV RV SUV ICU ER UV LED_ LCD DVD CD MVP NBA NFL MLB NHL FIFA_ UEFA_ EPA FDA FAA NTSB SEC_ "
            U"ECB IMF OECD ESA JPL";
        std::set<U> out;
        for (const U& a : split(all, U" "))
            if (!a.empty() && !ends_with(a, U"_")) out.insert(a);
        return out;
    }();
    return s.count(w) > 0;
}

bool not_spelled(const U& w) {
    static const std::set<U> s = {U"HMM", U"HM",  U"MM",  U"SHH", U"SH", U"PSST",
                                  U"GRR", U"BRR", U"ZZZ", U"TSK", U"PFFT", U"NTH"};
    return s.count(w) > 0;
}

U read_acronyms_u(const U& text) {
    return RE(UR"((?<![\w'-])([A-Z]{2,})(s)?\b(?!['\w]))").sub(text, [](const Match& m) -> U {
        const U word = m.group(1);
        const bool plural_s = !m.view(2).empty();
        if (not_spelled(word)) return m.group(0);
        if (spelled_acronym(word) || !RE(UR"([AEIOUY])").search(word).has_value()) {
            const U spelled = spaced(word);
            return spelled + (plural_s ? U"'s" : U"");
        }
        return m.group(0);
    });
}

// ------------------------------------------------------------------------------------------------ cleaning

// Quotes, dashes and whitespace: the layout of a fortune entry, not its words.
U clean_layout_u(U text) {
    text = RE(UR"(.\x08)").sub(text, U"");  // overstrike (underlining) in the old files
    text = replace_all(replace_all(text, U"\u2019", U"'"), U"\u2018", U"'");
    text = RE(UR"([\"\u201c\u201d]|``|'')").sub(text, U" ");
    text = RE(UR"((?<=\d)[\u2013\u2014](?=\d))").sub(text, U"-");  // 10–20: a range, not a pause
    text = RE(UR"(\u2212\s?(?=\.?\d))").sub(text, U"-");           // the minus sign
    text = RE(UR"(\s*(--+|\u2014|\u2013)\s*)").sub(text, U", ");   // a dash is a pause
    text = replace_all(text, U"&", U" and ");
    text = RE(UR"((?<![A-Za-z])'|'(?![A-Za-z]))").sub(text, U" ");  // single quotes used as quotes
    text = RE(UR"(([!?])[!?]+)").sub(text, UR"(\1)");
    text = U(strip(RE(UR"(\s+)").sub(text, U" ")));
    text = RE(UR"(\s+([,;.!?])(?!\d))").sub(text, UR"(\1)");  // not before a decimal: ".5"
    text = RE(UR"(,\s*([,.!?;])(?!\d))").sub(text, UR"(\1)");
    return U(lstrip_chars(text, U", "));
}

// Latin letters with diacritics -> plain letters ("Szczepański" -> "Szczepanski").
U fold_accents_u(UV text) {
    U translated;
    translated.reserve(text.size());
    for (char32_t c : text) {
        switch (c) {
            case U'ł': translated += U"l"; break;
            case U'Ł': translated += U"L"; break;
            case U'ø': translated += U"o"; break;
            case U'Ø': translated += U"O"; break;
            case U'ß': translated += U"ss"; break;
            case U'æ': translated += U"ae"; break;
            case U'Æ': translated += U"Ae"; break;
            case U'œ': translated += U"oe"; break;
            case U'Œ': translated += U"Oe"; break;
            case U'đ': translated += U"d"; break;
            case U'Đ': translated += U"D"; break;
            case U'þ': translated += U"th"; break;
            case U'Þ': translated += U"Th"; break;
            case U'ð': translated += U"d"; break;
            case U'ı': translated += U"i"; break;
            default: translated.push_back(c);
        }
    }
    const U decomposed = nfkd(translated);
    U out;
    out.reserve(decomposed.size());
    for (char32_t c : decomposed)
        if (combining_class(c) == 0) out.push_back(c);
    return out;
}

U normalize_text_impl(UV input) {
    U text = clean_layout_u(fold_accents_u(input));
    text = read_web_u(text);
    text = read_phone_numbers_u(text);
    text = expand_abbreviations_u(text);
    text = hash_and_signs(text);
    try {
        text = normalize_numbers_u(text);
    } catch (const std::domain_error&) {  // a number too large to read: the others are read, it digit by digit
        text = RE(UR"(\d[\d,]{12,})").sub(text, [](const Match& m) { return digits(m.view(0)); });
        text = normalize_numbers_u(text);
    }
    text = read_roman_numerals_u(text);
    text = read_acronyms_u(text);
    text = read_symbols_u(text);
    text = U(strip(RE(UR"(\s+)").sub(text, U" ")));
    text = RE(UR"(\s+([,;.!?]))").sub(text, UR"(\1)");
    return text;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ public API

std::string cardinal(int64_t n) { return out8(cardinal_u(n)); }
std::string ordinal(int64_t n) { return out8(ordinal_u(n)); }
std::string year(int64_t n) { return out8(year_u(n)); }
std::optional<int64_t> roman_value(std::string_view s) { return roman_value_u(in32(s)); }

std::string fold_accents(std::string_view text) { return out8(fold_accents_u(in32(text))); }
std::string clean_layout(std::string_view text) { return out8(clean_layout_u(in32(text))); }
std::string read_web(std::string_view text) { return out8(read_web_u(in32(text))); }
std::string read_phone_numbers(std::string_view text) { return out8(read_phone_numbers_u(in32(text))); }
std::string expand_abbreviations(std::string_view text) { return out8(expand_abbreviations_u(in32(text))); }
std::string normalize_numbers(std::string_view text) { return out8(normalize_numbers_u(in32(text))); }
std::string read_roman_numerals(std::string_view text) { return out8(read_roman_numerals_u(in32(text))); }
std::string read_acronyms(std::string_view text) { return out8(read_acronyms_u(in32(text))); }
std::string read_symbols(std::string_view text) { return out8(read_symbols_u(in32(text))); }

std::string normalize_text(std::string_view text) { return out8(normalize_text_impl(in32(text))); }
std::u32string normalize_text_u32(std::u32string_view text) { return normalize_text_impl(text); }

std::string read_amount(std::string_view s) { return out8(amount(in32(s))); }

std::optional<std::string> read_date(int64_t y, int64_t month, int64_t day, bool day_first) {
    std::optional<U> d = date(y, month, day, day_first);
    if (!d) return std::nullopt;
    return out8(*d);
}

std::string read_phone_groups(const std::vector<std::string>& groups) {
    std::vector<U> g;
    for (const auto& s : groups) g.push_back(in32(s));
    return out8(phone_groups(g));
}

std::vector<std::pair<std::string, unsigned>> normalizer_patterns() {
    PatternRegistry& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mu);
    return reg.patterns;
}

}  // namespace voxlite::text
