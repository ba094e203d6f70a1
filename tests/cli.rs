//! The command line itself, no services: every flag that can carry a secret can take its
//! value from the environment, so a password never has to show on a command line (`ps`).

use clap::CommandFactory;

/// Argument ids that name a service or API address, a URL or connection string that may
/// hold a password.
const ADDRESS_IDS: &[&str] = &["postgres", "kafka", "cassandra", "api", "url"];

/// Words that make an argument a secret, in its id, long name or value name. (`-X KEY=VALUE`,
/// a librdkafka property, repeatable, matches neither list: its secrets, such as
/// sasl.password, come from `RTDS_KAFKA_*` variables instead, as its help says.)
const SECRET_WORDS: &[&str] = &["password", "token", "secret"];

/// Arguments that look like secrets but are not, `command path --long`, and why.
const NOT_SECRETS: &[(&str, &str)] = &[
    ("rtds master --token-file", "a path to the file holding the cluster token, not the token"),
    ("rtds worker --token-file", "a path to the file holding the cluster token, not the token"),
];

/// Every argument of `command` and its subcommands, with the command path it belongs to.
fn walk<'a>(command: &'a clap::Command, path: &str, found: &mut Vec<(String, &'a clap::Arg)>) {
    let path = if path.is_empty() { command.get_name().to_string() } else { format!("{path} {}", command.get_name()) };
    for arg in command.get_arguments() {
        found.push((path.clone(), arg));
    }
    for sub in command.get_subcommands() {
        walk(sub, &path, found);
    }
}

/// Whether an argument can carry a secret: it takes a value and names an address, a URL or
/// a password, token or secret.
fn can_carry_a_secret(arg: &clap::Arg) -> bool {
    if !arg.get_action().takes_values() {
        return false;
    }
    let id = arg.get_id().as_str().to_ascii_lowercase();
    let long = arg.get_long().unwrap_or_default().to_ascii_lowercase();
    let value_names: Vec<String> = arg.get_value_names().unwrap_or_default().iter().map(|n| n.to_ascii_lowercase()).collect();
    ADDRESS_IDS.contains(&id.as_str())
        || ADDRESS_IDS.contains(&long.as_str())
        || value_names.iter().any(|n| n == "url")
        || SECRET_WORDS.iter().any(|word| id.contains(word) || long.contains(word) || value_names.iter().any(|n| n.contains(word)))
}

fn flag(path: &str, arg: &clap::Arg) -> String {
    match arg.get_long() {
        Some(long) => format!("{path} --{long}"),
        None => format!("{path} {}", arg.get_id()),
    }
}

#[test]
fn every_flag_that_can_carry_a_secret_also_takes_it_from_the_environment() {
    let mut command = rtds::cli::Cli::command();
    command.build();
    let mut all = Vec::new();
    walk(&command, "", &mut all);
    let secret: Vec<&(String, &clap::Arg)> =
        all.iter().filter(|(path, arg)| can_carry_a_secret(arg) && !NOT_SECRETS.iter().any(|(name, _)| *name == flag(path, arg))).collect();

    let missing: Vec<String> = secret.iter().filter(|(_, arg)| arg.get_env().is_none()).map(|(path, arg)| flag(path, arg)).collect();
    assert!(
        missing.is_empty(),
        "these flags can carry a secret (a URL with a password, a token) but have no environment variable, \
         so the secret would show on the command line: {missing:?}; add `env = \"RTDS_...\"` (or list a flag \
         that carries no secret in NOT_SECRETS, saying why)"
    );
    for (path, arg) in secret.iter().copied() {
        let env = arg.get_env().unwrap().to_string_lossy();
        assert!(env.starts_with("RTDS_"), "{} takes its value from {env}, not an RTDS_ variable", flag(path, arg));
    }

    // The walk does see the flags this is about: the test cannot pass by finding none.
    let names: Vec<String> = secret.iter().map(|(path, arg)| flag(path, arg)).collect();
    for expected in [
        "rtds master --postgres",
        "rtds master --kafka",
        "rtds master --cassandra",
        "rtds worker --kafka",
        "rtds worker --cassandra",
        "rtds cdc --postgres",
        "rtds cdc --kafka",
        "rtds ingest --postgres",
        "rtds ingest --api",
        "rtds api fetch --url",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} is not among the flags found: {names:?}");
    }
    let env_of = |name: &str| secret.iter().find(|(path, arg)| flag(path, arg) == name).and_then(|(_, arg)| arg.get_env()).map(|e| e.to_string_lossy().into_owned());
    assert_eq!(env_of("rtds master --postgres").as_deref(), Some("RTDS_POSTGRES"));
    assert_eq!(env_of("rtds api fetch --url").as_deref(), Some("RTDS_API"));
    // The exceptions are still what they say: files, not secrets.
    for (name, why) in NOT_SECRETS {
        let (_, arg) = all.iter().find(|(path, arg)| flag(path, arg) == *name).unwrap_or_else(|| panic!("{name} is gone: drop it from NOT_SECRETS"));
        let value_names: Vec<&str> = arg.get_value_names().unwrap_or_default().iter().map(|n| n.as_str()).collect();
        assert_eq!(value_names, ["FILE"], "{name} was listed as not a secret ({why}) but takes {value_names:?}");
    }
}

#[test]
fn master_takes_postgres_from_the_environment() {
    // `--cdc` requires `--postgres`: RTDS_POSTGRES must do. Without a cluster token the master
    // stops right after parsing its flags, before it connects to anything.
    let run = |postgres: Option<&str>| {
        let mut command = crate::util::rtds();
        command.args(["master", "--cdc", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]).env_remove("RTDS_CLUSTER_TOKEN");
        match postgres {
            Some(url) => command.env("RTDS_POSTGRES", url),
            None => command.env_remove("RTDS_POSTGRES"),
        };
        let out = command.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let without = run(None);
    assert!(without.contains("--postgres"), "--cdc without --postgres nor RTDS_POSTGRES is refused: {without}");
    let with = run(Some("postgres://rtds:not-a-real-password@127.0.0.1:1/rtds"));
    assert!(!with.contains("--postgres"), "RTDS_POSTGRES stands for --postgres: {with}");
    assert!(with.contains("RTDS_CLUSTER_TOKEN"), "the master got past its flags to the token: {with}");
    assert!(!with.contains("not-a-real-password"), "the password is not printed: {with}");
}
