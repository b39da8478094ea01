// The record position (schemas/stream_position.h, docs/event-format.md "Position") over a
// recorded sequence of what a session builds: stream changes, a snapshot chunk's reads at its
// high watermark, a change that began before the watermark and committed after it (its change
// LSN is lower than the reads', its commit higher: the case where `__lsn` goes back), a delete
// event and its tombstone, a TRUNCATE's per-key deletes and a reconciliation's inferred delete.
// Per key, in stream order, `__pos` strictly increases in all three formats, equals
// commit LSN * 2^32 + tombsync.seq, and a replay after a restart gives the same positions.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config/config.h"
#include "agent/stream/record_builder.h"
#include "schemas/encoder.h"
#include "schemas/stream_position.h"
#include "tests/unit/schemas/event_fixtures.h"
#include "tombsync/v1/change_event.pb.h"

namespace tombsync {
namespace {

std::string header(const Record& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

struct Txn {
  Lsn commit;
  std::vector<ChangeEvent> events;
};

// One transaction's events, as the session builds them: begin, then each event in order.
std::vector<Record> build(RecordBuilder& builder, const Txn& t) {
  builder.begin_transaction();
  std::vector<Record> out;
  for (const auto& e : t.events) builder.build(e, out);
  return out;
}

// The position a record's value carries, per format; empty for a tombstone.
std::string pos_of(Format f, const Record& r) {
  if (!r.value) return "";
  if (f == Format::kProtobuf) {
    tombsync::v1::ChangeEvent m;
    REQUIRE(m.ParseFromString(*r.value));
    CHECK(std::to_string(m.seq()) == header(r, "tombsync.seq"));
    return m.pos();
  }
  const auto v = nlohmann::json::parse(*r.value);
  if (f == Format::kDebeziumJson) return v["payload"]["source"]["tombsync_pos"].get<std::string>();
  return v["__pos"].get<std::string>();
}

// Decimal strings of up to 29 digits compare as numbers by length, then text.
bool less(const std::string& a, const std::string& b) { return a.size() != b.size() ? a.size() < b.size() : a < b; }

}  // namespace

TEST_CASE("position: strictly increasing per key across snapshot reads, stream changes and tombsync's deletes",
          "[stream][position]") {
  auto users = test::make_table("public", "users", {{"id", ColumnType::kInt32, "int4", true}, {"name", ColumnType::kText, "text"}});
  auto ev = [&](Op op, int id, Lsn lsn, Lsn commit, const char* name = "n") {
    ChangeEvent e = test::make_event(op, users, {test::int_value(id), test::text_value(name)});
    e.source.lsn = lsn;
    e.source.commit_lsn = commit;
    if (op == Op::kDelete) {
      e.is_deleted = true;
      e.deleted_at_us = e.source.commit_ts_us;
    }
    return e;
  };
  auto origin = [](ChangeEvent e, DeleteOrigin o) {
    e.origin = o;
    return e;
  };
  const Lsn wm(0x192F700), wm_msg(0x192F6C0), late(0x192F970), late_change(0x192F538);
  const std::vector<Txn> txns = {
      {Lsn(0x1000), {ev(Op::kInsert, 1, Lsn(0xF00), Lsn(0x1000)), ev(Op::kInsert, 2, Lsn(0xF10), Lsn(0x1000))}},
      // The high watermark's transaction: the chunk's reads carry its commit and the message's LSN.
      {wm, {ev(Op::kRead, 1, wm_msg, wm), ev(Op::kRead, 2, wm_msg, wm), ev(Op::kRead, 3, wm_msg, wm, "user3")}},
      // Began before the watermark, committed after it.
      {late, {ev(Op::kUpdate, 3, late_change, late, "updated-during-snapshot")}},
      {Lsn(0x2000000), {ev(Op::kDelete, 1, Lsn(0x1FFFF00), Lsn(0x2000000)),
                        origin(ev(Op::kDelete, 2, Lsn(0x1FFFF10), Lsn(0x2000000)), DeleteOrigin::kTruncate)}},
      {Lsn(0x3000000), {origin(ev(Op::kDelete, 3, Lsn(0x2FFFF00), Lsn(0x3000000)), DeleteOrigin::kInferred)}},
  };
  for (Format f : {Format::kJson, Format::kProtobuf, Format::kDebeziumJson}) {
    INFO(to_string(f));
    const Config config = parse_config("source:\n  dsn: \"host=db dbname=app user=tombsync\"\n  tables: [public.users]\n"
                                       "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\nstate_dir: /tmp/x\n",
                                       "test");
    auto encoder = make_encoder(f, EncoderContext{"app", "shop", "t", [] { return int64_t{0}; }});
    RecordBuilder builder(config, *encoder, "7301/app/tombsync");
    std::map<std::string, std::string> last;  // key -> last position seen
    std::map<std::string, std::string> last_lsn;
    size_t checked = 0, lsn_went_back = 0;
    for (const auto& t : txns) {
      for (const Record& r : build(builder, t)) {
        const std::string pos = pos_of(f, r);
        if (pos.empty()) continue;  // a tombstone: its position is in its headers only
        CHECK(pos == stream_position(t.commit, static_cast<uint32_t>(std::stoul(header(r, "tombsync.seq")))));
        const std::string& k = *r.key;
        if (last.count(k)) {
          CHECK(less(last[k], pos));
          ++checked;
          if (Lsn::parse(header(r, "tombsync.lsn"))->value() < Lsn::parse(last_lsn[k])->value()) ++lsn_went_back;
        }
        last[k] = pos;
        last_lsn[k] = header(r, "tombsync.lsn");
      }
    }
    CHECK(checked == 6);        // keys 1, 2, 3: two each after their first record
    CHECK(lsn_went_back == 1);  // the update of 3: its change LSN is below the read's
    // A restart streams the late transaction again: the same positions.
    RecordBuilder again(config, *encoder, "7301/app/tombsync");
    const auto first = build(builder, txns[2]);
    const auto replay = build(again, txns[2]);
    REQUIRE(first.size() == replay.size());
    for (size_t i = 0; i < first.size(); ++i) CHECK(pos_of(f, first[i]) == pos_of(f, replay[i]));
  }
}

}  // namespace tombsync
