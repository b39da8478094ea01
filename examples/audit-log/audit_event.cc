#include "examples/audit-log/audit_event.h"

namespace tombsync::audit {
namespace {

bool is_true(const nlohmann::json& value, const char* name) {
  auto it = value.find(name);
  return it != value.end() && it->is_boolean() && it->get<bool>();
}

nlohmann::json string_or_null(const nlohmann::json& value, const char* name) {
  auto it = value.find(name);
  return it != value.end() && it->is_string() ? *it : nlohmann::json();
}

}  // namespace

const char* to_string(Action a) {
  switch (a) {
    case Action::kDelete: return "delete";
    case Action::kSoftDelete: return "soft_delete";
    case Action::kTruncate: return "truncate";
    case Action::kInferred: return "inferred";
  }
  return "delete";
}

std::optional<Action> classify(const loader::LoaderRecord& r) {
  if (r.kind != loader::RecordKind::kRow || !is_true(r.value, "is_deleted")) return std::nullopt;
  if (is_true(r.value, "__inferred")) return Action::kInferred;
  if (is_true(r.value, "__truncate")) return Action::kTruncate;
  if (r.value.value("__op", std::string()) == "delete") return Action::kDelete;
  return Action::kSoftDelete;
}

nlohmann::json old_data(const nlohmann::json& value) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, v] : value.items())
    if (name != "is_deleted" && name != "deleted_at" && name.rfind("__", 0) != 0) out[name] = v;
  return out;
}

nlohmann::json audit_row(const loader::LoaderRecord& r, Action action, const loader::TableSpec& table) {
  nlohmann::json table_name = string_or_null(r.value, "__table");
  return {{"table_name", table_name.is_string() ? table_name : nlohmann::json(table.qualified())},
          {"record_key", r.key},
          {"action", to_string(action)},
          {"old_data", old_data(r.value)},
          {"deleted_at", string_or_null(r.value, "deleted_at")},
          {"source_lsn", string_or_null(r.value, "__lsn")},
          {"commit_lsn", r.position.commit_lsn.str()},
          {"seq", r.position.seq},
          {"source", r.source.empty() ? nlohmann::json() : nlohmann::json(r.source)},
          {"kafka_topic", table.topic},
          {"kafka_partition", r.partition},
          {"kafka_offset", r.offset}};
}

}  // namespace tombsync::audit
