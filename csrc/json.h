// A small, strict JSON parser (RFC 8259) for bundle manifests and the G2P's lexicon: no Python, no allocations
// beyond the values it returns.
//
// Strict: UTF-8 input (invalid sequences, overlong forms, encoded surrogates and a byte-order mark are refused),
// the four JSON whitespace characters only, no trailing commas, comments, NaN / Infinity literals, leading zeros or
// '+' signs; control characters (U+0000..U+001F) in strings must be escaped; \uXXXX escapes are decoded with
// surrogate pairs, and a lone surrogate is refused; nothing but whitespace may follow the document; nesting is
// limited to kMaxDepth arrays / objects; a number whose magnitude overflows a double is refused (one that
// underflows reads as 0). Every error is a json::Error whose message names the byte offset (and line / column)
// and what was expected there.
//
// Numbers are doubles; an integer literal (no fraction, no exponent) that fits int64 is also kept exactly, so
// integer() returns it unrounded even above 2^53. Objects keep their members in document order; when a key
// repeats, find() returns the last one (as Python's json.loads does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace voxlite::json {

constexpr int kMaxDepth = 512;  // arrays / objects nested deeper are refused

struct Error : std::runtime_error {
    size_t offset;  // byte offset of the error in the parsed text (0 for accessor type errors and I/O errors)
    Error(const std::string& message, size_t offset_) : std::runtime_error(message), offset(offset_) {}
};

class Value {
   public:
    enum class Type { Null, Bool, Number, String, Array, Object };
    using ArrayT = std::vector<Value>;
    using ObjectT = std::vector<std::pair<std::string, Value>>;

    Value() = default;  // null
    explicit Value(bool b) : v_(b) {}
    explicit Value(double d) : v_(Num{d, 0, false}) {}
    explicit Value(int64_t i) : v_(Num{static_cast<double>(i), i, true}) {}
    explicit Value(std::string s) : v_(std::move(s)) {}
    explicit Value(ArrayT a) : v_(std::move(a)) {}
    explicit Value(ObjectT o) : v_(std::move(o)) {}

    Type type() const { return static_cast<Type>(v_.index()); }
    bool is_null() const { return type() == Type::Null; }
    bool is_bool() const { return type() == Type::Bool; }
    bool is_number() const { return type() == Type::Number; }
    bool is_string() const { return type() == Type::String; }
    bool is_array() const { return type() == Type::Array; }
    bool is_object() const { return type() == Type::Object; }

    // Typed accessors: a json::Error (offset 0) naming the expected and the actual type when the type differs.
    bool boolean() const;
    double number() const;
    int64_t integer() const;  // an exactly integral number in int64 range, else json::Error
    bool is_exact_integer() const;  // an integer literal that fits int64 (integer() is then the literal itself)
    const std::string& str() const;
    const ArrayT& array() const;
    const ObjectT& object() const;

    const Value* find(std::string_view key) const;  // the last member named key; nullptr if absent / not an object
    const Value& operator[](size_t i) const;        // array element; json::Error when out of range / not an array
    size_t size() const;                            // elements of an array, members of an object

    static const char* type_name(Type t);

   private:
    friend class Parser;
    struct Num {
        double d;
        int64_t i;
        bool exact;  // i holds the literal exactly
    };
    std::variant<std::monostate, bool, Num, std::string, ArrayT, ObjectT> v_;
};

Value parse(std::string_view text);
Value parse_file(const std::string& path);  // json::Error naming the path on an I/O error or a parse error

// The bytes of a file; json::Error (offset 0) "cannot read <path>: <reason>" on failure.
std::string read_file(const std::string& path);

}  // namespace voxlite::json
