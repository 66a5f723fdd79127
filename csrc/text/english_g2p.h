// English grapheme-to-phoneme front end of the default voice (the one implementation behind Python's
// voxlite.text.english_g2p and the C runtime): lexicon lookup, suffix rules, compound splitting.
//
//     text -> normalise (numbers, abbreviations, layout) -> words and punctuation
//          -> each word: lexicon (exact, lower case, capitalised) -> 's / -s / -es / -ed / -ing / -ly stems
//             -> hyphen parts -> the letter-to-sound model (when the bundle has one; without it: the fewest known
//             pieces, "moonbeam" = moon + beam) -> letter names
//          -> phoneme string ("həlˈO wˈɜɹld.") -> ids over a fixed inventory
//
// A port of the Python implementation kept as tests/reference/english_g2p.py, equal to it on every input
// (tests/test_native_g2p.py). Symbols are misaki's US set: one character per phoneme, stress marks before the
// stressed vowel, words separated by spaces. Text is UTF-8. Words from text are ASCII (the tokeniser reads
// [A-Za-z]+(?:['’][A-Za-z]+)*, numbers and , . ? ! ; :), so case mapping is ASCII's; word() and the rule methods
// given other text leave non-ASCII characters as they are (not letters, no case): the same as Python's str methods
// but for the few characters whose case mapping is ASCII (U+212A KELVIN SIGN, U+0130, ß, ﬁ ...).
//
// Inline phonemes: "[[...]]" spans in the text are read as given (inventory symbols or common IPA, mapped by
// to_inventory as voxlite.text.phonemes does), as whole words.
//
// Threads: an EnglishG2P may be used by one thread at a time (phonemize and word() fill a word cache; the
// letter-to-sound and normaliser callables are called from the calling thread). Use one object per thread, or
// a lock around each call.
//
// Errors: TextError (a std::invalid_argument: the Python wrapper's InvalidInput) for text it refuses ("nothing
// speakable in ...", malformed inline phonemes); LexiconError (std::runtime_error: BundleError) for a lexicon
// file it cannot read. The callables' exceptions pass through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace voxlite::text {

struct TextError : std::invalid_argument {
    explicit TextError(const std::string& message) : std::invalid_argument(message), message_(message) {}
    const std::string& message() const { return message_; }  // what() stops at a NUL the quoted text may contain

   private:
    std::string message_;
};

struct LexiconError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The inventory: pad, bos, eos, space, punctuation, phonemes (english_g2p.py's constants).
extern const char* const PAD;
extern const char* const BOS;
extern const char* const EOS;
extern const char* const SPACE;
extern const char* const PUNCTUATION;  // ",.?!;:"
extern const char* const PHONEMES;     // misaki US symbols, one character each (UTF-8)
constexpr int INVENTORY_VERSION = 2;
std::vector<std::string> inventory();  // the symbol of each id

// word -> phonemes: one string arena and an open-addressing index, in insertion order (as a Python dict: a
// replaced entry keeps its place, a removed one is gone). Built once from the 5 MB lexicon, read allocation-free.
class Lexicon {
   public:
    Lexicon() = default;
    Lexicon(std::initializer_list<std::pair<std::string_view, std::string_view>> entries);
    void reserve(size_t entries, size_t text_bytes = 0);
    std::optional<std::string_view> find(std::string_view word) const;  // valid until the next change
    bool contains(std::string_view word) const { return find(word).has_value(); }
    void set(std::string_view word, std::string_view phonemes);      // insert, or replace in place
    // set() for each (word, phonemes) in order: a faster bulk build
    void set_all(const std::vector<std::pair<std::string_view, std::string_view>>& entries);
    bool set_default(std::string_view word, std::string_view phonemes);  // insert if absent (dict.setdefault)
    bool erase(std::string_view word);
    void clear();
    size_t size() const { return live_; }
    bool empty() const { return live_ == 0; }
    template <typename F>
    void for_each(F&& f) const {  // f(word, phonemes) in insertion order
        for (const Entry& e : entries_)
            if (e.key_len != DEAD) f(text(e.key_off, e.key_len), text(e.val_off, e.val_len));
    }

   private:
    static constexpr uint32_t DEAD = 0xFFFFFFFFu;
    struct Entry {
        uint32_t key_off, key_len, val_off, val_len;  // key_len DEAD: erased
    };
    std::string_view text(uint32_t off, uint32_t len) const { return std::string_view(arena_).substr(off, len); }
    uint32_t append(std::string_view s);
    size_t slot_of(std::string_view word, uint64_t hash) const;  // its slot, or the empty slot ending its probe
    void set_hashed(std::string_view word, std::string_view phonemes, uint64_t hash);
    void rehash(size_t capacity);
    std::string arena_;
    std::vector<Entry> entries_;
    std::vector<uint64_t> slots_;  // 0 empty, 1 removed, else (hash high 32 bits << 32) | (entry index + 2)
    size_t live_ = 0, used_ = 0;   // live entries; slots not empty
};
// word -> its phonemes, or nullopt (or "") when the model cannot read it
using LetterToSoundFn = std::function<std::optional<std::string>(const std::string& word)>;
using NormalizeFn = std::function<std::string(std::string_view text)>;

// The entries of a "voxlite-lexicon" JSON file ({"format": "voxlite-lexicon", "version": 1, "entries": {word:
// phonemes}}), refused as voxlite.text.lexicon.load refuses (LexiconError with its messages; the JSON itself is read
// strictly, json.h: NaN, lone surrogate escapes or numbers beyond a double, which Python's json accepts, are not).
Lexicon load_lexicon(const std::string& path);

class EnglishG2P {
   public:
    // `letter_to_sound`: empty = no model (unknown words: compound pieces, else spelled). `normalize`: empty =
    // voxlite::text::normalize_text. `symbols`: empty = inventory().
    explicit EnglishG2P(Lexicon lexicon, LetterToSoundFn letter_to_sound = {}, NormalizeFn normalize = {},
                        std::vector<std::string> symbols = {});
    static EnglishG2P from_file(const std::string& lexicon_path, LetterToSoundFn letter_to_sound = {},
                                NormalizeFn normalize = {});

    // ------------------------------------------------------------ text -> phonemes -> ids
    // Text -> phoneme string: words joined by spaces, punctuation attached to the word before.
    std::string phonemize(std::string_view text);
    // phonemize then encode_phonemes; TextError "nothing speakable in '...'" when there is nothing to say.
    std::vector<int64_t> encode(std::string_view text, bool add_bos_eos = true);
    // One id per inventory character of `phonemes` (others skipped), with bos / eos around it.
    std::vector<int64_t> encode_phonemes(std::string_view phonemes, bool add_bos_eos = true) const;
    // Ids of `text` without bos / eos (0 when nothing is speakable).
    size_t count(std::string_view text);
    // (ids of "prompt_text text" as one utterance, number of ids of `text` alone); no prompt: (encode(text), size).
    std::pair<std::vector<int64_t>, size_t> encode_pair(std::string_view text,
                                                        std::optional<std::string_view> prompt_text = std::nullopt);

    // ------------------------------------------------------------ words
    std::string word(std::string_view word);  // a word's phonemes (’ read as '), cached
    std::optional<std::string> entry(std::string_view word) const;     // user lexicon, then lexicon (as, lower, Cap)
    std::optional<std::string> suffixed(std::string_view word) const;  // 's s' -s -es -ies -ed -ied -ing -ly stems
    // The fewest lexicon pieces covering `w` (at most max_pieces; 0: 2, or a third of the letters for longer
    // words); hyphenated: its parts. nullopt if none.
    std::optional<std::string> compound(std::string_view w, int max_pieces = 0);
    std::string spell(std::string_view word) const;  // letter names
    std::string lookup_uncached(std::string_view word);

    // ------------------------------------------------------------ pronunciations
    // A user pronunciation (phonemes already in the inventory): wins over the lexicon; for a word that is not
    // all lower case, its lower-case form gets it too unless that has one (english_g2p.py's add_lexicon).
    void add_user_entry(const std::string& word, const std::string& phonemes);
    Lexicon& user_lexicon() { return user_; }  // direct access: call clear_cache() after changing either
    Lexicon& lexicon() { return lexicon_; }
    const Lexicon& user_lexicon() const { return user_; }
    const Lexicon& lexicon() const { return lexicon_; }
    void clear_cache() { cache_.clear(); }
    size_t cache_size() const { return cache_.size(); }
    static constexpr size_t CACHE_SIZE = 65536;  // words; the cache starts afresh when full

    void set_letter_to_sound(LetterToSoundFn fn);  // clears the cache
    bool has_letter_to_sound() const { return static_cast<bool>(letter_to_sound_); }
    const LetterToSoundFn& letter_to_sound() const { return letter_to_sound_; }
    void set_normalize(NormalizeFn fn);  // clears the cache
    const NormalizeFn& normalize() const { return normalize_; }

    const std::vector<std::string>& symbols() const { return symbols_; }
    size_t vocab_size() const { return symbols_.size(); }

    struct Token {     // a word, number or punctuation mark of the normalised text
        std::string text;
        bool phonemes;  // or an inline [[...]] span's phonemes
    };

   private:
    std::vector<Token> tokens(std::string_view text);
    std::string normalized(std::string_view text);
    std::optional<std::string_view> lex_get(std::string_view key) const;  // a non-empty entry
    std::optional<std::string_view> user_get(std::string_view key) const;
    std::optional<std::string> entry_of(const std::string& word) const;
    std::optional<std::string> lexicon_or_suffixed(const std::string& piece) const;

    Lexicon lexicon_, user_;
    LetterToSoundFn letter_to_sound_;
    NormalizeFn normalize_;
    std::vector<std::string> symbols_;
    std::unordered_map<char32_t, int64_t> char_ids_;  // one-character symbols -> id
    std::optional<int64_t> bos_, eos_;
    std::unordered_map<std::string, std::string> cache_;  // word() results
};

// ------------------------------------------------------------ inline phonemes (voxlite.text.phonemes)
// A phoneme string (inventory symbols or common IPA) -> inventory symbols, words separated by single spaces;
// TextError naming `what` and the first unknown symbol, or "<what> is empty".
std::string to_inventory(std::string_view ph, std::string_view what = "phonemes");
// Text -> [(is_phonemes, piece)], the [[...]] spans' contents mapped onto the inventory.
std::vector<std::pair<bool, std::string>> split_inline(std::string_view text);

// Python's repr() of a str (for messages that quote text as Python did); invalid UTF-8 reads as U+FFFD.
std::string python_repr(std::string_view utf8);

}  // namespace voxlite::text
