#include "state/cursor_keys.h"

#include <nlohmann/json.hpp>

#include "state/crc32c.h"

namespace tombsync::state {

std::string cursor_key(const std::string& slot) { return "cursor/" + slot; }
std::string identity_key(const std::string& slot) { return "source/" + slot; }
std::string incarnation_key(const std::string& slot) { return "incarnation/" + slot; }
std::string snapshot_key(const std::string& slot, const std::string& table) { return snapshot_prefix(slot) + table; }
std::string snapshot_prefix(const std::string& slot) { return "snapshot/" + slot + "/"; }

namespace {

constexpr char kCursorV1 = 0x01;
constexpr size_t kLegacySize = 8;
constexpr size_t kV1Size = 1 + 8 + 4;

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be(std::string_view in) {
  uint64_t x = 0;
  for (unsigned char c : in) x = (x << 8) | c;
  return x;
}

std::string hex32(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 7; i >= 0; --i) s.push_back(digits[(v >> (4 * i)) & 0xf]);
  return s;
}

}  // namespace

std::string ledger_table_key(const std::string& slot, const std::string& table) {
  return ledger_table_prefix(slot) + table;
}
std::string ledger_table_prefix(const std::string& slot) { return std::string(kLedgerTablePrefix) + slot + "/"; }
std::string ledger_count_key(LedgerTableId id) { return "ledger/count/" + encode_u32(id.value()); }
std::string ledger_entry_prefix(LedgerTableId id) { return "L" + encode_u32(id.value()); }
std::string ledger_mark_key(LedgerTableId id) { return "ledger/mark/" + encode_u32(id.value()); }

std::string encode_ledger_mark(uint32_t mark) { return mark == 0 ? std::string() : encode_u32(mark); }

std::string encode_ledger_value(uint32_t mark, std::string_view row) {
  if (row.empty()) return encode_ledger_mark(mark);
  std::string out = encode_u32(mark);
  out.append(row);
  return out;
}

std::optional<LedgerValue> decode_ledger_value(std::string_view value) {
  if (value.empty()) return LedgerValue{};
  if (value.size() < 4) return std::nullopt;
  auto mark = decode_u32(value.substr(0, 4));
  return LedgerValue{*mark, value.substr(4)};
}

std::optional<uint32_t> decode_ledger_mark(std::string_view value) {
  auto v = decode_ledger_value(value);
  if (!v) return std::nullopt;
  return v->mark;
}

std::string encode_u32(uint32_t v) {
  std::string out;
  put_be(out, v, 4);
  return out;
}
std::string encode_u64(uint64_t v) {
  std::string out;
  put_be(out, v, 8);
  return out;
}
std::optional<uint32_t> decode_u32(std::string_view value) {
  if (value.size() != 4) return std::nullopt;
  return static_cast<uint32_t>(get_be(value));
}
std::optional<uint64_t> decode_u64(std::string_view value) {
  if (value.size() != 8) return std::nullopt;
  return get_be(value);
}

std::string encode_cursor(Lsn lsn) {
  std::string out(1, kCursorV1);
  put_be(out, lsn.value(), 8);
  put_be(out, crc32c(out), 4);
  return out;
}

CursorValue decode_cursor(std::string_view value) {
  CursorValue out;
  if (value.size() == kLegacySize) {
    out.lsn = Lsn(get_be(value));
    out.legacy = true;
    return out;
  }
  if (value.size() != kV1Size) {
    out.problem = std::to_string(value.size()) + " bytes, expected " + std::to_string(kV1Size);
    return out;
  }
  if (value[0] != kCursorV1) {
    out.problem = "unknown format version " + std::to_string(static_cast<unsigned char>(value[0]));
    return out;
  }
  const uint64_t stored = get_be(value.substr(9, 4));
  const uint64_t computed = crc32c(value.substr(0, 9));
  if (stored != computed) {
    out.problem = "checksum mismatch: stored " + hex32(stored) + ", computed " + hex32(computed);
    return out;
  }
  out.lsn = Lsn(get_be(value.substr(1, 8)));
  return out;
}

std::string encode_snapshot(const SnapshotProgress& p) {
  nlohmann::json j = {{"done", p.done}, {"rows", p.rows}, {"last_key", nullptr}};
  if (p.last_key) j["last_key"] = *p.last_key;
  if (p.reconcile_mark != 0) {  // absent for a plain snapshot: the form older releases read
    j["reconcile_mark"] = p.reconcile_mark;
    j["dry_run"] = p.dry_run;
    if (!p.request_id.empty()) j["request"] = p.request_id;
  }
  return j.dump();
}

SnapshotProgress decode_snapshot(std::string_view value) {
  auto j = nlohmann::json::parse(value);
  SnapshotProgress p;
  p.done = j.at("done").get<bool>();
  p.rows = j.at("rows").get<uint64_t>();
  if (!j.at("last_key").is_null()) p.last_key = j.at("last_key").get<std::vector<std::string>>();
  if (j.contains("reconcile_mark")) {
    p.reconcile_mark = j.at("reconcile_mark").get<uint32_t>();
    p.dry_run = j.at("dry_run").get<bool>();
    p.request_id = j.value("request", std::string());
  }
  return p;
}

}  // namespace tombsync::state
