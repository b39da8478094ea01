// Streaming replication frames: fixtures built by hand from
// https://www.postgresql.org/docs/15/protocol-replication.html
#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/error.h"
#include "base/lsn.h"
#include "connectors/postgres/pgoutput_decoder.h"
#include "connectors/postgres/replication_frame.h"

namespace tombsync::pg {
namespace {

using Catch::Matchers::Contains;

std::vector<uint8_t> frame(char type, std::vector<uint64_t> int64s, std::string tail = {}) {
  std::vector<uint8_t> out{static_cast<uint8_t>(type)};
  for (uint64_t v : int64s) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  }
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

std::string protocol_error(std::span<const uint8_t> bytes) {
  try {
    decode_server_frame(bytes);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kProtocol);
    return e.what();
  }
  FAIL("decoded a malformed frame without error");
  return {};
}

}  // namespace

TEST_CASE("xlogdata frame decodes positions and points at its payload", "[frame]") {
  // The payload is a Begin message: the frame and the pgoutput decoder compose.
  const std::string begin = std::string("B") + std::string(8, '\0') + std::string(8, '\0') +
                            std::string("\0\0\0\x2A", 4);
  const auto bytes = frame('w', {0x16'B374D848, 0x16'B3750000, 722'000'000'000'000}, begin);
  auto f = decode_server_frame(bytes);
  REQUIRE(std::holds_alternative<XLogData>(f));
  const auto& x = std::get<XLogData>(f);
  CHECK(x.wal_start == Lsn(0x16'B374D848));
  CHECK(x.wal_end == Lsn(0x16'B3750000));
  CHECK(x.send_time.value() == 722'000'000'000'000);
  CHECK(x.payload.data() == bytes.data() + 25);
  CHECK(x.payload.size() == begin.size());
  auto m = decode_pgoutput(x.payload, x.wal_start);
  REQUIRE(std::holds_alternative<BeginMsg>(m));
  CHECK(std::get<BeginMsg>(m).xid == 42u);
}

TEST_CASE("xlogdata frame with an empty payload decodes to an empty span", "[frame]") {
  auto f = decode_server_frame(frame('w', {1, 2, 3}));
  REQUIRE(std::holds_alternative<XLogData>(f));
  CHECK(std::get<XLogData>(f).payload.empty());
}

TEST_CASE("primary keepalive decodes walEnd, send time and reply request", "[frame]") {
  auto with_reply = decode_server_frame(frame('k', {0xA'00000010, 99}, std::string(1, '\1')));
  REQUIRE(std::holds_alternative<PrimaryKeepalive>(with_reply));
  CHECK(std::get<PrimaryKeepalive>(with_reply).wal_end == Lsn(0xA'00000010));
  CHECK(std::get<PrimaryKeepalive>(with_reply).send_time.value() == 99);
  CHECK(std::get<PrimaryKeepalive>(with_reply).reply_requested);

  auto without = decode_server_frame(frame('k', {5, 6}, std::string(1, '\0')));
  REQUIRE(std::holds_alternative<PrimaryKeepalive>(without));
  CHECK_FALSE(std::get<PrimaryKeepalive>(without).reply_requested);
}

TEST_CASE("xlogdata frame shorter than its 25-byte header is a protocol error", "[frame]") {
  const auto full = frame('w', {1, 2, 3});
  for (size_t n = 1; n < full.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK_THAT(protocol_error(std::span(full).first(n)),
               Contains("malformed replication frame 'w' (XLogData)"));
  }
  CHECK(protocol_error(std::span(full).first(20)) ==
        "malformed replication frame 'w' (XLogData): sendTime (Int64) at offset 17: needs 8 "
        "bytes, 3 remain");
}

TEST_CASE("keepalive shorter than 18 bytes or longer is a protocol error", "[frame]") {
  const auto full = frame('k', {1, 2}, std::string(1, '\0'));
  REQUIRE(full.size() == 18);
  for (size_t n = 1; n < full.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK_THAT(protocol_error(std::span(full).first(n)),
               Contains("malformed replication frame 'k' (primary keepalive)"));
  }
  CHECK(protocol_error(frame('k', {1, 2}, std::string("\0\0", 2))) ==
        "malformed replication frame 'k' (primary keepalive): trailing garbage at offset 18: 1 "
        "byte after the end of the keepalive");
  CHECK_THAT(protocol_error(frame('k', {1, 2}, std::string(1, '\7'))),
             Contains("replyRequested is 7, expected 0 or 1"));
}

TEST_CASE("unknown or empty frame is a protocol error naming the type byte", "[frame]") {
  CHECK(protocol_error(frame('r', {1, 2, 3})) ==
        "malformed replication frame 'r' (0x72): unknown frame type (expected 'w' XLogData or "
        "'k' primary keepalive)");
  CHECK_THAT(protocol_error(frame('\xff', {})), Contains("malformed replication frame 0xFF"));
  CHECK(protocol_error({}) == "malformed replication frame: empty CopyData message");
}

TEST_CASE("standby status update is 34 big-endian bytes", "[frame]") {
  const std::string got = encode_standby_status(Lsn(0x16'B374D848), Lsn(0x0102030405060708),
                                                Lsn(0), PgMicros{-2}, true);
  const std::string want("r"
                         "\x00\x00\x00\x16\xB3\x74\xD8\x48"   // written
                         "\x01\x02\x03\x04\x05\x06\x07\x08"   // flushed
                         "\x00\x00\x00\x00\x00\x00\x00\x00"   // applied
                         "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFE"   // clock, two's complement
                         "\x01",                              // reply requested
                         34);
  CHECK(got.size() == 34);
  CHECK(got == want);
}

TEST_CASE("standby status update without reply request ends in zero", "[frame]") {
  const std::string got = encode_standby_status(Lsn(1), Lsn(1), Lsn(1), PgMicros{0}, false);
  REQUIRE(got.size() == 34);
  CHECK(got.front() == 'r');
  CHECK(got.back() == '\0');
  CHECK(got.substr(1, 8) == std::string("\0\0\0\0\0\0\0\1", 8));
}

}  // namespace tombsync::pg
