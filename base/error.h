// The one error model: a failure that ends the current operation (the
// stream, the run, the command) is thrown as tombsync::Error with a kind and
// a message an operator can act on. Outcomes a caller is expected to handle
// (a missing cursor, a full producer queue) are return values, never thrown.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tombsync {

enum class ErrorKind {
  kConfig,    // the config file or a command-line flag is wrong
  kSource,    // Postgres is unreachable, misconfigured or refused something
  kProtocol,  // a replication message could not be decoded
  kSink,      // Kafka refused or lost a record
  kState,     // the RocksDB cursor store failed
  kInternal,  // a broken invariant: a bug in tombsync
};

const char* to_string(ErrorKind kind);

// Whether the cause may go away by itself (a dropped connection, a server
// restarting): the daemon reconnects after those, and exits on the others.
enum class Transient : bool { kNo = false, kYes = true };

// `text` as one printable line: a control character (newline, CR, tab, ESC, ... 0x00-0x1F and
// 0x7F) becomes a C-style escape ("\n", "\r", "\t", "\x1b"); every other byte is kept.
// For messages that quote names the source sent (a table may be named "a<newline>b"), so one
// message stays one log line and cannot drive a terminal.
std::string printable_line(std::string_view text);

// An Error's message is always one line: the constructor passes it through printable_line.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what, Transient transient = Transient::kNo)
      : std::runtime_error(printable_line(what)), kind_(kind), transient_(transient == Transient::kYes) {}
  ErrorKind kind() const { return kind_; }
  bool transient() const { return transient_; }

 private:
  ErrorKind kind_;
  bool transient_;
};

}  // namespace tombsync
