#include "base/error.h"

namespace tombsync {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConfig: return "config";
    case ErrorKind::kSource: return "source";
    case ErrorKind::kProtocol: return "protocol";
    case ErrorKind::kSink: return "sink";
    case ErrorKind::kState: return "state";
    case ErrorKind::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace tombsync
