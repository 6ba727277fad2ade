//! Training data loading (folders and ISBI multi-page TIFFs), the validation
//! hold-out and the test block, and the history file and plots of a run.

use crate::support::{repo, scratch};
use unetseg::train::data::{load_slices, Holdout};
use unetseg::train::history::{self, EpochRecord};
use unetseg::train::plot::write_plots;

/// Writes 8-bit gray pages as one multi-page TIFF.
fn write_tiff(path: &std::path::Path, pages: &[Vec<u8>], w: u32, h: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = tiff::encoder::TiffEncoder::new(file).unwrap();
    for page in pages {
        encoder.write_image::<tiff::encoder::colortype::Gray8>(w, h, page).unwrap();
    }
}

#[test]
fn isbi_tiff_pairs_load_page_by_page() {
    let dir = scratch("train-data-tiff");
    let (w, h) = (8u32, 6u32);
    let images: Vec<Vec<u8>> = (0..3).map(|p| (0..w * h).map(|i| (i * 5 + p * 40) as u8).collect()).collect();
    let masks: Vec<Vec<u8>> =
        (0..3).map(|p| (0..w * h).map(|i| if (i + p) % 3 == 0 { 0 } else { 255 }).collect()).collect();
    write_tiff(&dir.join("train-volume.tif"), &images, w, h);
    write_tiff(&dir.join("train-labels.tif"), &masks, w, h);
    let slices = load_slices(&dir).unwrap();
    assert_eq!(slices.len(), 3);
    assert_eq!(slices[2].image.data(), &images[2][..]);
    assert_eq!(slices[1].mask.data(), &masks[1][..]);
    assert_eq!(slices[1].classes().data()[0], u8::from(masks[1][0] == 255));

    write_tiff(&dir.join("train-labels.tif"), &masks[..2], w, h);
    let err = load_slices(&dir).unwrap_err().to_string();
    assert!(err.contains("train-labels.tif") && err.contains("2 pages"), "{err}");

    // 128 is an unlabelled pixel of an annotation; 7 is no value of a training mask.
    let mut grey = masks.clone();
    grey[2][5] = 128;
    write_tiff(&dir.join("train-labels.tif"), &grey, w, h);
    let slices = load_slices(&dir).unwrap();
    assert_eq!(slices[2].classes().data()[5], unetseg::annotation::UNLABELLED_CLASS);
    grey[2][5] = 7;
    write_tiff(&dir.join("train-labels.tif"), &grey, w, h);
    let err = load_slices(&dir).unwrap_err().to_string();
    assert!(err.contains("train-labels.tif#2") && err.contains("7 (1 pixel, the first at x 5, y 0)"), "{err}");

    std::fs::remove_file(dir.join("train-labels.tif")).unwrap();
    let err = load_slices(&dir).unwrap_err().to_string();
    assert!(err.contains("train-labels.tif"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_shipped_slices_load_from_folders() {
    let slices = load_slices(&repo("data/isbi2012/train")).unwrap();
    let names: Vec<&str> = slices.iter().map(|s| s.name.rsplit('/').next().unwrap()).collect();
    let expected: Vec<String> = (0..27).map(|i| format!("{i:02}.png")).collect();
    assert_eq!(names, expected);
    assert!(slices.iter().all(|s| s.image.dims() == (512, 512) && s.mask.dims() == (512, 512)));
}

#[test]
fn holdouts_split_a_contiguous_block() {
    let slices = load_slices(&repo("data/isbi2012/train")).unwrap();
    let (train, val) = Holdout::Last(1).split(slices.clone()).unwrap();
    assert_eq!((train.len(), val.len()), (26, 1));
    assert!(val[0].name.ends_with("26.png"));
    let (train, val) = Holdout::parse_range("0..1").unwrap().split(slices.clone()).unwrap();
    assert_eq!((train.len(), val.len()), (25, 2));
    assert!(train[0].name.ends_with("02.png"));
    let (train, val) = Holdout::parse_range("24..26").unwrap().split(slices.clone()).unwrap();
    assert_eq!((train.len(), val.len()), (24, 3));
    assert!(val[0].name.ends_with("24.png") && train.last().unwrap().name.ends_with("23.png"));
    assert_eq!(Holdout::Last(0).split(slices.clone()).unwrap().1.len(), 0);
    assert!(Holdout::Last(27).split(slices.clone()).is_err());
    assert!(Holdout::parse_range("1..30").unwrap().split(slices).is_err());
    for bad in ["24", "3..1", "a..b", "..2"] {
        assert!(Holdout::parse_range(bad).is_err(), "{bad}");
    }
    assert_eq!(Holdout::parse_range("24..26").unwrap(), Holdout::Range(24, 26));
}

#[test]
fn a_test_block_is_in_neither_half_and_validation_need_not_be_at_the_end() {
    let slices = load_slices(&repo("data/isbi2012/train")).unwrap();
    let stem = |s: &unetseg::train::data::Slice| s.name.rsplit('/').next().unwrap()[..2].parse::<usize>().unwrap();
    // The split of the next default: validation 21-23, test 24-26.
    let (train, val) = Holdout::parse_range("21..23").unwrap().split_excluding(slices.clone(), Some((24, 26))).unwrap();
    assert_eq!(train.iter().map(stem).collect::<Vec<_>>(), (0..=20).collect::<Vec<_>>());
    assert_eq!(val.iter().map(stem).collect::<Vec<_>>(), [21, 22, 23]);
    // The last three that are not test slices are the same block.
    let (_, last) = Holdout::Last(3).split_excluding(slices.clone(), Some((24, 26))).unwrap();
    assert_eq!(last.iter().map(stem).collect::<Vec<_>>(), [21, 22, 23]);
    // Validation before a test block in the middle, and around it.
    let (train, val) = Holdout::parse_range("0..2").unwrap().split_excluding(slices.clone(), Some((10, 12))).unwrap();
    assert_eq!((train.len(), val.len()), (21, 3));
    assert!(train.iter().all(|s| !(10..=12).contains(&stem(s))));
    let (_, last) = Holdout::Last(2).split_excluding(slices.clone(), Some((25, 26))).unwrap();
    assert_eq!(last.iter().map(stem).collect::<Vec<_>>(), [23, 24]);
    // Without a test block, the split is the plain one.
    let plain = Holdout::parse_range("24..26").unwrap();
    let names = |(t, v): (Vec<unetseg::train::data::Slice>, Vec<unetseg::train::data::Slice>)| {
        (t.iter().map(stem).collect::<Vec<_>>(), v.iter().map(stem).collect::<Vec<_>>())
    };
    assert_eq!(
        names(plain.split_excluding(slices.clone(), None).unwrap()),
        names(plain.split(slices.clone()).unwrap())
    );
    // Overlaps, blocks past the end, and nothing left to train on.
    for (holdout, test) in [("23..24", (24, 26)), ("0..0", (20, 27)), ("0..0", (1, 26)), ("0..23", (24, 26))] {
        let holdout = Holdout::parse_range(holdout).unwrap();
        assert!(holdout.split_excluding(slices.clone(), Some(test)).is_err(), "{holdout:?} {test:?}");
    }
    assert!(Holdout::Last(0).split_excluding(slices.clone(), Some((0, 26))).is_err());
    assert!(Holdout::Last(24).split_excluding(slices, Some((24, 26))).is_err());
}

#[test]
fn history_round_trips_and_plots_are_svgs() {
    let dir = scratch("train-data-history");
    let records: Vec<EpochRecord> = (1..=5)
        .map(|e| EpochRecord {
            epoch: e,
            train_loss: 0.7 / e as f64,
            train_acc: 0.6 + 0.05 * e as f64,
            val_loss: (e % 2 == 0).then(|| 0.8 / e as f64),
            val_acc: (e % 2 == 0).then(|| 0.55 + 0.06 * e as f64),
            val_v_rand: (e % 2 == 0).then(|| 0.5 + 0.08 * e as f64),
        })
        .collect();
    let path = dir.join("history.csv");
    history::write(&path, &records).unwrap();
    let back = history::read(&path).unwrap();
    assert_eq!(back.len(), 5);
    for (a, b) in records.iter().zip(&back) {
        assert_eq!(a.epoch, b.epoch);
        assert!((a.train_loss - b.train_loss).abs() < 1e-6);
        assert_eq!(a.val_acc.is_some(), b.val_acc.is_some());
    }
    std::fs::write(&path, "epoch,loss\n1,2\n").unwrap();
    assert!(history::read(&path).unwrap_err().to_string().contains("history.csv"));

    write_plots(&dir, &records).unwrap();
    for name in ["loss.svg", "accuracy.svg"] {
        let svg = std::fs::read_to_string(dir.join(name)).unwrap();
        // Axes with their names and the curves (finer checks: train::plot's unit tests).
        assert!(svg.starts_with("<svg") && svg.contains("\nepoch\n</text>"), "{name}");
        assert!(svg.contains("<polyline"), "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
