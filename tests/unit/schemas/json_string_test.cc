#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "schemas/json_string.h"
#include "schemas/utf8.h"

using tombsync::append_json_string;

namespace {

std::string as_json(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

TEST_CASE("JSON strings escape quotes, backslashes and control characters", "[json_string]") {
  CHECK(as_json("") == R"("")");
  CHECK(as_json("plain") == R"("plain")");
  CHECK(as_json("a\"b") == R"("a\"b")");
  CHECK(as_json("a\\b") == R"("a\\b")");
  CHECK(as_json("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  CHECK(as_json(std::string("\0\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
  CHECK(as_json("\x7f/") == "\"\x7f/\"");  // DEL and '/' need no escape
}

TEST_CASE("JSON strings keep well-formed UTF-8 as it is", "[json_string]") {
  CHECK(as_json("héllo wörld") == "\"héllo wörld\"");
  CHECK(as_json("日本語") == "\"日本語\"");
  CHECK(as_json("\xF0\x9F\x98\x80") == "\"\xF0\x9F\x98\x80\"");     // U+1F600, 4 bytes
  CHECK(as_json("\xF4\x8F\xBF\xBF") == "\"\xF4\x8F\xBF\xBF\"");     // U+10FFFF
  CHECK(as_json("\xE2\x80\xA8") == "\"\xE2\x80\xA8\"");             // U+2028
}

TEST_CASE("JSON strings replace malformed UTF-8 with U+FFFD", "[json_string]") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(as_json("a\xFF" "b") == "\"a" + r + "b\"");
  CHECK(as_json("\xC3") == "\"" + r + "\"");                      // truncated sequence
  CHECK(as_json("\xC0\xAF") == "\"" + r + r + "\"");             // overlong '/'
  CHECK(as_json("\xED\xA0\x80") == "\"" + r + r + r + "\"");     // surrogate U+D800
  CHECK(as_json("\xF4\x90\x80\x80") == "\"" + r + r + r + r + "\"");  // above U+10FFFF
  CHECK(as_json("\x80\"") == "\"" + r + "\\\"\"");
}

TEST_CASE("Every byte string becomes JSON a strict parser reads", "[json_string]") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const auto parsed = nlohmann::json::parse(as_json(all));
  REQUIRE(parsed.is_string());
  // The ASCII half comes back exactly; the rest is replacement characters.
  CHECK(parsed.get<std::string>().substr(0, 128) == all.substr(0, 128));
  const std::string text = "tab\there \"quoted\" back\\slash \x01 日本 \xF0\x9F\x98\x80";
  CHECK(nlohmann::json::parse(as_json(text)).get<std::string>() == text);
}

TEST_CASE("UTF-8 validation and repair", "[utf8]") {
  CHECK(tombsync::is_valid_utf8(""));
  CHECK(tombsync::is_valid_utf8("abc é 日 \xF0\x9F\x98\x80"));
  CHECK_FALSE(tombsync::is_valid_utf8("\xFF"));
  CHECK_FALSE(tombsync::is_valid_utf8("\xE6\x97"));  // truncated
  CHECK_FALSE(tombsync::is_valid_utf8("\xE0\x80\xAF"));  // overlong
  // Long ASCII runs are skipped a word at a time; what follows is still checked.
  CHECK(tombsync::is_valid_utf8("abcdefgh\xC3\xA9" "abcdefghijklmnop\xE6\x97\xA5"));
  CHECK_FALSE(tombsync::is_valid_utf8("abcdefghijklmnop\xFF"));
  CHECK_FALSE(tombsync::is_valid_utf8("abcdefghijklmnop\xC3"));
  CHECK(tombsync::to_valid_utf8("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(tombsync::to_valid_utf8("日本") == "日本");
}
