// OversizedGuard through RecordBuilder: records over the producer's
// message.max.bytes fail with one line, or are cut by the table's policy until
// they fit, and each cut is named, logged and counted.
#include "agent/stream/oversized_guard.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "agent/stream/record_builder.h"
#include "base/error.h"

namespace tombsync {
namespace {

using nlohmann::json;

constexpr size_t kMax = 100000;  // kafka.properties.message.max.bytes below

Config config_with(const std::string& oversized, const std::string& max_bytes = "100000") {
  return parse_config(R"(source:
  dsn: "host=db dbname=app user=tombsync"
  tables:
    - name: public.docs
      oversized: )" + oversized + R"(
kafka:
  brokers: kafka:9092
  topic_prefix: app
  properties:
    message.max.bytes: ")" + max_bytes + R"("
state_dir: /tmp/tombsync
)",
                      "test");
}

// public.docs(id int4 key, title text, body text, blob bytea, doc json)
std::shared_ptr<const TableSchema> docs_table() {
  auto t = std::make_shared<TableSchema>();
  t->relid = RelationId(16400);
  t->schema = "public";
  t->table = "docs";
  auto add = [&](std::string name, ColumnType type, const char* type_name, bool key = false) {
    ColumnSpec c;
    c.name = std::move(name);
    c.type = type;
    c.type_name = type_name;
    c.key = key;
    if (key) t->key_indexes.push_back(t->columns.size());
    t->columns.push_back(c);
  };
  add("id", ColumnType::kInt32, "int4", true);
  add("title", ColumnType::kText, "text");
  add("body", ColumnType::kText, "text");
  add("blob", ColumnType::kBytea, "bytea");
  add("doc", ColumnType::kJson, "json");
  return t;
}

Datum text(std::string v) {
  Datum d = Datum::of(Datum::State::kPresent);
  d.text = std::move(v);
  return d;
}

ChangeEvent docs_event(std::string body, std::string blob = "", std::string doc = "{}") {
  ChangeEvent e;
  e.op = Op::kInsert;
  e.table = docs_table();
  Datum id = Datum::of(Datum::State::kPresent);
  id.i = 7;
  e.row = {id, text("small title"), text(std::move(body)), text(std::move(blob)), text(std::move(doc))};
  e.source.lsn = Lsn{0x16B3748};
  e.source.commit_lsn = Lsn{0x16B3800};
  e.source.xid = 731;
  e.source.commit_ts_us = UnixMicros{1'714'557'600'123'456};
  return e;
}

// An encoder that remembers the largest value it was asked to encode.
class WatchingEncoder final : public Encoder {
 public:
  explicit WatchingEncoder(Format f) : inner_(make_encoder(f, EncoderContext{"app", "shop", "t", {}})) {}
  std::string key(const ChangeEvent& e) const override { return inner_->key(e); }
  using Encoder::value;
  std::string value(const ChangeEvent& e, uint32_t seq) const override {
    size_t n = 0;
    for (const auto& d : e.row) n += d.text.size();
    largest_input = std::max(largest_input, n);
    return inner_->value(e, seq);
  }
  std::optional<std::vector<Datum>> decode_key(const TableSchema& t, std::string_view key) const override {
    return inner_->decode_key(t, key);
  }
  mutable size_t largest_input = 0;

 private:
  std::unique_ptr<Encoder> inner_;
};

struct Fixture {
  explicit Fixture(const std::string& policy, Format f = Format::kJson, const std::string& max_bytes = "100000")
      : config(config_with(policy, max_bytes)), encoder(f) {}
  Config config;
  WatchingEncoder encoder;
  Metrics metrics{config};
  RecordBuilder builder{config, encoder, "1/app/tombsync", &metrics};
  std::vector<Record> out;
  Metrics::Table& counters() { return *metrics.table("public.docs"); }
};

std::string header(const Record& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

std::string error_of(Fixture& f, const ChangeEvent& e) {
  try {
    f.builder.build(e, f.out);
  } catch (const Error& err) {
    CHECK(err.kind() == ErrorKind::kSink);
    return err.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("A record within message.max.bytes is untouched", "[oversized]") {
  Fixture f("truncate_column");
  f.builder.build(docs_event(std::string(50000, 'x')), f.out);
  REQUIRE(f.out.size() == 1);
  CHECK(json::parse(*f.out[0].value)["body"].get<std::string>().size() == 50000);
  CHECK(header(f.out[0], "tombsync.oversized").empty());
  CHECK(f.counters().oversized_columns[0] == 0);
}

TEST_CASE("oversized: fail stops with one line naming the key, size and both settings, without encoding it",
          "[oversized]") {
  Fixture f("fail");
  const std::string what = error_of(f, docs_event(std::string(2'000'000, 'x')));
  INFO(what);
  CHECK_THAT(what, Catch::Contains("encoding the insert of public.docs at LSN 0/16B3748"));
  CHECK_THAT(what, Catch::Contains("the record is at least 2000"));
  CHECK_THAT(what, Catch::Contains("key {\"id\":7}"));
  CHECK_THAT(what, Catch::Contains("largest value: column body, 2000000 bytes"));
  CHECK_THAT(what, Catch::Contains("message.max.bytes (100000)"));
  CHECK_THAT(what, Catch::Contains("kafka.properties.message.max.bytes"));
  CHECK_THAT(what, Catch::Contains("the topic's max.message.bytes"));
  CHECK_THAT(what, Catch::Contains("oversized: truncate_column or skip_column"));
  CHECK(what.find('\n') == std::string::npos);
  CHECK(f.encoder.largest_input == 0);  // judged by its values' size, never encoded whole
  CHECK(f.out.empty());
}

TEST_CASE("oversized: fail also catches a value that grows past the limit when encoded", "[oversized]") {
  Fixture f("fail");
  // 90,000 quotes are 180,000 bytes once JSON-escaped.
  const std::string what = error_of(f, docs_event(std::string(90000, '"')));
  CHECK_THAT(what, Catch::Contains("the record is 180"));
  CHECK_THAT(what, !Catch::Contains("at least"));
}

TEST_CASE("oversized: truncate_column cuts the largest text value at a character boundary until it fits",
          "[oversized]") {
  Fixture f("truncate_column");
  std::string body;
  while (body.size() < 3'000'000) body += "h\xc3\xa9llo ";  // two-byte characters throughout
  f.builder.build(docs_event(body), f.out);
  REQUIRE(f.out.size() == 1);
  const Record& r = f.out[0];
  CHECK(record_wire_bytes(r, r.value->size()) <= kMax);
  const json v = json::parse(*r.value);  // still valid JSON: no broken character
  const std::string kept = v["body"];
  CHECK(kept.size() > 90000);  // cut to what fits, not to nothing
  CHECK(body.compare(0, kept.size(), kept) == 0);
  CHECK(v["title"] == "small title");
  CHECK_THAT(header(r, "tombsync.oversized"), Catch::StartsWith("truncate_column: body from " + std::to_string(body.size()) + " to "));
  CHECK(f.counters().oversized_columns[0] == 1);
  CHECK(f.encoder.largest_input < kMax);  // the 3 MB value was never encoded whole
  CHECK_THAT(f.metrics.prometheus(),
             Catch::Contains("tombsync_oversized_columns_total{table=\"public.docs\",action=\"truncate_column\"} 1"));
}

TEST_CASE("oversized: truncate_column cuts bytea too, and more than one value when needed", "[oversized]") {
  Fixture f("truncate_column");
  // bytea is base64 in JSON: 4/3 of its size.
  f.builder.build(docs_event(std::string(70000, 'b'), std::string(70000, '\x01')), f.out);
  REQUIRE(f.out.size() == 1);
  const Record& r = f.out[0];
  CHECK(record_wire_bytes(r, r.value->size()) <= kMax);
  CHECK_THAT(header(r, "tombsync.oversized"), Catch::Contains("blob from 70000 to "));
}

TEST_CASE("oversized: skip_column writes the largest values as null and says so", "[oversized]") {
  Fixture f("skip_column", Format::kDebeziumJson);
  f.builder.build(docs_event(std::string(500000, 'x'), "", "{\"a\": \"" + std::string(200000, 'y') + "\"}"),
                  f.out);
  REQUIRE(f.out.size() == 1);
  const Record& r = f.out[0];
  CHECK(record_wire_bytes(r, r.value->size()) <= kMax);
  const json after = json::parse(*r.value)["payload"]["after"];
  CHECK(after["body"].is_null());
  CHECK(after["doc"].is_null());
  CHECK(after["title"] == "small title");
  CHECK(header(r, "tombsync.oversized") == "skip_column: body (500000 bytes) as null, doc (200009 bytes) as null");
  CHECK(f.counters().oversized_columns[1] == 2);
}

TEST_CASE("oversized: a value the policy may not cut fails, naming what was tried", "[oversized]") {
  Fixture f("truncate_column");
  // json is never truncated (it would no longer parse); the text columns are too small to help.
  const std::string what = error_of(f, docs_event("b", "", "[" + std::string(300000, '1') + "]"));
  CHECK_THAT(what, Catch::Contains("largest value: column doc, 300002 bytes"));
  CHECK_THAT(what, Catch::Contains("after oversized: truncate_column cut every value it may"));
}

TEST_CASE("oversized: key columns are never cut", "[oversized]") {
  Config config = config_with("skip_column");
  auto t = std::make_shared<TableSchema>(*docs_table());
  t->columns[1].key = true;  // title joins the key
  t->key_indexes = {0, 1};
  WatchingEncoder encoder(Format::kJson);
  RecordBuilder builder{config, encoder, "1/app/tombsync"};
  ChangeEvent e = docs_event("x");
  e.table = t;
  e.row[1] = text(std::string(200000, 'k'));
  std::vector<Record> out;
  try {
    builder.build(e, out);
    FAIL("no error");
  } catch (const Error& err) {
    CHECK(err.kind() == ErrorKind::kSink);
    CHECK_THAT(std::string(err.what()), Catch::Contains("cut every value it may"));
  }
}

namespace {

// The body kept by the record `r` of docs_event, and whether `r` fits the limit.
size_t kept_body(const Record& r, size_t max) {
  CHECK(record_wire_bytes(r, r.value->size()) <= max);
  return json::parse(*r.value)["body"].get<std::string>().size();
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

// Review of issue 10: the cut used to take the encoded excess off the raw text, so text that
// grows when encoded was cut to almost nothing; and 1 % slack cost plain text ~11 kB.
TEST_CASE("oversized: truncate_column keeps as much escape-heavy or plain text as fits", "[oversized]") {
  constexpr size_t kLimit = 1'000'000;
  SECTION("3 MB of quotes, each written as \\\" in JSON") {
    Fixture f("truncate_column", Format::kJson, "1000000");
    f.builder.build(docs_event(std::string(3'000'000, '"')), f.out);
    REQUIRE(f.out.size() == 1);
    const size_t kept = kept_body(f.out[0], kLimit);
    CHECK(kept > 400'000);
    CHECK(kept < 500'000);
  }
  SECTION("3 MB of control characters, each written as \\u00XX") {
    Fixture f("truncate_column", Format::kJson, "1000000");
    f.builder.build(docs_event(std::string(3'000'000, '\x01')), f.out);
    REQUIRE(f.out.size() == 1);
    CHECK(kept_body(f.out[0], kLimit) > 160'000);  // 6 bytes each: at most 166,666 fit
  }
  SECTION("3 MB of plain ASCII") {
    Fixture f("truncate_column", Format::kJson, "1000000");
    f.builder.build(docs_event(std::string(3'000'000, 'x')), f.out);
    REQUIRE(f.out.size() == 1);
    CHECK(kept_body(f.out[0], kLimit) > kLimit - 2000);  // headers, framing and the header room
  }
  SECTION("multi-byte text is cut on a character boundary, close to the limit") {
    Fixture f("truncate_column", Format::kJson, "1000000");
    std::string body;
    while (body.size() < 3'000'000) body += "\xe2\x82\xac\"";  // a euro sign and a quote
    f.builder.build(docs_event(body), f.out);
    REQUIRE(f.out.size() == 1);
    const std::string kept = json::parse(*f.out[0].value)["body"];
    CHECK(record_wire_bytes(f.out[0], f.out[0].value->size()) <= kLimit);
    CHECK(body.compare(0, kept.size(), kept) == 0);
    CHECK(kept.size() > 790'000);  // 4 raw bytes are 5 encoded
  }
}

TEST_CASE("oversized: the header lists whole cuts within 448 bytes and counts the rest", "[oversized]") {
  // Column names of 3-byte characters: a byte cut would split one.
  auto t = std::make_shared<TableSchema>(*docs_table());
  ChangeEvent e = docs_event("x");
  const size_t extra = 12;
  for (size_t i = 0; i < extra; ++i) {
    ColumnSpec c;
    c.name = "spalte_";
    for (int k = 0; k < 17; ++k) c.name += "\xe5\x88\x97";  // 列
    c.name += std::to_string(i);
    c.type = ColumnType::kText;
    c.type_name = "text";
    t->columns.push_back(c);
    e.row.push_back(text(std::string(20000 + i, 'v')));
  }
  e.table = t;
  Fixture f("skip_column");
  f.builder.build(e, f.out);
  REQUIRE(f.out.size() == 1);
  const std::string h = header(f.out[0], "tombsync.oversized");
  INFO(h);
  const size_t cut = f.counters().oversized_columns[1];
  CHECK(cut >= 8);
  CHECK(h.size() <= 448);
  CHECK(valid_utf8(h));
  size_t listed = 0;
  for (size_t pos = 0; (pos = h.find(" as null", pos)) != std::string::npos; pos += 8) ++listed;
  CHECK(listed >= 3);
  CHECK(listed < cut);
  CHECK_THAT(h, Catch::EndsWith(", +" + std::to_string(cut - listed) + " more"));
}

// Memory for a 200 MB value cut to fit (issue 10 review): the event is not copied whole.
// Run on its own to read the peak: /usr/bin/time -v build/tests/unit_agent "[rss]"
TEST_CASE("oversized: a 200 MB value is cut without a second copy of it", "[.][rss]") {
  Fixture f("truncate_column", Format::kJson, "1000000");
  ChangeEvent e = docs_event("x");
  e.row[2].text.assign(200u << 20, 'x');  // in place: docs_event's initializer list would copy it
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  f.builder.build(e, f.out);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  REQUIRE(f.out.size() == 1);
  CHECK(kept_body(f.out[0], 1'000'000) > 998'000);
  const long grew_mb = (after.ru_maxrss - before.ru_maxrss) / 1024;
  INFO("peak RSS grew by " << grew_mb << " MB while the record was built");
  CHECK(grew_mb < 50);
}

}  // namespace tombsync

namespace tombsync {

// Row rules copy an event only when they may change it: an insert into a table with
// redact_on_delete is not copied (it used to be, whole).
TEST_CASE("oversized: a 200 MB insert into a table with redact_on_delete is not copied", "[.][rss]") {
  Fixture f("truncate_column\n      redact_on_delete: [title]", Format::kJson, "1000000");
  ChangeEvent e = docs_event("x");
  e.row[2].text.assign(200u << 20, 'x');
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  f.builder.build(e, f.out);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  REQUIRE(f.out.size() == 1);
  CHECK(json::parse(*f.out[0].value)["title"] == "small title");  // an insert: nothing redacted
  const long grew_mb = (after.ru_maxrss - before.ru_maxrss) / 1024;
  INFO("peak RSS grew by " << grew_mb << " MB while the record was built");
  CHECK(grew_mb < 50);
}

}  // namespace tombsync
