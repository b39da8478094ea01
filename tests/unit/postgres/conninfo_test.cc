// The libpq connection string scanner: conninfo pairs, URI schemes and the DSN syntax check.
#include "connectors/postgres/conninfo.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tombsync::pg;

namespace {

// "key=value" for each pair, values as written (quotes included).
std::vector<std::string> pairs_of(std::string_view s, size_t* stop = nullptr) {
  std::vector<ConninfoPair> pairs;
  const size_t bad = scan_conninfo(s, pairs);
  if (stop) *stop = bad;
  std::vector<std::string> out;
  for (const ConninfoPair& p : pairs) {
    out.push_back(std::string(p.key) + "=" +
                  std::string(s.substr(p.value_begin, p.value_end - p.value_begin)));
  }
  return out;
}

}  // namespace

TEST_CASE("scan_conninfo reads keyword=value pairs as libpq does", "[postgres][conninfo]") {
  using V = std::vector<std::string>;
  size_t stop = 0;
  CHECK(pairs_of("host=db dbname=app", &stop) == V{"host=db", "dbname=app"});
  CHECK(stop == std::string_view::npos);
  CHECK(pairs_of("  host = db\tpassword='a b'  ", &stop) == V{"host=db", "password='a b'"});
  CHECK(stop == std::string_view::npos);
  CHECK(pairs_of("password='it\\'s' user=u") == V{"password='it\\'s'", "user=u"});
  CHECK(pairs_of("password=a\\ b user=u") == V{"password=a\\ b", "user=u"});
  CHECK(pairs_of("host=", &stop) == V{"host="});
  CHECK(stop == std::string_view::npos);
  CHECK(pairs_of("", &stop).empty());
  CHECK(stop == std::string_view::npos);
  // Where it stops making sense: a key without '=', an empty key, an open quote.
  CHECK(pairs_of("host=db oops", &stop) == V{"host=db"});
  CHECK(stop == 8);
  CHECK(pairs_of("=x", &stop).empty());
  CHECK(stop == 0);
  CHECK(pairs_of("host=db password='open", &stop) == V{"host=db", "password='open"});
  CHECK(stop == 17);
}

TEST_CASE("uri_prefix_length recognises postgresql:// and postgres://", "[postgres][conninfo]") {
  CHECK(uri_prefix_length("postgresql://u@db/app") == 13);
  CHECK(uri_prefix_length("postgres://db") == 11);
  CHECK(uri_prefix_length("POSTGRESQL://db") == 13);
  CHECK(uri_prefix_length("host=db") == 0);
  CHECK(uri_prefix_length("postgresql:/db") == 0);
  CHECK(uri_prefix_length("") == 0);
}

TEST_CASE("check_dsn: URIs pass, conninfos must scan and hold a pair", "[postgres][conninfo]") {
  CHECK(check_dsn("host=db dbname=app").problem == DsnProblem::kNone);
  CHECK(check_dsn("postgresql://u:p@db/app?sslmode=require").problem == DsnProblem::kNone);
  CHECK(check_dsn("postgres://  not checked").problem == DsnProblem::kNone);
  CHECK(check_dsn("   ").problem == DsnProblem::kBlank);
  const DsnCheck bad = check_dsn("host=db oops");
  CHECK(bad.problem == DsnProblem::kSyntax);
  CHECK(bad.offset == 8);
}
