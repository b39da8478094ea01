// The state_dir items of `tombsync check`: state_dir is a writable directory nobody else holds
// (or can be created), and its stored cursor, judged against the source's facts by the rule
// `tombsync run` applies (judge_cursor, agent/source/source_rules.h).
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "agent/cli/preflight_items.h"
#include "base/error.h"
#include "state/cursor_reader.h"

namespace tombsync::preflight {
namespace {

namespace fs = std::filesystem;

// An existing directory: not locked by a running agent, and writable (a temp file, removed).
void existing_dir(const std::string& dir, const fs::path& abs, CheckList& list) {
  if (auto pid = state_dir_lock_holder(dir)) {
    list.fail("state_dir", dir,
              fmt::format("state_dir {} is in use by process {} (a running tombsync?); run refuses a state_dir in "
                          "use: stop that agent, or give this one its own state_dir",
                          dir, *pid));
    return;
  }
  std::string probe = (abs / ".tombsync-check-XXXXXX").string();
  int fd = mkstemp(probe.data());
  if (fd < 0) {
    list.fail("state_dir", dir,
              fmt::format("state_dir {} is not writable ({}): give the agent's user write access to it, or choose "
                          "another state_dir",
                          dir, std::strerror(errno)));
    return;
  }
  ::close(fd);
  ::unlink(probe.c_str());
  list.pass("state_dir", dir, "state_dir " + dir + " is writable");
}

void state_dir(const std::string& dir, CheckList& list) {
  std::error_code ec;
  fs::path abs = fs::absolute(dir, ec);
  if (fs::is_directory(abs, ec)) {
    existing_dir(dir, abs, list);
  } else if (fs::exists(abs, ec)) {
    list.fail("state_dir", dir,
              "state_dir " + dir + " exists but is not a directory: remove it or choose another state_dir");
  } else {
    fs::path parent = abs.parent_path();
    while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.root_path()) parent = parent.parent_path();
    if (fs::is_directory(parent, ec) && ::access(parent.c_str(), W_OK | X_OK) == 0)
      list.pass("state_dir", dir,
                "state_dir " + dir + " does not exist; run will create it (" + parent.string() + " is writable)");
    else
      list.fail("state_dir", dir,
                "state_dir " + dir + " does not exist and cannot be created (" + parent.string() +
                    " is not writable): create it (mkdir -p " + dir + ") and give the agent's user write access");
  }
}

void cursor(const Config& c, const SourceSeen& seen, CheckList& list) {
  const std::string& slot = c.source.slot;
  StoredCursor stored;
  try {
    stored = read_stored_cursor(c.state_dir, slot);
  } catch (const Error& e) {
    list.fail("state.cursor", slot, e.what());
    return;
  }
  const StoredState state{c.state_dir, stored.confirmed, stored.source};
  if ((state.cursor || state.identity) && !seen.checked) {
    list.skip("state.cursor", slot, "cursor of slot " + slot,
              "it must be compared with the source, and Postgres could not be checked");
    return;
  }
  list.add(judge_cursor(state, seen.facts.server, seen.facts.slot, slot, c.on_slot_loss, c.source.create_slot));
}

}  // namespace

void check_state(const Config& c, const SourceSeen& seen, CheckList& list) {
  state_dir(c.state_dir, list);
  cursor(c, seen, list);
}

}  // namespace tombsync::preflight
