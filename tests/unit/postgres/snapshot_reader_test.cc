// COPY text rows, as the snapshot reads them, into Datums.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "connectors/postgres/snapshot_reader.h"

using namespace tombsync;

namespace {

TableSchema schema_of(std::vector<ColumnType> types) {
  TableSchema s;
  s.schema = "public";
  s.table = "t";
  for (size_t i = 0; i < types.size(); ++i) {
    ColumnSpec c;
    c.name = "c" + std::to_string(i);
    c.type = types[i];
    s.columns.push_back(c);
  }
  return s;
}

}  // namespace

TEST_CASE("COPY escapes are undone as Postgres documents them", "[snapshot]") {
  std::string out;
  unescape_copy_field("a\\tb\\nc\\\\d\\re", out);
  CHECK(out == "a\tb\nc\\d\re");
  unescape_copy_field("\\b\\f\\v", out);
  CHECK(out == "\b\f\v");
  unescape_copy_field("\\101\\x42\\7", out);  // octal, hex, a short octal
  CHECK(out == std::string("AB\x07"));
  unescape_copy_field("\\q", out);  // any other character stands for itself
  CHECK(out == "q");
  unescape_copy_field("plain", out);
  CHECK(out == "plain");
}

TEST_CASE("a COPY row becomes typed Datums, \\N a null, escapes undone", "[snapshot]") {
  auto s = schema_of({ColumnType::kInt64, ColumnType::kText, ColumnType::kNumeric, ColumnType::kTimestampTz,
                      ColumnType::kBool, ColumnType::kText});
  std::vector<Datum> row;
  std::string scratch;
  parse_copy_row("42\ttab\\there\t12.50\t2024-05-01 10:00:00.5+00\tt\t\\N", s, row, scratch);
  REQUIRE(row.size() == 6);
  CHECK(row[0].i == 42);
  CHECK(row[1].text == "tab\there");
  CHECK(row[2].text == "12.50");
  CHECK(row[3].text == "2024-05-01T10:00:00.5Z");
  CHECK(row[4].b);
  CHECK(row[5].state == Datum::State::kNull);
  parse_copy_row("7\t\t0\t2024-05-01 10:00:00+00\tf\t\\\\N", s, row, scratch);  // empty text, a literal "\N"
  CHECK(row[1].present());
  CHECK(row[1].text.empty());
  CHECK(row[5].text == "\\N");
}

TEST_CASE("a COPY row with the wrong number of fields is refused", "[snapshot]") {
  auto s = schema_of({ColumnType::kInt32, ColumnType::kText});
  std::vector<Datum> row;
  std::string scratch;
  CHECK_THROWS_AS(parse_copy_row("1", s, row, scratch), Error);
  CHECK_THROWS_AS(parse_copy_row("1\ta\tb", s, row, scratch), Error);
}
