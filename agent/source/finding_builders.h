// Private to agent/source: the small constructors the rule files share to
// write findings and their messages the same way.
#pragma once

#include <string>
#include <vector>

#include "agent/source/source_rules.h"

namespace tombsync::rules {

inline Finding holds(std::string check, std::string subject, std::string message) {
  return {Finding::Level::kHolds, std::move(check), std::move(subject), std::move(message)};
}

inline Finding warning(std::string check, std::string subject, std::string message) {
  return {Finding::Level::kWarning, std::move(check), std::move(subject), std::move(message)};
}

inline Finding problem(std::string check, std::string subject, std::string message,
                       ErrorKind kind = ErrorKind::kSource, Transient transient = Transient::kNo) {
  return {Finding::Level::kProblem, std::move(check), std::move(subject), std::move(message), kind, transient};
}

// `title` names the item: "table public.x: SELECT right: not checked, <reason>".
inline Finding unjudged(std::string check, std::string subject, const std::string& title,
                        const std::string& reason) {
  return {Finding::Level::kUnjudged, std::move(check), std::move(subject), title + ": not checked, " + reason};
}

inline std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace tombsync::rules
