// Throughput of the encoders on a typical 6-column row. Hidden: run with
//   unit_schemas "[bench]"
// in an optimized build. It prints events per second of this thread's CPU
// time (so a busy machine skews it less than wall time) and checks only that
// work was done.
#include <catch2/catch.hpp>

#include <time.h>

#include <cstdio>

#include "tests/unit/schemas/event_fixtures.h"
#include "schemas/json_encoder.h"
#include "schemas/protobuf_encoder.h"

using namespace tombsync;
using namespace tombsync::test;

namespace {

ChangeEvent bench_event() {
  auto t = make_table("public", "accounts",
                      {{"id", ColumnType::kInt64, "int8", true},
                       {"name", ColumnType::kText, "text"},
                       {"email", ColumnType::kText, "varchar"},
                       {"score", ColumnType::kFloat64, "float8"},
                       {"created_at", ColumnType::kTimestampTz, "timestamptz"},
                       {"active", ColumnType::kBool, "bool"}});
  return make_event(Op::kUpdate, t,
                    {int_value(123456789), text_value("Ann Example"),
                     text_value("ann.example@example.com"), float_value(98.25, "98.25"),
                     text_value("2024-05-01T10:00:00.123456Z"), bool_value(true)});
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

template <typename Fn>
void measure(const char* name, Fn&& fn) {
  constexpr int kEvents = 500'000;
  size_t bytes = 0;
  for (int i = 0; i < 10'000; ++i) bytes += fn();  // warm up
  bytes = 0;
  const double start = thread_cpu_seconds();
  for (int i = 0; i < kEvents; ++i) bytes += fn();
  const double secs = thread_cpu_seconds() - start;
  std::printf("%-22s %10.0f events/s  %6.0f ns/event  %5.1f bytes/event\n", name,
              kEvents / secs, secs * 1e9 / kEvents, static_cast<double>(bytes) / kEvents);
  CHECK(bytes > 0);
}

}  // namespace

TEST_CASE("Encoder throughput on a 6-column row", "[.][bench]") {
  ChangeEvent e = bench_event();
  JsonEncoder json;
  ProtobufEncoder proto;
  measure("json key+value", [&] {
    e.source.xid++;
    return json.key(e).size() + json.value(e).size();
  });
  measure("json value", [&] { return json.value(e).size(); });
  measure("protobuf key+value", [&] {
    e.source.xid++;
    return proto.key(e).size() + proto.value(e).size();
  });
  measure("protobuf value", [&] { return proto.value(e).size(); });
}
