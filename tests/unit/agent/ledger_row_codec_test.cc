// The row `ledger: rows` stores (agent/stream/ledger_row_codec.h): every kind of
// value round-trips; only gaps are filled; a row stored before an ALTER TABLE
// fills by column name; a column whose kind changed, and a damaged value, fill
// nothing.
#include "agent/stream/ledger_row_codec.h"

#include <catch2/catch.hpp>

#include <cmath>

#include "tests/unit/schemas/event_fixtures.h"

namespace tombsync {

TEST_CASE("ledger row codec: values round-trip into the gaps only, by column name", "[ledger][rows]") {
  auto table = test::make_table("public", "t",
                                {{"id", ColumnType::kInt64, "int8", true},
                                 {"flag", ColumnType::kBool, "bool"},
                                 {"score", ColumnType::kFloat64, "float8"},
                                 {"body", ColumnType::kText, "text"},
                                 {"note", ColumnType::kText, "text"}});
  Datum score;
  score.state = Datum::State::kPresent;
  score.text = "-Infinity";
  std::vector<Datum> row{test::int_value(-42), test::bool_value(true), score, test::text_value(std::string(5000, 'b')),
                         Datum::null()};
  std::string encoded;
  encode_ledger_row(*table, row, encoded);

  std::vector<Datum> gaps{test::int_value(-42), Datum::absent(), Datum::unchanged(), Datum::unchanged(),
                          test::text_value("kept")};
  CHECK(fill_from_ledger_row(*table, encoded, gaps) == 3);
  CHECK(gaps[1].present());
  CHECK(gaps[1].b);
  CHECK(std::isinf(gaps[2].d));
  CHECK(gaps[2].d < 0);
  CHECK(gaps[2].text == "-Infinity");
  CHECK(gaps[3].text == std::string(5000, 'b'));
  CHECK(gaps[4].text == "kept");  // a value the event has is never replaced
  CHECK_FALSE(has_gaps(gaps));

  // After ALTER TABLE: `flag` dropped, `extra` added, `score` now text, columns reordered.
  auto altered = test::make_table("public", "t",
                                  {{"id", ColumnType::kInt64, "int8", true},
                                   {"body", ColumnType::kText, "text"},
                                   {"extra", ColumnType::kInt32, "int4"},
                                   {"score", ColumnType::kInt32, "int4"}});
  std::vector<Datum> later{test::int_value(-42), Datum::absent(), Datum::absent(), Datum::absent()};
  CHECK(fill_from_ledger_row(*altered, encoded, later) == 1);
  CHECK(later[1].text == std::string(5000, 'b'));
  CHECK(later[2].state == Datum::State::kAbsent);  // never stored
  CHECK(later[3].state == Datum::State::kAbsent);  // text stored, int now: not filled
  CHECK(has_gaps(later));

  // The same name and kind of value, another type (text -> timestamp): not filled.
  auto retyped = std::make_shared<TableSchema>(*table);
  retyped->columns[3].type_oid = 1114;
  std::vector<Datum> typed{test::int_value(-42), Datum::absent(), Datum::absent(), Datum::absent(), Datum::absent()};
  CHECK(fill_from_ledger_row(*retyped, encoded, typed) == 3);  // flag, score, note
  CHECK(typed[3].state == Datum::State::kAbsent);

  // Extremes and empties round-trip.
  auto ints = test::make_table("public", "n", {{"id", ColumnType::kInt64, "int8", true}, {"a", ColumnType::kInt64, "int8"},
                                               {"b", ColumnType::kInt64, "int8"}, {"s", ColumnType::kText, "text"}});
  std::string e2;
  encode_ledger_row(*ints, {test::int_value(0), test::int_value(INT64_MIN), test::int_value(INT64_MAX), test::text_value("")}, e2);
  std::vector<Datum> back{test::int_value(0), Datum::absent(), Datum::unchanged(), Datum::absent()};
  CHECK(fill_from_ledger_row(*ints, e2, back) == 3);
  CHECK(back[1].i == INT64_MIN);
  CHECK(back[2].i == INT64_MAX);
  CHECK(back[3].present());
  CHECK(back[3].text.empty());

  std::vector<Datum> damaged{test::int_value(-42), Datum::absent(), Datum::absent(), Datum::absent(), Datum::absent()};
  CHECK(fill_from_ledger_row(*table, encoded.substr(0, encoded.size() - 3), damaged) == 0);
  CHECK(fill_from_ledger_row(*table, "\x02garbage", damaged) == 0);
  CHECK(damaged[3].state == Datum::State::kAbsent);
}

}  // namespace tombsync
