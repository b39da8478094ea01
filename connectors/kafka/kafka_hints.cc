#include "connectors/kafka/kafka_hints.h"

namespace tombsync {
namespace {

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// OpenSSL's text for a TLS alert the peer sent: the broker refused the certificate tombsync
// presented (a failed verification of the broker's own certificate reads "certificate verify
// failed" instead, raised locally).
}  // namespace

bool kafka_client_certificate_refused(const std::string& reason) {
  for (const char* alert : {"alert unknown ca", "alert certificate unknown", "alert bad certificate",
                            "alert certificate required", "alert certificate expired", "alert certificate revoked"})
    if (contains(reason, alert)) return true;
  return false;
}

namespace {

std::string property_or(const std::map<std::string, std::string>& properties, const char* key, const char* unset) {
  auto it = properties.find(key);
  return it == properties.end() ? std::string(unset) : it->second;
}

}  // namespace

std::string kafka_connect_hint(const std::string& reason, const std::map<std::string, std::string>& properties) {
  if (contains(reason, "SASL authentication error") || contains(reason, "Authentication failed") ||
      contains(reason, "invalid credentials")) {
    auto user = properties.find("sasl.username");
    auto mech = properties.find("sasl.mechanisms");
    return "Kafka refused the SASL login: check kafka.properties.sasl.username (" +
           (user == properties.end() ? std::string("not set") : user->second) +
           ") and kafka.properties.sasl.mechanisms (" +
           (mech == properties.end() ? std::string("not set") : mech->second) +
           "), and the password: the sasl.password file in kafka.property_files (or kafka.properties.sasl.password); "
           "kafka.brokers is reachable";
  }
  if (contains(reason, "certificate verify failed") || contains(reason, "broker certificate could not be verified")) {
    auto ca = properties.find("ssl.ca.location");
    return "the broker's TLS certificate was not accepted; one of two causes (librdkafka reports both alike): the "
           "host name in kafka.brokers must be one the certificate names (its subject alternative names), or "
           "kafka.properties.ssl.ca.location (" +
           (ca == properties.end() ? std::string("not set: the system CA store") : ca->second) +
           ") must hold the CA that signed it";
  }
  if (kafka_client_certificate_refused(reason))
    return "the broker refused tombsync's client certificate (mTLS): kafka.properties.ssl.certificate.location (" +
           property_or(properties, "ssl.certificate.location", "not set") +
           ") must hold a certificate signed by a CA the broker's listener trusts (its ssl.truststore), not "
           "expired, with its key in kafka.properties.ssl.key.location (" +
           property_or(properties, "ssl.key.location", "not set") + ") or kafka.property_files.ssl.key.pem";
  if (contains(reason, "SSL handshake failed") || contains(reason, "Disconnected while requesting ApiVersion"))
    return "check kafka.properties.security.protocol against the broker's listener on kafka.brokers, and the "
           "ssl.* settings";
  return "check kafka.brokers";
}

std::string kafka_principal(const std::map<std::string, std::string>& properties) {
  auto user = properties.find("sasl.username");
  if (user != properties.end() && !user->second.empty()) return "User:" + user->second;
  return "User:<tombsync's principal>";
}

std::string kafka_acl_grant(const std::string& brokers, const std::string& principal, const std::string& operation,
                            const std::string& resource) {
  return "kafka-acls --bootstrap-server " + brokers + " --add --allow-principal " + principal + " --operation " +
         operation + " " + resource;
}

std::string kafka_permission_line(const std::string& brokers, const std::string& principal,
                                  const std::string& operation, const std::string& what, const std::string& why,
                                  const std::string& resource) {
  return "permission denied: " + principal + " may not " + operation + " " + what + " (" + why +
         "); grant it: " + kafka_acl_grant(brokers, principal, operation, resource) + " (docs/security.md)";
}

}  // namespace tombsync
