#include <catch2/catch.hpp>

#include "agent/stream/redelivery_filter.h"

using namespace tombsync;

namespace {
const std::string kSource = "7311/app/tombsync";
std::map<std::string, std::string> headers(const char* commit, const char* seq, const std::string& source = kSource) {
  return {{"tombsync.op", "insert"}, {"tombsync.lsn", "0/1"}, {"tombsync.commit_lsn", commit},
          {"tombsync.seq", seq}, {"tombsync.source", source}};
}
}  // namespace

TEST_CASE("stream positions order by commit LSN, then by ordinal within the transaction", "[redelivery]") {
  auto a = position_from_headers(headers("0/200", "0"), kSource).value();
  auto b = position_from_headers(headers("0/200", "1"), kSource).value();
  auto c = position_from_headers(headers("0/300", "0"), kSource).value();
  CHECK(a < b);
  CHECK(b < c);
}

TEST_CASE("records another source or slot wrote, or without tombsync headers, have no position", "[redelivery]") {
  CHECK_FALSE(position_from_headers({}, kSource).has_value());
  CHECK_FALSE(position_from_headers(headers("0/200", "1", "9999/app/tombsync"), kSource).has_value());
  CHECK_FALSE(position_from_headers(headers("zz", "1"), kSource).has_value());
  CHECK_FALSE(position_from_headers(headers("0/200", "1x"), kSource).has_value());
}

TEST_CASE("a record at or below its partition's tail is already written; others are not", "[redelivery]") {
  RedeliveryFilter f;
  f.add_tail("app.public.users", KafkaPartition(1), StreamPosition{Lsn(0x200), 5});
  CHECK(f.active());
  CHECK(f.already_written("app.public.users", KafkaPartition(1), StreamPosition{Lsn(0x200), 4}));
  CHECK(f.already_written("app.public.users", KafkaPartition(1), StreamPosition{Lsn(0x200), 5}));
  CHECK_FALSE(f.already_written("app.public.users", KafkaPartition(1), StreamPosition{Lsn(0x200), 6}));
  CHECK(f.already_written("app.public.users", KafkaPartition(1), StreamPosition{Lsn(0x100), 90}));
  CHECK_FALSE(f.already_written("app.public.users", KafkaPartition(0), StreamPosition{Lsn(0x100), 0}));
  CHECK_FALSE(f.already_written("app.public.orders", KafkaPartition(1), StreamPosition{Lsn(0x100), 0}));
}

TEST_CASE("the filter switches off once the stream passes every tail", "[redelivery]") {
  RedeliveryFilter f;
  f.add_tail("a", KafkaPartition(0), StreamPosition{Lsn(0x200), 0});
  f.add_tail("b", KafkaPartition(2), StreamPosition{Lsn(0x300), 7});
  f.observe_commit(Lsn(0x300));
  CHECK(f.active());
  f.observe_commit(Lsn(0x301));
  CHECK_FALSE(f.active());
}
