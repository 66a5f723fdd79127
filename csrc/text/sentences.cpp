#include "text/sentences.h"

#include <set>
#include <stdexcept>

#include "text/unicode.h"

namespace voxlite::text {
namespace {

bool in(char32_t c, std::u32string_view set) { return set.find(c) != std::u32string_view::npos; }

const std::u32string_view kEnds = U".!?", kCjkEnds = U"。！？";
const std::u32string_view kClosers = U"\"'\u201d\u2019)]", kCjkClosers = U"\"'\u201d\u2019\u300d\u300f\uff09";
const std::u32string_view kSoft = U",;:\uff0c\uff1b\uff1a\u3001";
const std::u32string_view kNotInWord = U"\"'\u201c\u2018([";

const std::set<std::u32string>& titles() {
    static const std::set<std::u32string> s{U"mr", U"mrs", U"ms", U"mx", U"dr", U"prof", U"st", U"mt", U"rev",
                                            U"fr", U"gen", U"col", U"capt", U"lt", U"sgt", U"gov", U"sen", U"rep",
                                            U"hon", U"pres", U"supt", U"e.g", U"i.e", U"cf", U"viz"};
    return s;
}

const std::set<std::u32string>& abbreviations() {
    static const std::set<std::u32string> s{
        U"etc", U"vs", U"no", U"nos", U"jr", U"sr", U"inc", U"ltd", U"co", U"corp", U"approx", U"fig", U"figs",
        U"vol", U"vols", U"pp", U"ch", U"sec", U"ca", U"est", U"dept", U"univ", U"jan", U"feb", U"mar", U"apr",
        U"jun", U"jul", U"aug", U"sep", U"sept", U"oct", U"nov", U"dec", U"mon", U"tue", U"wed", U"thu", U"fri",
        U"sat", U"sun"};
    return s;
}

struct Span {
    size_t start, end;
};

// re.finditer's walk: at each position the first alternative that matches; after an empty match the next one
// may start there only if it is not empty (Python 3.7+). match_at(p, must_advance) -> the end of the match at p,
// or npos.
template <class MatchAt>
std::vector<Span> find_all(const std::u32string& t, MatchAt match_at) {
    std::vector<Span> out;
    bool must_advance = false;
    for (size_t p = 0; p <= t.size();) {
        const size_t e = match_at(p, must_advance);
        if (e == std::u32string::npos) {
            ++p;
            must_advance = false;
            continue;
        }
        out.push_back({p, e});
        must_advance = e == p;
        p = e;
    }
    return out;
}

size_t run_of(const std::u32string& t, size_t e, std::u32string_view set) {
    while (e < t.size() && in(t[e], set)) ++e;
    return e;
}

size_t spaces_from(const std::u32string& t, size_t e) {
    while (e < t.size() && is_space(t[e])) ++e;
    return e;
}

// The matches of  (?<=[.!?])["'”’)\]]*\s+ | (?<=[。！？])["'”’」』）]*\s*
std::vector<Span> sentence_ends(const std::u32string& t) {
    return find_all(t, [&](size_t p, bool must_advance) {
        if (p > 0 && in(t[p - 1], kEnds)) {
            const size_t s = run_of(t, p, kClosers), e = spaces_from(t, s);
            if (e > s) return e;
        }
        if (p > 0 && in(t[p - 1], kCjkEnds)) {
            const size_t e = spaces_from(t, run_of(t, p, kCjkClosers));
            if (!(must_advance && e == p)) return e;
        }
        return std::u32string::npos;
    });
}

bool is_all_space(const std::u32string& t, size_t a, size_t b) {
    if (a >= b) return false;
    for (size_t i = a; i < b; ++i)
        if (!is_space(t[i])) return false;
    return true;
}

// Whether the '.' at `period` (whitespace after it up to `after`) closes an abbreviation, not a sentence.
bool abbreviation_end(const std::u32string& t, size_t period, size_t after) {
    // _LAST_WORD.search(text, 0, period): the run of word characters ending at `period`, or (re's `$` also matches
    // before a final newline) ending at a newline just before it
    size_t end = period;
    if (end > 0 && t[end - 1] == U'\n') --end;
    size_t s = end;
    while (s > 0 && !is_space(t[s - 1]) && !in(t[s - 1], kNotInWord)) --s;
    if (s == end) return false;
    std::u32string_view word(t.data() + s, end - s);
    if (word.size() == 1 && is_upper(word[0])) return true;  // an initial: a name follows
    std::u32string key = to_lower(word);
    if (titles().count(key)) return true;
    std::u32string letters;
    bool dotted = false;
    for (char32_t c : key) {
        if (c == U'.') dotted = true;
        else letters += c;
    }
    if (abbreviations().count(key) || (dotted && str_isalpha(letters)))
        return !(after < t.size() && is_upper(t[after]));
    return false;
}

std::u32string strip_copy(const std::u32string& s, size_t a, size_t b) {
    return std::u32string(strip(std::u32string_view(s.data() + a, b - a)));
}

bool is_cjk(char32_t c) {
    return in(c, U"。！？，；：、「」『』（）") || (c >= 0x3040 && c <= 0x30ff) || (c >= 0x4e00 && c <= 0x9fff);
}

std::u32string join(const std::u32string& a, const std::u32string& b) {
    if (a.empty()) return b;
    return a + (is_cjk(a.back()) ? U"" : U" ") + b;
}

// _SOFT.split(sentence) without the empty pieces:  (?<=[,;:，；：、])\s* | \s+
std::vector<std::u32string> soft_pieces(const std::u32string& t) {
    const std::vector<Span> breaks = find_all(t, [&](size_t p, bool must_advance) {
        if (p > 0 && in(t[p - 1], kSoft)) {
            const size_t e = spaces_from(t, p);
            if (!(must_advance && e == p)) return e;
        }
        if (p < t.size() && is_space(t[p])) return spaces_from(t, p);
        return std::u32string::npos;
    });
    std::vector<std::u32string> out;
    size_t last = 0;
    for (const Span& b : breaks) {
        if (b.start > last) out.push_back(t.substr(last, b.start - last));
        last = b.end;
    }
    if (last < t.size()) out.push_back(t.substr(last));
    return out;
}

std::vector<std::u32string> cut(const std::u32string& sentence, int max_tokens,
                                const std::function<int(const std::u32string&)>& count) {
    std::vector<std::u32string> pieces;
    std::u32string cur;
    for (const std::u32string& w : soft_pieces(sentence)) {
        std::u32string joined = join(cur, w);
        if (count(joined) <= max_tokens) {
            cur = joined;
            continue;
        }
        if (!cur.empty()) pieces.push_back(cur);
        cur.clear();
        if (count(w) <= max_tokens) {
            cur = w;
            continue;
        }
        for (char32_t ch : w) {  // a run without soft breaks (e.g. long CJK): cut by characters
            if (!cur.empty() && count(cur + ch) > max_tokens) {
                pieces.push_back(cur);
                cur.clear();
            }
            cur += ch;
        }
    }
    if (!cur.empty()) pieces.push_back(cur);
    return pieces;
}

std::vector<std::u32string> split_u32(const std::u32string& t) {
    std::vector<std::u32string> parts;
    size_t start = 0;
    for (const Span& m : sentence_ends(t)) {
        if (t[m.start - 1] == U'.' && is_all_space(t, m.start, m.end) && abbreviation_end(t, m.start - 1, m.end))
            continue;
        parts.push_back(t.substr(start, m.end - start));
        start = m.end;
    }
    parts.push_back(t.substr(start));
    std::vector<std::u32string> out;
    for (const auto& p : parts) {
        std::u32string s = strip_copy(p, 0, p.size());
        if (!s.empty()) out.push_back(std::move(s));
    }
    return out;
}

}  // namespace

std::vector<std::string> split_sentences(std::string_view utf8) {
    std::vector<std::string> out;
    for (const auto& s : split_u32(utf8_to_u32(utf8))) out.push_back(u32_to_utf8(s));
    return out;
}

std::vector<std::string> chunk_text(std::string_view utf8, int max_tokens,
                                    const std::function<int(const std::string&)>& count_utf8) {
    if (max_tokens < 1) throw std::invalid_argument("max_tokens must be positive");
    auto count = [&](const std::u32string& s) { return count_utf8(u32_to_utf8(s)); };
    std::vector<std::string> chunks;
    std::u32string cur;
    for (const std::u32string& sentence : split_u32(utf8_to_u32(utf8))) {
        std::vector<std::u32string> pieces;
        if (count(sentence) <= max_tokens) pieces.push_back(sentence);
        else pieces = cut(sentence, max_tokens, count);
        for (const auto& piece : pieces) {
            std::u32string cand = join(cur, piece);
            if (!cur.empty() && count(cand) > max_tokens) {
                chunks.push_back(u32_to_utf8(cur));
                cur = piece;
            } else {
                cur = cand;
            }
        }
    }
    if (!cur.empty()) chunks.push_back(u32_to_utf8(cur));
    return chunks;
}

}  // namespace voxlite::text
