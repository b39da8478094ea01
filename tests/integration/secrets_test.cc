// Secrets from files (issue 16, items 3 and 4): source.password_file is read
// again at every connection, so a rotated password (a Kubernetes Secret
// updated in place) takes effect at the next reconnect without a restart;
// a wrong password from the file names the file, not source.dsn.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

// A login role of its own, so that changing its password disturbs no other test.
struct Role {
  Role(Sql& admin_sql, const std::string& role_name, const std::string& table) : admin(admin_sql), name(role_name) {
    admin.exec("CREATE ROLE " + name + " LOGIN REPLICATION PASSWORD 'first-secret'");
    admin.exec("GRANT SELECT ON " + table + " TO " + name);
  }
  ~Role() {
    try {
      admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + name + "'");
      admin.exec("DROP OWNED BY " + name + "; DROP ROLE " + name);
    } catch (...) {
    }
  }
  Sql& admin;
  std::string name;
};

// The test DSN as `user`, without a password: it comes from the file.
std::string dsn_for(const std::string& user) {
  std::string dsn = std::regex_replace(ServiceEnv::get().pg_dsn, std::regex("password=\\S+"), "");
  return std::regex_replace(dsn, std::regex("user=\\S+"), "user=" + user);
}

}  // namespace

TEST_CASE("password_file is read again at every connection: a rotated password applies at the next reconnect",
          "[daemon][secrets]") {
  const std::string n = unique_name("pwrot");
  Sql sql(ServiceEnv::get().pg_dsn);
  Sql admin(ServiceEnv::get().pg_superuser_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  sql.exec("CREATE PUBLICATION " + n + " FOR TABLE " + n);  // the table's owner creates it
  Role role(admin, n + "_r", n);
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  const auto pw = dir / "pw";
  std::ofstream(pw) << "first-secret\n";
  Agent agent({.name = n, .tables = {"public." + n}, .dsn = dsn_for(role.name),
               .source_yaml = "  password_file: " + pw.string() + "\n  create_publication: false\n"});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " SELECT generate_series(1, 10)");
  read_topic(agent.topic("public." + n), 10);

  // Rotate: the server first, then the file (as a Secret update lands), then cut the session.
  admin.exec("ALTER ROLE " + role.name + " PASSWORD 'second-secret'");
  {
    std::ofstream f(dir / "pw.new");
    f << "second-secret\n";
  }
  std::filesystem::rename(dir / "pw.new", pw);  // atomic, like kubelet's symlink swap
  admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + role.name + "'");
  CHECK(eventually([&] { return agent.log().find("reconnecting in") != std::string::npos; },
                   std::chrono::seconds(20)));
  sql.exec("INSERT INTO " + n + " SELECT generate_series(11, 20)");
  CHECK(read_topic(agent.topic("public." + n), 20).size() == 20);
  const std::string log = agent.log();
  CHECK(log.find("second-secret") == std::string::npos);
  CHECK(log.find("first-secret") == std::string::npos);
  CHECK(agent.stop(SIGTERM) == 0);

  // A wrong password in the file: the line names the file, not source.dsn.
  std::ofstream(pw) << "wrong-secret\n";
  Agent wrong({.name = n, .tables = {"public." + n}, .dsn = dsn_for(role.name), .state_dir = agent.state_dir(),
               .source_yaml = "  password_file: " + pw.string() + "\n  create_publication: false\n"});
  CHECK(wrong.run_to_exit() == 1);
  const std::string wlog = wrong.log();
  INFO(wlog);
  CHECK(wlog.find("password authentication failed") != std::string::npos);
  CHECK(wlog.find("the password in source.password_file " + pw.string()) != std::string::npos);
  CHECK(wlog.find("wrong-secret") == std::string::npos);
  std::filesystem::remove_all(dir);
}
