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
constexpr size_t kHeaderBytes = kHeaderRoom - 64;  // the header's value, at most
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

// The column with the largest value the policy may still cut, by what `kept` leaves of each.
std::optional<size_t> largest(const ChangeEvent& e, OversizedPolicy policy, const std::vector<size_t>& kept) {
  std::optional<size_t> best;
  for (size_t i = 0; i < e.row.size(); ++i) {
    if (kept[i] == 0 || !cuttable(e.table->columns[i], e.row[i], policy)) continue;
    if (!best || kept[i] > kept[*best]) best = i;
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

// Plans a cut of `column` by `excess` bytes (skip_column: all of it) in `kept`, recording it in `cuts`.
void plan_cut(const ChangeEvent& e, size_t column, OversizedPolicy policy, size_t excess, std::vector<size_t>& kept,
              std::vector<Cut>& cuts) {
  const std::string& text = e.row[column].text;
  auto it = std::find_if(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.column == column; });
  if (it == cuts.end()) it = cuts.insert(cuts.end(), Cut{column, text.size(), text.size(), false});
  size_t keep = policy == OversizedPolicy::kSkipColumn || excess >= kept[column] ? 0 : kept[column] - excess;
  if (e.table->columns[column].type == ColumnType::kText) keep = utf8_floor(text, keep);
  kept[column] = keep;
  it->kept = keep;
  it->skipped = policy == OversizedPolicy::kSkipColumn;
}

// `e` with each cut value replaced by what `cuts` keeps of it (null when skipped). Only the
// kept prefixes are copied, never a whole value that was cut.
// The members with_cuts copies, in ChangeEvent's order: a member added to ChangeEvent most often
// changes its size (not always: a small one can fit in padding), and then this assertion asks for
// it to be copied below too.
struct ChangeEventMembers {
  Op op;
  std::shared_ptr<const TableSchema> table;
  std::vector<Datum> row;
  bool is_deleted;
  std::optional<UnixMicros> deleted_at_us;
  bool key_changed;
  SourcePosition source;
  DeleteOrigin origin;
};
static_assert(sizeof(ChangeEvent) == sizeof(ChangeEventMembers), "with_cuts must copy every member of ChangeEvent");

ChangeEvent with_cuts(const ChangeEvent& e, const std::vector<Cut>& cuts) {
  ChangeEvent out;  // every member of ChangeEvent but the row, then the row value by value
  out.op = e.op;
  out.table = e.table;
  out.is_deleted = e.is_deleted;
  out.deleted_at_us = e.deleted_at_us;
  out.key_changed = e.key_changed;
  out.source = e.source;
  out.origin = e.origin;
  out.row.reserve(e.row.size());
  for (size_t i = 0; i < e.row.size(); ++i) {
    auto c = std::find_if(cuts.begin(), cuts.end(), [&](const Cut& cut) { return cut.column == i; });
    if (c == cuts.end()) {
      out.row.push_back(e.row[i]);  // not cut: within the limit
    } else if (c->skipped) {
      out.row.push_back(Datum::null());
    } else {
      Datum d = Datum::of(e.row[i].state);
      d.text.assign(e.row[i].text, 0, c->kept);
      out.row.push_back(std::move(d));
    }
  }
  return out;
}

// The header's text: the cuts in order, each whole (so cut only between parts, on a UTF-8
// boundary), within kHeaderBytes; the parts that do not fit are counted: "..., +2 more".
// The log line lists every cut.
std::string header_text(OversizedPolicy policy, const std::vector<std::string>& parts) {
  std::string out = std::string(to_string(policy)) + ":";
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string sep = i == 0 ? " " : ", ";
    const size_t left = parts.size() - i - 1;
    const std::string more = left == 0 ? "" : fmt::format(", +{} more", left);
    if (out.size() + sep.size() + parts[i].size() + more.size() > kHeaderBytes) {
      return out + fmt::format("{}+{} more", sep, parts.size() - i);
    }
    out += sep + parts[i];
  }
  return out;
}

void report(const ChangeEvent& e, OversizedPolicy policy, Record& rec, Metrics::Table* counters, size_t size,
            bool at_least, size_t max, const std::vector<Cut>& cuts) {
  std::vector<std::string> parts;
  std::string what;
  for (const auto& c : cuts) {
    const std::string& name = e.table->columns[c.column].name;
    parts.push_back(c.skipped ? fmt::format("{} ({} bytes) as null", name, c.original)
                              : fmt::format("{} from {} to {} bytes", name, c.original, c.kept));
    what += (what.empty() ? "" : ", ") + parts.back();
  }
  rec.headers.emplace_back(kHeader, header_text(policy, parts));
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
  std::string v = encoder_.value(event, rec.seq);
  if (fixed + v.size() <= max_) return v;
  return cut(event, policy, rec, counters, fixed + v.size(), false);
}

// Cuts on sizes first, without encoding or copying: the largest cuttable value is cut by
// the excess of the values' lower bound, until that bound fits. Then the cut event is built
// (kept prefixes only) and encoded; while it is still too large (escapes, base64, field
// names), the largest value left is cut again: skip_column writes it as null, truncate_column
// binary-searches the longest prefix (on a character boundary for text) with which the
// encoded record fits, so escape-heavy text keeps as much as fits.
std::string OversizedGuard::cut(const ChangeEvent& event, OversizedPolicy policy, Record& rec,
                                Metrics::Table* counters, size_t size, bool at_least) const {
  if (policy == OversizedPolicy::kFail) throw too_large(event, rec, size, at_least, max_, "");
  const size_t fixed = record_wire_bytes(rec, 0) + kHeaderRoom;
  std::vector<size_t> kept(event.row.size());
  for (size_t i = 0; i < event.row.size(); ++i)
    kept[i] = event.row[i].state == Datum::State::kPresent ? event.row[i].text.size() : 0;
  std::vector<Cut> cuts;
  auto still_too_large = [&](size_t bytes) {
    return too_large(event, rec, size, at_least, max_,
                     fmt::format(", and still {} bytes after oversized: {} cut every value it may", bytes,
                                 to_string(policy)));
  };
  for (size_t lower = size + kHeaderRoom; lower > max_;) {
    const auto column = largest(event, policy, kept);
    if (!column) throw still_too_large(lower);
    plan_cut(event, *column, policy, lower - max_, kept, cuts);
    lower = fixed;
    for (size_t i = 0; i < kept.size(); ++i) lower += kept[i];
  }
  ChangeEvent e = with_cuts(event, cuts);
  for (;;) {
    std::string v = encoder_.value(e, rec.seq);
    if (fixed + v.size() <= max_) {
      report(event, policy, rec, counters, size, at_least, max_, cuts);
      return v;
    }
    const auto column = largest(event, policy, kept);
    if (!column) throw still_too_large(fixed + v.size());
    plan_cut(event, *column, policy, kept[*column], kept, cuts);  // to nothing, unless a prefix fits
    if (policy == OversizedPolicy::kTruncateColumn) {
      const size_t c = *column;
      const std::string& text = event.row[c].text;
      const bool utf8 = event.table->columns[c].type == ColumnType::kText;
      size_t lo = 0;
      size_t hi = e.row[c].text.size();  // a prefix this long does not fit
      std::optional<std::pair<size_t, std::string>> best;
      while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const size_t n = utf8 ? utf8_floor(text, mid) : mid;
        e.row[c].text.assign(text, 0, n);
        std::string probe = encoder_.value(e, rec.seq);
        if (fixed + probe.size() <= max_) {
          best.emplace(n, std::move(probe));
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      if (best) {
        kept[c] = best->first;
        std::find_if(cuts.begin(), cuts.end(), [&](const Cut& cut) { return cut.column == c; })->kept = best->first;
        report(event, policy, rec, counters, size, at_least, max_, cuts);
        return std::move(best->second);
      }
    }
    e = with_cuts(event, cuts);
  }
}

}  // namespace tombsync
