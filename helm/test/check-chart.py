#!/usr/bin/env python3
"""What the tombsync chart promises, checked on its rendered manifests.

usage: check-chart.py DEFAULT.yaml FULL.yaml FULL-VALUES.yaml

DEFAULT.yaml is `helm template` with the default values, FULL.yaml with FULL-VALUES.yaml
(helm/tombsync/ci/full-values.yaml). Prints one line per check; exit 1 when one fails.
"""
import sys

import yaml

failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures += 1


def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    return by_kind


def one(by_kind, kind):
    items = by_kind.get(kind, [])
    assert len(items) == 1, f"expected one {kind}, found {len(items)}"
    return items[0]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def common(name, r, values):
    sts = one(r, "StatefulSet")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    services = {s["metadata"]["name"]: s for s in r["Service"]}
    cm = one(r, "ConfigMap")
    p = f"[{name}] "

    check(spec["replicas"] == 1, p + "StatefulSet has exactly 1 replica (one consumer per slot)")
    check(matches(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"]),
          p + "StatefulSet selector matches the pod labels")
    gov = services.get(spec["serviceName"])
    check(gov is not None and gov["spec"].get("clusterIP") == "None",
          p + "serviceName is a headless Service of the chart")
    check(spec.get("podManagementPolicy") == "OrderedReady",
          p + "OrderedReady: a replacement starts only after the old pod is gone")

    # Config: the values' config, verbatim, ${VAR} left for tombsync.
    rendered = yaml.safe_load(cm["data"]["tombsync.yaml"])
    check(rendered == values["config"], p + "ConfigMap tombsync.yaml is the values' config")
    check("${TOMBSYNC_PG_PASSWORD" in cm["data"]["tombsync.yaml"],
          p + "${TOMBSYNC_PG_PASSWORD} is left for tombsync to expand")
    check(c["args"] == ["run", "--config", "/etc/tombsync/tombsync.yaml"],
          p + "container runs `tombsync run --config /etc/tombsync/tombsync.yaml`")
    ann = spec["template"]["metadata"].get("annotations", {})
    check(len(ann.get("checksum/config", "")) == 64, p + "pod has a checksum/config annotation")

    # Storage and writable paths.
    (vct,) = spec["volumeClaimTemplates"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    state = mounts.get(values["config"]["state_dir"])
    check(state is not None and state["name"] == vct["metadata"]["name"] and not state.get("readOnly"),
          p + "the state PVC (volumeClaimTemplates) is mounted at config.state_dir")
    check(vct["spec"]["resources"]["requests"]["storage"] == values["persistence"]["size"],
          p + "the PVC requests persistence.size")
    check(set(vct["metadata"].get("labels", {})) <= {"app.kubernetes.io/name", "app.kubernetes.io/instance"},
          p + "the PVC template has only stable labels (volumeClaimTemplates cannot change after install)")
    vols = {v["name"]: v for v in pod["volumes"]}
    writable = sorted(m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly"))
    check(writable == sorted([values["config"]["state_dir"], "/tmp"]) and "emptyDir" in vols[mounts["/tmp"]["name"]],
          p + "the only writable mounts are the state PVC and an emptyDir /tmp")
    check(mounts["/etc/tombsync"].get("readOnly") is True and "configMap" in vols[mounts["/etc/tombsync"]["name"]],
          p + "the config is mounted read-only from the ConfigMap")

    # Security.
    sc, psc = c["securityContext"], pod["securityContext"]
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 10001 and psc.get("runAsUser") == 10001,
          p + "runs as non-root user 10001")
    check(sc.get("readOnlyRootFilesystem") is True, p + "readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, p + "allowPrivilegeEscalation false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], p + "capabilities drop ALL")
    check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
          and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", p + "seccompProfile RuntimeDefault")
    check(psc.get("fsGroup") == 10001, p + "fsGroup 10001 makes the state volume writable")
    check(pod.get("automountServiceAccountToken") is False, p + "no service account token mounted")
    check(pod["terminationGracePeriodSeconds"] == 30, p + "terminationGracePeriodSeconds 30")

    # HTTP port and Services.
    check({"name": "http", "containerPort": 9187, "protocol": "TCP"} in c["ports"],
          p + "container port 9187 is named http")
    metrics = [s for s in r["Service"] if s["metadata"]["labels"].get("app.kubernetes.io/component") == "metrics"]
    check(len(metrics) == 1 and metrics[0]["spec"]["ports"][0]["name"] == "http"
          and metrics[0]["spec"]["ports"][0]["port"] == 9187 and metrics[0]["spec"]["ports"][0]["targetPort"] == "http",
          p + "one metrics Service, port 9187 named http")
    check(all(matches(s["spec"]["selector"], spec["template"]["metadata"]["labels"]) for s in r["Service"]),
          p + "the Services select the pod")
    return sts, c, metrics[0]


def check_secret_files(sts, c, values):
    vols = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    for f in values["secretFiles"]:
        m = mounts.get(f["mountPath"], {})
        v = vols.get(m.get("name", ""), {}).get("secret", {})
        check(m.get("readOnly") is True and "subPath" not in m and v.get("secretName") == f["secretName"]
              and v.get("defaultMode") == f.get("defaultMode", 288) and v.get("items") == f.get("items"),
              f"[full] Secret {f['secretName']} mounted read-only at {f['mountPath']}, no subPath (updates reach the files), "
              f"mode {oct(f.get('defaultMode', 288))}")


def check_network_policy(r, sts, values):
    np = one(r, "NetworkPolicy")["spec"]
    want = values["networkPolicy"]
    check(matches(np["podSelector"]["matchLabels"], sts["spec"]["template"]["metadata"]["labels"]),
          "[full] NetworkPolicy selects the pod")
    check(np["policyTypes"] == ["Ingress", "Egress"], "[full] NetworkPolicy restricts ingress and egress")
    check(np["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}], "from": want["httpFrom"]}],
          "[full] ingress: only the http port, only from networkPolicy.httpFrom")
    dns = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    check(np["egress"] == want["egress"] + [dns], "[full] egress: networkPolicy.egress plus DNS")


def main():
    default_path, full_path, full_values_path = sys.argv[1:4]
    here = __file__.rsplit("/", 1)[0]
    with open(f"{here}/../tombsync/values.yaml") as f:
        default_values = yaml.safe_load(f)
    with open(full_values_path) as f:
        full_values = yaml.safe_load(f)

    d = load(default_path)
    _, c, _ = common("default", d, default_values)
    check(c.get("livenessProbe", {}).get("httpGet") == {"path": "/healthz", "port": "http"}
          and c.get("readinessProbe", {}).get("httpGet") == {"path": "/readyz", "port": "http"},
          "[default] probes on /healthz and /readyz")
    cm = yaml.safe_load(one(d, "ConfigMap")["data"]["tombsync.yaml"])
    check(cm.get("http", {}).get("address") == "0.0.0.0:9187",
          "[default] the agent serves HTTP on the probes' port (config.http.address)")
    check("ServiceMonitor" not in d, "[default] no ServiceMonitor")
    check(all("secretKeyRef" not in e.get("valueFrom", {}) for e in c.get("env", [])),
          "[default] no Secret referenced when existingSecret.name is empty")
    check({"name": "TOMBSYNC_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} in c.get("env", []),
          "[default] TOMBSYNC_POD_IP comes from status.podIP (for config.http.address)")
    check("NetworkPolicy" not in d, "[default] no NetworkPolicy")
    check(not any("secret" in v for v in one(d, "StatefulSet")["spec"]["template"]["spec"]["volumes"]),
          "[default] no Secret volume when secretFiles is empty")

    r = load(full_path)
    sts, c, metrics = common("full", r, full_values)
    pod = sts["spec"]["template"]["spec"]
    lp, rp = c.get("livenessProbe", {}), c.get("readinessProbe", {})
    check(lp.get("httpGet") == {"path": "/healthz", "port": "http"}, "[full] liveness probe: GET /healthz on http")
    check(rp.get("httpGet") == {"path": "/readyz", "port": "http"}, "[full] readiness probe: GET /readyz on http")
    env = {e["name"]: e for e in c.get("env", [])}
    sec = full_values["existingSecret"]
    check(env.get("TOMBSYNC_PG_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
          == {"name": sec["name"], "key": sec["keys"]["pgPassword"]},
          "[full] TOMBSYNC_PG_PASSWORD comes from existingSecret")
    check(env.get("TOMBSYNC_KAFKA_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
          == {"name": sec["name"], "key": sec["keys"]["kafkaPassword"]},
          "[full] TOMBSYNC_KAFKA_PASSWORD comes from existingSecret")
    check(all(e["name"] in env for e in full_values["extraEnv"]), "[full] extraEnv is added")
    check(c["resources"] == full_values["resources"], "[full] resources")
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        check(pod.get(key) == full_values[key], f"[full] {key}")
    ann = sts["spec"]["template"]["metadata"]["annotations"]
    check(all(ann.get(k) == v for k, v in full_values["podAnnotations"].items()), "[full] podAnnotations")
    check(pod.get("imagePullSecrets") == full_values["imagePullSecrets"], "[full] imagePullSecrets")
    check(c["image"] == f'{full_values["image"]["repository"]}:{full_values["image"]["tag"]}', "[full] image")
    vct = sts["spec"]["volumeClaimTemplates"][0]
    check(vct["spec"].get("storageClassName") == full_values["persistence"]["storageClassName"],
          "[full] persistence.storageClassName")
    sm = one(r, "ServiceMonitor")
    ep = sm["spec"]["endpoints"][0]
    check(ep["port"] == "http" and ep["path"] == "/metrics", "[full] ServiceMonitor scrapes /metrics on http")
    selected = [s for s in r["Service"] if matches(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    check(selected == [metrics], "[full] ServiceMonitor selects the metrics Service only (no double scrape)")
    check(all(sm["metadata"]["labels"].get(k) == v for k, v in full_values["serviceMonitor"]["labels"].items()),
          "[full] serviceMonitor.labels")

    check_secret_files(sts, c, full_values)
    check_network_policy(r, sts, full_values)

    print(f"chart checks: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
