#include "examples/warehouse-loader/value_text.h"

#include <charconv>

namespace tombsync::loader {
namespace {

// tombsync writes ISO-8601 astronomical years ("0000" is 1 BC, "-0043" is 44 BC,
// "+10000" after 9999); Postgres reads "0044-03-15 BC" and "10000-01-01".
std::string iso_years_to_pg(const std::string& s) {
  if (s.empty()) return s;
  if (s[0] == '+') return s.substr(1);
  bool negative = s[0] == '-';
  size_t start = negative ? 1 : 0;
  size_t dash = s.find('-', start);
  if (dash == std::string::npos) return s;
  int64_t year = 0;
  auto r = std::from_chars(s.data() + start, s.data() + dash, year);
  if (r.ec != std::errc() || r.ptr != s.data() + dash) return s;  // "infinity" and the like
  if (!negative && year != 0) return s;
  std::string bc = std::to_string((negative ? year : 0) + 1);
  if (bc.size() < 4) bc.insert(0, 4 - bc.size(), '0');
  return bc + s.substr(dash) + " BC";
}

}  // namespace

std::optional<std::string> pg_input(const nlohmann::json& value, const Column& column) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    return column.datetime ? iso_years_to_pg(s) : s;
  }
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();  // numbers exactly as written; json/jsonb as compact JSON
}

std::string placeholder(int n, const Column& column) {
  if (column.bytea) return "decode($" + std::to_string(n) + ", 'base64')";
  return "$" + std::to_string(n) + "::" + column.type;
}

}  // namespace tombsync::loader
