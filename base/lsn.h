// A PostgreSQL WAL position. Distinct from every other integer in the
// program (Kafka offsets, xids, relation OIDs) so they cannot be mixed up.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tombsync {

class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t v) : v_(v) {}

  constexpr uint64_t value() const { return v_; }
  constexpr bool is_zero() const { return v_ == 0; }
  constexpr auto operator<=>(const Lsn&) const = default;

  // Printed as Postgres does: "16/B374D848".
  std::string str() const;
  // Accepts the Postgres form "X/Y" (hex); nullopt on anything else.
  static std::optional<Lsn> parse(std::string_view text);

 private:
  uint64_t v_ = 0;
};

}  // namespace tombsync
