// The loader logs like the agent does (agent/log.h, compiled into the loader):
// one line per meaningful event, to stderr.
#pragma once

#include "base/log.h"

namespace tombsync::loader {
namespace log = tombsync::log;
}  // namespace tombsync::loader
