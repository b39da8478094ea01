#include <catch2/catch.hpp>

#include "agent/stream/ack_tracker.h"

using namespace tombsync;

TEST_CASE("a transaction is confirmed only after its commit and every delivery", "[ack]") {
  AckTracker t(Lsn(100));
  t.on_begin(Lsn(200));
  t.on_sent(2);
  CHECK(t.on_delivered(Lsn(200)));
  CHECK(t.acked() == Lsn(100));
  t.on_commit(Lsn(200), Lsn(210));
  CHECK(t.acked() == Lsn(100));  // one message still unacknowledged
  CHECK(t.on_delivered(Lsn(200)));
  CHECK(t.acked() == Lsn(210));
  CHECK(t.idle());
}

TEST_CASE("a later transaction acknowledged first does not move the position past an earlier one", "[ack]") {
  AckTracker t(Lsn(0));
  t.on_begin(Lsn(10));
  t.on_sent(1);
  t.on_commit(Lsn(10), Lsn(15));
  t.on_begin(Lsn(20));
  t.on_sent(1);
  t.on_commit(Lsn(20), Lsn(25));
  CHECK(t.on_delivered(Lsn(20)));
  CHECK(t.acked() == Lsn(0));
  CHECK(t.on_delivered(Lsn(10)));
  CHECK(t.acked() == Lsn(25));
}

TEST_CASE("an empty transaction is confirmed at its commit", "[ack]") {
  AckTracker t(Lsn(0));
  t.on_begin(Lsn(10));
  t.on_commit(Lsn(10), Lsn(18));
  CHECK(t.acked() == Lsn(18));
}

TEST_CASE("keepalives move the position only when nothing is pending", "[ack]") {
  AckTracker t(Lsn(5));
  t.on_keepalive(Lsn(50));
  CHECK(t.acked() == Lsn(50));
  t.on_begin(Lsn(60));
  t.on_sent(1);
  t.on_keepalive(Lsn(90));
  CHECK(t.acked() == Lsn(50));
  t.on_commit(Lsn(60), Lsn(70));
  t.on_keepalive(Lsn(90));
  CHECK(t.acked() == Lsn(50));
  CHECK(t.on_delivered(Lsn(60)));
  CHECK(t.acked() == Lsn(70));
  t.on_keepalive(Lsn(40));  // never backwards
  CHECK(t.acked() == Lsn(70));
}

TEST_CASE("a delivery for an unknown transaction is reported, not counted", "[ack]") {
  AckTracker t(Lsn(0));
  CHECK_FALSE(t.on_delivered(Lsn(10)));
  t.on_begin(Lsn(10));
  t.on_sent(1);
  CHECK_FALSE(t.on_delivered(Lsn(11)));
  CHECK(t.in_flight_messages() == 1);
}

TEST_CASE("empty transactions behind one in flight fold into it instead of queueing", "[ack]") {
  AckTracker t(Lsn(0));
  t.on_begin(Lsn(10));
  t.on_sent(1);
  t.on_commit(Lsn(10), Lsn(15));
  for (uint64_t i = 0; i < 1000; ++i) {
    t.on_begin(Lsn(100 + 10 * i));
    t.on_commit(Lsn(100 + 10 * i), Lsn(105 + 10 * i));
  }
  CHECK(t.pending_transactions() == 1);
  CHECK(t.acked() == Lsn(0));
  CHECK(t.on_delivered(Lsn(10)));
  CHECK(t.acked() == Lsn(105 + 10 * 999));
}
