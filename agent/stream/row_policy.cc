#include "agent/stream/row_policy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>

#include "base/error.h"
#include "schemas/time_format.h"

namespace tombsync {
namespace {

// "2024-05-01T10:00:00.123456Z" or "2024-05-01T10:00:00" (the type mapping's
// forms) to Unix microseconds; nullopt for infinity or anything else.
std::optional<int64_t> parse_timestamp_us(const std::string& s) {
  int64_t year = 0;
  unsigned mon = 0, day = 0, h = 0, m = 0, sec = 0;
  const char* p = s.data();
  const char* end = s.data() + s.size();
  auto num = [&](auto& out, size_t digits) {
    if (static_cast<size_t>(end - p) < digits) return false;
    auto [q, ec] = std::from_chars(p, p + digits, out);
    if (ec != std::errc() || q != p + digits) return false;
    p = q;
    return true;
  };
  auto sep = [&](char c) { return p < end && *p++ == c; };
  if (!(num(year, 4) && sep('-') && num(mon, 2) && sep('-') && num(day, 2) && sep('T') && num(h, 2) &&
        sep(':') && num(m, 2) && sep(':') && num(sec, 2)))
    return std::nullopt;
  int64_t micros = 0;
  if (p < end && *p == '.') {
    ++p;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      if (digits++ < 6) micros = micros * 10 + (*p - '0');
      ++p;
    }
    while (digits++ < 6) micros *= 10;
  }
  if (p < end && *p == 'Z') ++p;
  if (p != end || mon < 1 || mon > 12 || day < 1 || day > 31) return std::nullopt;
  const int64_t days = days_from_civil({year, mon, day});
  return ((days * 24 + h) * 60 + m) * 60 * 1000000 + int64_t{sec} * 1000000 + micros;
}

std::string datum_text(const Datum& d, ColumnType type) {
  switch (type) {
    case ColumnType::kInt16:
    case ColumnType::kInt32:
    case ColumnType::kInt64: return std::to_string(d.i);
    case ColumnType::kBool: return d.b ? "true" : "false";
    default: return d.text;
  }
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorKind::kInternal, "OpenSSL's SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

bool RowPolicy::soft_deleted(const Datum& d, ColumnType type) {
  if (!d.present()) return false;
  return type == ColumnType::kBool ? d.b : true;
}

const RowPolicy::Rules& RowPolicy::rules(const std::shared_ptr<const TableSchema>& table) {
  if (auto it = rules_.find(table->relid); it != rules_.end() && it->second.schema == table) return it->second;
  Rules r;
  r.schema = table;
  const TableConfig* tc = config_.find_table(table->schema, table->table);
  auto column = [&](const std::string& name, const char* key) -> size_t {
    for (size_t i = 0; i < table->columns.size(); ++i)
      if (table->columns[i].name == name) return i;
    throw Error(ErrorKind::kConfig, std::string(key) + " of " + table->qualified() + " names column \"" + name +
                                        "\", which the table does not have; fix the name in the config");
  };
  if (tc && tc->soft_delete_column) {
    const size_t i = column(*tc->soft_delete_column, "soft_delete_column");
    const ColumnSpec& c = table->columns[i];
    if (c.type != ColumnType::kBool && c.type != ColumnType::kTimestamp && c.type != ColumnType::kTimestampTz &&
        c.type != ColumnType::kDate)
      throw Error(ErrorKind::kConfig, "soft_delete_column " + c.name + " of " + table->qualified() + " is " +
                                          c.type_name + "; it must be boolean, date, timestamp or timestamptz");
    if (c.key)
      throw Error(ErrorKind::kConfig, "soft_delete_column " + c.name + " of " + table->qualified() +
                                          " is a key column; choose a non-key column");
    r.soft_column = static_cast<int>(i);
  }
  if (tc) {
    for (const auto& name : tc->redact_on_delete) {
      const size_t i = column(name, "redact_on_delete");
      if (table->columns[i].key)
        throw Error(ErrorKind::kConfig, "redact_on_delete of " + table->qualified() + " lists key column " + name +
                                            "; the delete event needs its key, so remove it from the list");
      r.redact.push_back(i);
    }
    r.mode = tc->redact_mode;
  }
  if (!r.redact.empty() && r.mode == RedactMode::kHash) {
    auto copy = std::make_shared<TableSchema>(*table);
    for (size_t i : r.redact) {
      copy->columns[i].type = ColumnType::kText;
      copy->columns[i].type_name = "text";  // a hex SHA-256 now, whatever it was
    }
    r.redacted = std::move(copy);
  }
  return rules_[table->relid] = std::move(r);
}

void RowPolicy::apply(ChangeEvent& event) {
  if (event.op == Op::kTruncate || !event.table) return;
  const Rules& r = rules(event.table);
  if (!r.any()) return;
  if (r.soft_column >= 0 && event.op != Op::kDelete) {
    const ColumnSpec& c = event.table->columns[static_cast<size_t>(r.soft_column)];
    const Datum& d = event.row[static_cast<size_t>(r.soft_column)];
    if (soft_deleted(d, c.type)) {
      event.is_deleted = true;
      std::optional<int64_t> at;
      if (c.type == ColumnType::kTimestamp || c.type == ColumnType::kTimestampTz) at = parse_timestamp_us(d.text);
      event.deleted_at_us = at ? UnixMicros{*at} : event.source.commit_ts_us;
    }
  }
  if (event.is_deleted && !r.redact.empty()) redact(event, r);
}

void RowPolicy::redact(ChangeEvent& event, const Rules& r) const {
  for (size_t i : r.redact) {
    Datum& d = event.row[i];
    if (r.mode == RedactMode::kDrop) {
      d = Datum::absent();
    } else if (d.state == Datum::State::kUnchanged) {
      d = Datum::absent();  // no value to hash, and "unchanged" would tell a consumer to keep the old one
    } else if (d.present()) {
      Datum h;
      h.state = Datum::State::kPresent;
      h.text = sha256_hex(datum_text(d, event.table->columns[i].type));
      d = std::move(h);
    }
  }
  if (r.redacted) event.table = r.redacted;
}

}  // namespace tombsync
