#include "redelivery_filter.h"

#include <algorithm>

namespace tombsync {
namespace {

template <class Headers>
std::optional<StreamPosition> parse(const Headers& headers) {
  const std::string *commit = nullptr, *lsn = nullptr, *op = nullptr;
  for (const auto& [k, v] : headers) {
    if (k == "tombsync.commit_lsn") commit = &v;
    else if (k == "tombsync.lsn") lsn = &v;
    else if (k == "tombsync.op") op = &v;
  }
  if (!commit || !lsn || !op) return std::nullopt;
  auto c = Lsn::parse(*commit);
  auto l = Lsn::parse(*lsn);
  if (!c || !l) return std::nullopt;
  int rank = *op == "delete" ? 0 : *op == "tombstone" ? 1 : 2;
  return StreamPosition{*c, *l, rank};
}

}  // namespace

std::optional<StreamPosition> position_from_headers(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  return parse(headers);
}

std::optional<StreamPosition> position_from_headers(const std::map<std::string, std::string>& headers) {
  return parse(headers);
}

void RedeliveryFilter::add_tail(const std::string& topic, int partition, StreamPosition last) {
  tails_[{topic, partition}] = last;
  last_commit_ = std::max(last_commit_, last.commit_lsn);
}

bool RedeliveryFilter::already_written(const std::string& topic, int partition, const StreamPosition& pos) const {
  auto it = tails_.find({topic, partition});
  return it != tails_.end() && pos <= it->second;
}

void RedeliveryFilter::observe_commit(Lsn commit_lsn) {
  if (commit_lsn > last_commit_) tails_.clear();
}

}  // namespace tombsync
