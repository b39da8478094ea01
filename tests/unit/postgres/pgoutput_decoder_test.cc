// pgoutput v1 decoder: fixtures are built by hand from the message formats in
// https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.h"
#include "base/lsn.h"
#include "connectors/postgres/pgoutput_decoder.h"

namespace tombsync::pg {
namespace {

using Catch::Matchers::Contains;

// Appends protocol fields big-endian, as the walsender writes them.
class Bytes {
 public:
  Bytes& u8(uint8_t v) {
    buf_.push_back(v);
    return *this;
  }
  Bytes& ch(char c) { return u8(static_cast<uint8_t>(c)); }
  Bytes& i16(int16_t v) { return be(static_cast<uint16_t>(v), 2); }
  Bytes& i32(int32_t v) { return be(static_cast<uint32_t>(v), 4); }
  Bytes& u32(uint32_t v) { return be(v, 4); }
  Bytes& i64(int64_t v) { return be(static_cast<uint64_t>(v), 8); }
  Bytes& raw(std::string_view s) {
    buf_.insert(buf_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& str(std::string_view s) { return raw(s).u8(0); }  // String: NUL-terminated
  // TupleData columns.
  Bytes& null_col() { return ch('n'); }
  Bytes& toast_col() { return ch('u'); }
  Bytes& text_col(std::string_view s) {
    return ch('t').i32(static_cast<int32_t>(s.size())).raw(s);
  }
  Bytes& binary_col(std::string_view s) {
    return ch('b').i32(static_cast<int32_t>(s.size())).raw(s);
  }

  std::span<const uint8_t> span() const { return buf_; }
  std::span<const uint8_t> prefix(size_t n) const { return span().first(n); }
  size_t size() const { return buf_.size(); }

 private:
  Bytes& be(uint64_t v, int n) {
    for (int shift = 8 * (n - 1); shift >= 0; shift -= 8) {
      buf_.push_back(static_cast<uint8_t>(v >> shift));
    }
    return *this;
  }
  std::vector<uint8_t> buf_;
};

// The frame's start LSN every test decodes at, and how errors print it.
const Lsn kAt(0x16B3748);
const std::string kAtText = "at LSN 0/16B3748";

template <class T>
T decode_as(const Bytes& b) {
  PgOutputMessage m = decode_pgoutput(b.span(), kAt);
  REQUIRE(std::holds_alternative<T>(m));
  return std::get<T>(m);
}

// The message of the protocol error decoding `payload` must throw.
std::string protocol_error(std::span<const uint8_t> payload) {
  try {
    decode_pgoutput(payload, kAt);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kProtocol);
    return e.what();
  }
  FAIL("decoded a malformed message without error");
  return {};
}

std::string protocol_error(const Bytes& b) { return protocol_error(b.span()); }

// Valid fixtures reused by the failure scenarios.
Bytes insert_fixture() {
  return Bytes().ch('I').u32(16384).ch('N').i16(5)
      .text_col("42").null_col().toast_col().text_col("").binary_col(std::string("\x00\xFF", 2));
}

Bytes relation_fixture() {
  return Bytes().ch('R').u32(16384).str("public").str("orders").ch('d').i16(2)
      .u8(1).str("id").u32(20).i32(-1)
      .u8(0).str("note").u32(1043).i32(68);
}

}  // namespace

// ---- one scenario per message type ---------------------------------------

TEST_CASE("begin decodes final LSN, commit timestamp and xid", "[pgoutput]") {
  auto m = decode_as<BeginMsg>(Bytes().ch('B').i64(0x16'B374D848).i64(722'000'000'123'456)
                                   .u32(0xFFFFFFF0));
  CHECK(m.final_lsn == Lsn(0x16'B374D848));
  CHECK(m.commit_ts.value() == 722'000'000'123'456);
  CHECK(m.xid == 0xFFFFFFF0u);
}

TEST_CASE("commit decodes flags, commit LSN, end LSN and timestamp", "[pgoutput]") {
  auto m = decode_as<CommitMsg>(Bytes().ch('C').u8(0).i64(0x100).i64(0x130).i64(-5));
  CHECK(m.flags == 0);
  CHECK(m.commit_lsn == Lsn(0x100));
  CHECK(m.end_lsn == Lsn(0x130));
  CHECK(m.commit_ts.value() == -5);
}

TEST_CASE("origin decodes commit LSN and origin name", "[pgoutput]") {
  auto m = decode_as<OriginMsg>(Bytes().ch('O').i64(0xABCDEF).str("pg_16390"));
  CHECK(m.commit_lsn == Lsn(0xABCDEF));
  CHECK(m.name == "pg_16390");
}

TEST_CASE("relation with type modifiers decodes columns, key flags and replica identity",
          "[pgoutput]") {
  auto m = decode_as<RelationMsg>(relation_fixture());
  CHECK(m.relid.value() == 16384u);
  CHECK(m.nspname == "public");
  CHECK(m.relname == "orders");
  CHECK(m.replica_identity == 'd');
  REQUIRE(m.columns.size() == 2);
  CHECK(m.columns[0].in_identity());
  CHECK(m.columns[0].name == "id");
  CHECK(m.columns[0].type_oid == 20u);
  CHECK(m.columns[0].type_mod == -1);
  CHECK_FALSE(m.columns[1].in_identity());
  CHECK(m.columns[1].name == "note");
  CHECK(m.columns[1].type_oid == 1043u);
  CHECK(m.columns[1].type_mod == 68);  // varchar(64): typmod is length + 4
}

TEST_CASE("relation of a zero-column table in pg_catalog decodes", "[pgoutput]") {
  auto m = decode_as<RelationMsg>(Bytes().ch('R').u32(7).str("").str("empty").ch('n').i16(0));
  CHECK(m.relid.value() == 7u);
  CHECK(m.nspname.empty());
  CHECK(m.relname == "empty");
  CHECK(m.replica_identity == 'n');
  CHECK(m.columns.empty());
}

TEST_CASE("relation accepts every replica identity setting", "[pgoutput]") {
  for (char identity : {'d', 'n', 'f', 'i'}) {
    auto m = decode_as<RelationMsg>(Bytes().ch('R').u32(1).str("s").str("t").ch(identity).i16(0));
    CHECK(m.replica_identity == identity);
  }
}

TEST_CASE("type message decodes OID, namespace and name", "[pgoutput]") {
  auto m = decode_as<TypeMsg>(Bytes().ch('Y').u32(16400).str("public").str("mood"));
  CHECK(m.oid == 16400u);
  CHECK(m.nspname == "public");
  CHECK(m.typname == "mood");
}

TEST_CASE("insert keeps null, unchanged TOAST, text, empty text and binary columns apart",
          "[pgoutput]") {
  auto m = decode_as<InsertMsg>(insert_fixture());
  CHECK(m.relid.value() == 16384u);
  REQUIRE(m.new_tuple.size() == 5);
  CHECK(m.new_tuple[0].kind == 't');
  CHECK(m.new_tuple[0].data == "42");
  CHECK(m.new_tuple[1].kind == 'n');
  CHECK(m.new_tuple[1].data.empty());
  CHECK(m.new_tuple[2].kind == 'u');
  CHECK(m.new_tuple[2].data.empty());
  CHECK(m.new_tuple[3].kind == 't');  // '' is a value, not NULL
  CHECK(m.new_tuple[3].data.empty());
  CHECK(m.new_tuple[4].kind == 'b');
  CHECK(m.new_tuple[4].data == std::string("\x00\xFF", 2));
}

TEST_CASE("insert of a zero-column row decodes", "[pgoutput]") {
  auto m = decode_as<InsertMsg>(Bytes().ch('I').u32(5).ch('N').i16(0));
  CHECK(m.relid.value() == 5u);
  CHECK(m.new_tuple.empty());
}

TEST_CASE("update with key-only old tuple decodes both tuples", "[pgoutput]") {
  auto m = decode_as<UpdateMsg>(Bytes().ch('U').u32(16384)
                                    .ch('K').i16(2).text_col("1").null_col()
                                    .ch('N').i16(2).text_col("2").toast_col());
  CHECK(m.relid.value() == 16384u);
  CHECK(m.old_kind == 'K');
  REQUIRE(m.old_tuple.size() == 2);
  CHECK(m.old_tuple[0].data == "1");
  CHECK(m.old_tuple[1].kind == 'n');
  REQUIRE(m.new_tuple.size() == 2);
  CHECK(m.new_tuple[0].data == "2");
  CHECK(m.new_tuple[1].kind == 'u');
}

TEST_CASE("update with full old tuple decodes both tuples", "[pgoutput]") {
  auto m = decode_as<UpdateMsg>(Bytes().ch('U').u32(9)
                                    .ch('O').i16(2).text_col("1").text_col("old")
                                    .ch('N').i16(2).text_col("1").text_col("new"));
  CHECK(m.old_kind == 'O');
  REQUIRE(m.old_tuple.size() == 2);
  CHECK(m.old_tuple[1].data == "old");
  REQUIRE(m.new_tuple.size() == 2);
  CHECK(m.new_tuple[1].data == "new");
}

TEST_CASE("update without old tuple decodes only the new tuple", "[pgoutput]") {
  auto m = decode_as<UpdateMsg>(Bytes().ch('U').u32(9).ch('N').i16(1).text_col("x"));
  CHECK(m.old_kind == 0);
  CHECK(m.old_tuple.empty());
  REQUIRE(m.new_tuple.size() == 1);
  CHECK(m.new_tuple[0].data == "x");
}

TEST_CASE("delete with key-only old tuple decodes the key", "[pgoutput]") {
  auto m = decode_as<DeleteMsg>(Bytes().ch('D').u32(16384).ch('K').i16(2).text_col("7")
                                    .null_col());
  CHECK(m.relid.value() == 16384u);
  CHECK(m.old_kind == 'K');
  REQUIRE(m.old_tuple.size() == 2);
  CHECK(m.old_tuple[0].data == "7");
  CHECK(m.old_tuple[1].kind == 'n');
}

TEST_CASE("delete with full old tuple decodes the whole row", "[pgoutput]") {
  auto m = decode_as<DeleteMsg>(Bytes().ch('D').u32(3).ch('O').i16(3).text_col("7")
                                    .text_col("x").binary_col("\x01"));
  CHECK(m.old_kind == 'O');
  REQUIRE(m.old_tuple.size() == 3);
  CHECK(m.old_tuple[1].data == "x");
  CHECK(m.old_tuple[2].kind == 'b');
  CHECK(m.old_tuple[2].data == "\x01");
}

TEST_CASE("truncate of three relations with CASCADE and RESTART IDENTITY decodes",
          "[pgoutput]") {
  auto m = decode_as<TruncateMsg>(Bytes().ch('T').i32(3).u8(1 | 2).u32(16384).u32(16390)
                                      .u32(0xFFFFFFFF));
  CHECK(m.options == 3);
  CHECK(m.relids == std::vector<RelationId>{RelationId(16384), RelationId(16390), RelationId(0xFFFFFFFF)});
}

TEST_CASE("truncate without options decodes", "[pgoutput]") {
  auto m = decode_as<TruncateMsg>(Bytes().ch('T').i32(1).u8(0).u32(16384));
  CHECK(m.options == 0);
  CHECK(m.relids == std::vector<RelationId>{RelationId(16384)});
}

TEST_CASE("transactional logical message decodes prefix and content", "[pgoutput]") {
  auto m = decode_as<LogicalMsg>(Bytes().ch('M').u8(1).i64(0x16B3700).str("tombsync")
                                     .i32(5).raw("hello"));
  CHECK(m.transactional);
  CHECK(m.lsn == Lsn(0x16B3700));
  CHECK(m.prefix == "tombsync");
  CHECK(m.content == "hello");
}

TEST_CASE("non-transactional logical message keeps binary content", "[pgoutput]") {
  const std::string content("a\0b", 3);
  auto m = decode_as<LogicalMsg>(Bytes().ch('M').u8(0).i64(1).str("p").i32(3).raw(content));
  CHECK_FALSE(m.transactional);
  CHECK(m.content == content);
}

TEST_CASE("logical message with empty content decodes", "[pgoutput]") {
  auto m = decode_as<LogicalMsg>(Bytes().ch('M').u8(0).i64(1).str("").i32(0));
  CHECK(m.prefix.empty());
  CHECK(m.content.empty());
}

// ---- failures: every one is Error(kProtocol) naming the LSN and the type --

TEST_CASE("insert truncated at any byte is a protocol error naming LSN and type",
          "[pgoutput][malformed]") {
  const Bytes full = insert_fixture();
  for (size_t n = 1; n < full.size(); ++n) {
    INFO("prefix of " << n << " of " << full.size() << " bytes");
    auto msg = protocol_error(full.prefix(n));
    CHECK_THAT(msg, Contains("malformed pgoutput message 'I' (Insert)") && Contains(kAtText));
  }
}

TEST_CASE("relation truncated at any byte is a protocol error naming LSN and type",
          "[pgoutput][malformed]") {
  const Bytes full = relation_fixture();
  for (size_t n = 1; n < full.size(); ++n) {
    INFO("prefix of " << n << " of " << full.size() << " bytes");
    auto msg = protocol_error(full.prefix(n));
    CHECK_THAT(msg, Contains("malformed pgoutput message 'R' (Relation)") && Contains(kAtText));
  }
}

TEST_CASE("every message type truncated at any byte is a protocol error", "[pgoutput][malformed]") {
  const std::vector<Bytes> fixtures = {
      Bytes().ch('B').i64(1).i64(2).u32(3),
      Bytes().ch('C').u8(0).i64(1).i64(2).i64(3),
      Bytes().ch('O').i64(1).str("o"),
      Bytes().ch('Y').u32(1).str("s").str("t"),
      Bytes().ch('U').u32(1).ch('K').i16(1).text_col("a").ch('N').i16(1).text_col("b"),
      Bytes().ch('D').u32(1).ch('O').i16(1).binary_col("a"),
      Bytes().ch('T').i32(2).u8(1).u32(1).u32(2),
      Bytes().ch('M').u8(1).i64(1).str("p").i32(2).raw("xy"),
  };
  for (const auto& full : fixtures) {
    REQUIRE_NOTHROW(decode_pgoutput(full.span(), kAt));
    for (size_t n = 1; n < full.size(); ++n) {
      INFO("type " << static_cast<char>(full.span()[0]) << ", prefix of " << n << " bytes");
      CHECK_THAT(protocol_error(full.prefix(n)), Contains(kAtText));
    }
  }
}

TEST_CASE("short read names the field and its offset", "[pgoutput][malformed]") {
  auto msg = protocol_error(Bytes().ch('B').i64(1).u8(0).u8(1));
  CHECK(msg == "malformed pgoutput message 'B' (Begin) at LSN 0/16B3748: "
               "commit timestamp (Int64) at offset 9: needs 8 bytes, 2 remain");
}

TEST_CASE("string without NUL terminator is a protocol error", "[pgoutput][malformed]") {
  auto msg = protocol_error(Bytes().ch('O').i64(1).raw("origin"));
  CHECK(msg == "malformed pgoutput message 'O' (Origin) at LSN 0/16B3748: "
               "origin name (String) at offset 9: no NUL terminator in the 6 remaining bytes");
}

TEST_CASE("empty payload is a protocol error naming the LSN", "[pgoutput][malformed]") {
  auto msg = protocol_error(std::span<const uint8_t>());
  CHECK(msg == "malformed pgoutput message at LSN 0/16B3748: empty payload");
}

TEST_CASE("unknown message type is refused, naming the byte as character and hex",
          "[pgoutput][malformed]") {
  CHECK(protocol_error(Bytes().ch('Z').u32(1)) ==
        "malformed pgoutput message 'Z' (0x5A) at LSN 0/16B3748: unknown message type");
  CHECK(protocol_error(Bytes().u8(0x01)) ==
        "malformed pgoutput message 0x01 at LSN 0/16B3748: unknown message type");
}

TEST_CASE("streaming and two-phase messages are refused as unexpected", "[pgoutput][malformed]") {
  auto msg = protocol_error(Bytes().ch('S').u32(700).u8(1));
  CHECK_THAT(msg, Contains("'S' (0x53, Stream Start)") && Contains(kAtText) &&
                      Contains("protocol version 1"));
  for (char type : {'E', 'c', 'A', 'b', 'P', 'K', 'r', 'p'}) {
    INFO("type " << type);
    CHECK_THAT(protocol_error(Bytes().ch(type).u32(1)),
               Contains("unexpected message type") && Contains(kAtText));
  }
}

TEST_CASE("unknown tuple column kind is a protocol error", "[pgoutput][malformed]") {
  auto msg = protocol_error(Bytes().ch('I').u32(1).ch('N').i16(2).text_col("a").ch('x'));
  CHECK(msg == "malformed pgoutput message 'I' (Insert) at LSN 0/16B3748: new tuple column 2 "
               "of 2: unknown column kind 'x' (0x78) (expected 'n', 'u', 't' or 'b')");
}

TEST_CASE("negative column value length is a protocol error", "[pgoutput][malformed]") {
  auto msg = protocol_error(Bytes().ch('D').u32(1).ch('K').i16(1).ch('t').i32(-1));
  CHECK(msg == "malformed pgoutput message 'D' (Delete) at LSN 0/16B3748: key tuple column 1 "
               "of 1: declared value length -1 is negative");
}

TEST_CASE("column length past the end names column, length and remaining bytes",
          "[pgoutput][malformed]") {
  auto b = Bytes().ch('U').u32(1).ch('N').i16(5).text_col("a").null_col()
               .ch('t').i32(120).raw(std::string(40, 'z'));
  auto msg = protocol_error(b);
  CHECK(msg == "malformed pgoutput message 'U' (Update) at LSN 0/16B3748: new tuple column 3 "
               "of 5: value at offset 20: declared length 120 exceeds the 40 remaining bytes");
}

TEST_CASE("trailing bytes after any message are a protocol error", "[pgoutput][malformed]") {
  const std::vector<Bytes> fixtures = {
      Bytes().ch('B').i64(1).i64(2).u32(3),
      Bytes().ch('C').u8(0).i64(1).i64(2).i64(3),
      Bytes().ch('O').i64(1).str("o"),
      relation_fixture(),
      Bytes().ch('Y').u32(1).str("s").str("t"),
      insert_fixture(),
      Bytes().ch('U').u32(1).ch('N').i16(1).text_col("b"),
      Bytes().ch('D').u32(1).ch('K').i16(1).text_col("a"),
      Bytes().ch('M').u8(0).i64(1).str("p").i32(1).raw("x"),
  };
  for (auto garbage : fixtures) {
    REQUIRE_NOTHROW(decode_pgoutput(garbage.span(), kAt));
    garbage.u8(0);
    INFO("type " << static_cast<char>(garbage.span()[0]));
    CHECK_THAT(protocol_error(garbage),
               Contains(kAtText) && Contains("trailing garbage at offset " +
                                             std::to_string(garbage.size() - 1) +
                                             ": 1 byte after the end of the message"));
  }
}

TEST_CASE("truncate whose relation count does not match its OIDs is a protocol error",
          "[pgoutput][malformed]") {
  CHECK(protocol_error(Bytes().ch('T').i32(3).u8(0).u32(1).u32(2)) ==
        "malformed pgoutput message 'T' (Truncate) at LSN 0/16B3748: relation count 3 needs 12 "
        "bytes of OIDs, but 8 bytes remain");
  CHECK_THAT(protocol_error(Bytes().ch('T').i32(1).u8(0).u32(1).u32(2)),
             Contains("relation count 1 needs 4 bytes of OIDs, but 8 bytes remain"));
  CHECK_THAT(protocol_error(Bytes().ch('T').i32(-1).u8(0)),
             Contains("'T' (Truncate)") && Contains("relation count -1 is negative"));
  // A count near INT32_MAX must be refused before anything is reserved.
  CHECK_THAT(protocol_error(Bytes().ch('T').i32(0x7FFFFFFF).u8(0).u32(1)),
             Contains("relation count 2147483647 needs 8589934588 bytes"));
}

TEST_CASE("truncate with unknown option bits is a protocol error", "[pgoutput][malformed]") {
  CHECK_THAT(protocol_error(Bytes().ch('T').i32(1).u8(4 | 1).u32(1)),
             Contains("'T' (Truncate)") && Contains(kAtText) &&
                 Contains("unknown option bits 0x04"));
}

TEST_CASE("negative tuple column count is a protocol error", "[pgoutput][malformed]") {
  CHECK(protocol_error(Bytes().ch('I').u32(1).ch('N').i16(-1)) ==
        "malformed pgoutput message 'I' (Insert) at LSN 0/16B3748: new tuple: column count -1 "
        "is negative");
}

TEST_CASE("tuple column count larger than the message is a protocol error",
          "[pgoutput][malformed]") {
  CHECK_THAT(protocol_error(Bytes().ch('I').u32(1).ch('N').i16(32767).null_col()),
             Contains("new tuple column 2 of 32767: column kind (Int8) at offset 9"));
}

TEST_CASE("wrong tuple markers are protocol errors", "[pgoutput][malformed]") {
  SECTION("insert needs 'N'") {
    CHECK_THAT(protocol_error(Bytes().ch('I').u32(1).ch('K').i16(0)),
               Contains("'I' (Insert)") && Contains("expected new tuple marker 'N', got 'K'"));
  }
  SECTION("update needs 'K', 'O' or 'N' first") {
    CHECK_THAT(protocol_error(Bytes().ch('U').u32(1).ch('X').i16(0)),
               Contains("'U' (Update)") &&
                   Contains("expected tuple marker 'K', 'O' or 'N', got 'X' (0x58)"));
  }
  SECTION("update needs 'N' after the old tuple") {
    CHECK_THAT(protocol_error(Bytes().ch('U').u32(1).ch('K').i16(0).ch('O').i16(0)),
               Contains("expected new tuple marker 'N', got 'O'"));
  }
  SECTION("update with an old tuple but no new tuple") {
    CHECK_THAT(protocol_error(Bytes().ch('U').u32(1).ch('O').i16(1).null_col()),
               Contains("new tuple marker (Int8) at offset 9: needs 1 byte, 0 remain"));
  }
  SECTION("delete needs 'K' or 'O'") {
    CHECK_THAT(protocol_error(Bytes().ch('D').u32(1).ch('N').i16(0)),
               Contains("'D' (Delete)") && Contains("expected tuple marker 'K' or 'O', got 'N'"));
  }
}

TEST_CASE("relation with unknown replica identity or column flags is a protocol error",
          "[pgoutput][malformed]") {
  CHECK_THAT(protocol_error(Bytes().ch('R').u32(1).str("s").str("t").ch('x').i16(0)),
             Contains("'R' (Relation)") && Contains(kAtText) &&
                 Contains("unknown replica identity 'x' (0x78)"));
  CHECK_THAT(protocol_error(Bytes().ch('R').u32(1).str("s").str("t").ch('f').i16(1)
                                .u8(2).str("c").u32(23).i32(-1)),
             Contains("column 1 of 1: unknown column flags 0x02"));
  CHECK_THAT(protocol_error(Bytes().ch('R').u32(1).str("s").str("t").ch('f').i16(-3)),
             Contains("column count -3 is negative"));
}

TEST_CASE("logical message with bad flags or content length is a protocol error",
          "[pgoutput][malformed]") {
  CHECK_THAT(protocol_error(Bytes().ch('M').u8(2).i64(1).str("p").i32(0)),
             Contains("'M' (Message)") && Contains(kAtText) && Contains("unknown flags 0x02"));
  CHECK_THAT(protocol_error(Bytes().ch('M').u8(0).i64(1).str("p").i32(-7)),
             Contains("declared content length -7 is negative"));
  CHECK_THAT(protocol_error(Bytes().ch('M').u8(0).i64(1).str("p").i32(10).raw("abc")),
             Contains("content at offset 16: declared length 10 exceeds the 3 remaining bytes"));
}

}  // namespace tombsync::pg
