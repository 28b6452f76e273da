//! The list of help examples that need no broker, shared by the parser's unit tests
//! (which check that the list is complete) and tests/it/cli_output.rs (which runs them).

/// `(command name, example line)` of every entry of `data/runnable_examples.txt`.
pub fn runnable_examples() -> Vec<(String, String)> {
    include_str!("../data/runnable_examples.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (cmd, example) = l.split_once('\t').expect("COMMAND<TAB>EXAMPLE");
            (cmd.to_string(), example.to_string())
        })
        .collect()
}
