// Keeps every record within the producer's message.max.bytes. A record
// librdkafka refuses would otherwise stop the stream at the same LSN on every
// restart, after the value had been copied several times on the way.
//
// The guard judges an event by the size of its values before encoding it, so a
// value that cannot fit is never encoded (nor copied) whole. What it does with
// a record that does not fit is the table's `oversized` policy
// (docs/configuration.md, "Oversized records"): stop with one line naming the
// record and the settings to raise (fail, the default); or cut the record's
// largest non-key values, largest first, until it fits: truncate text and
// bytea values (truncate_column), or write them as null (skip_column). Every
// cut is logged, counted in Metrics, and named in the record's
// tombsync.oversized header. Nothing is dropped silently.
//
// Called by RecordBuilder on the pipeline thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "schemas/change.h"
#include "schemas/encoder.h"
#include "schemas/record.h"

namespace tombsync {

// At least the bytes librdkafka counts against message.max.bytes for `r` with
// a value of `value_bytes`: key, value, header names and values, and framing.
size_t record_wire_bytes(const Record& r, size_t value_bytes);

class OversizedGuard {
 public:
  OversizedGuard(int64_t max_bytes, const Encoder& encoder) : max_(static_cast<size_t>(max_bytes)), encoder_(encoder) {}

  // The encoded value of `event` for `rec`, whose key and headers are already
  // set. When the record would be over the limit: kFail throws Error(kSink);
  // the other policies cut values and add the tombsync.oversized header to
  // `rec`, counting in `counters` (may be null); Error(kSink) when nothing is
  // left to cut and the record still does not fit.
  std::string value(const ChangeEvent& event, OversizedPolicy policy, Record& rec, Metrics::Table* counters) const;

  size_t max_bytes() const { return max_; }

 private:
  std::string cut(const ChangeEvent& event, OversizedPolicy policy, Record& rec, Metrics::Table* counters,
                  size_t size, bool at_least) const;

  size_t max_;
  const Encoder& encoder_;
};

}  // namespace tombsync
