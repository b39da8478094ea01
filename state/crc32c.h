// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum over a
// stored cursor value (state/cursor_keys.h). Pure function, any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace tombsync::state {

// crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::string_view data);

}  // namespace tombsync::state
