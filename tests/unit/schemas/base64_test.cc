#include <catch2/catch.hpp>

#include <string>

#include "schemas/base64.h"

using tombsync::base64_decode;
using tombsync::base64_encode;

TEST_CASE("Base64 matches the RFC 4648 test vectors", "[base64]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("Base64 uses the standard alphabet for high bytes", "[base64]") {
  CHECK(base64_encode("\xfb\xff\xbf") == "+/+/");
  CHECK(base64_encode(std::string(3, '\0')) == "AAAA");
}

TEST_CASE("Base64 round-trips every byte value at every alignment", "[base64]") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (size_t skip = 0; skip < 3; ++skip) {
    const std::string bytes = all.substr(skip);
    const std::string text = base64_encode(bytes);
    CHECK(text.size() == (bytes.size() + 2) / 3 * 4);
    auto back = base64_decode(text);
    REQUIRE(back);
    CHECK(*back == bytes);
  }
}

TEST_CASE("Base64 decoding is strict", "[base64]") {
  CHECK(base64_decode("Zm9vYmFy") == std::string("foobar"));
  CHECK(base64_decode("") == std::string());
  CHECK_FALSE(base64_decode("Zm9"));        // length not a multiple of 4
  CHECK_FALSE(base64_decode("Zm9v\nYmFy"));  // line break
  CHECK_FALSE(base64_decode("Zm=v"));       // padding inside
  CHECK_FALSE(base64_decode("Zg==Zg=="));   // padding before the end
  CHECK_FALSE(base64_decode("Zh=="));       // non-zero padding bits
  CHECK_FALSE(base64_decode("Zm9-"));       // URL-safe alphabet
  CHECK_FALSE(base64_decode("===="));
}
