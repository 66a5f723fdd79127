// Backtracking regex engine with Python re semantics (see regex.h).
//
// A pattern is parsed into a tree, checked as sre_parse does (the same errors for the same mistakes), then compiled
// to a small program run by an iterative backtracking machine: a choice point pushes a frame on a heap stack, a
// capture change pushes the old value, and failure pops frames until one can resume. Repetitions of a single
// character (\s+, [^\s?#]*, \d{1,3}) are one instruction whose frame gives back one character per retry, as
// sre's REPEAT_ONE. Lookarounds run their sub-program through a nested call on the same stack (atomic, as in re).
// Optimisations that do not change results: a search skips start positions whose character cannot begin a match
// (the pattern's first-character set); an alternation only tries the alternatives whose first-character set admits
// the current character; a single-character repeat only stops where what follows it can start (as sre does for a
// literal); and a pattern that starts with x* / x+ is not retried from inside a run of x where it just failed (so
// \s*(--+|...) on 20,000 spaces is linear, not quadratic as in re).
#include "regex.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>

#include "unicode.h"

namespace voxlite::text {

namespace {

using Pos = std::ptrdiff_t;
constexpr int kInf = -1;                 // an unbounded repeat
constexpr int kMaxRepeat = 100000;       // larger bounds are rejected (re allows up to 2**32 - 1)
constexpr size_t kMaxProgram = 1 << 20;  // instructions
constexpr int kMaxNesting = 200;         // parentheses

// ------------------------------------------------------------------------------------------ character sets

enum Cat : uint8_t {
    kCatWord = 1,
    kCatNotWord = 2,
    kCatDigit = 4,
    kCatNotDigit = 8,
    kCatSpace = 16,
    kCatNotSpace = 32
};

bool in_cats(uint8_t cats, char32_t c) {
    if (!cats) return false;
    if ((cats & kCatWord) && is_word(c)) return true;
    if ((cats & kCatNotWord) && !is_word(c)) return true;
    if ((cats & kCatDigit) && is_decimal(c)) return true;
    if ((cats & kCatNotDigit) && !is_decimal(c)) return true;
    if ((cats & kCatSpace) && is_space(c)) return true;
    if ((cats & kCatNotSpace) && !is_space(c)) return true;
    return false;
}

struct CharSet {
    std::vector<std::pair<char32_t, char32_t>> ranges;  // sorted, disjoint (lower-cased members under lower_input)
    uint8_t cats = 0;
    bool negate = false;
    bool lower_input = false;  // re's IN_UNI_IGNORE: the text character is lower-cased before the test
    uint64_t ascii[2] = {0, 0};

    bool member(char32_t c) const {
        if (in_cats(cats, c)) return true;
        auto it = std::upper_bound(ranges.begin(), ranges.end(), c,
                                   [](char32_t v, const std::pair<char32_t, char32_t>& r) { return v < r.first; });
        return it != ranges.begin() && c <= std::prev(it)->second;
    }
    bool slow_test(char32_t c) const { return negate != member(lower_input ? sre_lower(c) : c); }
    bool test(char32_t c) const { return c < 128 ? ((ascii[c >> 6] >> (c & 63)) & 1) != 0 : slow_test(c); }
    bool may_match_non_ascii() const {
        return negate || lower_input || cats != 0 || (!ranges.empty() && ranges.back().second >= 128);
    }

    void finalize() {
        std::sort(ranges.begin(), ranges.end());
        std::vector<std::pair<char32_t, char32_t>> merged;
        for (const auto& r : ranges) {
            if (!merged.empty() && r.first <= merged.back().second + 1)
                merged.back().second = std::max(merged.back().second, r.second);
            else
                merged.push_back(r);
        }
        ranges.swap(merged);
        for (char32_t c = 0; c < 128; ++c)
            if (slow_test(c)) ascii[c >> 6] |= uint64_t{1} << (c & 63);
    }
};

// One character: a literal, a set or a dot.
struct CharMatcher {
    enum Kind : uint8_t { kLit, kSet, kAny, kAnyAll } kind = kLit;
    char32_t c = 0;
    const CharSet* set = nullptr;
    bool test(char32_t x) const {
        switch (kind) {
            case kLit: return x == c;
            case kSet: return set->test(x);
            case kAny: return x != U'\n';
            case kAnyAll: return true;
        }
        return false;
    }
    bool may_match_non_ascii() const {
        return kind == kLit ? c >= 128 : kind == kSet ? set->may_match_non_ascii() : true;
    }
};

// The characters a (sub)pattern can start with; `all` when unknown or when it can match empty.
struct FirstSet {
    bool all = false;
    bool non_ascii = false;
    uint64_t ascii[2] = {0, 0};
    std::vector<CharMatcher> items;

    void add(const CharMatcher& m) {
        items.push_back(m);
        for (char32_t c = 0; c < 128; ++c)
            if (m.test(c)) ascii[c >> 6] |= uint64_t{1} << (c & 63);
        non_ascii = non_ascii || m.may_match_non_ascii();
    }
    bool test(char32_t c) const {
        if (all) return true;
        if (c < 128) return ((ascii[c >> 6] >> (c & 63)) & 1) != 0;
        if (!non_ascii) return false;
        for (const auto& m : items)
            if (m.test(c)) return true;
        return false;
    }
};

// ------------------------------------------------------------------------------------------ parse tree

enum class NK : uint8_t { Empty, Char, Set, Any, Assert, Group, Concat, Alt, Repeat, Backref, Look };
enum AssertKind : uint8_t { kBegin, kBeginLine, kEnd, kEndLine, kEndAbs, kBoundary, kNonBoundary };

struct Node {
    NK kind = NK::Empty;
    char32_t c = 0;
    int set = -1;
    bool dotall = false;
    uint8_t assert_kind = 0;
    int group = -1;  // Group: capture number (-1: none); Backref: the group referred to
    bool ignorecase = false;
    std::vector<int> kids;
    int min = 0, max = 0;  // Repeat
    bool greedy = true;
    bool behind = false, negate = false;  // Look
};

// ------------------------------------------------------------------------------------------ program

enum class Op : uint8_t {
    Char, Set, Any, AnyAll, Assert,  // consume or test one position
    Split, Alt, Jmp,                 // control
    Save, Rep, Look, Backref, Mark, Check, Match
};

struct Inst {
    Op op;
    uint8_t flag = 0;
    int32_t x = 0, y = 0;
    char32_t c = 0;
};

struct RepInfo {
    CharMatcher item;
    int min, max;
    bool greedy;
    int next = -1;  // index in firsts: what the instruction after the repeat must consume first (-1: unknown)
};

struct AltInfo {
    std::vector<int> guard;   // index into firsts, -1: always tried
    std::vector<int> target;  // pc of each alternative
};

struct LookInfo {
    int pc = 0;
    bool behind = false, negate = false;
    int width = 0;
    std::vector<int> slots;  // capture slots set inside (restored when the outer match backtracks)
};

struct TemplatePiece {
    std::u32string literal;
    int group = -1;
};

}  // namespace

struct RegexProgram {
    std::u32string pattern;
    unsigned flags = 0;
    int ngroups = 0;
    int nslots = 0;  // 2 * (ngroups + 1) + registers
    std::map<std::u32string, int> names;
    std::vector<Inst> code;
    std::vector<std::unique_ptr<CharSet>> sets;
    std::vector<RepInfo> reps;
    std::vector<AltInfo> alts;
    std::vector<LookInfo> looks;
    std::vector<FirstSet> firsts;
    FirstSet first;     // of the whole pattern
    int lead_rep = -1;  // the pattern starts with this unbounded single-character repeat (index in reps)
};

namespace {

std::string to_utf8_lossy(std::u32string_view s) {
    std::string out;
    for (char32_t c : s) {
        if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) c = 0xFFFD;
        append_utf8(out, c);
    }
    return out;
}

bool is_ascii_letter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_oct_digit(char32_t c) { return c >= '0' && c <= '7'; }
int hex_value(char32_t c) {
    if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
    return -1;
}
bool is_identifier(std::u32string_view s) {
    if (s.empty() || is_decimal(s[0])) return false;
    return std::all_of(s.begin(), s.end(), [](char32_t c) { return is_word(c); });
}

// ------------------------------------------------------------------------------------------ parser

class Parser {
   public:
    Parser(RegexProgram& prog, std::vector<Node>& nodes) : P(prog), N(nodes), p(prog.pattern), flags(prog.flags) {}

    int parse() {
        int root = parse_alt(0);
        if (i < p.size()) {
            if (p[i] == ')') error("unbalanced parenthesis", i);
            error("internal: pattern not consumed", i);
        }
        return root;
    }

   private:
    RegexProgram& P;
    std::vector<Node>& N;
    const std::u32string& p;
    unsigned flags;
    size_t i = 0;
    std::vector<bool> group_open;  // by group number (index 0 unused)

    [[noreturn]] void error(const std::string& msg, size_t at) const {
        throw RegexError(msg + " at position " + std::to_string(at) + " (pattern " + to_utf8_lossy(p) + ")");
    }

    int add(Node n) {
        N.push_back(std::move(n));
        return static_cast<int>(N.size() - 1);
    }

    bool at_end() const { return i >= p.size(); }
    char32_t peek(size_t k = 0) const { return i + k < p.size() ? p[i + k] : 0; }
    bool has(size_t k = 0) const { return i + k < p.size(); }

    int make_set_node(std::unique_ptr<CharSet> s) {
        s->finalize();
        P.sets.push_back(std::move(s));
        Node n;
        n.kind = NK::Set;
        n.set = static_cast<int>(P.sets.size() - 1);
        return add(std::move(n));
    }

    // A literal, as re compiles it: under IGNORECASE a cased character matches by lower case (plus re's extra
    // case equivalences).
    int make_char(char32_t c) {
        if ((flags & re_flags::IGNORECASE) && sre_cased(c)) {
            auto s = std::make_unique<CharSet>();
            const char32_t lo = sre_lower(c);
            s->ranges.push_back({lo, lo});
            if (const char32_t* extra = sre_extra_cases(lo))
                for (int k = 0; k < 3 && extra[k]; ++k) s->ranges.push_back({extra[k], extra[k]});
            s->lower_input = true;
            return make_set_node(std::move(s));
        }
        Node n;
        n.kind = NK::Char;
        n.c = c;
        return add(std::move(n));
    }

    int make_cat(uint8_t cat) {
        auto s = std::make_unique<CharSet>();
        s->cats = cat;
        return make_set_node(std::move(s));
    }

    int make_assert(AssertKind k) {
        Node n;
        n.kind = NK::Assert;
        n.assert_kind = k;
        return add(std::move(n));
    }

    int parse_alt(int depth) {
        if (depth > kMaxNesting) error("pattern nested too deeply", i);
        std::vector<int> alts;
        alts.push_back(parse_concat(depth, depth == 0));
        while (has() && peek() == '|') {
            ++i;
            alts.push_back(parse_concat(depth, false));
        }
        if (alts.size() == 1) return alts[0];
        Node n;
        n.kind = NK::Alt;
        n.kids = std::move(alts);
        return add(std::move(n));
    }

    // Returns true and sets min/max when p[i] starts a repeat {m}, {m,}, {,n}, {m,n} (i moved past it).
    bool parse_brace(int& mn, int& mx) {
        const size_t here = i;
        ++i;  // '{'
        std::u32string lo, hi;
        while (has() && is_ascii_digit(peek())) lo += p[i++];
        if (has() && peek() == ',') {
            ++i;
            while (has() && is_ascii_digit(peek())) hi += p[i++];
        } else {
            hi = lo;
        }
        if (!has() || peek() != '}') {
            i = here;
            return false;
        }
        ++i;
        auto num = [&](const std::u32string& d) {
            long long v = 0;
            for (char32_t c : d) {
                v = v * 10 + (c - '0');
                if (v > kMaxRepeat) error("the repetition number is too large for this engine", here);
            }
            return static_cast<int>(v);
        };
        mn = lo.empty() ? 0 : num(lo);
        mx = hi.empty() ? kInf : num(hi);
        if (mx != kInf && mx < mn) error("min repeat greater than max repeat", here);
        return true;
    }

    int parse_concat(int depth, bool first_of_pattern) {
        std::vector<int> items;
        bool last_quantified = false;
        while (has() && peek() != '|' && peek() != ')') {
            const char32_t c = peek();
            const size_t here = i;
            bool quant = false;
            int mn = 0, mx = 0;
            if (c == '*' || c == '+' || c == '?') {
                ++i;
                quant = true;
                mn = c == '+' ? 1 : 0;
                mx = c == '?' ? 1 : kInf;
            } else if (c == '{') {
                if (has(1) && p[i + 1] == '}') {  // "{}" is literal
                    ++i;
                    items.push_back(make_char('{'));
                    last_quantified = false;
                    continue;
                }
                quant = parse_brace(mn, mx);
                if (!quant) {
                    ++i;
                    items.push_back(make_char('{'));
                    last_quantified = false;
                    continue;
                }
            }
            if (quant) {
                if (items.empty() || (N[items.back()].kind == NK::Assert)) error("nothing to repeat", here);
                if (last_quantified) error("multiple repeat", here);
                bool greedy = true;
                if (has() && peek() == '?') {
                    ++i;
                    greedy = false;
                } else if (has() && peek() == '+') {
                    error("possessive quantifiers are not supported by this engine", i);
                }
                Node n;
                n.kind = NK::Repeat;
                n.kids = {unwrap(items.back())};
                n.min = mn;
                n.max = mx;
                n.greedy = greedy;
                items.back() = add(std::move(n));
                last_quantified = true;
                continue;
            }
            // global flags (?i) at the very start of the pattern
            if (c == '(' && peek(1) == '?' && is_flag_group()) {
                const bool global = parse_flag_group_prefix();
                if (global) {
                    if (!first_of_pattern || !items.empty())
                        error("global flags not at the start of the expression", here);
                    continue;
                }
                // scoped flags (?i:...)
                const unsigned saved = flags;
                flags = scoped_flags;
                int inner = parse_alt(depth + 1);
                if (!has() || peek() != ')') error("missing ), unterminated subpattern", here);
                ++i;
                flags = saved;
                Node n;
                n.kind = NK::Group;
                n.kids = {inner};
                items.push_back(add(std::move(n)));
                last_quantified = false;
                continue;
            }
            int atom = parse_atom(depth);
            last_quantified = false;
            if (atom >= 0) items.push_back(atom);
        }
        if (items.empty()) return add(Node{});
        if (items.size() == 1) return items[0];
        Node n;
        n.kind = NK::Concat;
        n.kids = std::move(items);
        return add(std::move(n));
    }

    // a non-capturing group around one node is that node
    int unwrap(int k) const {
        while (N[k].kind == NK::Group && N[k].group < 0) k = N[k].kids[0];
        return k;
    }

    unsigned scoped_flags = 0;

    bool is_flag_group() const {
        // "(?" followed by flag letters or '-', then ')' or ':'
        size_t k = i + 2;
        if (k >= p.size()) return false;
        const char32_t c = p[k];
        return c == 'i' || c == 's' || c == 'm' || c == 'u' || c == 'a' || c == 'L' || c == 'x' || c == '-';
    }

    static unsigned flag_bit(char32_t c) {
        switch (c) {
            case 'i': return re_flags::IGNORECASE;
            case 's': return re_flags::DOTALL;
            case 'm': return re_flags::MULTILINE;
            case 'u': return re_flags::UNICODE;
            default: return 0;
        }
    }

    // Parses "(?flags)" (returns true: global) or "(?flags-flags:" (returns false, sets scoped_flags).
    bool parse_flag_group_prefix() {
        const size_t here = i;
        i += 2;
        unsigned add_f = 0, del_f = 0;
        while (has() && peek() != '-' && peek() != ')' && peek() != ':') {
            const char32_t c = p[i++];
            if (c == 'a' || c == 'L' || c == 'x')
                error(std::string("the flag ") + static_cast<char>(c) + " is not supported by this engine", i - 1);
            if (!flag_bit(c)) error("unknown flag", i - 1);
            add_f |= flag_bit(c);
        }
        if (has() && peek() == '-') {
            ++i;
            if (!has() || peek() == ')' || peek() == ':') error("missing flag", i);
            while (has() && peek() != ')' && peek() != ':') {
                const char32_t c = p[i++];
                if (c == 'u' || c == 'a' || c == 'L')
                    error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'", i - 1);
                if (!flag_bit(c)) error("unknown flag", i - 1);
                del_f |= flag_bit(c);
            }
            if (!has() || peek() != ':') error("missing :", i);
        }
        if (!has()) error("missing -, : or )", i);
        if (peek() == ')') {
            if (del_f) error("missing :", i);
            ++i;
            flags |= add_f;
            return true;
        }
        ++i;  // ':'
        if (add_f & del_f) error("bad inline flags: flag turned on and off", here);
        scoped_flags = (flags | add_f) & ~del_f;
        return false;
    }

    int parse_group_body(int depth, size_t here) {
        int inner = parse_alt(depth + 1);
        if (!has() || peek() != ')') error("missing ), unterminated subpattern", here);
        ++i;
        return inner;
    }

    // Returns -1 for something that produces no node (a comment).
    int parse_atom(int depth) {
        const size_t here = i;
        const char32_t c = p[i++];
        switch (c) {
            case '(': {
                if (has() && peek() == '?') {
                    ++i;
                    if (!has()) error("unexpected end of pattern", i);
                    const char32_t d = p[i++];
                    if (d == ':') {
                        Node n;
                        n.kind = NK::Group;
                        n.kids = {parse_group_body(depth, here)};
                        return add(std::move(n));
                    }
                    if (d == 'P') {
                        if (has() && peek() == '<') {
                            ++i;
                            std::u32string name;
                            while (has() && peek() != '>') name += p[i++];
                            if (!has()) error("missing >, unterminated name", i);
                            ++i;
                            if (name.empty()) error("missing group name", i - 1);
                            const std::string shown = "'" + to_utf8_lossy(name) + "'";
                            if (!is_identifier(name)) error("bad character in group name " + shown, i);
                            if (P.names.count(name)) error("redefinition of group name " + shown, i);
                            const int g = open_group();
                            P.names[name] = g;
                            return capture(g, depth, here);
                        }
                        if (has() && peek() == '=') {
                            ++i;
                            std::u32string name;
                            while (has() && peek() != ')') name += p[i++];
                            if (!has()) error("missing ), unterminated name", i);
                            ++i;
                            if (name.empty()) error("missing group name", i - 1);
                            auto it = P.names.find(name);
                            if (it == P.names.end()) error("unknown group name '" + to_utf8_lossy(name) + "'", here);
                            return backref(it->second, here);
                        }
                        error("unknown extension ?P", here);
                    }
                    if (d == '=' || d == '!') return look(false, d == '!', depth, here);
                    if (d == '<') {
                        if (has() && (peek() == '=' || peek() == '!')) {
                            const bool neg = p[i++] == '!';
                            return look(true, neg, depth, here);
                        }
                        error("unknown extension ?<", here);
                    }
                    if (d == '#') {
                        while (has() && peek() != ')') ++i;
                        if (!has()) error("missing ), unterminated comment", here);
                        ++i;
                        return -1;
                    }
                    if (d == '>') error("atomic groups are not supported by this engine", here);
                    if (d == '(') error("conditional groups are not supported by this engine", here);
                    error("unknown extension ?" + to_utf8_lossy(std::u32string(1, d)), here);
                }
                return capture(open_group(), depth, here);
            }
            case '[': return parse_class(here);
            case '.': {
                Node n;
                n.kind = NK::Any;
                n.dotall = (flags & re_flags::DOTALL) != 0;
                return add(std::move(n));
            }
            case '^': return make_assert((flags & re_flags::MULTILINE) ? kBeginLine : kBegin);
            case '$': return make_assert((flags & re_flags::MULTILINE) ? kEndLine : kEnd);
            case '\\': return parse_escape(here);
            default: return make_char(c);
        }
    }

    int open_group() {
        const int g = ++P.ngroups;
        if (g >= 100) error("too many groups for this engine", i);
        group_open.resize(static_cast<size_t>(g) + 1, false);
        group_open[static_cast<size_t>(g)] = true;
        return g;
    }

    int capture(int g, int depth, size_t here) {
        const int inner = parse_group_body(depth, here);
        group_open[static_cast<size_t>(g)] = false;
        Node n;
        n.kind = NK::Group;
        n.group = g;
        n.kids = {inner};
        return add(std::move(n));
    }

    int backref(int g, size_t here) {
        if (g > P.ngroups) error("invalid group reference " + std::to_string(g), here + 1);
        if (group_open[static_cast<size_t>(g)]) error("cannot refer to an open group", here);
        Node n;
        n.kind = NK::Backref;
        n.group = g;
        n.ignorecase = (flags & re_flags::IGNORECASE) != 0;
        return add(std::move(n));
    }

    int look(bool behind, bool negate, int depth, size_t here) {
        const int inner = parse_group_body(depth, here);
        Node n;
        n.kind = NK::Look;
        n.behind = behind;
        n.negate = negate;
        n.kids = {inner};
        return add(std::move(n));
    }

    // An escape: a literal (returned in `lit`), a category (`cat`), an assertion or a group reference.
    struct Escape {
        enum Kind { kLit, kCat, kAssert, kRef } kind = kLit;
        char32_t lit = 0;
        uint8_t cat = 0;
        AssertKind assert_kind = kBegin;
        int group = 0;
    };

    char32_t parse_hex(size_t count, size_t here) {
        uint32_t v = 0;
        for (size_t k = 0; k < count; ++k) {
            if (!has() || hex_value(peek()) < 0) {
                error("incomplete escape " + to_utf8_lossy(p.substr(here, i - here)), here);
            }
            v = v * 16 + static_cast<uint32_t>(hex_value(p[i++]));
        }
        return v;
    }

    Escape escape(bool in_class, size_t here) {
        if (!has()) error("bad escape (end of pattern)", here);
        const char32_t c = p[i++];
        Escape e;
        switch (c) {
            case 'd': e.kind = Escape::kCat; e.cat = kCatDigit; return e;
            case 'D': e.kind = Escape::kCat; e.cat = kCatNotDigit; return e;
            case 'w': e.kind = Escape::kCat; e.cat = kCatWord; return e;
            case 'W': e.kind = Escape::kCat; e.cat = kCatNotWord; return e;
            case 's': e.kind = Escape::kCat; e.cat = kCatSpace; return e;
            case 'S': e.kind = Escape::kCat; e.cat = kCatNotSpace; return e;
            case 'a': e.lit = 7; return e;
            case 'f': e.lit = 12; return e;
            case 'n': e.lit = 10; return e;
            case 'r': e.lit = 13; return e;
            case 't': e.lit = 9; return e;
            case 'v': e.lit = 11; return e;
            case '\\': e.lit = '\\'; return e;
            case 'b':
                if (in_class) {
                    e.lit = 8;
                    return e;
                }
                e.kind = Escape::kAssert;
                e.assert_kind = kBoundary;
                return e;
            case 'x': e.lit = parse_hex(2, here); return e;
            case 'u': e.lit = parse_hex(4, here); return e;
            case 'U': {
                e.lit = parse_hex(8, here);
                if (e.lit > 0x10FFFF) error("bad escape " + to_utf8_lossy(p.substr(here, i - here)), here);
                return e;
            }
            case 'N': error("\\N{...} escapes are not supported by this engine", here);
            default: break;
        }
        if (!in_class && (c == 'A' || c == 'B' || c == 'Z')) {
            e.kind = Escape::kAssert;
            e.assert_kind = c == 'A' ? kBegin : c == 'B' ? kNonBoundary : kEndAbs;
            return e;
        }
        if (in_class && is_oct_digit(c)) {  // octal, up to three digits
            uint32_t v = c - '0';
            for (int k = 0; k < 2 && has() && is_oct_digit(peek()); ++k) v = v * 8 + (p[i++] - '0');
            if (v > 0377) error("octal escape value outside of range 0-0o377", here);
            e.lit = v;
            return e;
        }
        if (in_class && is_ascii_digit(c)) error("bad escape " + to_utf8_lossy(p.substr(here, i - here)), here);
        if (c == '0') {
            uint32_t v = 0;
            for (int k = 0; k < 2 && has() && is_oct_digit(peek()); ++k) v = v * 8 + (p[i++] - '0');
            e.lit = v;
            return e;
        }
        if (is_ascii_digit(c)) {
            // octal escape (three octal digits) or a group reference
            if (has() && is_ascii_digit(peek())) {
                const char32_t d = p[i++];
                if (is_oct_digit(c) && is_oct_digit(d) && has() && is_oct_digit(peek())) {
                    const uint32_t v = (c - '0') * 64 + (d - '0') * 8 + (p[i++] - '0');
                    if (v > 0377) error("octal escape value outside of range 0-0o377", here);
                    e.lit = v;
                    return e;
                }
                e.group = static_cast<int>((c - '0') * 10 + (d - '0'));
            } else {
                e.group = static_cast<int>(c - '0');
            }
            e.kind = Escape::kRef;
            return e;
        }
        if (is_ascii_letter(c)) error("bad escape \\" + to_utf8_lossy(std::u32string(1, c)), here);
        e.lit = c;
        return e;
    }

    int parse_escape(size_t here) {
        const Escape e = escape(false, here);
        switch (e.kind) {
            case Escape::kLit: return make_char(e.lit);
            case Escape::kCat: return make_cat(e.cat);
            case Escape::kAssert: return make_assert(e.assert_kind);
            case Escape::kRef: return backref(e.group, here);
        }
        return -1;
    }

    int parse_class(size_t here) {
        auto set = std::make_unique<CharSet>();
        if (has() && peek() == '^') {
            ++i;
            set->negate = true;
        }
        struct Item {
            bool cat;
            uint8_t cat_bits;
            char32_t lo, hi;
        };
        auto item_of = [](const Escape& e) {
            return e.kind == Escape::kCat ? Item{true, e.cat, 0, 0} : Item{false, 0, e.lit, e.lit};
        };
        std::vector<Item> items;
        for (;;) {
            if (!has()) error("unterminated character set", here);
            const size_t item_at = i;
            char32_t c = p[i++];
            if (c == ']' && !items.empty()) break;
            Escape e1;
            if (c == '\\') {
                e1 = escape(true, item_at);
            } else {
                e1.lit = c;
            }
            if (has() && peek() == '-') {
                ++i;
                if (!has()) error("unterminated character set", here);
                const size_t that_at = i;
                const char32_t d = p[i++];
                if (d == ']') {
                    items.push_back(item_of(e1));
                    items.push_back({false, 0, '-', '-'});
                    break;
                }
                Escape e2;
                if (d == '\\') {
                    e2 = escape(true, that_at);
                } else {
                    e2.lit = d;
                }
                if (e1.kind != Escape::kLit || e2.kind != Escape::kLit || e2.lit < e1.lit)
                    error("bad character range " + to_utf8_lossy(p.substr(item_at, i - item_at)), item_at);
                items.push_back({false, 0, e1.lit, e2.lit});
            } else {
                items.push_back(item_of(e1));
            }
        }
        const bool ic = (flags & re_flags::IGNORECASE) != 0;
        bool cased = false;
        if (ic) {
            for (const auto& it : items)
                if (!it.cat)
                    for (char32_t x = it.lo; x <= it.hi && !cased; ++x) cased = sre_cased(x);
        }
        for (const auto& it : items) {
            if (it.cat) {
                set->cats |= it.cat_bits;
            } else if (!cased) {
                set->ranges.push_back({it.lo, it.hi});
            } else {  // re's IN_UNI_IGNORE: the lower case of every member, and its extra equivalents
                for (char32_t x = it.lo; x <= it.hi; ++x) {
                    const char32_t lo = sre_lower(x);
                    set->ranges.push_back({lo, lo});
                    if (const char32_t* extra = sre_extra_cases(lo))
                        for (int k = 0; k < 3 && extra[k]; ++k) set->ranges.push_back({extra[k], extra[k]});
                    if (x == 0x10FFFF) break;
                }
            }
        }
        set->lower_input = cased;
        return make_set_node(std::move(set));
    }
};

// ------------------------------------------------------------------------------------------ analysis

struct Width {
    long long min, max;  // max -1: unbounded
};

Width width_of(const std::vector<Node>& N, int k) {
    const Node& n = N[k];
    switch (n.kind) {
        case NK::Empty:
        case NK::Assert:
        case NK::Look: return {0, 0};
        case NK::Char:
        case NK::Set:
        case NK::Any: return {1, 1};
        case NK::Group: return width_of(N, n.kids[0]);
        case NK::Backref: return {0, -1};
        case NK::Concat: {
            Width w{0, 0};
            for (int kid : n.kids) {
                const Width c = width_of(N, kid);
                w.min += c.min;
                w.max = (w.max < 0 || c.max < 0) ? -1 : w.max + c.max;
            }
            return w;
        }
        case NK::Alt: {
            Width w{std::numeric_limits<long long>::max(), 0};
            for (int kid : n.kids) {
                const Width c = width_of(N, kid);
                w.min = std::min(w.min, c.min);
                w.max = (w.max < 0 || c.max < 0) ? -1 : std::max(w.max, c.max);
            }
            return w;
        }
        case NK::Repeat: {
            const Width c = width_of(N, n.kids[0]);
            Width w{c.min * n.min, 0};
            w.max = (n.max == kInf || c.max < 0) ? (c.max == 0 ? 0 : -1) : c.max * n.max;
            return w;
        }
    }
    return {0, -1};
}

bool contains_backref(const std::vector<Node>& N, int k) {
    const Node& n = N[k];
    if (n.kind == NK::Backref) return true;
    for (int kid : n.kids)
        if (contains_backref(N, kid)) return true;
    return false;
}

void collect_groups(const std::vector<Node>& N, int k, std::vector<int>& out) {
    const Node& n = N[k];
    if (n.kind == NK::Group && n.group > 0) out.push_back(n.group);
    for (int kid : n.kids) collect_groups(N, kid, out);
}

// ------------------------------------------------------------------------------------------ compiler

class Compiler {
   public:
    Compiler(RegexProgram& prog, const std::vector<Node>& nodes) : P(prog), N(nodes) {}

    void compile(int root) {
        P.nslots = 2 * (P.ngroups + 1);
        emit(root);
        push({Op::Match});
        // lookaround sub-programs, after the main one (they may add more)
        for (size_t k = 0; k < pending.size(); ++k) {
            const auto [look, node] = pending[k];
            P.looks[static_cast<size_t>(look)].pc = pc();
            emit(node);
            push({Op::Match});
        }
        P.first = first_set(root);
        for (size_t k = 0; k < P.code.size(); ++k)
            if (P.code[k].op == Op::Rep)
                P.reps[static_cast<size_t>(P.code[k].x)].next = continuation(static_cast<int>(k) + 1);
        if (P.code[0].op == Op::Rep && P.reps[static_cast<size_t>(P.code[0].x)].max == kInf) P.lead_rep = P.code[0].x;
    }

   private:
    RegexProgram& P;
    const std::vector<Node>& N;
    std::vector<std::pair<int, int>> pending;  // (look index, node)

    int pc() const { return static_cast<int>(P.code.size()); }
    int push(Inst in) {
        if (P.code.size() >= kMaxProgram) throw RegexError("pattern too large for this engine");
        P.code.push_back(in);
        return pc() - 1;
    }

    // The characters the code from pc on must consume first, when that is known without branching: zero-width
    // instructions are skipped, a literal, set or mandatory repeat gives its character, an alternation whose
    // alternatives all have a first-character set gives their union. Returns an index in firsts, or -1.
    int continuation(int pc_from) {
        int at = pc_from;
        for (int steps = 0; steps < 64; ++steps) {
            const Inst& in = P.code[static_cast<size_t>(at)];
            FirstSet fs;
            switch (in.op) {
                case Op::Save:
                case Op::Mark:
                case Op::Assert:
                case Op::Look: ++at; continue;
                case Op::Jmp: at = in.x; continue;
                case Op::Char: fs.add(CharMatcher{CharMatcher::kLit, in.c, nullptr}); break;
                case Op::Set: fs.add(CharMatcher{CharMatcher::kSet, 0, P.sets[static_cast<size_t>(in.x)].get()}); break;
                case Op::Rep: {
                    const RepInfo& r = P.reps[static_cast<size_t>(in.x)];
                    if (r.min < 1) return -1;
                    fs.add(r.item);
                    break;
                }
                case Op::Alt: {
                    for (int g : P.alts[static_cast<size_t>(in.x)].guard) {
                        if (g < 0) return -1;
                        for (const CharMatcher& m : P.firsts[static_cast<size_t>(g)].items) fs.add(m);
                    }
                    break;
                }
                default: return -1;
            }
            P.firsts.push_back(std::move(fs));
            return static_cast<int>(P.firsts.size() - 1);
        }
        return -1;
    }

    CharMatcher matcher(int k) const {
        const Node& n = N[k];
        CharMatcher m;
        if (n.kind == NK::Char) {
            m.kind = CharMatcher::kLit;
            m.c = n.c;
        } else if (n.kind == NK::Set) {
            m.kind = CharMatcher::kSet;
            m.set = P.sets[static_cast<size_t>(n.set)].get();
        } else {
            m.kind = n.dotall ? CharMatcher::kAnyAll : CharMatcher::kAny;
        }
        return m;
    }

    bool single_char(int k) const {
        const NK kind = N[k].kind;
        return kind == NK::Char || kind == NK::Set || kind == NK::Any;
    }

    // Adds the first characters of node k to fs; returns whether k can match without consuming anything.
    bool first_into(int k, FirstSet& fs) const {
        const Node& n = N[k];
        switch (n.kind) {
            case NK::Empty:
            case NK::Assert:
            case NK::Look: return true;
            case NK::Char:
            case NK::Set:
            case NK::Any: fs.add(matcher(k)); return false;
            case NK::Group: return first_into(n.kids[0], fs);
            case NK::Backref: fs.all = true; return true;
            case NK::Concat:
                for (int kid : n.kids)
                    if (!first_into(kid, fs)) return false;
                return true;
            case NK::Alt: {
                bool nullable = false;
                for (int kid : n.kids) nullable = first_into(kid, fs) || nullable;
                return nullable;
            }
            case NK::Repeat: {
                const bool nullable = first_into(n.kids[0], fs);
                return nullable || n.min == 0;
            }
        }
        fs.all = true;
        return true;
    }

    FirstSet first_set(int k) const {
        FirstSet fs;
        if (first_into(k, fs)) {
            fs = FirstSet{};
            fs.all = true;
        }
        return fs;
    }

    void emit(int k) {
        const Node& n = N[k];
        switch (n.kind) {
            case NK::Empty: return;
            case NK::Char: push({Op::Char, 0, 0, 0, n.c}); return;
            case NK::Set: push({Op::Set, 0, n.set}); return;
            case NK::Any: push({n.dotall ? Op::AnyAll : Op::Any}); return;
            case NK::Assert: push({Op::Assert, n.assert_kind}); return;
            case NK::Group:
                if (n.group > 0) push({Op::Save, 0, 2 * n.group});
                emit(n.kids[0]);
                if (n.group > 0) push({Op::Save, 0, 2 * n.group + 1});
                return;
            case NK::Concat:
                for (int kid : n.kids) emit(kid);
                return;
            case NK::Alt: {
                AltInfo info;
                for (int kid : n.kids) {
                    FirstSet fs = first_set(kid);
                    if (fs.all) {
                        info.guard.push_back(-1);
                    } else {
                        P.firsts.push_back(std::move(fs));
                        info.guard.push_back(static_cast<int>(P.firsts.size() - 1));
                    }
                }
                P.alts.push_back(info);
                const int alt_index = static_cast<int>(P.alts.size() - 1);
                push({Op::Alt, 0, alt_index});
                std::vector<int> jumps;
                std::vector<int> targets;
                for (size_t a = 0; a < n.kids.size(); ++a) {
                    targets.push_back(pc());
                    emit(n.kids[a]);
                    if (a + 1 < n.kids.size()) jumps.push_back(push({Op::Jmp}));
                }
                for (int j : jumps) P.code[static_cast<size_t>(j)].x = pc();
                P.alts[static_cast<size_t>(alt_index)].target = std::move(targets);
                return;
            }
            case NK::Repeat: emit_repeat(n); return;
            case NK::Backref: push({Op::Backref, static_cast<uint8_t>(n.ignorecase), n.group}); return;
            case NK::Look: {
                LookInfo info;
                info.behind = n.behind;
                info.negate = n.negate;
                if (n.behind) {
                    if (contains_backref(N, n.kids[0]))
                        throw RegexError("group references in look-behind assertions are not supported by this engine");
                    const Width w = width_of(N, n.kids[0]);
                    if (w.min != w.max) throw RegexError("look-behind requires fixed-width pattern");
                    info.width = static_cast<int>(w.min);
                }
                std::vector<int> groups;
                collect_groups(N, n.kids[0], groups);
                for (int g : groups) {
                    info.slots.push_back(2 * g);
                    info.slots.push_back(2 * g + 1);
                }
                P.looks.push_back(std::move(info));
                const int look = static_cast<int>(P.looks.size() - 1);
                pending.push_back({look, n.kids[0]});
                push({Op::Look, 0, look});
                return;
            }
        }
    }

    void emit_repeat(const Node& n) {
        const int kid = n.kids[0];
        if (n.max == 0) return;  // x{0}: nothing
        if (single_char(kid)) {
            P.reps.push_back({matcher(kid), n.min, n.max, n.greedy});
            push({Op::Rep, 0, static_cast<int>(P.reps.size() - 1)});
            return;
        }
        for (int k = 0; k < n.min; ++k) emit(kid);
        const bool nullable = width_of(N, kid).min == 0;
        auto split = [&](int body, int exit) {
            return n.greedy ? Inst{Op::Split, 0, body, exit} : Inst{Op::Split, 0, exit, body};
        };
        if (n.max == kInf) {
            const int reg = nullable ? P.nslots++ : -1;
            const int loop = push({Op::Split});
            if (nullable) push({Op::Mark, 0, reg});
            emit(kid);
            const int check = nullable ? push({Op::Check, 0, reg}) : -1;
            push({Op::Jmp, 0, loop});
            const int exit = pc();
            P.code[static_cast<size_t>(loop)] = split(loop + 1, exit);
            if (check >= 0) P.code[static_cast<size_t>(check)].y = exit;
            return;
        }
        std::vector<int> splits, checks;
        for (int k = n.min; k < n.max; ++k) {
            splits.push_back(push({Op::Split}));
            const int reg = nullable ? P.nslots++ : -1;
            if (nullable) push({Op::Mark, 0, reg});
            emit(kid);
            if (nullable) checks.push_back(push({Op::Check, 0, reg}));
        }
        const int exit = pc();
        for (int s : splits) P.code[static_cast<size_t>(s)] = split(s + 1, exit);
        for (int c : checks) P.code[static_cast<size_t>(c)].y = exit;
    }
};

// ------------------------------------------------------------------------------------------ matcher

enum FrameKind : int32_t { kBranch, kRestore, kRepGreedy, kRepLazy, kAltNext };

struct Frame {
    int32_t kind;
    int32_t pc;  // kRestore: the slot
    Pos a, b;
};

struct Ctx {
    const char32_t* s = nullptr;
    Pos end = 0;    // endpos
    Pos start = 0;  // where the current top-level attempt started
    bool must_advance = false;
    bool match_all = false;
    std::vector<Pos> slots;
    std::vector<Frame> stack;
    std::vector<Pos> snap;
};

bool check_assert(uint8_t kind, const Ctx& C, Pos pos) {
    switch (kind) {
        case kBegin: return pos == 0;
        case kBeginLine: return pos == 0 || C.s[pos - 1] == U'\n';
        case kEnd: return pos == C.end || (pos + 1 == C.end && C.s[pos] == U'\n');
        case kEndLine: return pos == C.end || (pos < C.end && C.s[pos] == U'\n');
        case kEndAbs: return pos == C.end;
        case kBoundary:
        case kNonBoundary: {
            if (C.end == 0) return false;  // as sre: no boundary in an empty string
            const bool that = pos > 0 && is_word(C.s[pos - 1]);
            const bool cur = pos < C.end && is_word(C.s[pos]);
            return kind == kBoundary ? that != cur : that == cur;
        }
    }
    return false;
}

bool run(const RegexProgram& P, Ctx& C, int pc, Pos pos, bool toplevel, Pos& out_end) {
    const size_t base = C.stack.size();
    const char32_t* s = C.s;
    for (;;) {
        const Inst& in = P.code[static_cast<size_t>(pc)];
        bool ok = true;
        switch (in.op) {
            case Op::Char:
                if (pos < C.end && s[pos] == in.c) {
                    ++pos;
                    ++pc;
                } else {
                    ok = false;
                }
                break;
            case Op::Set:
                if (pos < C.end && P.sets[static_cast<size_t>(in.x)]->test(s[pos])) {
                    ++pos;
                    ++pc;
                } else {
                    ok = false;
                }
                break;
            case Op::Any:
                if (pos < C.end && s[pos] != U'\n') {
                    ++pos;
                    ++pc;
                } else {
                    ok = false;
                }
                break;
            case Op::AnyAll:
                if (pos < C.end) {
                    ++pos;
                    ++pc;
                } else {
                    ok = false;
                }
                break;
            case Op::Assert:
                if (check_assert(in.flag, C, pos))
                    ++pc;
                else
                    ok = false;
                break;
            case Op::Split:
                C.stack.push_back({kBranch, in.y, pos, 0});
                pc = in.x;
                break;
            case Op::Jmp: pc = in.x; break;
            case Op::Save:
            case Op::Mark:
                C.stack.push_back({kRestore, in.x, C.slots[static_cast<size_t>(in.x)], 0});
                C.slots[static_cast<size_t>(in.x)] = pos;
                ++pc;
                break;
            case Op::Check: pc = (pos == C.slots[static_cast<size_t>(in.x)]) ? in.y : pc + 1; break;
            case Op::Rep: {
                const RepInfo& r = P.reps[static_cast<size_t>(in.x)];
                const Pos limit = r.max == kInf ? C.end : std::min<Pos>(C.end, pos + r.max);
                if (r.greedy) {
                    Pos e = pos;
                    while (e < limit && r.item.test(s[e])) ++e;
                    if (r.next >= 0) {  // give back at once what the continuation cannot start with
                        const FirstSet& nx = P.firsts[static_cast<size_t>(r.next)];
                        while (e >= pos + r.min && !(e < C.end && nx.test(s[e]))) --e;
                    }
                    if (e - pos < r.min) {
                        ok = false;
                        break;
                    }
                    if (e - pos > r.min) C.stack.push_back({kRepGreedy, pc, pos + r.min, e});
                    pos = e;
                } else {
                    const Pos need = pos + r.min;
                    if (need > C.end) {
                        ok = false;
                        break;
                    }
                    Pos e = pos;
                    while (e < need && r.item.test(s[e])) ++e;
                    if (e < need) {
                        ok = false;
                        break;
                    }
                    if (r.max == kInf || r.min < r.max) C.stack.push_back({kRepLazy, pc, r.min, e});
                    pos = e;
                }
                ++pc;
                break;
            }
            case Op::Alt: {
                const AltInfo& a = P.alts[static_cast<size_t>(in.x)];
                const size_t n = a.target.size();
                size_t j = 0;
                const char32_t ch = pos < C.end ? s[pos] : 0;
                auto admits = [&](size_t k) {
                    const int g = a.guard[k];
                    return g < 0 || (pos < C.end && P.firsts[static_cast<size_t>(g)].test(ch));
                };
                while (j < n && !admits(j)) ++j;
                if (j == n) {
                    ok = false;
                    break;
                }
                if (j + 1 < n) C.stack.push_back({kAltNext, pc, pos, static_cast<Pos>(j + 1)});
                pc = a.target[j];
                break;
            }
            case Op::Look: {
                const LookInfo& L = P.looks[static_cast<size_t>(in.x)];
                Pos at = pos;
                if (L.behind) {
                    if (pos < L.width) {
                        if (L.negate)
                            ++pc;
                        else
                            ok = false;
                        break;
                    }
                    at = pos - L.width;
                }
                const size_t snap_base = C.snap.size();
                for (int sl : L.slots) C.snap.push_back(C.slots[static_cast<size_t>(sl)]);
                const size_t stack_base = C.stack.size();
                Pos e = 0;
                const bool found = run(P, C, L.pc, at, false, e);
                C.stack.resize(stack_base);  // atomic: the lookaround's own choices are gone
                if (found != L.negate) {
                    if (found) {  // positive: keep its groups, undone if the outer match backtracks
                        for (size_t k = 0; k < L.slots.size(); ++k) {
                            const size_t sl = static_cast<size_t>(L.slots[k]);
                            const Pos old = C.snap[snap_base + k];
                            if (C.slots[sl] != old) C.stack.push_back({kRestore, L.slots[k], old, 0});
                        }
                    }
                    ++pc;
                } else {
                    if (found)
                        for (size_t k = 0; k < L.slots.size(); ++k)
                            C.slots[static_cast<size_t>(L.slots[k])] = C.snap[snap_base + k];
                    ok = false;
                }
                C.snap.resize(snap_base);
                break;
            }
            case Op::Backref: {
                const Pos b = C.slots[static_cast<size_t>(2 * in.x)], e = C.slots[static_cast<size_t>(2 * in.x + 1)];
                if (b < 0 || e < 0) {
                    ok = false;
                    break;
                }
                const Pos len = e - b;
                if (pos + len > C.end) {
                    ok = false;
                    break;
                }
                for (Pos k = 0; k < len && ok; ++k)
                    ok = in.flag ? sre_lower(s[b + k]) == sre_lower(s[pos + k]) : s[b + k] == s[pos + k];
                if (ok) {
                    pos += len;
                    ++pc;
                }
                break;
            }
            case Op::Match:
                if (toplevel && ((C.match_all && pos != C.end) || (C.must_advance && pos == C.start))) {
                    ok = false;
                    break;
                }
                out_end = pos;
                return true;
        }
        if (ok) continue;

        // backtrack
        for (;;) {
            if (C.stack.size() == base) return false;
            Frame& f = C.stack.back();
            if (f.kind == kRestore) {
                C.slots[static_cast<size_t>(f.pc)] = f.a;
                C.stack.pop_back();
                continue;
            }
            if (f.kind == kBranch) {
                pc = f.pc;
                pos = f.a;
                C.stack.pop_back();
                break;
            }
            if (f.kind == kRepGreedy) {  // give back one character
                Pos cur = f.b - 1;
                const int next = P.reps[static_cast<size_t>(P.code[static_cast<size_t>(f.pc)].x)].next;
                if (next >= 0) {  // skip the positions where the continuation cannot start
                    const FirstSet& nx = P.firsts[static_cast<size_t>(next)];
                    while (cur >= f.a && !(cur < C.end && nx.test(s[cur]))) --cur;
                }
                if (cur < f.a) {
                    C.stack.pop_back();
                    continue;
                }
                pc = f.pc + 1;
                pos = cur;
                if (cur == f.a)
                    C.stack.pop_back();
                else
                    f.b = cur;
                break;
            }
            if (f.kind == kRepLazy) {  // take one more character
                const RepInfo& r = P.reps[static_cast<size_t>(P.code[static_cast<size_t>(f.pc)].x)];
                if ((r.max == kInf || f.a < r.max) && f.b < C.end && r.item.test(s[f.b])) {
                    ++f.a;
                    ++f.b;
                    pc = f.pc + 1;
                    pos = f.b;
                    if (r.max != kInf && f.a >= r.max) C.stack.pop_back();
                    break;
                }
                C.stack.pop_back();
                continue;
            }
            // kAltNext: the next alternative that admits the character
            {
                const AltInfo& a = P.alts[static_cast<size_t>(P.code[static_cast<size_t>(f.pc)].x)];
                const size_t n = a.target.size();
                const Pos at = f.a;
                size_t j = static_cast<size_t>(f.b);
                const char32_t ch = at < C.end ? s[at] : 0;
                while (j < n) {
                    const int g = a.guard[j];
                    if (g < 0 || (at < C.end && P.firsts[static_cast<size_t>(g)].test(ch))) break;
                    ++j;
                }
                if (j == n) {
                    C.stack.pop_back();
                    continue;
                }
                pc = a.target[j];
                pos = at;
                if (j + 1 < n)
                    f.b = static_cast<Pos>(j + 1);
                else
                    C.stack.pop_back();
                break;
            }
        }
    }
}

enum class Mode { kSearch, kMatch, kFull };

}  // namespace

// ------------------------------------------------------------------------------------------ public API

std::u32string regex_escape(std::u32string_view s) {
    static const std::u32string special = U"()[]{}?*+-|^$\\.&~# \t\n\r\v\f";
    std::u32string out;
    for (char32_t c : s) {
        if (special.find(c) != std::u32string::npos) out.push_back(U'\\');
        out.push_back(c);
    }
    return out;
}

std::u32string_view Match::view(size_t g) const {
    const Pos b = spans_.at(2 * g), e = spans_.at(2 * g + 1);
    if (b < 0 || e < 0) return {};
    return std::u32string_view(*s_).substr(static_cast<size_t>(b), static_cast<size_t>(e - b));
}

std::optional<std::u32string> Match::group_opt(size_t g) const {
    if (!matched(g)) return std::nullopt;
    return group(g);
}

Regex::Regex(std::u32string_view pattern, unsigned flags) {
    const unsigned known = re_flags::IGNORECASE | re_flags::MULTILINE | re_flags::DOTALL | re_flags::UNICODE;
    if (flags & ~known) throw RegexError("unsupported regex flags " + std::to_string(flags & ~known));
    auto prog = std::make_unique<RegexProgram>();
    prog->pattern = std::u32string(pattern);
    prog->flags = flags;
    std::vector<Node> nodes;
    Parser parser(*prog, nodes);
    const int root = parser.parse();
    Compiler(*prog, nodes).compile(root);
    prog_ = std::move(prog);
}

Regex::Regex(std::string_view pattern_utf8, unsigned flags) : Regex(utf8_to_u32(pattern_utf8), flags) {}
Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

const std::u32string& Regex::pattern() const { return prog_->pattern; }
unsigned Regex::flags() const { return prog_->flags; }
size_t Regex::groups() const { return static_cast<size_t>(prog_->ngroups); }
int Regex::group_index(std::u32string_view name) const {
    auto it = prog_->names.find(std::u32string(name));
    return it == prog_->names.end() ? -1 : it->second;
}

struct MatchFiller {
    static void fill(Match& m, const std::u32string& s, const std::vector<Pos>& slots, int ngroups, Pos start,
                     Pos end, Pos pos, Pos endpos) {
        m.s_ = &s;
        m.spans_.assign(slots.begin(), slots.begin() + 2 * (ngroups + 1));
        m.spans_[0] = start;
        m.spans_[1] = end;
        for (size_t g = 1; g <= static_cast<size_t>(ngroups); ++g)  // a group whose end was not reached: unmatched
            if (m.spans_[2 * g] < 0 || m.spans_[2 * g + 1] < 0) m.spans_[2 * g] = m.spans_[2 * g + 1] = -1;
        m.pos_ = pos;
        m.endpos_ = endpos;
    }
};

namespace {

struct Searcher {
    const RegexProgram& P;
    const std::u32string& s;
    Ctx C;

    Searcher(const RegexProgram& prog, const std::u32string& text, size_t endpos) : P(prog), s(text) {
        C.s = text.data();
        C.end = static_cast<Pos>(std::min(endpos, text.size()));
        C.slots.assign(static_cast<size_t>(P.nslots), -1);
    }

    // One search / match / fullmatch from pos; fills m on success.
    bool find(size_t pos_in, Mode mode, bool must_advance, Match& m) {
        const Pos pos = static_cast<Pos>(std::min(pos_in, s.size()));
        if (pos > C.end) return false;
        C.match_all = mode == Mode::kFull;
        const bool filter = mode == Mode::kSearch && !P.first.all;
        for (Pos start = pos; start <= C.end; ++start) {
            if (filter) {
                while (start < C.end && !P.first.test(C.s[start])) ++start;
                if (start >= C.end) return false;  // the pattern cannot match empty
            }
            std::fill(C.slots.begin(), C.slots.end(), -1);
            C.stack.clear();
            C.start = start;
            C.must_advance = must_advance && start == pos;
            Pos e = 0;
            if (run(P, C, 0, start, true, e)) {
                MatchFiller::fill(m, s, C.slots, P.ngroups, start, e, pos, C.end);
                return true;
            }
            if (mode != Mode::kSearch) return false;
            if (P.lead_rep >= 0) {
                // The pattern starts with x* / x+ / x{m,}: an attempt from inside the run of x that `start` begins
                // would try the rest of the pattern at a subset of the positions just tried (the run's end and
                // back), none of which matched: skip the run.
                const CharMatcher& item = P.reps[static_cast<size_t>(P.lead_rep)].item;
                while (start < C.end && item.test(C.s[start])) ++start;
            }
        }
        return false;
    }
};

std::vector<TemplatePiece> parse_template(const RegexProgram& P, std::u32string_view t) {
    std::vector<TemplatePiece> out;
    std::u32string lit;
    auto flush = [&] {
        if (!lit.empty()) out.push_back({std::move(lit), -1});
        lit.clear();
    };
    auto add_group = [&](int g) {
        if (g < 0 || g > P.ngroups) throw RegexError("invalid group reference " + std::to_string(g) + " in template");
        flush();
        out.push_back({U"", g});
    };
    size_t i = 0;
    while (i < t.size()) {
        const char32_t c = t[i++];
        if (c != '\\') {
            lit.push_back(c);
            continue;
        }
        if (i >= t.size()) throw RegexError("bad escape (end of pattern) in template");
        const char32_t d = t[i++];
        switch (d) {
            case 'a': lit.push_back(7); continue;
            case 'b': lit.push_back(8); continue;
            case 'f': lit.push_back(12); continue;
            case 'n': lit.push_back(10); continue;
            case 'r': lit.push_back(13); continue;
            case 't': lit.push_back(9); continue;
            case 'v': lit.push_back(11); continue;
            case '\\': lit.push_back('\\'); continue;
            default: break;
        }
        if (d == 'g') {
            if (i >= t.size() || t[i] != '<') throw RegexError("missing < in template");
            const size_t close = t.find('>', i + 1);
            if (close == std::u32string_view::npos) throw RegexError("missing >, unterminated name in template");
            const std::u32string name(t.substr(i + 1, close - i - 1));
            i = close + 1;
            if (name.empty()) throw RegexError("missing group name in template");
            if (std::all_of(name.begin(), name.end(), is_ascii_digit)) {
                long long g = 0;
                for (char32_t x : name) g = std::min<long long>(g * 10 + (x - '0'), 1000);
                add_group(static_cast<int>(g));
            } else {
                auto it = P.names.find(name);
                if (it == P.names.end()) throw RegexError("unknown group name '" + to_utf8_lossy(name) + "'");
                add_group(it->second);
            }
            continue;
        }
        if (d == '0') {
            uint32_t v = 0;
            for (int k = 0; k < 2 && i < t.size() && is_oct_digit(t[i]); ++k) v = v * 8 + (t[i++] - '0');
            lit.push_back(v & 0xFF);
            continue;
        }
        if (is_ascii_digit(d)) {
            if (i < t.size() && is_ascii_digit(t[i])) {
                const char32_t e = t[i++];
                if (is_oct_digit(d) && is_oct_digit(e) && i < t.size() && is_oct_digit(t[i])) {
                    const uint32_t v = (d - '0') * 64 + (e - '0') * 8 + (t[i++] - '0');
                    if (v > 0377) throw RegexError("octal escape value outside of range 0-0o377 in template");
                    lit.push_back(v);
                    continue;
                }
                add_group(static_cast<int>((d - '0') * 10 + (e - '0')));
            } else {
                add_group(static_cast<int>(d - '0'));
            }
            continue;
        }
        if (is_ascii_letter(d))
            throw RegexError("bad escape \\" + to_utf8_lossy(std::u32string(1, d)) + " in template");
        lit.push_back('\\');  // re keeps an unknown non-letter escape as it is
        lit.push_back(d);
    }
    flush();
    return out;
}

std::u32string expand_pieces(const std::vector<TemplatePiece>& pieces, const Match& m) {
    std::u32string out;
    for (const auto& p : pieces) {
        if (p.group < 0)
            out += p.literal;
        else
            out += m.view(static_cast<size_t>(p.group));
    }
    return out;
}

}  // namespace

std::optional<Match> Regex::search(const std::u32string& s, size_t pos, size_t endpos) const {
    Searcher S(*prog_, s, endpos);
    Match m;
    if (S.find(pos, Mode::kSearch, false, m)) return m;
    return std::nullopt;
}

std::optional<Match> Regex::match(const std::u32string& s, size_t pos, size_t endpos) const {
    Searcher S(*prog_, s, endpos);
    Match m;
    if (S.find(pos, Mode::kMatch, false, m)) return m;
    return std::nullopt;
}

std::optional<Match> Regex::fullmatch(const std::u32string& s, size_t pos, size_t endpos) const {
    Searcher S(*prog_, s, endpos);
    Match m;
    if (S.find(pos, Mode::kFull, false, m)) return m;
    return std::nullopt;
}

std::u32string Regex::sub(const std::u32string& s, const Replacer& repl, size_t count) const {
    Searcher S(*prog_, s, npos);
    std::u32string out;
    Match m;
    size_t pos = 0, last = 0, n = 0;
    bool must_advance = false;
    while (count == 0 || n < count) {
        if (!S.find(pos, Mode::kSearch, must_advance, m)) break;
        const size_t b = static_cast<size_t>(m.start()), e = static_cast<size_t>(m.end());
        out.append(s, last, b - last);
        out += repl(m);
        last = e;
        ++n;
        must_advance = e == b;
        pos = e;
    }
    out.append(s, last, std::u32string::npos);
    return out;
}

std::u32string Regex::sub(const std::u32string& s, std::u32string_view tmpl, size_t count) const {
    const std::vector<TemplatePiece> pieces = parse_template(*prog_, tmpl);
    return sub(s, [&](const Match& m) { return expand_pieces(pieces, m); }, count);
}

std::u32string Regex::expand(const Match& m, std::u32string_view tmpl) const {
    return expand_pieces(parse_template(*prog_, tmpl), m);
}

std::vector<Match> Regex::finditer(const std::u32string& s, size_t pos, size_t endpos) const {
    Searcher S(*prog_, s, endpos);
    std::vector<Match> out;
    Match m;
    bool must_advance = false;
    while (S.find(pos, Mode::kSearch, must_advance, m)) {
        out.push_back(m);
        must_advance = m.end() == m.start();
        pos = static_cast<size_t>(m.end());
    }
    return out;
}

std::vector<std::vector<std::u32string>> Regex::findall(const std::u32string& s, size_t pos, size_t endpos) const {
    std::vector<std::vector<std::u32string>> out;
    for (const Match& m : finditer(s, pos, endpos)) {
        std::vector<std::u32string> row;
        if (prog_->ngroups == 0) {
            row.push_back(m.group(0));
        } else {
            for (int g = 1; g <= prog_->ngroups; ++g) row.push_back(m.group(static_cast<size_t>(g)));
        }
        out.push_back(std::move(row));
    }
    return out;
}

std::vector<std::optional<std::u32string>> Regex::split(const std::u32string& s, size_t maxsplit) const {
    Searcher S(*prog_, s, npos);
    std::vector<std::optional<std::u32string>> out;
    Match m;
    size_t pos = 0, last = 0, n = 0;
    bool must_advance = false;
    while (maxsplit == 0 || n < maxsplit) {
        if (!S.find(pos, Mode::kSearch, must_advance, m)) break;
        const size_t b = static_cast<size_t>(m.start()), e = static_cast<size_t>(m.end());
        out.emplace_back(s.substr(last, b - last));
        for (int g = 1; g <= prog_->ngroups; ++g) out.push_back(m.group_opt(static_cast<size_t>(g)));
        ++n;
        must_advance = e == b;
        last = pos = e;
    }
    out.emplace_back(s.substr(last));
    return out;
}

}  // namespace voxlite::text
