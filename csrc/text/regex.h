// A small backtracking regular-expression engine over UTF-32 text with the syntax and semantics of Python's `re`
// for str patterns (CPython 3.11), for the subset the text front end uses. It exists so that the native text front
// end reproduces the Python one character for character.
//
// Syntax: literals and escapes (\. \\ \n \t \xhh \uhhhh \Uhhhhhhhh \0oo ...), classes [...] with ranges, negation
// and \d \w \s \D \W \S inside, . \w \W \d \D \s \S \b \B \A \Z ^ $, groups ( ), (?: ), (?P<name> ), (?P=name),
// (?# comment), alternation |, quantifiers * + ? {m} {m,} {,n} {m,n} and their lazy forms (*? ...), backreferences
// \1 ... \99, lookahead (?= ) (?! ), lookbehind (?<= ) (?<! ) (fixed width, as Python requires), flags
// IGNORECASE, DOTALL and MULTILINE (the values of re.I, re.S, re.M), inline (?ims) at the start and scoped
// (?ims-ims: ). Not supported (a pattern using them is rejected): possessive quantifiers and atomic groups (3.11),
// conditionals (?(1)...), VERBOSE, ASCII and LOCALE. Under IGNORECASE a class with a range beyond the BMP is
// compared on lower case only (re also tries the upper case of the lower case there).
//
// Semantics as re: leftmost match, alternatives in order, greedy / lazy repetition with backtracking, a group
// repeated keeps its last iteration, a repetition of something that matched empty stops repeating, lookarounds
// are atomic and keep the groups of a positive lookaround, $ matches at the end and before a final newline,
// \b and \B never match in an empty string, pos / endpos as Pattern.search(string, pos, endpos). sub, finditer,
// findall and split handle empty matches as Python 3.7+: an empty match right after a previous match is allowed,
// and after an empty match the next one must not be empty at the same position.
//
// Matching is iterative (an explicit backtracking stack on the heap), so long inputs cannot overflow the C++ stack;
// recursion is bounded by the nesting of lookarounds in the pattern. A compiled Regex is immutable: its const
// methods may be called from several threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace voxlite::text {

// An invalid (or unsupported) pattern or template, with Python's wording where there is one.
class RegexError : public std::invalid_argument {
   public:
    using std::invalid_argument::invalid_argument;
};

namespace re_flags {
// The values of Python's re flags.
constexpr unsigned IGNORECASE = 2;
constexpr unsigned MULTILINE = 8;
constexpr unsigned DOTALL = 16;
constexpr unsigned UNICODE = 32;  // the default for str patterns: accepted, no effect
}  // namespace re_flags

// re.escape: a backslash before each of ()[]{}?*+-|^$\.&~# and ASCII whitespace.
std::u32string regex_escape(std::u32string_view s);

class Match {
   public:
    const std::u32string& string() const { return *s_; }
    size_t groups() const { return spans_.size() / 2 - 1; }  // capturing groups (not counting group 0)
    bool matched(size_t g) const { return spans_.at(2 * g) >= 0; }
    std::ptrdiff_t start(size_t g = 0) const { return spans_.at(2 * g); }  // -1 when the group did not match
    std::ptrdiff_t end(size_t g = 0) const { return spans_.at(2 * g + 1); }
    std::u32string_view view(size_t g = 0) const;  // empty when the group did not match
    std::u32string group(size_t g = 0) const { return std::u32string(view(g)); }
    std::optional<std::u32string> group_opt(size_t g) const;  // nullopt when the group did not match (None)
    std::ptrdiff_t pos() const { return pos_; }
    std::ptrdiff_t endpos() const { return endpos_; }

   private:
    friend class Regex;
    friend struct MatchFiller;
    const std::u32string* s_ = nullptr;
    std::vector<std::ptrdiff_t> spans_;
    std::ptrdiff_t pos_ = 0, endpos_ = 0;
};

struct RegexProgram;

class Regex {
   public:
    static constexpr size_t npos = static_cast<size_t>(-1);
    using Replacer = std::function<std::u32string(const Match&)>;

    // Compile; throws RegexError for an invalid or unsupported pattern.
    explicit Regex(std::u32string_view pattern, unsigned flags = 0);
    explicit Regex(std::string_view pattern_utf8, unsigned flags = 0);
    explicit Regex(const char* pattern_utf8, unsigned flags = 0) : Regex(std::string_view(pattern_utf8), flags) {}
    ~Regex();
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    const std::u32string& pattern() const;
    unsigned flags() const;
    size_t groups() const;
    int group_index(std::u32string_view name) const;  // -1 when there is no such named group

    // Pattern.search / match / fullmatch (pos and endpos clamped to the text as Python does).
    std::optional<Match> search(const std::u32string& s, size_t pos = 0, size_t endpos = npos) const;
    std::optional<Match> match(const std::u32string& s, size_t pos = 0, size_t endpos = npos) const;
    std::optional<Match> fullmatch(const std::u32string& s, size_t pos = 0, size_t endpos = npos) const;

    // Pattern.sub with a function, or with a template (\1, \g<1>, \g<name>, \n ... as re's templates).
    std::u32string sub(const std::u32string& s, const Replacer& repl, size_t count = 0) const;
    std::u32string sub(const std::u32string& s, std::u32string_view tmpl, size_t count = 0) const;
    // Match.expand(template)
    std::u32string expand(const Match& m, std::u32string_view tmpl) const;

    std::vector<Match> finditer(const std::u32string& s, size_t pos = 0, size_t endpos = npos) const;
    // Pattern.findall: one row per match: {group 0} without capturing groups, else the groups ("" if unmatched).
    std::vector<std::vector<std::u32string>> findall(const std::u32string& s, size_t pos = 0,
                                                     size_t endpos = npos) const;
    // Pattern.split: the pieces, with the capturing groups between them (nullopt for a group that did not match).
    std::vector<std::optional<std::u32string>> split(const std::u32string& s, size_t maxsplit = 0) const;

   private:
    std::unique_ptr<const RegexProgram> prog_;
};

}  // namespace voxlite::text
