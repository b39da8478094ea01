#include "state/cursor_keys.h"

#include <nlohmann/json.hpp>

namespace tombsync::state {

std::string cursor_key(const std::string& slot) { return "cursor/" + slot; }
std::string identity_key(const std::string& slot) { return "source/" + slot; }
std::string snapshot_key(const std::string& slot, const std::string& table) { return snapshot_prefix(slot) + table; }
std::string snapshot_prefix(const std::string& slot) { return "snapshot/" + slot + "/"; }

std::string encode_cursor(Lsn lsn) {
  uint64_t v = lsn.value();
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

std::optional<Lsn> decode_cursor(std::string_view value) {
  if (value.size() != 8) return std::nullopt;
  uint64_t x = 0;
  for (unsigned char c : value) x = (x << 8) | c;
  return Lsn(x);
}

std::string encode_snapshot(const SnapshotProgress& p) {
  nlohmann::json j = {{"done", p.done}, {"rows", p.rows}, {"last_key", nullptr}};
  if (p.last_key) j["last_key"] = *p.last_key;
  return j.dump();
}

SnapshotProgress decode_snapshot(std::string_view value) {
  auto j = nlohmann::json::parse(value);
  SnapshotProgress p;
  p.done = j.at("done").get<bool>();
  p.rows = j.at("rows").get<uint64_t>();
  if (!j.at("last_key").is_null()) p.last_key = j.at("last_key").get<std::vector<std::string>>();
  return p;
}

}  // namespace tombsync::state
