use clap::Args;

#[derive(Args)]
pub struct TopicsArgs {}

pub fn run(_args: TopicsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
