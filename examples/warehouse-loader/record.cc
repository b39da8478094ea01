#include "examples/warehouse-loader/record.h"

#include <charconv>

#include "base/error.h"

namespace tombsync::loader {
namespace {

std::string where(const rd_kafka_message_t* m) {
  return std::string(rd_kafka_topic_name(m->rkt)) + " partition " + std::to_string(m->partition) + " offset " +
         std::to_string(m->offset);
}

std::optional<std::string> header(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* hdrs = nullptr;
  // rd_kafka_message_headers wants a non-const message; it only parses lazily.
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(m), &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return std::nullopt;
  const void* v = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(hdrs, name, &v, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  return std::string(static_cast<const char*>(v), size);
}

std::string required(const rd_kafka_message_t* m, const char* name) {
  auto v = header(m, name);
  if (!v)
    throw Error(ErrorKind::kProtocol, "record at " + where(m) + " has no " + name +
                                          " header: the loader reads topics written by tombsync (format: json)");
  return *v;
}

__extension__ typedef unsigned __int128 Pos128;

// The value's __pos (docs/event-format.md "Position": commit LSN * 2^32 + seq, in decimal) must
// be the headers' pair: the loader orders by that pair, and a record whose two disagree was not
// written by tombsync as documented.
void check_pos(const rd_kafka_message_t* m, const nlohmann::json& value, const Position& p) {
  const auto it = value.find("__pos");
  if (it == value.end()) return;  // written before __pos existed: the headers alone
  const std::string text = it->is_string() ? it->get<std::string>() : std::string();
  Pos128 pos = 0;
  bool ok = !text.empty() && text.size() <= 30;
  for (char c : text) {
    ok = ok && c >= '0' && c <= '9';
    pos = pos * 10 + static_cast<unsigned>(c - '0');
  }
  const Pos128 expected = (static_cast<Pos128>(p.commit_lsn.value()) << 32) + static_cast<Pos128>(p.seq);
  if (!ok || pos != expected)
    throw Error(ErrorKind::kProtocol, "record at " + where(m) + " has __pos " + it->dump() +
                                          ", which is not its headers' position " + p.str() +
                                          " (commit LSN * 2^32 + seq): not written by tombsync as documented");
}

}  // namespace

LoaderRecord parse_record(const rd_kafka_message_t* m, size_t table) {
  LoaderRecord r{.table = table, .partition = m->partition, .offset = m->offset,
                 .produced_ms = rd_kafka_message_timestamp(m, nullptr)};
  r.op = required(m, "tombsync.op");
  r.commit_ts = required(m, "tombsync.commit_ts");
  r.source = header(m, "tombsync.source").value_or("");
  std::string lsn = required(m, "tombsync.commit_lsn"), seq = required(m, "tombsync.seq");
  auto parsed = Lsn::parse(lsn);
  auto sr = std::from_chars(seq.data(), seq.data() + seq.size(), r.position.seq);
  if (!parsed || sr.ec != std::errc() || sr.ptr != seq.data() + seq.size())
    throw Error(ErrorKind::kProtocol, "record at " + where(m) + " has a malformed position (tombsync.commit_lsn '" +
                                          lsn + "', tombsync.seq '" + seq + "')");
  r.position.commit_lsn = *parsed;
  try {
    if (m->key) r.key = nlohmann::json::parse(static_cast<const char*>(m->key), static_cast<const char*>(m->key) + m->key_len);
    if (m->payload)
      r.value = nlohmann::json::parse(static_cast<const char*>(m->payload),
                                      static_cast<const char*>(m->payload) + m->len);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kProtocol, "record at " + where(m) + " is not JSON (" + e.what() +
                                          "): the loader needs tombsync's format: json, not protobuf");
  }
  if (r.value.is_null()) {
    r.kind = RecordKind::kTombstone;
    if (!r.key.is_object())
      throw Error(ErrorKind::kProtocol, "tombstone at " + where(m) + " has no JSON object key");
  } else if (!r.value.is_object() || !r.value.contains("__op") || !r.value.contains("is_deleted")) {
    throw Error(ErrorKind::kProtocol, "record at " + where(m) +
                                          " is not tombsync's row-shaped JSON (no __op/is_deleted): check format: json");
  } else if (r.value["__op"] == "truncate") {
    r.kind = RecordKind::kTruncate;
  }
  if (r.value.is_object()) check_pos(m, r.value, r.position);
  return r;
}

}  // namespace tombsync::loader
