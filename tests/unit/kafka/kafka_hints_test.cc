// The hints for Kafka failures (connectors/kafka/kafka_hints.h), on librdkafka 2.0.2's texts as
// the secure test broker produced them (tests/integration/secure_hints_test.cc shows them live).
#include <catch2/catch.hpp>

#include "connectors/kafka/kafka_hints.h"

using namespace tombsync;

namespace {
const std::map<std::string, std::string> kSasl = {{"security.protocol", "SASL_SSL"},
                                                  {"sasl.mechanisms", "SCRAM-SHA-512"},
                                                  {"sasl.username", "tombsync"},
                                                  {"sasl.password", "pw-Secr3t"},
                                                  {"ssl.ca.location", "/etc/ca.crt"}};
}

TEST_CASE("a refused SASL login points at the sasl settings, never kafka.brokers nor the password", "[hints]") {
  const std::string h = kafka_connect_hint(
      "sasl_ssl://127.0.0.1:29097/bootstrap: SASL authentication error: Authentication failed during "
      "authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 318ms in state AUTH_REQ)",
      kSasl);
  CHECK(h.find("kafka.properties.sasl.username (tombsync)") != std::string::npos);
  CHECK(h.find("kafka.properties.sasl.mechanisms (SCRAM-SHA-512)") != std::string::npos);
  CHECK(h.find("the sasl.password file in kafka.property_files") != std::string::npos);
  CHECK(h.find("check kafka.brokers") == std::string::npos);
  CHECK(h.find("pw-Secr3t") == std::string::npos);
}

TEST_CASE("a failed certificate verification names the host name and the CA", "[hints]") {
  const std::string h = kafka_connect_hint(
      "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not "
      "be verified, verify that ssl.ca.location is correctly configured",
      kSasl);
  CHECK(h.find("the host name in kafka.brokers must be one the certificate names") != std::string::npos);
  CHECK(h.find("kafka.properties.ssl.ca.location (/etc/ca.crt) must hold the CA that signed it") != std::string::npos);
  CHECK(kafka_connect_hint("certificate verify failed", {}).find("not set: the system CA store") != std::string::npos);
}

TEST_CASE("a client certificate the broker refused points at ssl.certificate.location and ssl.key.location",
          "[hints]") {
  // librdkafka 2.0.2's text for the broker's alert (tests/integration/secure_mtls_test.cc).
  const std::string h = kafka_connect_hint(
      "ssl://127.0.0.1:29093/bootstrap: Receive failed: error:0A000416:SSL routines::sslv3 alert certificate "
      "unknown: SSL alert number 46 (after 0ms in state APIVERSION_QUERY)",
      {{"security.protocol", "SSL"}, {"ssl.certificate.location", "/s/tls.crt"}, {"ssl.key.location", "/s/tls.key"}});
  CHECK(h.find("kafka.properties.ssl.certificate.location (/s/tls.crt)") != std::string::npos);
  CHECK(h.find("kafka.properties.ssl.key.location (/s/tls.key)") != std::string::npos);
  CHECK(kafka_connect_hint("SSL alert number 48: tlsv1 alert unknown ca", {}).find("(not set)") != std::string::npos);
}

TEST_CASE("other connection failures point at kafka.brokers", "[hints]") {
  CHECK(kafka_connect_hint("Connect to ipv4#127.0.0.1:1 failed: Connection refused", kSasl) == "check kafka.brokers");
}

TEST_CASE("a permission line names the operation, the resource and the kafka-acls grant", "[hints]") {
  CHECK(kafka_principal(kSasl) == "User:tombsync");
  CHECK(kafka_principal({}) == "User:<tombsync's principal>");
  CHECK(kafka_permission_line("k:9093", "User:tombsync", "Write", "topic app.t", "run produces to it",
                              "--topic app.t") ==
        "permission denied: User:tombsync may not Write topic app.t (run produces to it); grant it: kafka-acls "
        "--bootstrap-server k:9093 --add --allow-principal User:tombsync --operation Write --topic app.t "
        "(docs/security.md)");
}
