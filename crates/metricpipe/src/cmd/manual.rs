//! Shell completions and man pages, generated from the argument parser itself so they
//! never drift from the flags. The package build calls these commands (see README.md).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use clap_complete::Shell;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  source <(metricpipe completions bash)         # in ~/.bashrc\n  metricpipe completions zsh > _metricpipe      # into a directory of $fpath\n  metricpipe completions fish > metricpipe.fish # into ~/.config/fish/completions\n\nPackages install them from these commands: bash into\n/usr/share/bash-completion/completions/metricpipe, zsh into\n/usr/share/zsh/vendor-completions/_metricpipe, fish into\n/usr/share/fish/vendor_completions.d/metricpipe.fish."
)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  metricpipe man | man -l -\n  metricpipe man --dir man1                  # metricpipe.1 and metricpipe-<command>.1"
)]
pub struct ManArgs {
    /// Write a page per command (metricpipe.1, metricpipe-streams.1, ...) into this
    /// directory instead of printing metricpipe(1) on stdout
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Print the completion script for `args.shell` on stdout.
pub fn completions(args: CompletionsArgs, mut cli: clap::Command) -> anyhow::Result<()> {
    let name = cli.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cli, name, &mut out);
    std::io::stdout()
        .write_all(&out)
        .context("writing the completion script to stdout")
}

/// Print metricpipe(1) on stdout, or write every command's page into `args.dir`.
pub fn man(args: ManArgs, cli: clap::Command) -> anyhow::Result<()> {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cli, &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cli)
                .render(&mut out)
                .context("rendering the man page")?;
            std::io::stdout()
                .write_all(&out)
                .context("writing the man page to stdout")
        }
    }
}
