#include "agent/stream/redelivery_filter.h"

#include <algorithm>
#include <charconv>

namespace tombsync {
std::optional<StreamPosition> position_from_headers(const std::map<std::string, std::string>& headers,
                                                    const std::string& source) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = headers.find(name);
    return it == headers.end() ? nullptr : &it->second;
  };
  auto* from = get("tombsync.source");
  auto* commit = get("tombsync.commit_lsn");
  auto* seq = get("tombsync.seq");
  if (!from || *from != source || !commit || !seq) return std::nullopt;
  auto c = Lsn::parse(*commit);
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(seq->data(), seq->data() + seq->size(), n);
  if (!c || ec != std::errc() || ptr != seq->data() + seq->size()) return std::nullopt;
  return StreamPosition{*c, n};
}

void RedeliveryFilter::add_tail(const std::string& topic, KafkaPartition partition, StreamPosition last) {
  tails_[{topic, partition}] = last;
  last_commit_ = std::max(last_commit_, last.commit_lsn);
}

bool RedeliveryFilter::already_written(const std::string& topic, KafkaPartition partition, const StreamPosition& pos) const {
  auto it = tails_.find({topic, partition});
  return it != tails_.end() && pos <= it->second;
}

void RedeliveryFilter::observe_commit(Lsn commit_lsn) {
  if (commit_lsn > last_commit_) tails_.clear();
}

}  // namespace tombsync
