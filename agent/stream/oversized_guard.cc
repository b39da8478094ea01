#include "agent/stream/oversized_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "connectors/kafka/kafka_properties.h"

namespace tombsync {
namespace {

// librdkafka adds at most ~60 bytes of record framing and a few bytes per
// header; these margins are above both.
constexpr size_t kFraming = 256;
constexpr size_t kPerHeader = 16;
// Room kept for the tombsync.oversized header once something is cut.
constexpr size_t kHeaderRoom = 512;
constexpr const char* kHeader = "tombsync.oversized";

struct Cut {
  size_t column;
  size_t original;  // bytes of the value as it came
  size_t kept;      // bytes left (0 and skipped: written as null)
  bool skipped;
};

// No encoder writes a value in fewer bytes than its text: a lower bound of the value's size.
size_t values_lower_bound(const ChangeEvent& e) {
  size_t n = 0;
  for (const auto& d : e.row)
    if (d.state == Datum::State::kPresent) n += d.text.size();
  return n;
}

bool cuttable(const ColumnSpec& c, const Datum& d, OversizedPolicy policy) {
  if (c.key || d.state != Datum::State::kPresent || d.text.empty()) return false;
  return policy == OversizedPolicy::kSkipColumn || c.type == ColumnType::kText || c.type == ColumnType::kBytea;
}

// The column with the largest value the policy may cut.
std::optional<size_t> largest(const ChangeEvent& e, OversizedPolicy policy) {
  std::optional<size_t> best;
  for (size_t i = 0; i < e.row.size(); ++i) {
    if (!cuttable(e.table->columns[i], e.row[i], policy)) continue;
    if (!best || e.row[i].text.size() > e.row[*best].text.size()) best = i;
  }
  return best;
}

// The largest value of any kind: what the error names.
std::string largest_value(const ChangeEvent& e) {
  size_t best = e.row.size();
  for (size_t i = 0; i < e.row.size(); ++i)
    if (e.row[i].state == Datum::State::kPresent && (best == e.row.size() || e.row[i].text.size() > e.row[best].text.size()))
      best = i;
  if (best == e.row.size()) return "no column value";
  return fmt::format("column {}, {} bytes", e.table->columns[best].name, e.row[best].text.size());
}

// `n` moved back to the start of a UTF-8 character of `s` (text values are UTF-8).
size_t utf8_floor(const std::string& s, size_t n) {
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string shown_key(const Record& rec) {
  if (!rec.key) return "none";
  if (rec.key->size() <= 200) return *rec.key;
  return rec.key->substr(0, 200) + "...";
}

Error too_large(const ChangeEvent& e, const Record& rec, size_t size, bool at_least, size_t max,
                const std::string& why) {
  return Error(ErrorKind::kSink,
               fmt::format("the record is {}{} bytes (key {}; largest value: {}), over the producer's "
                           "message.max.bytes ({}){}; {}",
                           at_least ? "at least " : "", size, shown_key(rec), largest_value(e), max, why,
                           kMessageSizeHint));
}

// Applies one cut to the largest cuttable value of `e`, `excess` bytes over the limit.
void cut_one(ChangeEvent& e, size_t column, OversizedPolicy policy, size_t excess, std::vector<Cut>& cuts) {
  Datum& d = e.row[column];
  auto it = std::find_if(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.column == column; });
  if (it == cuts.end()) it = cuts.insert(cuts.end(), Cut{column, d.text.size(), d.text.size(), false});
  if (policy == OversizedPolicy::kSkipColumn) {
    d = Datum::null();
    it->kept = 0;
    it->skipped = true;
    return;
  }
  // Encoded values are at least as long as their text, so cutting the excess (and 1 % more for
  // escapes) usually fits in one round; the caller measures again and cuts again if not.
  const size_t target = d.text.size() > excess ? d.text.size() - excess : 0;
  const size_t slack = 64 + target / 100;
  size_t keep = target > slack ? target - slack : 0;
  if (e.table->columns[column].type == ColumnType::kText) keep = utf8_floor(d.text, keep);
  d.text.resize(keep);
  d.text.shrink_to_fit();
  it->kept = keep;
}

void report(const ChangeEvent& e, OversizedPolicy policy, Record& rec, Metrics::Table* counters, size_t size,
            bool at_least, size_t max, const std::vector<Cut>& cuts) {
  std::string what;
  for (const auto& c : cuts) {
    if (!what.empty()) what += ", ";
    const std::string& name = e.table->columns[c.column].name;
    what += c.skipped ? fmt::format("{} ({} bytes) as null", name, c.original)
                      : fmt::format("{} from {} to {} bytes", name, c.original, c.kept);
  }
  rec.headers.emplace_back(kHeader, std::string(to_string(policy)) + ": " + what.substr(0, kHeaderRoom - 64));
  if (counters) counters->oversized_columns[policy == OversizedPolicy::kSkipColumn ? 1 : 0] += cuts.size();
  log::warn("oversized record of {} at LSN {} (key {}): {}{} bytes, over message.max.bytes {}; {} {}",
            e.table->qualified(), e.source.lsn.str(), shown_key(rec), at_least ? "at least " : "", size, max,
            to_string(policy), what);
}

}  // namespace

size_t record_wire_bytes(const Record& r, size_t value_bytes) {
  size_t n = kFraming + value_bytes + (r.key ? r.key->size() : 0);
  for (const auto& [name, value] : r.headers) n += name.size() + value.size() + kPerHeader;
  return n;
}

std::string OversizedGuard::value(const ChangeEvent& event, OversizedPolicy policy, Record& rec,
                                  Metrics::Table* counters) const {
  const size_t fixed = record_wire_bytes(rec, 0);
  const size_t lower = values_lower_bound(event);
  if (fixed + lower > max_) return cut(event, policy, rec, counters, fixed + lower, true);
  std::string v = encoder_.value(event);
  if (fixed + v.size() <= max_) return v;
  return cut(event, policy, rec, counters, fixed + v.size(), false);
}

std::string OversizedGuard::cut(const ChangeEvent& event, OversizedPolicy policy, Record& rec,
                                Metrics::Table* counters, size_t size, bool at_least) const {
  if (policy == OversizedPolicy::kFail) throw too_large(event, rec, size, at_least, max_, "");
  ChangeEvent copy = event;  // only oversized records pay for it
  const size_t fixed = record_wire_bytes(rec, 0) + kHeaderRoom;
  std::vector<Cut> cuts;
  size_t estimate = size + kHeaderRoom;
  // Each round cuts one value by at least the excess; a value is cut at most a few times.
  for (size_t round = 0; round < 4 * copy.row.size() + 8; ++round) {
    const auto column = largest(copy, policy);
    if (!column) break;
    cut_one(copy, *column, policy, estimate - max_, cuts);
    estimate = fixed + values_lower_bound(copy);
    if (estimate > max_) continue;
    std::string v = encoder_.value(copy);
    estimate = fixed + v.size();
    if (estimate <= max_) {
      report(event, policy, rec, counters, size, at_least, max_, cuts);
      return v;
    }
  }
  throw too_large(event, rec, size, at_least, max_,
                  fmt::format(", and still {} bytes after oversized: {} cut every value it may", estimate,
                              to_string(policy)));
}

}  // namespace tombsync
