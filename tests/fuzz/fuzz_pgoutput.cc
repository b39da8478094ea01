// libFuzzer target: the decoding half of the pipeline, from the bytes Postgres sends to the
// records tombsync would hand to Kafka, in the order PgChangeSource and StreamLoop run it:
//   replication frame ('w' XLogData, 'k' keepalive; decode_server_frame)
//   -> pgoutput message (decode_pgoutput)
//   -> ChangeEvents (ChangeBuilder: the relation cache, typed rows, the change contract)
//   -> Kafka records (RecordBuilder: row rules, delete policy, headers, oversized guard)
//      with each encoder: JSON, protobuf, debezium-json.
//
// Input (tests/fuzz/frames.h): a sequence of frames, each a 2-byte big-endian length and that
// many bytes of one CopyData payload. Relation and Type messages come from the input, so the
// fuzzer builds the relation cache that later Insert/Update/Delete/Truncate messages need.
// The configured tables (kConfigYaml, kTables) are fixed; tests/fuzz/make-corpus gives the
// seed corpus the same relation OIDs.
//
// Outcomes: tombsync::Error is how the pipeline refuses bad input, and ends the session (a
// decoding error ends this input; an encoding error ends that encoder's session only), except
// Error(kInternal), which base/error.h defines as a broken invariant, a bug in tombsync: it
// aborts, as crashes, sanitizer reports, leaks and out-of-memory do. Each error message must be
// one line (the operator log prints it as one).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "agent/config/config.h"
#include "agent/stream/record_builder.h"
#include "base/error.h"
#include "connectors/postgres/change_builder.h"
#include "connectors/postgres/pgoutput_decoder.h"
#include "connectors/postgres/replication_frame.h"
#include "connectors/postgres/source_catalog.h"
#include "schemas/encoder.h"
#include "schemas/record.h"
#include "tests/fuzz/frames.h"

namespace tombsync {
namespace {

// Every table rule the record path has: the default policy, a per-table policy, key_columns,
// soft deletes with redaction (hash), a keyless table, and a cut of oversized values.
const char* const kConfigYaml = R"(source:
  dsn: "host=db dbname=app user=tombsync"
  tables:
    - public.types
    - name: public.full_rows
      soft_delete_column: deleted_at
      redact_on_delete: [secret]
      redact_mode: hash
      oversized: truncate_column
    - name: public.keyless
      allow_keyless: true
      deletes: flag
      snapshot: never
    - name: public.orders
      key_columns: [order_no]
      deletes: tombstone
kafka:
  brokers: kafka:9092
  topic_prefix: app
  properties:
    message.max.bytes: "12000"  # within reach of -max_len, so the oversized guard is fuzzed too
deletes: both
state_dir: /tmp/tombsync-fuzz
)";

// As the start-up checks would resolve them (connectors/postgres/source_catalog.h). OIDs
// 16384.. are the first user OIDs; make-corpus rewrites the captured ones to these.
std::vector<pg::ResolvedTable> resolved_tables() {
  return {
      {"public", "types", RelationId(16384), 'd', false, {"id"}, "primary key"},
      {"public", "full_rows", RelationId(16385), 'f', false, {"id"}, "primary key"},
      {"public", "keyless", RelationId(16386), 'f', false, {}, "none"},
      {"public", "orders", RelationId(16387), 'i', false, {"order_no"}, "key_columns"},
  };
}

// What SourceCatalog::builtin_type_names reads from pg_type, for the types the corpus uses.
std::unordered_map<uint32_t, std::string> builtin_types() {
  return {{16, "bool"},        {17, "bytea"},     {20, "int8"},        {21, "int2"},       {23, "int4"},
          {25, "text"},        {114, "json"},     {700, "float4"},     {701, "float8"},    {1007, "_int4"},
          {1009, "_text"},     {1043, "varchar"}, {1082, "date"},      {1083, "time"},     {1114, "timestamp"},
          {1184, "timestamptz"}, {1186, "interval"}, {1700, "numeric"}, {2950, "uuid"},   {3802, "jsonb"}};
}

struct Fixture {
  Config config = parse_config(kConfigYaml, "fuzz_pgoutput");
  std::vector<pg::ResolvedTable> tables = resolved_tables();
  std::unordered_map<uint32_t, std::string> types = builtin_types();
  std::vector<std::unique_ptr<Encoder>> encoders;
  Fixture() {
    EncoderContext context{"app", "app", "tombsync-fuzz", [] { return int64_t{1'714'557'600'000'000}; }};
    for (Format f : {Format::kJson, Format::kProtobuf, Format::kDebeziumJson})
      encoders.push_back(make_encoder(f, context));
  }
};

// A finding the sanitizers cannot see: abort, so libFuzzer keeps the input.
[[noreturn]] void finding(const char* what, const Error& e) {
  std::fprintf(stderr, "fuzz_pgoutput: %s: Error(%s): %s\n", what, to_string(e.kind()), e.what());
  std::abort();
}

// A message for the operator log must print as one line (base/error.h).
void check_one_line(const char* what, const std::string& message) {
  if (message.find_first_of("\n\r") != std::string::npos) {
    std::fprintf(stderr, "fuzz_pgoutput: %s is not one line: %s\n", what, message.c_str());
    std::abort();
  }
}

// An Error is an expected outcome unless it is a bug by its own definition (kInternal).
void check_error(const Error& e) {
  if (e.kind() == ErrorKind::kInternal) finding("an internal error is a bug in tombsync", e);
  check_one_line("error message", e.what());
}

// TOMBSYNC_FUZZ_TRACE=1: one line per input on stderr, with the records each format built and
// the error that ended it, to check that a seed reaches the encoders (tests/fuzz/make-corpus).
const bool kTrace = std::getenv("TOMBSYNC_FUZZ_TRACE") != nullptr;

// One session of each format over the input's frames. A decoding error ends them all, as it
// ends the session in the pipeline; an encoding error ends only its format's session.
void run(const Fixture& fx, std::span<const uint8_t> input) {
  pg::ChangeBuilder changes(fx.tables, fx.types);
  std::vector<std::unique_ptr<RecordBuilder>> sessions;
  for (const auto& encoder : fx.encoders)
    sessions.push_back(std::make_unique<RecordBuilder>(fx.config, *encoder, "7301234567890123456/app/tombsync"));
  std::vector<ChangeEvent> events;
  std::vector<Record> records;
  std::vector<size_t> built(sessions.size(), 0);
  std::string ended = "end of input";
  auto trace = [&] {
    if (!kTrace) return;
    std::fprintf(stderr, "fuzz_pgoutput: records json %zu, protobuf %zu, debezium-json %zu; %s\n", built[0],
                 built[1], built[2], ended.c_str());
  };
  fuzz::FrameReader frames(input);
  std::span<const uint8_t> frame;
  while (frames.next(frame)) {
    events.clear();
    pg::BuildStep step;
    try {
      pg::ServerFrame f = pg::decode_server_frame(frame);
      auto* x = std::get_if<pg::XLogData>(&f);
      if (x == nullptr) continue;  // a keepalive only moves the acknowledged position
      step = changes.apply(pg::decode_pgoutput(x->payload, x->wal_start), x->wal_start, events);
      if (step.notice) check_one_line("notice", *step.notice);
    } catch (const Error& e) {
      check_error(e);
      ended = e.what();
      break;
    }
    for (size_t i = 0; i < sessions.size(); ++i) {
      if (!sessions[i]) continue;
      try {
        if (step.begin) sessions[i]->begin_transaction();
        for (const ChangeEvent& e : events) {
          records.clear();
          sessions[i]->build(e, records);
          built[i] += records.size();
        }
      } catch (const Error& e) {
        check_error(e);
        if (kTrace) std::fprintf(stderr, "fuzz_pgoutput: session %zu ended: %s\n", i, e.what());
        sessions[i].reset();
      }
    }
  }
  trace();
}

}  // namespace
}  // namespace tombsync

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tombsync::Fixture* fixture = new tombsync::Fixture();  // never freed: not a leak per input
  tombsync::run(*fixture, std::span<const uint8_t>(data, size));
  return 0;
}
