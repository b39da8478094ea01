// What to tell the operator about a Kafka failure: the setting that causes it, and for a
// permission problem the operation, the resource and the kafka-acls command that grants it
// (docs/security.md). Pure functions over librdkafka's text and the user's properties; used by
// KafkaSink::check_reachable (run and check), the partition-tail reader and `tombsync check`'s
// permission items. No secret is ever part of a hint: only property names and sasl.username.
#pragma once

#include <map>
#include <string>

namespace tombsync {

// The hint for a connection failure with librdkafka's `reason` (error_cb text):
//  - SASL authentication failed -> the sasl.username / sasl.mechanisms in kafka.properties and
//    the sasl.password (or its kafka.property_files file), not kafka.brokers;
//  - TLS certificate verification failed -> both causes librdkafka 2.0 cannot tell apart: the
//    host name in kafka.brokers is not in the broker certificate (SAN), or ssl.ca.location does
//    not hold the CA that signed it;
//  - a TLS alert from the broker about tombsync's own certificate (mTLS) -> the
//    ssl.certificate.location / ssl.key.location settings;
//  - otherwise "check kafka.brokers".
// `properties` are the producer's (sasl.username, sasl.mechanisms, ssl.ca.location are named).
std::string kafka_connect_hint(const std::string& reason, const std::map<std::string, std::string>& properties);

// Whether librdkafka's `reason` is a TLS alert the broker sent about the client certificate
// tombsync presented (untrusted, expired, missing): waiting does not fix it.
bool kafka_client_certificate_refused(const std::string& reason);

// The ACL principal tombsync authenticates as, as far as the properties tell: "User:<sasl.username>",
// else "User:<tombsync's principal>" (an mTLS principal is the broker's mapping of the certificate).
std::string kafka_principal(const std::map<std::string, std::string>& properties);

// "kafka-acls --bootstrap-server <brokers> --add --allow-principal <principal> --operation <op> <resource>"
// where `resource` is "--topic T", "--topic P --resource-pattern-type prefixed" or "--cluster".
std::string kafka_acl_grant(const std::string& brokers, const std::string& principal, const std::string& operation,
                            const std::string& resource);

// One line for a denied operation: "permission denied: <principal> may not <operation> <what>
// (<why run needs it>); grant it: <kafka_acl_grant ...> (docs/security.md)".
std::string kafka_permission_line(const std::string& brokers, const std::string& principal,
                                  const std::string& operation, const std::string& what, const std::string& why,
                                  const std::string& resource);

}  // namespace tombsync
