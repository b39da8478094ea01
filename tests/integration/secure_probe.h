// Helpers for secure_check_test.cc and secure_hints_test.cc ([secure]): run `tombsync check`
// on an Agent's config and find its lines, and switch the certificate the secure Postgres serves
// for one scope. Test thread only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace tombsync::it {

struct CheckRun {
  int code = -1;
  std::string out, err;
  // The first line starting with `status` ("PASS", "FAIL", "UNKNOWN", ...) holding every part.
  std::optional<std::string> line(const std::string& status, const std::vector<std::string>& parts) const;
  // Lines starting with `status`.
  std::vector<std::string> all(const std::string& status) const;
};

// `tombsync check --config <agent's config>`, stdout and stderr apart; FAILs after 60 s.
CheckRun run_check(const Agent& agent);

// tests/services/pg-secure-cert <which> now, and `pg-secure-cert server` when it goes out of
// scope (the certificate is server-wide: tests that use this run one at a time).
class ServedPgCert {
 public:
  explicit ServedPgCert(const std::string& which);
  ~ServedPgCert();
  ServedPgCert(const ServedPgCert&) = delete;
  ServedPgCert& operator=(const ServedPgCert&) = delete;
};

}  // namespace tombsync::it
