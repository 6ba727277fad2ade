//! `unetseg plot`: re-draws a training run's `loss.svg` and `accuracy.svg` from its
//! `history.csv` (see [`crate::train::plot`]), e.g. for a run made before the plots
//! were SVG, or into another folder.

use std::path::PathBuf;

use crate::train::{history, plot};
use crate::{Error, Result};

/// Arguments of `unetseg plot`.
#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// A run's history.csv (as `unetseg train` writes it into its run directory).
    #[arg(value_name = "HISTORY_CSV")]
    pub history: PathBuf,
    /// Folder to write loss.svg and accuracy.svg into (made if missing; existing plots are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs the subcommand: reads the history, writes both plots and names them.
pub fn run(args: PlotArgs) -> Result<()> {
    let records = history::read(&args.history)?;
    if records.is_empty() {
        return Err(Error::file(&args.history, "no epochs recorded: nothing to plot"));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| Error::file(&args.out, format!("cannot create: {e}")))?;
    plot::write_plots(&args.out, &records)?;
    for file in [plot::LOSS_FILE, plot::ACCURACY_FILE] {
        println!("{}", args.out.join(file).display());
    }
    Ok(())
}
