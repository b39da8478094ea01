// Regression cases from the fuzz target (tests/fuzz/fuzz_pgoutput.cc, docs/testing.md
// "Fuzzing"): each input the fuzzer found, reduced to the frames that matter and written out as
// wire bytes, run through the same steps (decode_server_frame -> decode_pgoutput ->
// ChangeBuilder -> the encoders). Each case failed before its fix.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/error.h"
#include "connectors/postgres/change_builder.h"
#include "connectors/postgres/pgoutput_decoder.h"
#include "connectors/postgres/replication_frame.h"
#include "connectors/postgres/source_catalog.h"
#include "schemas/change.h"
#include "schemas/encoder.h"

namespace tombsync::pg {
namespace {

using Catch::Matchers::Contains;

// A pgoutput message or replication frame, written field by field in network order.
struct Wire {
  std::vector<uint8_t> bytes;
  Wire& u8(uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  Wire& i16(int16_t v) { return be(static_cast<uint16_t>(v), 2); }
  Wire& u32(uint32_t v) { return be(v, 4); }
  Wire& i64(int64_t v) { return be(static_cast<uint64_t>(v), 8); }
  Wire& str(const std::string& s) {  // the protocol's NUL-terminated String
    bytes.insert(bytes.end(), s.begin(), s.end());
    return u8(0);
  }
  Wire& value(const std::string& s) {  // a 't' column: kind, Int32 length, bytes
    u8('t').u32(static_cast<uint32_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  Wire& be(uint64_t v, int n) {
    for (int shift = 8 * (n - 1); shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(v >> shift));
    return *this;
  }
};

constexpr uint32_t kUsers = 16384;  // public.users (id int4 key, name text)
constexpr uint32_t kInt4 = 23, kText = 25;
constexpr uint64_t kCommitLsn = 0x16B3800;

// An XLogData frame carrying `message`, starting at `wal`.
std::vector<uint8_t> xlogdata(const Wire& message, uint64_t wal) {
  Wire w;
  w.u8('w').i64(static_cast<int64_t>(wal)).i64(static_cast<int64_t>(wal)).i64(768'000'000'000'000);
  w.bytes.insert(w.bytes.end(), message.bytes.begin(), message.bytes.end());
  return w.bytes;
}

Wire begin() { return Wire{}.u8('B').i64(kCommitLsn).i64(768'000'000'000'000).u32(731); }

// Relation for public.users under `relname`; the flags bytes say which columns are the
// replica identity (1), and `identity` is its kind.
Wire users_relation(const std::string& relname = "users", uint8_t id_flags = 1, uint8_t name_flags = 0,
                    char identity = 'd') {
  Wire m;
  m.u8('R').u32(kUsers).str("public").str(relname).u8(static_cast<uint8_t>(identity)).i16(2);
  m.u8(id_flags).str("id").u32(kInt4).u32(0xFFFFFFFF);
  m.u8(name_flags).str("name").u32(kText).u32(0xFFFFFFFF);
  return m;
}

// The frames through the pipeline's decoding steps and every encoder; the Error that stopped
// them, if any.
std::optional<Error> run(const std::vector<std::vector<uint8_t>>& frames) {
  ResolvedTable users{"public", "users", RelationId(kUsers), 'd', false, {"id"}, "primary key"};
  ChangeBuilder builder({users}, {{kInt4, "int4"}, {kText, "text"}});
  std::vector<std::unique_ptr<Encoder>> encoders;
  for (Format f : {Format::kJson, Format::kProtobuf, Format::kDebeziumJson})
    encoders.push_back(make_encoder(f, EncoderContext{"app", "app", "test", [] { return int64_t{0}; }}));
  try {
    for (const auto& bytes : frames) {
      auto frame = decode_server_frame(bytes);
      const auto& x = std::get<XLogData>(frame);
      std::vector<ChangeEvent> events;
      builder.apply(decode_pgoutput(x.payload, x.wal_start), x.wal_start, events);
      for (const auto& e : events)
        for (const auto& encoder : encoders) {
          if (e.op != Op::kTruncate && !e.table->key_indexes.empty()) (void)encoder->key(e);
          (void)encoder->value(e);
        }
    }
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

TEST_CASE("Fuzz: a relation name with a newline gives a one-line error (control characters escaped)",
          "[fuzz_regression]") {
  // Found as a Relation renaming configured table 16384 to "public.\xff\xff\xff\ns".
  auto err = run({xlogdata(begin(), 0x16B3700), xlogdata(users_relation("\xff\xff\xff\ns"), 0x16B3748)});
  REQUIRE(err);
  CHECK(err->kind() == ErrorKind::kSource);
  const std::string msg = err->what();
  CHECK(msg.find('\n') == std::string::npos);
  CHECK_THAT(msg, Contains("renamed to public.\xff\xff\xff\\ns"));
}

TEST_CASE("Fuzz: a key-only delete image without the key column is a source error naming it, not an "
          "internal encoder error", "[fuzz_regression]") {
  // Found on public.orders (key_columns [order_no]) with the Relation's flag for order_no
  // cleared: the replica identity no longer covers the configured key (as after ALTER TABLE ...
  // REPLICA IDENTITY USING INDEX on another index). The key-only image then has no key value,
  // which reached the encoders as Error(kInternal). Here: users keyed by id, identity on name.
  Wire del;
  del.u8('D').u32(kUsers).u8('K').i16(2).u8('n').value("ann");
  auto err = run({xlogdata(begin(), 0x16B3700), xlogdata(users_relation("users", 0, 1, 'i'), 0x16B3748),
                  xlogdata(del, 0x16B3790)});
  REQUIRE(err);
  CHECK(err->kind() == ErrorKind::kSource);
  CHECK_THAT(std::string(err->what()),
             Contains("the delete of public.users at LSN 0/16B3790 carries no value for key column \"id\"") &&
                 Contains("replica identity does not cover it"));
}

TEST_CASE("Fuzz: an unchanged-TOAST key column without an old key image is a protocol error, not an "
          "internal encoder error", "[fuzz_regression]") {
  // The other half of the same fix (ChangeBuilder::require_key): a key sent as 'u' with no old
  // key image to take it from. Postgres sends the old key whenever the key is stored out of line.
  Wire insert;
  insert.u8('I').u32(kUsers).u8('N').i16(2).u8('u').value("ann");
  auto err = run({xlogdata(begin(), 0x16B3700), xlogdata(users_relation(), 0x16B3748), xlogdata(insert, 0x16B3790)});
  REQUIRE(err);
  CHECK(err->kind() == ErrorKind::kProtocol);
  CHECK_THAT(std::string(err->what()), Contains("the insert of public.users at LSN 0/16B3790 carries no value for "
                                                "key column \"id\": it is an unchanged TOAST value"));
}

TEST_CASE("Fuzz regression inputs decode cleanly when the key is there", "[fuzz_regression]") {
  // The same frames with the key in the image: no error, so the cases above fail for their reason.
  Wire del;
  del.u8('D').u32(kUsers).u8('K').i16(2).value("7").u8('n');
  CHECK_FALSE(run({xlogdata(begin(), 0x16B3700), xlogdata(users_relation(), 0x16B3748), xlogdata(del, 0x16B3790)}));
}

}  // namespace
}  // namespace tombsync::pg
