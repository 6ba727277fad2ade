//! `unetseg plot`: both SVG plots from a run's history.csv (the shipped
//! weights/history.csv), and the errors that name the file at fault.

use crate::support::scratch;
use std::path::Path;
use std::process::{Command, Output};

fn plot(history: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unetseg"))
        .args(["plot", history.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap()
}

/// The texts of `svg` (plotters writes each on a line of its own).
fn texts(svg: &str) -> Vec<&str> {
    svg.split("<text").skip(1).filter_map(|e| Some(e.split_once('>')?.1.split_once("</text>")?.0.trim())).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn draws_both_plots_of_the_shipped_history() {
    let dir = scratch("plot-good");
    // A folder that does not exist yet is made.
    let out = dir.join("plots");
    let o = plot(Path::new("weights/history.csv"), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = String::from_utf8_lossy(&o.stdout);
    for (file, names) in
        [("loss.svg", &["train loss", "val loss"][..]), ("accuracy.svg", &["train acc", "val acc", "val V_rand"][..])]
    {
        assert!(printed.contains(file), "{printed}");
        let svg = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(svg.starts_with("<svg") && texts(&svg).contains(&"epoch"), "{file}");
        for name in names {
            assert!(texts(&svg).contains(name), "{file}: no legend entry {name}");
        }
        // One curve per series: a polyline 2 pixels wide (the axes' are 1 pixel wide).
        let curves = svg.split('<').filter(|e| e.starts_with("polyline ") && e.contains("stroke-width=\"2\"")).count();
        assert_eq!(curves, names.len(), "{file}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_history_is_named() {
    let dir = scratch("plot-missing");
    let missing = dir.join("no-such-history.csv");
    let o = plot(&missing, &dir);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-such-history.csv"), "{}", stderr(&o));
    assert!(!dir.join("loss.svg").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_corrupt_or_empty_history_is_named() {
    let dir = scratch("plot-corrupt");
    let header = "epoch,train_loss,train_acc,val_loss,val_acc,val_v_rand";
    for (name, text, why) in [
        ("not-a-history.csv", "a,b\n1,2\n".to_owned(), "not a training history"),
        ("bad-line.csv", format!("{header}\n1,0.5,0.8,,,\n2,zero,0.9,,,\n"), "line 3"),
        ("empty.csv", format!("{header}\n"), "no epochs"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let o = plot(&path, &dir);
        assert!(!o.status.success(), "{name}");
        let e = stderr(&o);
        assert!(e.contains(name) && e.contains(why), "{name}: {e}");
    }
    assert!(!dir.join("loss.svg").exists());
    std::fs::remove_dir_all(dir).unwrap();
}
