#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "connectors/kafka/murmur2.h"

using tombsync::murmur2;
using tombsync::murmur2_partition;

namespace {
int32_t as_java_int(uint32_t h) { return static_cast<int32_t>(h); }
}  // namespace

// Expected values are what org.apache.kafka.common.utils.Utils.murmur2 returns (kafka-clients
// 3.9.1, run once by hand); the first six are the inputs of the Java client's own UtilsTest. They
// cover every tail length (0-3 bytes after the last full word) and multi-word inputs.
TEST_CASE("murmur2 returns the Java client's hash", "[kafka][murmur2]") {
  CHECK(as_java_int(murmur2("21")) == -973932308);
  CHECK(as_java_int(murmur2("foobar")) == -790332482);
  CHECK(as_java_int(murmur2("a-little-bit-long-string")) == -985981536);
  CHECK(as_java_int(murmur2("a-little-bit-longer-string")) == -1486304829);
  CHECK(as_java_int(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58897971);
  CHECK(as_java_int(murmur2("abc")) == 479470107);
  CHECK(as_java_int(murmur2("")) == 275646681);
  CHECK(as_java_int(murmur2("a")) == -1563381124);
  CHECK(as_java_int(murmur2("ab")) == 316155434);
  CHECK(murmur2("kafka") == 0xd067cf64u);
}

TEST_CASE("murmur2 reads bytes as unsigned, as Java's & 0xff does", "[kafka][murmur2]") {
  const std::string bytes{'\xff', '\x80', '\x00', '\xfe', '\x81'};
  CHECK(as_java_int(murmur2(bytes)) == 1700763136);
}

TEST_CASE("murmur2_partition drops the sign bit, as Utils.toPositive does", "[kafka][murmur2]") {
  // Java: Utils.toPositive(murmur2(key)) % partitions.
  CHECK(murmur2_partition("21", 3).value() == 0);
  CHECK(murmur2_partition("21", 7).value() == 3);
  CHECK(murmur2_partition("a-little-bit-long-string", 3).value() == 2);
  CHECK(murmur2_partition("a-little-bit-long-string", 7).value() == 1);
  CHECK(murmur2_partition("abc", 7).value() == 4);
  CHECK(murmur2_partition("a", 3).value() == 1);
  CHECK(murmur2_partition("kafka", 7).value() == 3);
  CHECK(murmur2_partition("anything", 1).value() == 0);
}
