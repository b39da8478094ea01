// run_preflight and the report's forms. The items themselves are in preflight_postgres.cc,
// preflight_kafka.cc and preflight_state.cc (preflight_items.h).
#include "agent/cli/preflight.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/cli/preflight_items.h"

namespace tombsync {
namespace preflight {

void CheckList::pass(const std::string& check, const std::string& subject, std::string message, bool warning) {
  report_.items.push_back({check, subject, CheckStatus::kPass, std::move(message), warning});
}

void CheckList::fail(const std::string& check, const std::string& subject, std::string message) {
  report_.items.push_back({check, subject, CheckStatus::kFail, std::move(message)});
}

void CheckList::unknown(const std::string& check, const std::string& subject, std::string message) {
  report_.items.push_back({check, subject, CheckStatus::kUnknown, std::move(message)});
}

void CheckList::skip(const std::string& check, const std::string& subject, const std::string& title,
                     const std::string& reason) {
  report_.items.push_back({check, subject, CheckStatus::kSkip, title + ": not checked, " + reason});
}

void CheckList::add(const Finding& f) {
  CheckItem item{f.check, f.subject, CheckStatus::kPass, f.message};
  switch (f.level) {
    case Finding::Level::kHolds: break;
    case Finding::Level::kWarning: item.warning = true; break;
    case Finding::Level::kProblem: item.status = CheckStatus::kFail; break;
    case Finding::Level::kUnjudged: item.status = CheckStatus::kSkip; break;
  }
  report_.items.push_back(std::move(item));
}

void CheckList::add(const Findings& findings) {
  for (const auto& f : findings) add(f);
}

}  // namespace preflight

const char* to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass: return "PASS";
    case CheckStatus::kFail: return "FAIL";
    case CheckStatus::kSkip: return "SKIP";
    case CheckStatus::kUnknown: return "UNKNOWN";
  }
  return "?";
}

bool PreflightReport::ok() const {
  return !items.empty() && count(CheckStatus::kPass) + count(CheckStatus::kUnknown) == items.size();
}

size_t PreflightReport::count(CheckStatus status) const {
  return static_cast<size_t>(std::count_if(items.begin(), items.end(), [&](const CheckItem& i) { return i.status == status; }));
}

std::string PreflightReport::text() const {
  std::string out;
  for (const auto& i : items) out += fmt::format("{}  {}\n", to_string(i.status), i.message);
  if (ok() && count(CheckStatus::kUnknown) == 0)
    out += fmt::format("check: all {} items passed\n", items.size());
  else if (ok())
    out += fmt::format("check: no item failed, {} passed, {} unknown\n", count(CheckStatus::kPass),
                       count(CheckStatus::kUnknown));
  else
    out += fmt::format("check: {} of {} items failed, {} skipped{}\n", count(CheckStatus::kFail), items.size(),
                       count(CheckStatus::kSkip),
                       count(CheckStatus::kUnknown) ? fmt::format(", {} unknown", count(CheckStatus::kUnknown)) : "");
  return out;
}

std::string PreflightReport::json() const {
  nlohmann::ordered_json j;
  j["ok"] = ok();
  j["passed"] = count(CheckStatus::kPass);
  j["failed"] = count(CheckStatus::kFail);
  j["skipped"] = count(CheckStatus::kSkip);
  j["unknown"] = count(CheckStatus::kUnknown);
  j["items"] = nlohmann::ordered_json::array();
  for (const auto& i : items) {
    std::string status = to_string(i.status);
    std::transform(status.begin(), status.end(), status.begin(), [](unsigned char ch) { return std::tolower(ch); });
    nlohmann::ordered_json item = {{"check", i.check}, {"status", status}, {"message", i.message}};
    if (!i.subject.empty()) item["subject"] = i.subject;
    if (i.warning) item["warning"] = true;
    j["items"].push_back(std::move(item));
  }
  // Invalid UTF-8 (a server message in another encoding) is replaced, never thrown.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

PreflightReport run_preflight(const std::string& config_path, const Config& config) {
  preflight::CheckList list;
  list.pass("config", "",
            fmt::format("config {} is valid: {} {}, slot {}, publication {}", config_path, config.source.tables.size(),
                        config.source.tables.size() == 1 ? "table" : "tables", config.source.slot,
                        config.source.publication));
  preflight::SourceSeen seen;
  preflight::check_postgres(config, list, seen);
  preflight::check_kafka(config, list);
  preflight::check_state(config, seen, list);
  return list.take();
}

PreflightReport config_refused(const std::string& error) {
  PreflightReport r;
  r.items.push_back({"config", "", CheckStatus::kFail, error});
  r.items.push_back({"postgres", "", CheckStatus::kSkip, "Postgres checks: not checked, the config is invalid"});
  r.items.push_back({"kafka", "", CheckStatus::kSkip, "Kafka checks: not checked, the config is invalid"});
  r.items.push_back({"state", "", CheckStatus::kSkip, "state_dir checks: not checked, the config is invalid"});
  return r;
}

}  // namespace tombsync
