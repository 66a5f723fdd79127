// English G2P: see english_g2p.h. A line-by-line port of tests/reference/english_g2p.py (and of to_inventory /
// split_inline of voxlite.text.phonemes); comments name the Python they follow. Source text is UTF-8.
#include "text/english_g2p.h"
#include "text/unicode.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "json.h"
#include "text/english_normalize.h"
#include "text/letter_to_sound.h"

namespace voxlite::text {

const char* const PAD = "<pad>";
const char* const BOS = "<bos>";
const char* const EOS = "<eos>";
const char* const SPACE = " ";
const char* const PUNCTUATION = ",.?!;:";
const char* const PHONEMES = "AIOWYbdfhijklmnpstuvwzæðŋɑɔəɛɜɡɪɹɾʃʊʌʒʔʤʧˈˌθᵊᵻ";

std::vector<std::string> inventory() {
    std::vector<std::string> inv = {PAD, BOS, EOS, SPACE};
    for (const char* p = PUNCTUATION; *p; ++p) inv.emplace_back(1, *p);
    for (auto& s : split_code_points(PHONEMES)) inv.push_back(std::move(s));
    return inv;
}

namespace {


// ------------------------------------------------------------------ characters

constexpr char32_t PRIMARY = U'\u02C8';    // ˈ
constexpr char32_t SECONDARY = U'\u02CC';  // ˌ

bool in(const char32_t* set, char32_t c) {
    for (; *set; ++set)
        if (*set == c) return true;
    return false;
}

const char32_t* const VOWELS = U"AIOWYiuæɑɔəɛɜɪʊʌᵊᵻ";  // _VOWELS
const char32_t* const SIBILANT = U"szʃʒʧʤ";            // _SIBILANT
const char32_t* const VOICELESS = U"ptkfθ";            // _VOICELESS
const char32_t* const PHONEME_CHARS = U"AIOWYbdfhijklmnpstuvwzæðŋɑɔəɛɜɡɪɹɾʃʊʌʒʔʤʧˈˌθᵊᵻ";

bool is_stress(char32_t c) { return c == PRIMARY || c == SECONDARY; }

// str.isspace() (and re's \s): Unicode White_Space minus U+180E, plus the C0 separators U+001C..U+001F.
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_punct(char c) { return c != 0 && std::char_traits<char>::find(",.?!;:", 6, c) != nullptr; }
char lower_c(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
char upper_c(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower_c(c);
    return out;
}

std::string capitalize(std::string_view s) {  // str.capitalize: the first character upper, the rest lower
    std::string out = lower(s);
    if (!out.empty()) out[0] = upper_c(out[0]);
    return out;
}

bool py_isupper(std::string_view s) {  // a cased character, none lower case
    bool cased = false;
    for (char c : s) {
        if (c >= 'a' && c <= 'z') return false;
        if (c >= 'A' && c <= 'Z') cased = true;
    }
    return cased;
}

bool py_islower(std::string_view s) {
    bool cased = false;
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') return false;
        if (c >= 'a' && c <= 'z') cased = true;
    }
    return cased;
}

bool py_isdigit(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_digit(c)) return false;
    return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Byte offsets of each code point of s, and s.size() at the end: len(s) == result.size() - 1.
std::vector<size_t> char_offsets(std::string_view s) {
    std::vector<size_t> off;
    off.reserve(s.size() + 1);
    for (size_t i = 0, n; i < s.size(); i += n) {
        off.push_back(i);
        decode_utf8_at(s, i, n);
    }
    off.push_back(s.size());
    return off;
}

std::u32string to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0, n; i < s.size(); i += n) out.push_back(decode_utf8_at(s, i, n));
    return out;
}

std::string to_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size() * 2);
    for (char32_t c : s) append_utf8(out, c);
    return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep;
        out += parts[i];
    }
    return out;
}

std::vector<std::string> split(std::string_view s, char sep) {  // str.split(sep)
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t k = s.find(sep, start);
        if (k == std::string_view::npos) {
            out.emplace_back(s.substr(start));
            return out;
        }
        out.emplace_back(s.substr(start, k - start));
        start = k + 1;
    }
}

// ------------------------------------------------------------------ phoneme strings

// _last_sound: the last symbol after trailing stress marks; 0 for none
char32_t last_sound(std::string_view ps) {
    const std::u32string u = to_u32(ps);
    size_t n = u.size();
    while (n > 0 && is_stress(u[n - 1])) --n;
    return n ? u[n - 1] : 0;
}

std::string add_s(std::string stem) {  // _add_s
    const char32_t last = last_sound(stem);
    if (last && in(SIBILANT, last)) return stem + "ᵻz";
    return stem + (last && in(VOICELESS, last) ? "s" : "z");
}

std::string add_ed(std::string stem) {  // _add_ed ('"" in "td"' is True in Python: an empty stem gets ᵻd)
    const char32_t last = last_sound(stem);
    if (last == 0 || last == 't' || last == 'd') return stem + "ᵻd";
    return stem + ((in(VOICELESS, last) || in(U"sʃʧ", last)) ? "t" : "d");
}

std::string join_pieces(const std::vector<std::string>& pieces) {  // later primaries become secondary
    std::string out;
    bool seen_primary = false;
    for (const std::string& p : pieces) {
        const bool has_primary = p.find("ˈ") != std::string::npos;
        if (seen_primary && has_primary) {
            std::string q = p;
            for (size_t k = q.find("ˈ"); k != std::string::npos; k = q.find("ˈ", k + 2)) q.replace(k, 2, "ˌ");
            out += q;
        } else {
            out += p;
        }
        seen_primary = seen_primary || has_primary;
    }
    return out;
}

// ps.lstrip("ˈˌ")[:1] in _VOWELS
bool starts_with_vowel(std::string_view ps) {
    for (size_t i = 0, n; i < ps.size(); i += n) {
        const char32_t c = decode_utf8_at(ps, i, n);
        if (is_stress(c)) continue;
        return in(VOWELS, c);
    }
    return false;
}

const char* const DIGIT_NAMES[10] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

// ------------------------------------------------------------------ Python repr

// Code points >= U+0080 that str.isprintable() refuses (categories Cc Cf Cs Co Cn Zl Zp Zs), as ranges; made from
// Python 3.11's unicodedata (Unicode 14.0.0):
//   [(a, b) for runs of cp in range(0x80, 0x110000) if not chr(cp).isprintable()]
struct Range {
    char32_t lo, hi;
};
constexpr Range NON_PRINTABLE[] = {
    {0x80, 0xA0}, {0xAD, 0xAD}, {0x378, 0x379}, {0x380, 0x383}, {0x38B, 0x38B}, {0x38D, 0x38D}, {0x3A2, 0x3A2},
    {0x530, 0x530}, {0x557, 0x558}, {0x58B, 0x58C}, {0x590, 0x590}, {0x5C8, 0x5CF}, {0x5EB, 0x5EE}, {0x5F5, 0x605},
    {0x61C, 0x61C}, {0x6DD, 0x6DD}, {0x70E, 0x70F}, {0x74B, 0x74C}, {0x7B2, 0x7BF}, {0x7FB, 0x7FC}, {0x82E, 0x82F},
    {0x83F, 0x83F}, {0x85C, 0x85D}, {0x85F, 0x85F}, {0x86B, 0x86F}, {0x88F, 0x897}, {0x8E2, 0x8E2}, {0x984, 0x984},
    {0x98D, 0x98E}, {0x991, 0x992}, {0x9A9, 0x9A9}, {0x9B1, 0x9B1}, {0x9B3, 0x9B5}, {0x9BA, 0x9BB}, {0x9C5, 0x9C6},
    {0x9C9, 0x9CA}, {0x9CF, 0x9D6}, {0x9D8, 0x9DB}, {0x9DE, 0x9DE}, {0x9E4, 0x9E5}, {0x9FF, 0xA00}, {0xA04, 0xA04},
    {0xA0B, 0xA0E}, {0xA11, 0xA12}, {0xA29, 0xA29}, {0xA31, 0xA31}, {0xA34, 0xA34}, {0xA37, 0xA37}, {0xA3A, 0xA3B},
    {0xA3D, 0xA3D}, {0xA43, 0xA46}, {0xA49, 0xA4A}, {0xA4E, 0xA50}, {0xA52, 0xA58}, {0xA5D, 0xA5D}, {0xA5F, 0xA65},
    {0xA77, 0xA80}, {0xA84, 0xA84}, {0xA8E, 0xA8E}, {0xA92, 0xA92}, {0xAA9, 0xAA9}, {0xAB1, 0xAB1}, {0xAB4, 0xAB4},
    {0xABA, 0xABB}, {0xAC6, 0xAC6}, {0xACA, 0xACA}, {0xACE, 0xACF}, {0xAD1, 0xADF}, {0xAE4, 0xAE5}, {0xAF2, 0xAF8},
    {0xB00, 0xB00}, {0xB04, 0xB04}, {0xB0D, 0xB0E}, {0xB11, 0xB12}, {0xB29, 0xB29}, {0xB31, 0xB31}, {0xB34, 0xB34},
    {0xB3A, 0xB3B}, {0xB45, 0xB46}, {0xB49, 0xB4A}, {0xB4E, 0xB54}, {0xB58, 0xB5B}, {0xB5E, 0xB5E}, {0xB64, 0xB65},
    {0xB78, 0xB81}, {0xB84, 0xB84}, {0xB8B, 0xB8D}, {0xB91, 0xB91}, {0xB96, 0xB98}, {0xB9B, 0xB9B}, {0xB9D, 0xB9D},
    {0xBA0, 0xBA2}, {0xBA5, 0xBA7}, {0xBAB, 0xBAD}, {0xBBA, 0xBBD}, {0xBC3, 0xBC5}, {0xBC9, 0xBC9}, {0xBCE, 0xBCF},
    {0xBD1, 0xBD6}, {0xBD8, 0xBE5}, {0xBFB, 0xBFF}, {0xC0D, 0xC0D}, {0xC11, 0xC11}, {0xC29, 0xC29}, {0xC3A, 0xC3B},
    {0xC45, 0xC45}, {0xC49, 0xC49}, {0xC4E, 0xC54}, {0xC57, 0xC57}, {0xC5B, 0xC5C}, {0xC5E, 0xC5F}, {0xC64, 0xC65},
    {0xC70, 0xC76}, {0xC8D, 0xC8D}, {0xC91, 0xC91}, {0xCA9, 0xCA9}, {0xCB4, 0xCB4}, {0xCBA, 0xCBB}, {0xCC5, 0xCC5},
    {0xCC9, 0xCC9}, {0xCCE, 0xCD4}, {0xCD7, 0xCDC}, {0xCDF, 0xCDF}, {0xCE4, 0xCE5}, {0xCF0, 0xCF0}, {0xCF3, 0xCFF},
    {0xD0D, 0xD0D}, {0xD11, 0xD11}, {0xD45, 0xD45}, {0xD49, 0xD49}, {0xD50, 0xD53}, {0xD64, 0xD65}, {0xD80, 0xD80},
    {0xD84, 0xD84}, {0xD97, 0xD99}, {0xDB2, 0xDB2}, {0xDBC, 0xDBC}, {0xDBE, 0xDBF}, {0xDC7, 0xDC9}, {0xDCB, 0xDCE},
    {0xDD5, 0xDD5}, {0xDD7, 0xDD7}, {0xDE0, 0xDE5}, {0xDF0, 0xDF1}, {0xDF5, 0xE00}, {0xE3B, 0xE3E}, {0xE5C, 0xE80},
    {0xE83, 0xE83}, {0xE85, 0xE85}, {0xE8B, 0xE8B}, {0xEA4, 0xEA4}, {0xEA6, 0xEA6}, {0xEBE, 0xEBF}, {0xEC5, 0xEC5},
    {0xEC7, 0xEC7}, {0xECE, 0xECF}, {0xEDA, 0xEDB}, {0xEE0, 0xEFF}, {0xF48, 0xF48}, {0xF6D, 0xF70}, {0xF98, 0xF98},
    {0xFBD, 0xFBD}, {0xFCD, 0xFCD}, {0xFDB, 0xFFF}, {0x10C6, 0x10C6}, {0x10C8, 0x10CC}, {0x10CE, 0x10CF},
    {0x1249, 0x1249}, {0x124E, 0x124F}, {0x1257, 0x1257}, {0x1259, 0x1259}, {0x125E, 0x125F}, {0x1289, 0x1289},
    {0x128E, 0x128F}, {0x12B1, 0x12B1}, {0x12B6, 0x12B7}, {0x12BF, 0x12BF}, {0x12C1, 0x12C1}, {0x12C6, 0x12C7},
    {0x12D7, 0x12D7}, {0x1311, 0x1311}, {0x1316, 0x1317}, {0x135B, 0x135C}, {0x137D, 0x137F}, {0x139A, 0x139F},
    {0x13F6, 0x13F7}, {0x13FE, 0x13FF}, {0x1680, 0x1680}, {0x169D, 0x169F}, {0x16F9, 0x16FF}, {0x1716, 0x171E},
    {0x1737, 0x173F}, {0x1754, 0x175F}, {0x176D, 0x176D}, {0x1771, 0x1771}, {0x1774, 0x177F}, {0x17DE, 0x17DF},
    {0x17EA, 0x17EF}, {0x17FA, 0x17FF}, {0x180E, 0x180E}, {0x181A, 0x181F}, {0x1879, 0x187F}, {0x18AB, 0x18AF},
    {0x18F6, 0x18FF}, {0x191F, 0x191F}, {0x192C, 0x192F}, {0x193C, 0x193F}, {0x1941, 0x1943}, {0x196E, 0x196F},
    {0x1975, 0x197F}, {0x19AC, 0x19AF}, {0x19CA, 0x19CF}, {0x19DB, 0x19DD}, {0x1A1C, 0x1A1D}, {0x1A5F, 0x1A5F},
    {0x1A7D, 0x1A7E}, {0x1A8A, 0x1A8F}, {0x1A9A, 0x1A9F}, {0x1AAE, 0x1AAF}, {0x1ACF, 0x1AFF}, {0x1B4D, 0x1B4F},
    {0x1B7F, 0x1B7F}, {0x1BF4, 0x1BFB}, {0x1C38, 0x1C3A}, {0x1C4A, 0x1C4C}, {0x1C89, 0x1C8F}, {0x1CBB, 0x1CBC},
    {0x1CC8, 0x1CCF}, {0x1CFB, 0x1CFF}, {0x1F16, 0x1F17}, {0x1F1E, 0x1F1F}, {0x1F46, 0x1F47}, {0x1F4E, 0x1F4F},
    {0x1F58, 0x1F58}, {0x1F5A, 0x1F5A}, {0x1F5C, 0x1F5C}, {0x1F5E, 0x1F5E}, {0x1F7E, 0x1F7F}, {0x1FB5, 0x1FB5},
    {0x1FC5, 0x1FC5}, {0x1FD4, 0x1FD5}, {0x1FDC, 0x1FDC}, {0x1FF0, 0x1FF1}, {0x1FF5, 0x1FF5}, {0x1FFF, 0x200F},
    {0x2028, 0x202F}, {0x205F, 0x206F}, {0x2072, 0x2073}, {0x208F, 0x208F}, {0x209D, 0x209F}, {0x20C1, 0x20CF},
    {0x20F1, 0x20FF}, {0x218C, 0x218F}, {0x2427, 0x243F}, {0x244B, 0x245F}, {0x2B74, 0x2B75}, {0x2B96, 0x2B96},
    {0x2CF4, 0x2CF8}, {0x2D26, 0x2D26}, {0x2D28, 0x2D2C}, {0x2D2E, 0x2D2F}, {0x2D68, 0x2D6E}, {0x2D71, 0x2D7E},
    {0x2D97, 0x2D9F}, {0x2DA7, 0x2DA7}, {0x2DAF, 0x2DAF}, {0x2DB7, 0x2DB7}, {0x2DBF, 0x2DBF}, {0x2DC7, 0x2DC7},
    {0x2DCF, 0x2DCF}, {0x2DD7, 0x2DD7}, {0x2DDF, 0x2DDF}, {0x2E5E, 0x2E7F}, {0x2E9A, 0x2E9A}, {0x2EF4, 0x2EFF},
    {0x2FD6, 0x2FEF}, {0x2FFC, 0x3000}, {0x3040, 0x3040}, {0x3097, 0x3098}, {0x3100, 0x3104}, {0x3130, 0x3130},
    {0x318F, 0x318F}, {0x31E4, 0x31EF}, {0x321F, 0x321F}, {0xA48D, 0xA48F}, {0xA4C7, 0xA4CF}, {0xA62C, 0xA63F},
    {0xA6F8, 0xA6FF}, {0xA7CB, 0xA7CF}, {0xA7D2, 0xA7D2}, {0xA7D4, 0xA7D4}, {0xA7DA, 0xA7F1}, {0xA82D, 0xA82F},
    {0xA83A, 0xA83F}, {0xA878, 0xA87F}, {0xA8C6, 0xA8CD}, {0xA8DA, 0xA8DF}, {0xA954, 0xA95E}, {0xA97D, 0xA97F},
    {0xA9CE, 0xA9CE}, {0xA9DA, 0xA9DD}, {0xA9FF, 0xA9FF}, {0xAA37, 0xAA3F}, {0xAA4E, 0xAA4F}, {0xAA5A, 0xAA5B},
    {0xAAC3, 0xAADA}, {0xAAF7, 0xAB00}, {0xAB07, 0xAB08}, {0xAB0F, 0xAB10}, {0xAB17, 0xAB1F}, {0xAB27, 0xAB27},
    {0xAB2F, 0xAB2F}, {0xAB6C, 0xAB6F}, {0xABEE, 0xABEF}, {0xABFA, 0xABFF}, {0xD7A4, 0xD7AF}, {0xD7C7, 0xD7CA},
    {0xD7FC, 0xF8FF}, {0xFA6E, 0xFA6F}, {0xFADA, 0xFAFF}, {0xFB07, 0xFB12}, {0xFB18, 0xFB1C}, {0xFB37, 0xFB37},
    {0xFB3D, 0xFB3D}, {0xFB3F, 0xFB3F}, {0xFB42, 0xFB42}, {0xFB45, 0xFB45}, {0xFBC3, 0xFBD2}, {0xFD90, 0xFD91},
    {0xFDC8, 0xFDCE}, {0xFDD0, 0xFDEF}, {0xFE1A, 0xFE1F}, {0xFE53, 0xFE53}, {0xFE67, 0xFE67}, {0xFE6C, 0xFE6F},
    {0xFE75, 0xFE75}, {0xFEFD, 0xFF00}, {0xFFBF, 0xFFC1}, {0xFFC8, 0xFFC9}, {0xFFD0, 0xFFD1}, {0xFFD8, 0xFFD9},
    {0xFFDD, 0xFFDF}, {0xFFE7, 0xFFE7}, {0xFFEF, 0xFFFB}, {0xFFFE, 0xFFFF}, {0x1000C, 0x1000C}, {0x10027, 0x10027},
    {0x1003B, 0x1003B}, {0x1003E, 0x1003E}, {0x1004E, 0x1004F}, {0x1005E, 0x1007F}, {0x100FB, 0x100FF},
    {0x10103, 0x10106}, {0x10134, 0x10136}, {0x1018F, 0x1018F}, {0x1019D, 0x1019F}, {0x101A1, 0x101CF},
    {0x101FE, 0x1027F}, {0x1029D, 0x1029F}, {0x102D1, 0x102DF}, {0x102FC, 0x102FF}, {0x10324, 0x1032C},
    {0x1034B, 0x1034F}, {0x1037B, 0x1037F}, {0x1039E, 0x1039E}, {0x103C4, 0x103C7}, {0x103D6, 0x103FF},
    {0x1049E, 0x1049F}, {0x104AA, 0x104AF}, {0x104D4, 0x104D7}, {0x104FC, 0x104FF}, {0x10528, 0x1052F},
    {0x10564, 0x1056E}, {0x1057B, 0x1057B}, {0x1058B, 0x1058B}, {0x10593, 0x10593}, {0x10596, 0x10596},
    {0x105A2, 0x105A2}, {0x105B2, 0x105B2}, {0x105BA, 0x105BA}, {0x105BD, 0x105FF}, {0x10737, 0x1073F},
    {0x10756, 0x1075F}, {0x10768, 0x1077F}, {0x10786, 0x10786}, {0x107B1, 0x107B1}, {0x107BB, 0x107FF},
    {0x10806, 0x10807}, {0x10809, 0x10809}, {0x10836, 0x10836}, {0x10839, 0x1083B}, {0x1083D, 0x1083E},
    {0x10856, 0x10856}, {0x1089F, 0x108A6}, {0x108B0, 0x108DF}, {0x108F3, 0x108F3}, {0x108F6, 0x108FA},
    {0x1091C, 0x1091E}, {0x1093A, 0x1093E}, {0x10940, 0x1097F}, {0x109B8, 0x109BB}, {0x109D0, 0x109D1},
    {0x10A04, 0x10A04}, {0x10A07, 0x10A0B}, {0x10A14, 0x10A14}, {0x10A18, 0x10A18}, {0x10A36, 0x10A37},
    {0x10A3B, 0x10A3E}, {0x10A49, 0x10A4F}, {0x10A59, 0x10A5F}, {0x10AA0, 0x10ABF}, {0x10AE7, 0x10AEA},
    {0x10AF7, 0x10AFF}, {0x10B36, 0x10B38}, {0x10B56, 0x10B57}, {0x10B73, 0x10B77}, {0x10B92, 0x10B98},
    {0x10B9D, 0x10BA8}, {0x10BB0, 0x10BFF}, {0x10C49, 0x10C7F}, {0x10CB3, 0x10CBF}, {0x10CF3, 0x10CF9},
    {0x10D28, 0x10D2F}, {0x10D3A, 0x10E5F}, {0x10E7F, 0x10E7F}, {0x10EAA, 0x10EAA}, {0x10EAE, 0x10EAF},
    {0x10EB2, 0x10EFF}, {0x10F28, 0x10F2F}, {0x10F5A, 0x10F6F}, {0x10F8A, 0x10FAF}, {0x10FCC, 0x10FDF},
    {0x10FF7, 0x10FFF}, {0x1104E, 0x11051}, {0x11076, 0x1107E}, {0x110BD, 0x110BD}, {0x110C3, 0x110CF},
    {0x110E9, 0x110EF}, {0x110FA, 0x110FF}, {0x11135, 0x11135}, {0x11148, 0x1114F}, {0x11177, 0x1117F},
    {0x111E0, 0x111E0}, {0x111F5, 0x111FF}, {0x11212, 0x11212}, {0x1123F, 0x1127F}, {0x11287, 0x11287},
    {0x11289, 0x11289}, {0x1128E, 0x1128E}, {0x1129E, 0x1129E}, {0x112AA, 0x112AF}, {0x112EB, 0x112EF},
    {0x112FA, 0x112FF}, {0x11304, 0x11304}, {0x1130D, 0x1130E}, {0x11311, 0x11312}, {0x11329, 0x11329},
    {0x11331, 0x11331}, {0x11334, 0x11334}, {0x1133A, 0x1133A}, {0x11345, 0x11346}, {0x11349, 0x1134A},
    {0x1134E, 0x1134F}, {0x11351, 0x11356}, {0x11358, 0x1135C}, {0x11364, 0x11365}, {0x1136D, 0x1136F},
    {0x11375, 0x113FF}, {0x1145C, 0x1145C}, {0x11462, 0x1147F}, {0x114C8, 0x114CF}, {0x114DA, 0x1157F},
    {0x115B6, 0x115B7}, {0x115DE, 0x115FF}, {0x11645, 0x1164F}, {0x1165A, 0x1165F}, {0x1166D, 0x1167F},
    {0x116BA, 0x116BF}, {0x116CA, 0x116FF}, {0x1171B, 0x1171C}, {0x1172C, 0x1172F}, {0x11747, 0x117FF},
    {0x1183C, 0x1189F}, {0x118F3, 0x118FE}, {0x11907, 0x11908}, {0x1190A, 0x1190B}, {0x11914, 0x11914},
    {0x11917, 0x11917}, {0x11936, 0x11936}, {0x11939, 0x1193A}, {0x11947, 0x1194F}, {0x1195A, 0x1199F},
    {0x119A8, 0x119A9}, {0x119D8, 0x119D9}, {0x119E5, 0x119FF}, {0x11A48, 0x11A4F}, {0x11AA3, 0x11AAF},
    {0x11AF9, 0x11BFF}, {0x11C09, 0x11C09}, {0x11C37, 0x11C37}, {0x11C46, 0x11C4F}, {0x11C6D, 0x11C6F},
    {0x11C90, 0x11C91}, {0x11CA8, 0x11CA8}, {0x11CB7, 0x11CFF}, {0x11D07, 0x11D07}, {0x11D0A, 0x11D0A},
    {0x11D37, 0x11D39}, {0x11D3B, 0x11D3B}, {0x11D3E, 0x11D3E}, {0x11D48, 0x11D4F}, {0x11D5A, 0x11D5F},
    {0x11D66, 0x11D66}, {0x11D69, 0x11D69}, {0x11D8F, 0x11D8F}, {0x11D92, 0x11D92}, {0x11D99, 0x11D9F},
    {0x11DAA, 0x11EDF}, {0x11EF9, 0x11FAF}, {0x11FB1, 0x11FBF}, {0x11FF2, 0x11FFE}, {0x1239A, 0x123FF},
    {0x1246F, 0x1246F}, {0x12475, 0x1247F}, {0x12544, 0x12F8F}, {0x12FF3, 0x12FFF}, {0x1342F, 0x143FF},
    {0x14647, 0x167FF}, {0x16A39, 0x16A3F}, {0x16A5F, 0x16A5F}, {0x16A6A, 0x16A6D}, {0x16ABF, 0x16ABF},
    {0x16ACA, 0x16ACF}, {0x16AEE, 0x16AEF}, {0x16AF6, 0x16AFF}, {0x16B46, 0x16B4F}, {0x16B5A, 0x16B5A},
    {0x16B62, 0x16B62}, {0x16B78, 0x16B7C}, {0x16B90, 0x16E3F}, {0x16E9B, 0x16EFF}, {0x16F4B, 0x16F4E},
    {0x16F88, 0x16F8E}, {0x16FA0, 0x16FDF}, {0x16FE5, 0x16FEF}, {0x16FF2, 0x16FFF}, {0x187F8, 0x187FF},
    {0x18CD6, 0x18CFF}, {0x18D09, 0x1AFEF}, {0x1AFF4, 0x1AFF4}, {0x1AFFC, 0x1AFFC}, {0x1AFFF, 0x1AFFF},
    {0x1B123, 0x1B14F}, {0x1B153, 0x1B163}, {0x1B168, 0x1B16F}, {0x1B2FC, 0x1BBFF}, {0x1BC6B, 0x1BC6F},
    {0x1BC7D, 0x1BC7F}, {0x1BC89, 0x1BC8F}, {0x1BC9A, 0x1BC9B}, {0x1BCA0, 0x1CEFF}, {0x1CF2E, 0x1CF2F},
    {0x1CF47, 0x1CF4F}, {0x1CFC4, 0x1CFFF}, {0x1D0F6, 0x1D0FF}, {0x1D127, 0x1D128}, {0x1D173, 0x1D17A},
    {0x1D1EB, 0x1D1FF}, {0x1D246, 0x1D2DF}, {0x1D2F4, 0x1D2FF}, {0x1D357, 0x1D35F}, {0x1D379, 0x1D3FF},
    {0x1D455, 0x1D455}, {0x1D49D, 0x1D49D}, {0x1D4A0, 0x1D4A1}, {0x1D4A3, 0x1D4A4}, {0x1D4A7, 0x1D4A8},
    {0x1D4AD, 0x1D4AD}, {0x1D4BA, 0x1D4BA}, {0x1D4BC, 0x1D4BC}, {0x1D4C4, 0x1D4C4}, {0x1D506, 0x1D506},
    {0x1D50B, 0x1D50C}, {0x1D515, 0x1D515}, {0x1D51D, 0x1D51D}, {0x1D53A, 0x1D53A}, {0x1D53F, 0x1D53F},
    {0x1D545, 0x1D545}, {0x1D547, 0x1D549}, {0x1D551, 0x1D551}, {0x1D6A6, 0x1D6A7}, {0x1D7CC, 0x1D7CD},
    {0x1DA8C, 0x1DA9A}, {0x1DAA0, 0x1DAA0}, {0x1DAB0, 0x1DEFF}, {0x1DF1F, 0x1DFFF}, {0x1E007, 0x1E007},
    {0x1E019, 0x1E01A}, {0x1E022, 0x1E022}, {0x1E025, 0x1E025}, {0x1E02B, 0x1E0FF}, {0x1E12D, 0x1E12F},
    {0x1E13E, 0x1E13F}, {0x1E14A, 0x1E14D}, {0x1E150, 0x1E28F}, {0x1E2AF, 0x1E2BF}, {0x1E2FA, 0x1E2FE},
    {0x1E300, 0x1E7DF}, {0x1E7E7, 0x1E7E7}, {0x1E7EC, 0x1E7EC}, {0x1E7EF, 0x1E7EF}, {0x1E7FF, 0x1E7FF},
    {0x1E8C5, 0x1E8C6}, {0x1E8D7, 0x1E8FF}, {0x1E94C, 0x1E94F}, {0x1E95A, 0x1E95D}, {0x1E960, 0x1EC70},
    {0x1ECB5, 0x1ED00}, {0x1ED3E, 0x1EDFF}, {0x1EE04, 0x1EE04}, {0x1EE20, 0x1EE20}, {0x1EE23, 0x1EE23},
    {0x1EE25, 0x1EE26}, {0x1EE28, 0x1EE28}, {0x1EE33, 0x1EE33}, {0x1EE38, 0x1EE38}, {0x1EE3A, 0x1EE3A},
    {0x1EE3C, 0x1EE41}, {0x1EE43, 0x1EE46}, {0x1EE48, 0x1EE48}, {0x1EE4A, 0x1EE4A}, {0x1EE4C, 0x1EE4C},
    {0x1EE50, 0x1EE50}, {0x1EE53, 0x1EE53}, {0x1EE55, 0x1EE56}, {0x1EE58, 0x1EE58}, {0x1EE5A, 0x1EE5A},
    {0x1EE5C, 0x1EE5C}, {0x1EE5E, 0x1EE5E}, {0x1EE60, 0x1EE60}, {0x1EE63, 0x1EE63}, {0x1EE65, 0x1EE66},
    {0x1EE6B, 0x1EE6B}, {0x1EE73, 0x1EE73}, {0x1EE78, 0x1EE78}, {0x1EE7D, 0x1EE7D}, {0x1EE7F, 0x1EE7F},
    {0x1EE8A, 0x1EE8A}, {0x1EE9C, 0x1EEA0}, {0x1EEA4, 0x1EEA4}, {0x1EEAA, 0x1EEAA}, {0x1EEBC, 0x1EEEF},
    {0x1EEF2, 0x1EFFF}, {0x1F02C, 0x1F02F}, {0x1F094, 0x1F09F}, {0x1F0AF, 0x1F0B0}, {0x1F0C0, 0x1F0C0},
    {0x1F0D0, 0x1F0D0}, {0x1F0F6, 0x1F0FF}, {0x1F1AE, 0x1F1E5}, {0x1F203, 0x1F20F}, {0x1F23C, 0x1F23F},
    {0x1F249, 0x1F24F}, {0x1F252, 0x1F25F}, {0x1F266, 0x1F2FF}, {0x1F6D8, 0x1F6DC}, {0x1F6ED, 0x1F6EF},
    {0x1F6FD, 0x1F6FF}, {0x1F774, 0x1F77F}, {0x1F7D9, 0x1F7DF}, {0x1F7EC, 0x1F7EF}, {0x1F7F1, 0x1F7FF},
    {0x1F80C, 0x1F80F}, {0x1F848, 0x1F84F}, {0x1F85A, 0x1F85F}, {0x1F888, 0x1F88F}, {0x1F8AE, 0x1F8AF},
    {0x1F8B2, 0x1F8FF}, {0x1FA54, 0x1FA5F}, {0x1FA6E, 0x1FA6F}, {0x1FA75, 0x1FA77}, {0x1FA7D, 0x1FA7F},
    {0x1FA87, 0x1FA8F}, {0x1FAAD, 0x1FAAF}, {0x1FABB, 0x1FABF}, {0x1FAC6, 0x1FACF}, {0x1FADA, 0x1FADF},
    {0x1FAE8, 0x1FAEF}, {0x1FAF7, 0x1FAFF}, {0x1FB93, 0x1FB93}, {0x1FBCB, 0x1FBEF}, {0x1FBFA, 0x1FFFF},
    {0x2A6E0, 0x2A6FF}, {0x2B739, 0x2B73F}, {0x2B81E, 0x2B81F}, {0x2CEA2, 0x2CEAF}, {0x2EBE1, 0x2F7FF},
    {0x2FA1E, 0x2FFFF}, {0x3134B, 0xE00FF}, {0xE01F0, 0x10FFFF},
};

bool py_isprintable(char32_t c) {
    if (c < 0x80) return c >= 0x20 && c < 0x7F;
    const Range* end = NON_PRINTABLE + sizeof NON_PRINTABLE / sizeof NON_PRINTABLE[0];
    const Range* r = std::upper_bound(NON_PRINTABLE, end, c, [](char32_t v, const Range& x) { return v < x.lo; });
    return r == NON_PRINTABLE || c > (r - 1)->hi;
}

std::string repr_u32(std::u32string_view s) {  // CPython's unicode_repr
    const bool has_single = s.find(U'\'') != std::u32string_view::npos;
    const bool has_double = s.find(U'"') != std::u32string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    char buf[16];
    for (char32_t c : s) {
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7F) {
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            out += buf;
        } else if (c < 0x7F || py_isprintable(c)) {
            append_utf8(out, c);
        } else {
            if (c <= 0xFF)
                std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            else if (c <= 0xFFFF)
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            else
                std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
            out += buf;
        }
    }
    out += quote;
    return out;
}

// repr() of a float as Python writes it (shortest round trip; exponent when the decimal point is < -4 or > 16)
std::string python_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string s(buf, r.ptr);
    std::string sign;
    if (s[0] == '-') {
        sign = "-";
        s.erase(0, 1);
    }
    const size_t e = s.find('e');
    const int exp = std::atoi(s.c_str() + e + 1);
    std::string digits = s.substr(0, e);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    const int decpt = exp + 1;
    const int nd = static_cast<int>(digits.size());
    std::string out;
    if (decpt <= -4 || decpt > 16) {
        out = digits.substr(0, 1);
        if (nd > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    } else if (decpt <= 0) {
        out = "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (decpt >= nd) {
        out = digits + std::string(static_cast<size_t>(decpt - nd), '0') + ".0";
    } else {
        out = digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
    }
    return sign + out;
}

// repr() of what json.loads makes of a value
std::string json_repr(const json::Value* v) {
    if (!v || v->is_null()) return "None";
    switch (v->type()) {
        case json::Value::Type::Bool: return v->boolean() ? "True" : "False";
        case json::Value::Type::Number:
            return v->is_exact_integer() ? std::to_string(v->integer()) : python_float_repr(v->number());
        case json::Value::Type::String: return python_repr(v->str());
        case json::Value::Type::Array: {
            std::string out = "[";
            for (size_t i = 0; i < v->size(); ++i) out += (i ? ", " : "") + json_repr(&(*v)[i]);
            return out + "]";
        }
        case json::Value::Type::Object: {
            std::string out = "{";
            bool first = true;
            for (const auto& [k, x] : v->object()) {
                out += (first ? "" : ", ") + python_repr(k) + ": " + json_repr(&x);
                first = false;
            }
            return out + "}";
        }
        default: return "None";
    }
}

// ------------------------------------------------------------------ inline phonemes (voxlite.text.phonemes)

struct IpaRule {
    const char32_t* ipa;
    const char32_t* sym;
};
// _IPA: IPA spellings -> inventory symbols, longest first
const IpaRule IPA[] = {
    {U"eɪ", U"A"}, {U"aɪ", U"I"}, {U"oʊ", U"O"}, {U"əʊ", U"O"}, {U"aʊ", U"W"}, {U"ɔɪ", U"Y"}, {U"dʒ", U"ʤ"},
    {U"tʃ", U"ʧ"}, {U"ɚ", U"əɹ"}, {U"ɝ", U"ɜɹ"}, {U"ɡ", U"ɡ"}, {U"g", U"ɡ"}, {U"r", U"ɹ"}, {U"ɒ", U"ɑ"},
    {U"ɐ", U"ə"}, {U"e", U"ɛ"}, {U"o", U"O"}, {U"x", U"k"}, {U"'", U"ˈ"}, {U"ˈ", U"ˈ"}, {U"ː", U""},
    {U"ˑ", U""}, {U".", U""}, {U"\u0361", U""}, {U"\u035c", U""},
};

// _stress_on_vowel: IPA marks stress before the syllable ("təˈmAtO"), the inventory before its vowel ("təmˈAtO")
std::u32string stress_on_vowel(std::u32string chars) {
    size_t i = 0;
    while (i < chars.size()) {
        if (is_stress(chars[i])) {
            size_t j = i + 1;
            while (j < chars.size() && !in(VOWELS, chars[j]) && !is_stress(chars[j])) ++j;
            if (j < chars.size() && in(VOWELS, chars[j]) && j > i + 1) {
                const char32_t mark = chars[i];
                chars.erase(i, 1);
                chars.insert(j - 1, 1, mark);
                continue;
            }
        }
        ++i;
    }
    return chars;
}

// ------------------------------------------------------------------ tokens

// _WORD.findall: [A-Za-z]+(?:['’][A-Za-z]+)*|[0-9]+|[,.?!;:]
template <typename Emit>
void scan_words(std::string_view s, Emit&& emit) {
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const char c = s[i];
        if (is_alpha(c)) {
            size_t j = i + 1;
            while (j < n && is_alpha(s[j])) ++j;
            for (;;) {  // (?:['’][A-Za-z]+)*
                size_t k = j;
                if (k < n && s[k] == '\'')
                    k += 1;
                else if (s.compare(k, 3, "’") == 0)
                    k += 3;
                else
                    break;
                if (k >= n || !is_alpha(s[k])) break;
                j = k + 1;
                while (j < n && is_alpha(s[j])) ++j;
            }
            emit(s.substr(i, j - i));
            i = j;
        } else if (is_digit(c)) {
            size_t j = i + 1;
            while (j < n && is_digit(s[j])) ++j;
            emit(s.substr(i, j - i));
            i = j;
        } else {
            if (is_punct(c)) emit(s.substr(i, 1));
            ++i;
        }
    }
}

}  // namespace

// ------------------------------------------------------------------ Lexicon

namespace {
uint64_t hash_of(std::string_view s) {
    return static_cast<uint64_t>(std::hash<std::string_view>{}(s)) * 0x9E3779B97F4A7C15ull;  // spread (32-bit size_t)
}
constexpr size_t NPOS = static_cast<size_t>(-1);
}  // namespace

Lexicon::Lexicon(std::initializer_list<std::pair<std::string_view, std::string_view>> entries) {
    reserve(entries.size());
    for (const auto& [w, ps] : entries) set(w, ps);
}

void Lexicon::reserve(size_t entries, size_t text_bytes) {
    entries_.reserve(entries);
    if (text_bytes) arena_.reserve(text_bytes);
    size_t cap = 16;
    while (cap < 2 * entries) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
}

uint32_t Lexicon::append(std::string_view s) {
    if (arena_.size() + s.size() >= DEAD) throw std::length_error("lexicon: more than 4 GB of text");
    const auto off = static_cast<uint32_t>(arena_.size());
    arena_.append(s.data(), s.size());
    return off;
}

size_t Lexicon::slot_of(std::string_view word, uint64_t hash) const {
    const size_t mask = slots_.size() - 1;
    const uint64_t tag = hash >> 32;
    for (size_t i = static_cast<size_t>(hash) & mask;; i = (i + 1) & mask) {
        const uint64_t s = slots_[i];
        if (s == 0) return i;
        if (s != 1 && (s >> 32) == tag) {
            const Entry& e = entries_[static_cast<uint32_t>(s) - 2];
            if (text(e.key_off, e.key_len) == word) return i;
        }
    }
}

std::optional<std::string_view> Lexicon::find(std::string_view word) const {
    if (live_ == 0) return std::nullopt;
    const uint64_t s = slots_[slot_of(word, hash_of(word))];
    if (s == 0) return std::nullopt;
    const Entry& e = entries_[static_cast<uint32_t>(s) - 2];
    return text(e.val_off, e.val_len);
}

void Lexicon::set(std::string_view word, std::string_view phonemes) { set_hashed(word, phonemes, hash_of(word)); }

void Lexicon::set_all(const std::vector<std::pair<std::string_view, std::string_view>>& entries) {
    reserve(live_ + entries.size());
    std::vector<uint64_t> hashes(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) hashes[i] = hash_of(entries[i].first);
    constexpr size_t AHEAD = 16;  // prefetch the slots of later entries: the table is larger than the caches
    for (size_t i = 0; i < entries.size(); ++i) {
        if (i + AHEAD < entries.size())
            __builtin_prefetch(&slots_[static_cast<size_t>(hashes[i + AHEAD]) & (slots_.size() - 1)]);
        set_hashed(entries[i].first, entries[i].second, hashes[i]);
    }
}

void Lexicon::set_hashed(std::string_view word, std::string_view phonemes, uint64_t h) {
    if (slots_.empty() || 2 * (used_ + 1) > slots_.size()) {
        size_t cap = 16;
        while (cap < 4 * (live_ + 1)) cap *= 2;
        rehash(cap);
    }
    const size_t i = slot_of(word, h);
    if (slots_[i] != 0) {  // present: the new phonemes, same place
        Entry& e = entries_[static_cast<uint32_t>(slots_[i]) - 2];
        e.val_off = append(phonemes);
        e.val_len = static_cast<uint32_t>(phonemes.size());
        return;
    }
    // absent: a removed slot on its probe path is free again
    const size_t mask = slots_.size() - 1;
    size_t k = static_cast<size_t>(h) & mask;
    while (slots_[k] > 1) k = (k + 1) & mask;
    Entry e{append(word), static_cast<uint32_t>(word.size()), 0, static_cast<uint32_t>(phonemes.size())};
    e.val_off = append(phonemes);
    if (entries_.size() + 2 >= DEAD) throw std::length_error("lexicon: too many entries");
    entries_.push_back(e);
    if (slots_[k] == 0) ++used_;
    slots_[k] = ((h >> 32) << 32) | (entries_.size() - 1 + 2);
    ++live_;
}

bool Lexicon::set_default(std::string_view word, std::string_view phonemes) {
    if (contains(word)) return false;
    set(word, phonemes);
    return true;
}

bool Lexicon::erase(std::string_view word) {
    if (live_ == 0) return false;
    const size_t i = slot_of(word, hash_of(word));
    if (slots_[i] == 0) return false;
    entries_[static_cast<uint32_t>(slots_[i]) - 2].key_len = DEAD;
    slots_[i] = 1;
    --live_;
    return true;
}

void Lexicon::clear() {
    arena_.clear();
    entries_.clear();
    slots_.clear();
    live_ = used_ = 0;
}

void Lexicon::rehash(size_t capacity) {
    if (live_ != entries_.size()) {  // drop removed entries (and their text), keeping the order
        std::string arena;
        std::vector<Entry> entries;
        entries.reserve(live_);
        for (const Entry& e : entries_) {
            if (e.key_len == DEAD) continue;
            Entry n{static_cast<uint32_t>(arena.size()), e.key_len, 0, e.val_len};
            arena.append(arena_, e.key_off, e.key_len);
            n.val_off = static_cast<uint32_t>(arena.size());
            arena.append(arena_, e.val_off, e.val_len);
            entries.push_back(n);
        }
        arena_.swap(arena);
        entries_.swap(entries);
    }
    slots_.assign(capacity, 0);
    const size_t mask = capacity - 1;
    for (size_t idx = 0; idx < entries_.size(); ++idx) {
        const uint64_t h = hash_of(text(entries_[idx].key_off, entries_[idx].key_len));
        size_t k = static_cast<size_t>(h) & mask;
        while (slots_[k] != 0) k = (k + 1) & mask;
        slots_[k] = ((h >> 32) << 32) | (idx + 2);
    }
    used_ = live_ = entries_.size();
}

// ------------------------------------------------------------------ public helpers

std::string python_repr(std::string_view utf8) { return repr_u32(to_u32(utf8)); }

std::string to_inventory(std::string_view ph, std::string_view what) {
    std::u32string s = to_u32(ph);
    size_t a = 0, b = s.size();  // ph.strip()
    while (a < b && is_space(s[a])) ++a;
    while (b > a && is_space(s[b - 1])) --b;
    s = s.substr(a, b - a);
    std::vector<std::u32string> words;
    std::u32string cur;
    size_t i = 0;
    while (i < s.size()) {
        const char32_t c = s[i];
        if (is_space(c)) {
            if (!cur.empty()) words.push_back(std::move(cur));  // an empty word would be dropped below anyway
            cur.clear();
            ++i;
            continue;
        }
        bool matched = false;
        for (const IpaRule& r : IPA) {
            const std::u32string_view ipa(r.ipa);
            if (s.compare(i, ipa.size(), ipa) == 0) {
                cur += r.sym;
                i += ipa.size();
                matched = true;
                break;
            }
        }
        if (matched) continue;
        if (!in(PHONEME_CHARS, c)) {
            std::string spaced;
            for (const char32_t* p = PHONEME_CHARS; *p; ++p) {
                if (p != PHONEME_CHARS) spaced += ' ';
                append_utf8(spaced, *p);
            }
            char hex[16];
            std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(c));
            throw TextError(std::string(what) + ": " + repr_u32(std::u32string(1, c)) + " (U+" + hex +
                            ") is not a phoneme symbol of this voice; the symbols are " + spaced +
                            " (and common IPA: eɪ aɪ oʊ aʊ ɔɪ dʒ tʃ g r ɚ ɝ ɒ)");
        }
        cur += c;
        ++i;
    }
    if (!cur.empty()) words.push_back(std::move(cur));
    std::string out;
    bool any = false;
    for (const std::u32string& w : words) {
        bool only_stress = true;  // w.strip(STRESS) is empty
        for (char32_t c : w) only_stress = only_stress && is_stress(c);
        if (only_stress) continue;
        if (any) out += ' ';
        out += to_utf8(stress_on_vowel(w));
        any = true;
    }
    if (!any) throw TextError(std::string(what) + " is empty");
    return out;
}

std::vector<std::pair<bool, std::string>> split_inline(std::string_view text) {
    // INLINE = \[\[(.*?)\]\] (re.S): each "[[" up to the first "]]" after it
    std::vector<std::pair<bool, std::string>> pieces;
    size_t start = 0;
    for (;;) {
        const size_t open = text.find("[[", start);
        if (open == std::string_view::npos) break;
        const size_t close = text.find("]]", open + 2);
        if (close == std::string_view::npos) break;
        if (open > start) pieces.emplace_back(false, std::string(text.substr(start, open - start)));
        const std::string_view inner = text.substr(open + 2, close - open - 2);
        pieces.emplace_back(true, to_inventory(inner, "inline phonemes [[" + std::string(inner) + "]]"));
        start = close + 2;
    }
    if (start < text.size()) pieces.emplace_back(false, std::string(text.substr(start)));
    return pieces;
}

Lexicon load_lexicon(const std::string& path) {
    json::Value doc;
    try {
        doc = json::parse(json::read_file(path));
    } catch (const json::Error& e) {
        throw LexiconError("unreadable lexicon " + path + ": " + e.what());
    }
    const json::Value* format = doc.find("format");
    const json::Value* entries = doc.find("entries");
    if (!format || !format->is_string() || format->str() != "voxlite-lexicon" || !entries || !entries->is_object())
        throw LexiconError(path + " is not a voxlite-lexicon file");
    const json::Value* version = doc.find("version");  // Python: != 1 (so 1.0 and true pass)
    if (!version || !((version->is_number() && version->number() == 1.0) || (version->is_bool() && version->boolean())))
        throw LexiconError("lexicon version " + json_repr(version) + " is not supported (this voxlite reads 1)");
    const auto& members = entries->object();
    for (const auto& kv : members)
        if (!kv.second.is_string()) throw LexiconError(path + ": lexicon entries must map strings to strings");
    std::vector<std::pair<std::string_view, std::string_view>> pairs;
    pairs.reserve(members.size());
    size_t bytes = 0;
    for (const auto& [word, ps] : members) {
        pairs.emplace_back(word, ps.str());
        bytes += word.size() + ps.str().size();
    }
    Lexicon lex;
    lex.reserve(pairs.size(), bytes);
    lex.set_all(pairs);  // a repeated word: the last
    return lex;
}

// ------------------------------------------------------------------ EnglishG2P

EnglishG2P::EnglishG2P(Lexicon lexicon, LetterToSoundFn letter_to_sound, NormalizeFn normalize,
                       std::vector<std::string> symbols)
    : lexicon_(std::move(lexicon)),
      letter_to_sound_(std::move(letter_to_sound)),
      normalize_(std::move(normalize)),
      symbols_(symbols.empty() ? inventory() : std::move(symbols)) {
    for (size_t i = 0; i < symbols_.size(); ++i) {  // {s: i for i, s in enumerate(symbols)}: the last wins
        const std::string& s = symbols_[i];
        if (s == BOS) bos_ = static_cast<int64_t>(i);
        if (s == EOS) eos_ = static_cast<int64_t>(i);
        if (s.empty()) continue;
        size_t n;
        const char32_t c = decode_utf8_at(s, 0, n);
        if (n == s.size()) char_ids_[c] = static_cast<int64_t>(i);
    }
}

EnglishG2P EnglishG2P::from_file(const std::string& lexicon_path, LetterToSoundFn letter_to_sound,
                                 NormalizeFn normalize) {
    return EnglishG2P(load_lexicon(lexicon_path), std::move(letter_to_sound), std::move(normalize));
}

void EnglishG2P::set_letter_to_sound(LetterToSoundFn fn) {
    letter_to_sound_ = std::move(fn);
    cache_.clear();
}

void EnglishG2P::set_normalize(NormalizeFn fn) {
    normalize_ = std::move(fn);
    cache_.clear();
}

void EnglishG2P::add_user_entry(const std::string& word, const std::string& phonemes) {
    user_.set(word, phonemes);
    if (!py_islower(word)) user_.set_default(lower(word), phonemes);
    cache_.clear();
}

std::string EnglishG2P::normalized(std::string_view text) {
    return normalize_ ? normalize_(text) : normalize_text(text);
}

// _tokens: words, numbers and punctuation of the normalised text; [[...]] spans as phoneme tokens
std::vector<EnglishG2P::Token> EnglishG2P::tokens(std::string_view text) {
    std::vector<Token> toks;
    const auto emit = [&toks](std::string_view t) { toks.push_back(Token{std::string(t), false}); };
    if (text.find("[[") == std::string_view::npos) {
        scan_words(normalized(text), emit);
        return toks;
    }
    for (auto& [is_ph, piece] : split_inline(text)) {
        if (is_ph) {
            toks.push_back(Token{std::move(piece), true});
            continue;
        }
        // re.match(r"\s*([,.?!;:])", piece): punctuation right after a span (the normaliser drops it)
        size_t i = 0;
        for (size_t n; i < piece.size(); i += n)
            if (!is_space(decode_utf8_at(piece, i, n))) break;
        if (i < piece.size() && is_punct(piece[i]) && !toks.empty())
            toks.push_back(Token{std::string(1, piece[i]), false});
        scan_words(normalized(piece), emit);
    }
    return toks;
}

namespace {

// _is_letter: a single capital letter, as the normaliser writes a spelled acronym ("F B I"); "I'm" or "A's" are not
bool is_letter_token(const EnglishG2P::Token& tok) {
    if (tok.phonemes) return false;
    const std::string& t = tok.text;
    return (t.size() == 1 && py_isupper(t)) ||
           (t.size() == 3 && t[0] >= 'A' && t[0] <= 'Z' && t[1] == '\'' && t[2] == 's');
}

}  // namespace

std::string EnglishG2P::phonemize(std::string_view text) {
    std::vector<std::string> out;
    long article = -1;  // index in out of a "the" whose vowel depends on the next word
    const std::vector<Token> toks = tokens(text);
    for (size_t i = 0; i < toks.size(); ++i) {
        const Token& tok = toks[i];
        if (tok.phonemes) {  // inline [[phonemes]]: as given
            if (article >= 0 && starts_with_vowel(tok.text)) out[static_cast<size_t>(article)] = "ði";
            for (std::string& w : split(tok.text, ' '))
                if (!w.empty()) out.push_back(std::move(w));
            article = -1;
            continue;
        }
        if (tok.text.size() == 1 && is_punct(tok.text[0])) {
            if (!out.empty() && !(out.back().size() && is_punct(out.back().back()))) out.back() += tok.text;
            article = -1;
            continue;
        }
        const std::string low = lower(tok.text);
        std::string ps;
        if (user_.contains(low) || user_.contains(tok.text)) {
            ps = word(tok.text);
        } else if (tok.text == "A" && ((i > 0 && is_letter_token(toks[i - 1])) ||
                                       (i + 1 < toks.size() && is_letter_token(toks[i + 1])))) {
            ps = word(tok.text);  // a spelled letter ("A M", "U S A" from the normaliser), not the article
        } else if (low == "a") {  // WEAK_FORMS
            ps = "ə";
        } else if (low == "the") {
            ps = "ðə";
        } else {
            ps = word(tok.text);
        }
        if (ps.empty()) continue;
        if (article >= 0 && starts_with_vowel(ps)) out[static_cast<size_t>(article)] = "ði";  // "the apple"
        article = low == "the" ? static_cast<long>(out.size()) : -1;
        out.push_back(std::move(ps));
    }
    return join(out, " ");
}

std::vector<int64_t> EnglishG2P::encode_phonemes(std::string_view phonemes, bool add_bos_eos) const {
    std::vector<int64_t> ids;
    ids.reserve(phonemes.size() + 2);
    if (add_bos_eos) {
        if (!bos_ || !eos_) throw std::invalid_argument("the symbols have no <bos> / <eos>");
        ids.push_back(*bos_);
    }
    for (size_t i = 0, n; i < phonemes.size(); i += n) {
        const auto it = char_ids_.find(decode_utf8_at(phonemes, i, n));
        if (it != char_ids_.end()) ids.push_back(it->second);
    }
    if (add_bos_eos) ids.push_back(*eos_);
    return ids;
}

std::vector<int64_t> EnglishG2P::encode(std::string_view text, bool add_bos_eos) {
    const std::string ps = phonemize(text);
    if (ps.find_first_not_of(",.?!;: ") == std::string::npos) {  // not ps.strip(PUNCTUATION + " ")
        const std::u32string u = to_u32(text);
        throw TextError("nothing speakable in " + repr_u32(std::u32string_view(u).substr(0, 60)));
    }
    return encode_phonemes(ps, add_bos_eos);
}

size_t EnglishG2P::count(std::string_view text) { return encode_phonemes(phonemize(text), false).size(); }

std::pair<std::vector<int64_t>, size_t> EnglishG2P::encode_pair(std::string_view text,
                                                                std::optional<std::string_view> prompt_text) {
    if (prompt_text && !prompt_text->empty()) {
        std::string both(*prompt_text);
        both += ' ';
        both += text;
        std::vector<int64_t> ids = encode(both);
        const size_t n = count(text);
        return {std::move(ids), n};
    }
    std::vector<int64_t> ids = encode(text);
    const size_t n = ids.size();
    return {std::move(ids), n};
}

// ------------------------------------------------------------------ words

std::string EnglishG2P::word(std::string_view w) {
    std::string key;
    key.reserve(w.size());
    for (size_t i = 0; i < w.size();) {  // word.replace("’", "'")
        if (w.compare(i, 3, "’") == 0) {
            key += '\'';
            i += 3;
        } else {
            key += w[i++];
        }
    }
    const auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::string ps = lookup_uncached(key);
    if (cache_.size() >= CACHE_SIZE) cache_.clear();
    cache_.emplace(std::move(key), ps);
    return ps;
}

std::optional<std::string_view> EnglishG2P::lex_get(std::string_view key) const {
    auto ps = lexicon_.find(key);
    if (ps && ps->empty()) ps.reset();  // falsy in Python
    return ps;
}

std::optional<std::string_view> EnglishG2P::user_get(std::string_view key) const {
    auto ps = user_.find(key);
    if (ps && ps->empty()) ps.reset();
    return ps;
}

// _entry
std::optional<std::string> EnglishG2P::entry_of(const std::string& word) const {
    if (!user_.empty()) {
        if (auto ps = user_get(word)) return std::string(*ps);
        if (auto ps = user_get(lower(word))) return std::string(*ps);
    }
    if (auto ps = lex_get(word)) return std::string(*ps);
    const std::string low = lower(word);
    if (low != word)
        if (auto ps = lex_get(low)) return std::string(*ps);
    const std::string cap = capitalize(word);
    if (cap != word && cap != low)
        if (auto ps = lex_get(cap)) return std::string(*ps);
    return std::nullopt;
}

std::optional<std::string> EnglishG2P::entry(std::string_view word) const { return entry_of(std::string(word)); }

std::optional<std::string> EnglishG2P::suffixed(std::string_view word) const {
    const std::string w = lower(word);
    const std::vector<size_t> off = char_offsets(w);
    const size_t len = off.size() - 1;
    const auto drop = [&](size_t k) { return w.substr(0, off[len - k]); };  // w[:-k]
    const auto at = [&](size_t k) {                                          // w[-k]
        return std::string_view(w).substr(off[len - k], off[len - k + 1] - off[len - k]);
    };
    if (ends_with(w, "'s"))
        if (auto stem = entry_of(drop(2))) return add_s(std::move(*stem));
    if (ends_with(w, "s'"))
        if (auto stem = entry_of(drop(1))) return stem;
    if (ends_with(w, "s") && len > 3) {
        std::vector<std::string> stems = {drop(1)};
        if (ends_with(w, "es")) stems.push_back(drop(2));
        if (ends_with(w, "ies")) stems.push_back(drop(3) + "y");
        for (const std::string& s : stems)
            if (!s.empty())
                if (auto stem = entry_of(s)) return add_s(std::move(*stem));
    }
    if (ends_with(w, "ed") && len > 4) {
        std::vector<std::string> stems = {drop(2), drop(1)};
        if (len > 5 && at(3) == at(4)) stems.push_back(drop(3));
        if (ends_with(w, "ied")) stems.push_back(drop(3) + "y");
        for (const std::string& s : stems)
            if (!s.empty())
                if (auto stem = entry_of(s)) return add_ed(std::move(*stem));
    }
    if (ends_with(w, "ing") && len > 5) {
        std::vector<std::string> stems = {drop(3), drop(3) + "e"};
        if (at(4) == at(5)) stems.push_back(drop(4));
        for (const std::string& s : stems)
            if (!s.empty())
                if (auto stem = entry_of(s)) return *stem + "ɪŋ";
    }
    if (ends_with(w, "ly") && len > 4)
        if (auto stem = entry_of(drop(2))) return *stem + "li";
    return std::nullopt;
}

std::optional<std::string> EnglishG2P::lexicon_or_suffixed(const std::string& piece) const {
    if (auto ps = lex_get(piece)) return std::string(*ps);
    return suffixed(piece);
}

std::optional<std::string> EnglishG2P::compound(std::string_view wv, int max_pieces) {
    const std::string w(wv);
    if (w.find('-') != std::string::npos) {  // hyphenated: its parts
        std::vector<std::string> parts;
        for (const std::string& p : split(w, '-'))
            if (!p.empty()) parts.push_back(lookup_uncached(p));
        if (parts.empty()) return std::nullopt;
        return join(parts, " ");
    }
    const std::vector<size_t> off = char_offsets(w);
    const size_t n = off.size() - 1;
    struct Best {
        long count = -1;  // fewest pieces covering w[:end]; -1: none
        size_t start = 0;
        std::string ps;
    };
    std::vector<Best> best(n + 1);
    best[0].count = 0;
    std::string piece;
    for (size_t end = 1; end <= n; ++end) {
        for (size_t start = end > 20 ? end - 20 : 0; start < end; ++start) {
            if (best[start].count < 0) continue;
            piece.assign(w, off[start], off[end] - off[start]);
            const size_t len = end - start;
            if (len < 2 && piece != "a" && piece != "i") continue;
            std::optional<std::string> ps;
            if (len > 1) {
                ps = lexicon_or_suffixed(piece);
            } else if (auto p = lex_get(piece)) {
                ps = std::string(*p);
            }
            if (!ps || ps->empty()) continue;
            const long cand = best[start].count + 1;
            if (best[end].count < 0 || cand < best[end].count) best[end] = Best{cand, start, std::move(*ps)};
        }
    }
    const long limit = max_pieces != 0 ? max_pieces : std::max<long>(2, static_cast<long>(n / 3));
    if (best[n].count < 0 || best[n].count > limit) return std::nullopt;
    std::vector<std::string> pieces;
    for (size_t k = n; k > 0; k = best[k].start) pieces.push_back(best[k].ps);
    std::reverse(pieces.begin(), pieces.end());
    return join_pieces(pieces);
}

std::string EnglishG2P::spell(std::string_view word) const {
    std::vector<std::string> names;
    for (const char c : word) {
        if (!is_alpha(c)) continue;  // (bytes of non-ASCII characters are not ASCII letters)
        const char up = upper_c(c), low = lower_c(c);
        auto ps = lex_get(std::string_view(&up, 1));
        if (!ps) ps = lex_get(std::string_view(&low, 1));
        if (ps) names.emplace_back(*ps);
    }
    return join(names, " ");
}

std::string EnglishG2P::lookup_uncached(std::string_view wv) {
    const std::string word(wv);
    if (py_isdigit(word)) {  // the normaliser leaves only numbers too large to read: digit by digit
        std::string out;
        for (size_t i = 0; i < word.size(); ++i) {
            if (i) out += ' ';
            out += lookup_uncached(DIGIT_NAMES[word[i] - '0']);
        }
        return out;
    }
    if (auto ps = entry_of(word)) return std::move(*ps);
    if (auto ps = suffixed(word)) return std::move(*ps);
    const std::string low = lower(word);
    const size_t len = char_offsets(word).size() - 1;
    if (ends_with(low, "'s") && len > 2)  // possessive of an unknown word
        return add_s(lookup_uncached(std::string_view(word).substr(0, word.size() - 2)));
    if (word.find('\'') != std::string::npos) {  // unknown contraction: read its parts
        std::string out;
        for (const std::string& p : split(word, '\''))
            if (!p.empty()) out += lookup_uncached(p);
        return out;
    }
    if (py_isupper(word) && len <= 5) return spell(word);  // an acronym: letter names
    // with a model only hyphen parts stay a rule (english_g2p.py says why)
    if (!letter_to_sound_ || word.find('-') != std::string::npos) {
        auto ps = compound(low);
        if (ps && !ps->empty()) return std::move(*ps);
        return spell(word);
    }
    auto ps = letter_to_sound_(word);
    if (ps && !ps->empty()) return std::move(*ps);
    return spell(word);
}

}  // namespace voxlite::text
