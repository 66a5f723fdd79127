// Strict JSON parser: see json.h.
#include "json.h"

#include "text/unicode.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <tuple>

namespace voxlite::json {

// ------------------------------------------------------------------ accessors

const char* Value::type_name(Type t) {
    switch (t) {
        case Type::Null: return "null";
        case Type::Bool: return "boolean";
        case Type::Number: return "number";
        case Type::String: return "string";
        case Type::Array: return "array";
        case Type::Object: return "object";
    }
    return "?";
}

namespace {

[[noreturn]] void type_error(const char* expected, Value::Type got) {
    throw Error(std::string("JSON: expected ") + expected + ", got " + (got == Value::Type::Array    ? "an "
                                                                        : got == Value::Type::Object ? "an "
                                                                        : got == Value::Type::Null   ? ""
                                                                                                     : "a ") +
                    Value::type_name(got),
                0);
}

std::string number_text(double d) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
}

}  // namespace

bool Value::boolean() const {
    if (!is_bool()) type_error("a boolean", type());
    return std::get<bool>(v_);
}

double Value::number() const {
    if (!is_number()) type_error("a number", type());
    return std::get<Num>(v_).d;
}

bool Value::is_exact_integer() const { return is_number() && std::get<Num>(v_).exact; }

int64_t Value::integer() const {
    if (!is_number()) type_error("an integer", type());
    const Num& n = std::get<Num>(v_);
    if (n.exact) return n.i;
    // -2^63 <= d < 2^63, both bounds exact in double
    if (std::isfinite(n.d) && std::floor(n.d) == n.d && n.d >= -9223372036854775808.0 && n.d < 9223372036854775808.0)
        return static_cast<int64_t>(n.d);
    throw Error("JSON: expected an integer in int64 range, got " + number_text(n.d), 0);
}

const std::string& Value::str() const {
    if (!is_string()) type_error("a string", type());
    return std::get<std::string>(v_);
}

const Value::ArrayT& Value::array() const {
    if (!is_array()) type_error("an array", type());
    return std::get<ArrayT>(v_);
}

const Value::ObjectT& Value::object() const {
    if (!is_object()) type_error("an object", type());
    return std::get<ObjectT>(v_);
}

const Value* Value::find(std::string_view key) const {
    if (!is_object()) return nullptr;
    const ObjectT& o = std::get<ObjectT>(v_);
    for (auto it = o.rbegin(); it != o.rend(); ++it)
        if (it->first == key) return &it->second;
    return nullptr;
}

const Value& Value::operator[](size_t i) const {
    const ArrayT& a = array();
    if (i >= a.size())
        throw Error("JSON: index " + std::to_string(i) + " out of range for an array of " + std::to_string(a.size()) +
                        " elements",
                    0);
    return a[i];
}

size_t Value::size() const {
    if (is_array()) return std::get<ArrayT>(v_).size();
    if (is_object()) return std::get<ObjectT>(v_).size();
    type_error("an array or an object", type());
}

// ------------------------------------------------------------------ parser

class Parser {
   public:
    explicit Parser(std::string_view text) : b_(text.data()), p_(text.data()), e_(text.data() + text.size()) {}

    Value run() {
        if (e_ - p_ >= 3 && static_cast<unsigned char>(p_[0]) == 0xEF && static_cast<unsigned char>(p_[1]) == 0xBB &&
            static_cast<unsigned char>(p_[2]) == 0xBF)
            fail("JSON text without a UTF-8 byte-order mark", p_);
        Value v;
        skip_ws();
        parse_value(v, 0);
        skip_ws();
        if (p_ != e_) expected("the end of the text after the JSON value");
        return v;
    }

   private:
    const char* b_;
    const char* p_;
    const char* e_;

    // "JSON: expected <what> at byte N (line L, column C)[, found ...]"
    [[noreturn]] void fail(const std::string& what, const char* at, bool show_found = false) const {
        size_t line = 1;
        const char* line_start = b_;
        for (const char* q = b_; q < at; ++q)
            if (*q == '\n') {
                ++line;
                line_start = q + 1;
            }
        const size_t off = static_cast<size_t>(at - b_);
        std::string msg = "JSON: expected " + what + " at byte " + std::to_string(off) + " (line " +
                          std::to_string(line) + ", column " + std::to_string(at - line_start + 1) + ")";
        if (show_found) {
            if (at >= e_) {
                msg += ", found the end of the text";
            } else {
                const unsigned char c = static_cast<unsigned char>(*at);
                char buf[32];
                if (c >= 0x20 && c < 0x7F)
                    std::snprintf(buf, sizeof buf, ", found '%c'", c);
                else
                    std::snprintf(buf, sizeof buf, ", found byte 0x%02X", c);
                msg += buf;
            }
        }
        throw Error(msg, off);
    }
    [[noreturn]] void expected(const std::string& what) const { fail(what, p_, true); }

    void skip_ws() {
        while (p_ < e_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    void parse_value(Value& out, int depth) {
        if (p_ >= e_) expected("a JSON value");
        switch (*p_) {
            case '{': parse_object(out, depth + 1); return;
            case '[': parse_array(out, depth + 1); return;
            case '"': {
                std::string s;
                parse_string(s);
                out.v_ = std::move(s);
                return;
            }
            case 't': literal("true", 4); out.v_ = true; return;
            case 'f': literal("false", 5); out.v_ = false; return;
            case 'n': literal("null", 4); out.v_ = std::monostate{}; return;
            default:
                if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) {
                    parse_number(out);
                    return;
                }
                expected("a JSON value");
        }
    }

    void literal(const char* word, size_t n) {
        for (size_t i = 0; i < n; ++i)
            if (p_ + i >= e_ || p_[i] != word[i]) fail(std::string("'") + word + "'", p_ + i, true);
        p_ += n;
    }

    void check_depth(int depth) const {
        if (depth > kMaxDepth)
            fail("arrays and objects nested at most " + std::to_string(kMaxDepth) + " deep", p_);
    }

    void parse_object(Value& out, int depth) {
        check_depth(depth);
        ++p_;  // '{'
        Value::ObjectT obj;
        skip_ws();
        if (p_ < e_ && *p_ == '}') {
            ++p_;
            out.v_ = std::move(obj);
            return;
        }
        for (;;) {
            if (p_ >= e_ || *p_ != '"') expected("'\"' (an object key)");
            std::string key;
            parse_string(key);
            skip_ws();
            if (p_ >= e_ || *p_ != ':') expected("':' after an object key");
            ++p_;
            skip_ws();
            obj.emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(key)), std::forward_as_tuple());
            parse_value(obj.back().second, depth);
            skip_ws();
            if (p_ < e_ && *p_ == ',') {
                ++p_;
                skip_ws();
                continue;
            }
            if (p_ < e_ && *p_ == '}') {
                ++p_;
                break;
            }
            expected("',' or '}' after an object member");
        }
        out.v_ = std::move(obj);
    }

    void parse_array(Value& out, int depth) {
        check_depth(depth);
        ++p_;  // '['
        Value::ArrayT arr;
        skip_ws();
        if (p_ < e_ && *p_ == ']') {
            ++p_;
            out.v_ = std::move(arr);
            return;
        }
        for (;;) {
            arr.emplace_back();
            parse_value(arr.back(), depth);
            skip_ws();
            if (p_ < e_ && *p_ == ',') {
                ++p_;
                skip_ws();
                continue;
            }
            if (p_ < e_ && *p_ == ']') {
                ++p_;
                break;
            }
            expected("',' or ']' after an array element");
        }
        out.v_ = std::move(arr);
    }

    static int hex_value(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    unsigned read_hex4() {  // p_ at the first of 4 hex digits
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = p_ + i < e_ ? hex_value(p_[i]) : -1;
            if (h < 0) fail("4 hex digits after \\u", p_ + i, true);
            v = v * 16 + static_cast<unsigned>(h);
        }
        p_ += 4;
        return v;
    }

    void parse_escape(std::string& out) {  // p_ at the backslash
        const char* esc = p_;
        ++p_;
        if (p_ >= e_) expected("an escape character after '\\'");
        const char c = *p_++;
        switch (c) {
            case '"': out += '"'; return;
            case '\\': out += '\\'; return;
            case '/': out += '/'; return;
            case 'b': out += '\b'; return;
            case 'f': out += '\f'; return;
            case 'n': out += '\n'; return;
            case 'r': out += '\r'; return;
            case 't': out += '\t'; return;
            case 'u': break;
            default: fail("a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)", esc, false);
        }
        unsigned cp = read_hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("a \\u escape that is not a lone low surrogate", esc);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!(e_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u'))
                fail("a low-surrogate \\uDC00-\\uDFFF escape after the high surrogate", p_, true);
            const char* low_at = p_;
            p_ += 2;
            const unsigned lo = read_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF)
                fail("a low-surrogate \\uDC00-\\uDFFF escape after the high surrogate", low_at);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        voxlite::text::append_utf8(out, static_cast<char32_t>(cp));
    }

    // One UTF-8 sequence starting at p_ (a byte >= 0x80): validated and skipped.
    void skip_utf8() {
        const unsigned char* s = reinterpret_cast<const unsigned char*>(p_);
        const size_t avail = static_cast<size_t>(e_ - p_);
        const unsigned char c = s[0];
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;  // no encoded surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            fail("UTF-8 text (a byte that cannot start a UTF-8 sequence)", p_, true);
        }
        if (avail < n || s[1] < lo || s[1] > hi) fail("UTF-8 text (a broken multi-byte sequence)", p_, true);
        for (size_t k = 2; k < n; ++k)
            if (s[k] < 0x80 || s[k] > 0xBF) fail("UTF-8 text (a broken multi-byte sequence)", p_, true);
        p_ += n;
    }

    void parse_string(std::string& out) {  // p_ at the opening quote
        const char* open = p_;
        ++p_;
        const char* run = p_;
        for (;;) {
            // fast paths: 8 bytes of plain ASCII at a time, then printable ASCII and well-formed 2-byte sequences
            // (IPA, Latin-1) one by one
            while (e_ - p_ >= 8) {
                uint64_t w;
                std::memcpy(&w, p_, 8);
                constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
                const auto has_zero = [&](uint64_t v) { return (v - ones) & ~v & highs; };
                // any byte >= 0x80, < 0x20, '"' or '\\'
                if ((w & highs) | ((w - 0x20 * ones) & ~w & highs) | has_zero(w ^ ('"' * ones)) | has_zero(w ^ ('\\' * ones)))
                    break;
                p_ += 8;
            }
            while (p_ < e_) {
                const unsigned char c = static_cast<unsigned char>(*p_);
                if (c < 0x80) {
                    if (c == '"' || c == '\\' || c < 0x20) break;
                    ++p_;
                } else if (c >= 0xC2 && c <= 0xDF && e_ - p_ >= 2 && (static_cast<unsigned char>(p_[1]) & 0xC0) == 0x80) {
                    p_ += 2;
                } else {
                    break;
                }
            }
            if (p_ >= e_) {
                fail("'\"' to close the string opened at byte " + std::to_string(open - b_), p_, true);
            }
            const unsigned char c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                out.append(run, static_cast<size_t>(p_ - run));
                ++p_;
                return;
            }
            if (c == '\\') {
                out.append(run, static_cast<size_t>(p_ - run));
                parse_escape(out);
                run = p_;
                continue;
            }
            if (c < 0x20) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "an escape for the control character U+%04X in a string", c);
                fail(buf, p_);
            }
            skip_utf8();
        }
    }

    void parse_number(Value& out) {
        const char* s = p_;
        const bool neg = *p_ == '-';
        if (neg) ++p_;
        if (p_ >= e_ || *p_ < '0' || *p_ > '9') expected("a digit");
        const char* int_start = p_;
        if (*p_ == '0') {
            ++p_;
            if (p_ < e_ && *p_ >= '0' && *p_ <= '9') expected("'.', 'e' or the end of the number after a leading 0");
        } else {
            while (p_ < e_ && *p_ >= '0' && *p_ <= '9') ++p_;
        }
        const char* int_end = p_;
        bool integral = true;
        const char* frac_start = p_;
        const char* frac_end = p_;
        if (p_ < e_ && *p_ == '.') {
            integral = false;
            ++p_;
            frac_start = p_;
            if (p_ >= e_ || *p_ < '0' || *p_ > '9') expected("a digit after '.'");
            while (p_ < e_ && *p_ >= '0' && *p_ <= '9') ++p_;
            frac_end = p_;
        }
        long long exp10 = 0;
        if (p_ < e_ && (*p_ == 'e' || *p_ == 'E')) {
            integral = false;
            ++p_;
            bool eneg = false;
            if (p_ < e_ && (*p_ == '+' || *p_ == '-')) eneg = *p_++ == '-';
            if (p_ >= e_ || *p_ < '0' || *p_ > '9') expected("a digit in the exponent");
            while (p_ < e_ && *p_ >= '0' && *p_ <= '9') {
                if (exp10 < 100000000) exp10 = exp10 * 10 + (*p_ - '0');
                ++p_;
            }
            if (eneg) exp10 = -exp10;
        }
        Value::Num num{0.0, 0, false};
        const auto r = std::from_chars(s, p_, num.d, std::chars_format::general);
        if (r.ec == std::errc::result_out_of_range) {
            // overflow or underflow? the decimal exponent of the first significant digit decides
            long long lead = 0;
            bool found = false;
            for (const char* q = int_start; q < int_end && !found; ++q)
                if (*q != '0') {
                    lead = (int_end - q) - 1;
                    found = true;
                }
            for (const char* q = frac_start; q < frac_end && !found; ++q)
                if (*q != '0') {
                    lead = -((q - frac_start) + 1);
                    found = true;
                }
            if (found && lead + exp10 > 0) fail("a number within the range of a double", s);
            num.d = neg ? -0.0 : 0.0;  // underflow: the nearest double is zero
        } else if (r.ec != std::errc() || r.ptr != p_) {
            fail("a number", s);
        }
        if (integral) {
            int64_t i = 0;
            const auto ri = std::from_chars(s, p_, i);
            if (ri.ec == std::errc() && ri.ptr == p_) {
                num.i = i;
                num.exact = true;
            }
        }
        out.v_ = num;
    }
};

Value parse(std::string_view text) { return Parser(text).run(); }

std::string read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw Error("cannot read " + path + ": " + std::strerror(errno), 0);
    std::string data;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);  // a hint only (fails for a directory: fread says why)
    if (!ec && size < (size_t{1} << 40)) data.reserve(static_cast<size_t>(size) + 1);
    char buf[1 << 16];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) data.append(buf, n);
    const bool bad = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (bad) throw Error("cannot read " + path + ": " + std::strerror(err), 0);
    return data;
}

Value parse_file(const std::string& path) {
    const std::string text = read_file(path);
    try {
        return parse(text);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what(), e.offset);
    }
}

}  // namespace voxlite::json
