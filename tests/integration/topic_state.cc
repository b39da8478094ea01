#include "tests/integration/topic_state.h"

#include <catch2/catch.hpp>
#include <memory>
#include <thread>

namespace tombsync::it {

Materialized materialize(const std::vector<KafkaRecord>& records) {
  Materialized m;
  // A made delete is one delete event and its tombstone (deletes: both), or either alone: each
  // counts once. Keys whose marked delete event waits for its tombstone:
  std::map<std::string, bool> awaiting_tombstone;
  for (const auto& r : records) {
    if (!r.key) continue;  // a truncate event, or a keyless table's record
    const std::string& k = *r.key;
    for (auto [header, counts] : {std::pair{"tombsync.truncate", &m.truncated}, {"tombsync.inferred", &m.inferred}}) {
      if (!r.headers.count(header)) continue;
      if (r.value) {
        ++(*counts)[k];
        awaiting_tombstone[k] = true;
      } else if (!awaiting_tombstone.erase(k)) {
        ++(*counts)[k];  // a tombstone alone (deletes: tombstone)
      }
    }
    if (!r.value) {
      m.live.erase(k);
      continue;
    }
    nlohmann::json v = r.json();
    if (v["__op"] == "read") ++m.reads[k];
    if (v.value("is_deleted", false)) {
      m.live.erase(k);
      m.deleted[k] = std::move(v);
    } else {
      m.live[k] = std::move(v);
      m.deleted.erase(k);
    }
  }
  return m;
}

void create_compacted_topic(const std::string& topic, int partitions) {
  create_topic_with(topic, partitions,
                    {{"cleanup.policy", "compact"},
                     {"segment.ms", "200"},                   // a record after 200 ms rolls the segment
                     {"min.cleanable.dirty.ratio", "0.001"},  // clean as soon as anything is dirty
                     {"min.compaction.lag.ms", "0"},
                     {"delete.retention.ms", "0"}});          // tombstones go at the next pass
}

std::vector<KafkaRecord> read_once_compacted(const std::string& topic,
                                             const std::function<bool(const std::vector<KafkaRecord>&)>& done,
                                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t last = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto records = read_topic(topic, 0, std::chrono::seconds(30));
    if (done(records)) return records;
    last = records.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  }
  FAIL("topic " << topic << " was not compacted as expected within " << timeout.count() << " ms; the last read held "
                << last << " records");
  return {};
}

}  // namespace tombsync::it
