// base/error.h: an Error's message is one line, whatever names the source sent
// (printable_line; the fuzz target tests/fuzz checks it on every error it provokes).
#include "base/error.h"

#include <catch2/catch.hpp>

#include <string>

namespace tombsync {
namespace {

TEST_CASE("printable_line escapes control characters and keeps every other byte", "[error]") {
  CHECK(printable_line("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(printable_line(std::string("\x1b[31m\x7f\0z", 8)) == "\\x1b[31m\\x7f\\x00z");
  CHECK(printable_line("caf\xc3\xa9 \"q\" \\") == "caf\xc3\xa9 \"q\" \\");
  CHECK(printable_line("") == "");
}

TEST_CASE("An Error's message is its text as one printable line", "[error]") {
  const Error e(ErrorKind::kProtocol, "table public.\"a\nb\" is\tgone");
  CHECK(std::string(e.what()) == "table public.\"a\\nb\" is\\tgone");
  CHECK(e.kind() == ErrorKind::kProtocol);
}

}  // namespace
}  // namespace tombsync
