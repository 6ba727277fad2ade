//! The `unetseg` command-line tool.

use clap::{Parser, Subcommand};
use unetseg::cli;

/// U-Net segmentation of microscopy images: augmentation, training,
/// inference, watershed post-processing and ISBI 2012 metrics.
#[derive(Parser)]
#[command(name = "unetseg", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a gallery of the original project's augmentations for one image.
    Augment(cli::augment::AugmentArgs),
    /// Run the 9-step watershed post-processing on a mask or probability map.
    Postprocess(cli::postprocess::PostprocessArgs),
    /// Compare a predicted segmentation with the ground truth (ISBI 2012 scores).
    Metrics(cli::metrics::MetricsArgs),
    /// Train a U-Net on images with membrane masks.
    Train(cli::train::TrainArgs),
    /// Segment images with overlap-tile inference and post-processing.
    Segment(cli::segment::SegmentArgs),
    /// Run the network once on a whole image and write the raw logits as .npy.
    Forward(cli::forward::ForwardArgs),
    /// Segment a folder of images and score them against their masks.
    Eval(cli::eval::EvalArgs),
    /// Score the network on held-out slices shifted in scale, tone, noise, blur, JPEG, contrast and polarity.
    Robustness(cli::robustness::RobustnessArgs),
    /// Average the weights of networks of one architecture into one network.
    Blend(cli::blend::BlendArgs),
    /// Convert a PyTorch state_dict of the original project into unetseg weights.
    ImportPytorch(cli::import_pytorch::ImportPytorchArgs),
    /// Serve the web page (www/, pkg/, weights/) on 127.0.0.1.
    Serve(cli::serve::ServeArgs),
    /// Re-draw a training run's loss.svg and accuracy.svg from its history.csv.
    Plot(cli::plot::PlotArgs),
}

fn main() {
    let args = Cli::parse();
    let outcome = match args.command {
        Command::Augment(a) => cli::augment::run(a),
        Command::Postprocess(a) => cli::postprocess::run(a),
        Command::Metrics(a) => cli::metrics::run(a),
        Command::Train(a) => cli::train::run(a),
        Command::Segment(a) => cli::segment::run(a),
        Command::Forward(a) => cli::forward::run(a),
        Command::Eval(a) => cli::eval::run(a),
        Command::Robustness(a) => cli::robustness::run(a),
        Command::Blend(a) => cli::blend::run(a),
        Command::ImportPytorch(a) => cli::import_pytorch::run(a),
        Command::Serve(a) => cli::serve::run(a),
        Command::Plot(a) => cli::plot::run(a),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
