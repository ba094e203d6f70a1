//! docker-compose.yml and the Dockerfile, checked without a Docker engine: Compose validates the
//! file, every rtds command in it must parse with rtds's own command line, every published port
//! is bound to loopback, and the services start in a working order.

use std::collections::BTreeMap;

use clap::Parser;
use serde_norway::Value;

use crate::util::root;

/// docker-compose.yml's services, by name.
fn services() -> BTreeMap<String, Value> {
    let path = root().join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(doc.get("version").is_none(), "docker-compose.yml follows the Compose spec: no `version:` key");
    let services = doc.get("services").and_then(Value::as_mapping).expect("docker-compose.yml has a `services` mapping");
    services.iter().map(|(name, service)| (name.as_str().expect("service names are strings").to_string(), service.clone())).collect()
}

/// A list of strings from the YAML; `what` names it in the failure.
fn strings(value: &Value, what: &str) -> Vec<String> {
    let list = value.as_sequence().unwrap_or_else(|| panic!("{what} is a YAML list, got {value:?}"));
    list.iter()
        .map(|item| match item {
            Value::String(s) => with_defaults(s),
            Value::Number(n) => n.to_string(),
            other => panic!("{what}: {other:?} is not a string"),
        })
        .collect()
}

/// Compose's `${VAR:-default}` as compose expands it when VAR is unset.
fn with_defaults(text: &str) -> String {
    match (text.strip_prefix("${"), text.find(":-")) {
        (Some(_), Some(at)) if text.ends_with('}') => text[at + 2..text.len() - 1].to_string(),
        _ => text.to_string(),
    }
}

/// Whether a service runs the rtds image (built from this repository's Dockerfile).
fn is_rtds(service: &Value) -> bool {
    service.get("build").is_some() || service.get("image").and_then(Value::as_str).is_some_and(|i| i == "rtds" || i.starts_with("rtds:"))
}

#[test]
#[ignore = "needs docker-compose (installed by scripts/stack up): run scripts/test"]
fn compose_config_is_valid() {
    let compose = |secrets: bool| {
        let mut command = std::process::Command::new("docker-compose");
        command.args(["config", "-q"]).current_dir(root()).env_remove("POSTGRES_PASSWORD").env_remove("RTDS_CLUSTER_TOKEN").env_remove("GRAFANA_ADMIN_PASSWORD");
        if secrets {
            command
                .env("POSTGRES_PASSWORD", "0123456789abcdef")
                .env("RTDS_CLUSTER_TOKEN", "0123456789abcdef0123456789abcdef")
                .env("GRAFANA_ADMIN_PASSWORD", "0123456789abcdef");
        }
        command.output()
    };
    // Without the secrets of .env it refuses to start, saying what to do.
    if let Ok(output) = compose(false) {
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && said.contains("create .env first"), "without .env compose names the fix:\n{said}");
    }
    let output = match compose(true) {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "docker-compose is not installed; `apt-get install docker-compose` or `scripts/stack up` installs it"
        ),
        Err(e) => panic!("docker-compose config: {e}"),
    };
    assert!(
        output.status.success(),
        "docker-compose config -q rejects docker-compose.yml:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn compose_rtds_commands_parse() {
    let services = services();
    let rtds: Vec<_> = services.iter().filter(|(_, s)| is_rtds(s)).collect();
    for name in ["api", "ingest", "cdc"] {
        assert!(rtds.iter().any(|(n, _)| *n == name), "the rtds service {name} is in docker-compose.yml");
    }
    let mut failures = Vec::new();
    for (name, service) in rtds {
        assert!(service.get("entrypoint").is_none(), "{name}: the rtds image's entrypoint is `rtds`; do not override it");
        let command = service.get("command").unwrap_or_else(|| panic!("{name} has a command"));
        let args = strings(command, &format!("{name}'s command (use the list form)"));
        if let Err(e) = rtds::cli::Cli::try_parse_from(std::iter::once("rtds".to_string()).chain(args.iter().cloned())) {
            failures.push(format!("{name}: `rtds {}` is rejected by the CLI:\n{e}", args.join(" ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A service's environment variable, as written in the file.
fn env<'a>(service: &'a Value, name: &str) -> Option<&'a str> {
    service.get("environment").and_then(|e| e.get(name)).and_then(Value::as_str)
}

#[test]
fn compose_keeps_secrets_in_env_and_off_command_lines() {
    let services = services();
    let postgres = &services["postgres"];
    assert!(env(postgres, "POSTGRES_HOST_AUTH_METHOD").is_none(), "PostgreSQL does not trust its clients");
    assert!(env(postgres, "POSTGRES_PASSWORD").is_some_and(|p| p.starts_with("${POSTGRES_PASSWORD:?")), "the password comes from .env");
    for name in ["ingest", "cdc"] {
        let args = strings(services[name].get("command").unwrap(), name);
        assert!(!args.iter().any(|a| a.starts_with("postgres://")), "{name}: no connection string on the command line ({args:?})");
        assert!(env(&services[name], "RTDS_POSTGRES").is_some_and(|u| u.contains(":${POSTGRES_PASSWORD")), "{name} logs in with the password");
    }
    for name in ["master", "worker"] {
        assert!(
            env(&services[name], "RTDS_CLUSTER_TOKEN").is_some_and(|t| t.starts_with("${RTDS_CLUSTER_TOKEN:?")),
            "{name} gets the cluster token from .env"
        );
    }
}

#[test]
fn compose_ports_are_loopback_only() {
    for (name, service) in services() {
        let Some(ports) = service.get("ports") else { continue };
        for port in ports.as_sequence().unwrap_or_else(|| panic!("{name}: ports is a list")) {
            match port {
                Value::String(p) => assert!(p.starts_with("127.0.0.1:"), "{name}: port {p} is published beyond loopback; write 127.0.0.1:{p}"),
                Value::Mapping(_) => assert_eq!(
                    port.get("host_ip").and_then(Value::as_str),
                    Some("127.0.0.1"),
                    "{name}: port {port:?} is published beyond loopback; set host_ip: 127.0.0.1"
                ),
                other => panic!("{name}: port {other:?} is published on every interface; write \"127.0.0.1:HOST:CONTAINER\""),
            }
        }
    }
}

#[test]
fn compose_services_have_healthchecks_and_start_in_order() {
    let services = services();
    for name in ["kafka", "postgres", "cassandra", "registry"] {
        let service = services.get(name).unwrap_or_else(|| panic!("docker-compose.yml has a {name} service"));
        let test = service.get("healthcheck").and_then(|h| h.get("test")).unwrap_or_else(|| panic!("{name} has a healthcheck test"));
        assert!(!strings(test, &format!("{name}'s healthcheck test")).is_empty(), "{name}'s healthcheck test is not empty");
    }
    let depends_on = |service: &str, wanted: &[(&str, &str)]| {
        let depends = services[service].get("depends_on").and_then(Value::as_mapping).unwrap_or_else(|| panic!("{service}'s depends_on is a mapping with conditions"));
        for (name, condition) in wanted {
            assert_eq!(
                depends.get(*name).and_then(|d| d.get("condition")).and_then(Value::as_str),
                Some(*condition),
                "{service} depends on {name} with condition {condition}"
            );
        }
    };
    depends_on("ingest", &[("postgres", "service_healthy"), ("api", "service_started")]);
    depends_on("cdc", &[("postgres", "service_healthy"), ("kafka", "service_healthy"), ("registry", "service_healthy")]);
    // The registry keeps its schemas in Kafka (not in memory, which a restart would lose).
    depends_on("registry", &[("kafka", "service_healthy")]);
    let registry = services["registry"].get("environment").expect("registry has an environment");
    assert_eq!(registry.get("APICURIO_STORAGE_KIND").and_then(Value::as_str), Some("kafkasql"), "the registry's storage survives a restart");
    let bootstrap = registry.get("APICURIO_KAFKASQL_BOOTSTRAP_SERVERS").and_then(Value::as_str).expect("the registry names its Kafka");
    let advertised = services["kafka"].get("environment").and_then(|e| e.get("KAFKA_ADVERTISED_LISTENERS")).and_then(Value::as_str).unwrap_or_default();
    assert!(advertised.split(',').any(|l| l.ends_with(&format!("://{bootstrap}"))), "the registry's Kafka {bootstrap} is one of kafka's advertised listeners");
    // PostgreSQL decodes its log for the CDC stage.
    let postgres = strings(services["postgres"].get("command").expect("postgres has a command"), "postgres's command");
    assert!(postgres.iter().any(|a| a == "wal_level=logical"), "postgres runs with wal_level=logical: {postgres:?}");
    // The CDC stage reaches Kafka through the listener the broker advertises to other containers.
    let cdc = &services["cdc"];
    let args = strings(cdc.get("command").unwrap(), "cdc's command");
    let brokers = args.iter().position(|a| a == "--kafka").map(|i| args[i + 1].clone()).expect("cdc has --kafka");
    let advertised = services["kafka"]
        .get("environment")
        .and_then(|e| e.get("KAFKA_ADVERTISED_LISTENERS"))
        .and_then(Value::as_str)
        .expect("kafka sets KAFKA_ADVERTISED_LISTENERS");
    assert!(
        advertised.split(',').any(|l| l.ends_with(&format!("://{brokers}"))),
        "cdc's --kafka {brokers} is one of kafka's advertised listeners ({advertised})"
    );
    // The pipeline runs on registered schemas: the stage writes Avro, and it and the master (which
    // hands the flag to its workers) reach the registry service on its container port.
    let value = |args: &[String], flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].clone());
    assert_eq!(value(&args, "--format").as_deref(), Some("avro"), "cdc writes Avro");
    let ports = strings(services["registry"].get("ports").expect("registry publishes a port"), "registry's ports");
    let container_port = ports[0].rsplit(':').next().unwrap().to_string();
    let url = format!("http://registry:{container_port}/apis/ccompat/v7");
    let master = strings(services["master"].get("command").unwrap(), "master's command");
    for (service, args) in [("cdc", &args), ("master", &master)] {
        assert_eq!(value(args, "--schema-registry"), Some(url.clone()), "{service} reaches the registry's Confluent API");
    }
}

#[test]
fn dockerfile_builds_every_target() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("a Dockerfile at the repository root");
    assert!(dockerfile.contains(r#"ENTRYPOINT ["rtds"]"#), "the image's entrypoint is rtds, as docker-compose.yml's commands assume");
    assert!(dockerfile.contains("cargo build --release --locked"), "the image builds with the locked dependencies");
    // The dependency-caching layer stubs every target Cargo.toml names; a target it misses makes
    // `docker build` fail before compiling anything.
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml")).unwrap().parse().unwrap();
    for (kind, dir) in [("test", "tests"), ("bench", "benches"), ("example", "examples")] {
        let Some(targets) = manifest.get(kind).and_then(|t| t.as_array()) else { continue };
        for target in targets {
            let path = match target.get("path").and_then(|p| p.as_str()) {
                Some(path) => path.to_string(),
                None => format!("{dir}/{}.rs", target["name"].as_str().unwrap()),
            };
            assert!(dockerfile.contains(&path), "the Dockerfile's dependency layer stubs {path} ([[{kind}]] in Cargo.toml)");
        }
    }
}

#[test]
fn compose_workers_register_with_the_master_it_runs() {
    let services = services();
    let master = strings(services["master"].get("command").unwrap(), "master's command");
    let worker = services.get("worker").expect("docker-compose.yml has a worker service");
    let args = strings(worker.get("command").unwrap(), "worker's command");
    let value = |args: &[String], flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].clone());
    assert!(!master.contains(&"--local".to_string()), "the master waits for the worker services instead of spawning processes");
    let listen_port = value(&master, "--listen").expect("the master has --listen").rsplit(':').next().unwrap().to_string();
    assert_eq!(value(&args, "--master"), Some(format!("master:{listen_port}")), "workers register where the master listens");
    let replicas = worker.get("deploy").and_then(|d| d.get("replicas")).map(|r| match r {
        Value::String(s) => with_defaults(s),
        other => format!("{other:?}"),
    });
    assert_eq!(replicas, value(&master, "--processes"), "as many worker services as the master waits for");
}

/// The operations services (issue 28): Prometheus scrapes what compose runs on the ports those
/// services serve metrics on, with the rules of ops/prometheus/rules; Grafana gets its admin
/// password from .env and no anonymous access; Kafka's and Cassandra's JVMs carry the JMX
/// exporter on the ports Prometheus scrapes; every file mounted from the repository exists.
#[test]
fn compose_prometheus_scrapes_what_compose_runs_and_grafana_needs_a_password() {
    let services = services();
    let config: Value = serde_norway::from_str(&std::fs::read_to_string(root().join("ops/prometheus/prometheus.yml")).unwrap()).unwrap();
    let targets: BTreeMap<String, String> = config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|job| (job["job_name"].as_str().unwrap().to_string(), job["static_configs"][0]["targets"][0].as_str().unwrap().to_string()))
        .collect();
    let everything = |service: &Value| serde_norway::to_string(service).unwrap();
    for (job, target) in &targets {
        let (host, port) = target.rsplit_once(':').unwrap();
        let service = services.get(host).unwrap_or_else(|| panic!("job {job} scrapes {target}, but compose has no service {host}"));
        let text = everything(service);
        let served = match job.as_str() {
            "rtds-master" => text.contains(&format!("0.0.0.0:{port}")),
            "rtds-ingest" | "rtds-cdc" => text.contains(&format!("--metrics-addr")) && text.contains(&format!("0.0.0.0:{port}")),
            "kafka" | "cassandra" => text.contains(&format!("jmx_prometheus_javaagent-1.0.1.jar={port}:/etc/jmx/{job}.yml")),
            other => panic!("unexpected job {other}"),
        };
        assert!(served, "job {job} scrapes {target}, but service {host} serves no metrics there:\n{text}");
    }
    assert_eq!(targets.len(), 5, "{targets:?}");
    let prometheus = everything(&services["prometheus"]);
    assert!(prometheus.contains("./ops/prometheus/rules:/etc/prometheus/rules"), "{prometheus}");
    let grafana = &services["grafana"];
    assert!(env(grafana, "GF_SECURITY_ADMIN_PASSWORD").is_some_and(|v| v.starts_with("${GRAFANA_ADMIN_PASSWORD:?")), "Grafana's password comes from .env");
    assert_eq!(env(grafana, "GF_AUTH_ANONYMOUS_ENABLED"), Some("false"));
    // Every bind mount of a repository path points at something that exists.
    for (name, service) in &services {
        for volume in service.get("volumes").and_then(Value::as_sequence).into_iter().flatten() {
            if let Some(source) = volume.as_str().and_then(|v| v.strip_prefix("./")) {
                let source = source.split(':').next().unwrap();
                assert!(root().join(source).exists(), "{name} mounts ./{source}, which is not in the repository");
            }
        }
    }
}
