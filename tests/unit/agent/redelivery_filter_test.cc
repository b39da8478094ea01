#include <catch2/catch.hpp>

#include "redelivery_filter.h"

using namespace tombsync;

namespace {
std::vector<std::pair<std::string, std::string>> headers(const char* commit, const char* lsn, const char* op) {
  return {{"tombsync.op", op}, {"tombsync.lsn", lsn}, {"tombsync.commit_lsn", commit}, {"tombsync.table", "t"}};
}
}  // namespace

TEST_CASE("stream positions order by commit, then change LSN, then delete before tombstone before upsert",
          "[redelivery]") {
  auto del = position_from_headers(headers("0/200", "0/150", "delete")).value();
  auto tomb = position_from_headers(headers("0/200", "0/150", "tombstone")).value();
  auto upd = position_from_headers(headers("0/200", "0/150", "update")).value();
  auto later_txn_earlier_change = position_from_headers(headers("0/300", "0/100", "insert")).value();
  CHECK(del < tomb);
  CHECK(tomb < upd);
  CHECK(upd < later_txn_earlier_change);
}

TEST_CASE("records from other producers have no position", "[redelivery]") {
  CHECK_FALSE(position_from_headers(std::vector<std::pair<std::string, std::string>>{}).has_value());
  CHECK_FALSE(position_from_headers(headers("zz", "0/1", "insert")).has_value());
}

TEST_CASE("a record at or below its partition's tail is already written; others are not", "[redelivery]") {
  RedeliveryFilter f;
  f.add_tail("app.public.users", 1, StreamPosition{Lsn(0x200), Lsn(0x150), 1});
  CHECK(f.active());
  CHECK(f.already_written("app.public.users", 1, StreamPosition{Lsn(0x200), Lsn(0x150), 0}));
  CHECK(f.already_written("app.public.users", 1, StreamPosition{Lsn(0x200), Lsn(0x150), 1}));
  CHECK_FALSE(f.already_written("app.public.users", 1, StreamPosition{Lsn(0x200), Lsn(0x150), 2}));
  CHECK_FALSE(f.already_written("app.public.users", 0, StreamPosition{Lsn(0x100), Lsn(0x50), 2}));
  CHECK_FALSE(f.already_written("app.public.orders", 1, StreamPosition{Lsn(0x100), Lsn(0x50), 2}));
}

TEST_CASE("the filter switches off once the stream passes every tail", "[redelivery]") {
  RedeliveryFilter f;
  f.add_tail("a", 0, StreamPosition{Lsn(0x200), Lsn(0x150), 2});
  f.add_tail("b", 2, StreamPosition{Lsn(0x300), Lsn(0x250), 2});
  f.observe_commit(Lsn(0x300));
  CHECK(f.active());
  f.observe_commit(Lsn(0x301));
  CHECK_FALSE(f.active());
}
