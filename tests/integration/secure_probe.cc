#include "tests/integration/secure_probe.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace tombsync::it {
namespace {

std::string slurp_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

}  // namespace

std::optional<std::string> CheckRun::line(const std::string& status, const std::vector<std::string>& parts) const {
  for (const auto& l : all(status)) {
    bool every = true;
    for (const auto& p : parts) every = every && l.find(p) != std::string::npos;
    if (every) return l;
  }
  return std::nullopt;
}

std::vector<std::string> CheckRun::all(const std::string& status) const {
  std::vector<std::string> v;
  for (const auto& l : lines_of(out))
    if (l.rfind(status + "  ", 0) == 0) v.push_back(l);
  return v;
}

CheckRun run_check(const Agent& agent) {
  const std::string dir = (std::filesystem::temp_directory_path() / unique_name("check")).string();
  std::filesystem::create_directories(dir);
  const std::string out_path = dir + "/out", err_path = dir + "/err";
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* o = std::fopen(out_path.c_str(), "w");
    FILE* e = std::fopen(err_path.c_str(), "w");
    if (o) dup2(fileno(o), STDOUT_FILENO);
    if (e) dup2(fileno(e), STDERR_FILENO);
    execl(TOMBSYNC_BINARY, TOMBSYNC_BINARY, "check", "--config", agent.config_path().c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(done = waitpid(pid, &status, WNOHANG) == pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  CheckRun r;
  r.out = slurp_file(out_path);
  r.err = slurp_file(err_path);
  std::filesystem::remove_all(dir);
  if (!done) FAIL("tombsync check did not exit within 60 s:\n" << r.out << r.err);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

ServedPgCert::ServedPgCert(const std::string& which) {
  run_capture(std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/pg-secure-cert " + which + " 2>&1");
}

ServedPgCert::~ServedPgCert() {
  if (std::system((std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/pg-secure-cert server >/dev/null 2>&1").c_str()) != 0)
    WARN("could not restore the secure Postgres certificate: run tests/services/pg-secure-cert server");
}

}  // namespace tombsync::it
