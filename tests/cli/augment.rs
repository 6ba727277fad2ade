//! `unetseg augment` on the shipped ISBI slice 24: the gallery's files (the original's
//! augmentations and the robust recipe's) exist, decode, have the right sizes and
//! contents, and bad input fails cleanly.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::scratch;
use unetseg::augment::{flip, Flip};
use unetseg::imageio::{decode_pages, read_gray8, read_mask};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/isbi2012/train").join(rel)
}

fn augment(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_unetseg")).arg("augment").args(args).output().unwrap()
}

#[test]
fn gallery_of_slice_24_with_mask() {
    let out = scratch("augment-gallery");
    let image_path = data("images/24.png");
    let mask_path = data("masks/24.png");
    let run = augment(&[
        image_path.to_str().unwrap(),
        "--mask",
        mask_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "5",
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let image = read_gray8(&image_path).unwrap();
    let mask = read_mask(&mask_path).unwrap();

    let gray = |name: &str| read_gray8(&out.join(name)).unwrap_or_else(|e| panic!("{e}"));
    // Every augmentation at three strengths, same size as the slice.
    for name in [
        "original.png",
        "flip_vertical.png",
        "flip_horizontal.png",
        "flip_both.png",
        "gaussian_10.png",
        "gaussian_50.png",
        "gaussian_100.png",
        "uniform_10.png",
        "uniform_50.png",
        "uniform_100.png",
        "brightness_10.png",
        "brightness_20.png",
        "brightness_30.png",
        "elastic_1.png",
        "elastic_2.png",
        "elastic_3.png",
    ] {
        assert_eq!(gray(name).dims(), (512, 512), "{name}");
    }
    assert_eq!(gray("original.png"), image);
    assert_eq!(gray("flip_vertical.png"), flip(&image, Flip::Vertical));
    assert_eq!(gray("flip_horizontal.png"), flip(&image, Flip::Horizontal));
    assert_eq!(gray("flip_both.png"), flip(&image, Flip::Both));
    assert_eq!(gray("mask_flip_both.png"), flip(&mask, Flip::Both));
    assert_eq!(gray("brightness_30.png"), image.map(|v| v.saturating_add(30)));
    // Stronger noise moves pixels further from the original.
    let mean_change = |name: &str| {
        let noisy = gray(name);
        noisy.data().iter().zip(image.data()).map(|(&a, &b)| (a as f64 - b as f64).abs()).sum::<f64>() / 262144.0
    };
    assert!(mean_change("gaussian_10.png") < mean_change("gaussian_50.png"));
    assert!(mean_change("gaussian_50.png") < mean_change("gaussian_100.png"));
    assert!(mean_change("uniform_10.png") < mean_change("uniform_100.png"));
    // Masks of geometric augmentations stay binary.
    for name in ["mask_elastic_1.png", "mask_elastic_3.png", "mask_crop_right_top.png"] {
        read_mask(&out.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }

    // Corner crops are 388x388 windows of the slice.
    let right_top = gray("crop_right_top.png");
    assert_eq!(right_top.dims(), (388, 388));
    assert_eq!(right_top.get(0, 0), image.get(512 - 388, 0));
    assert_eq!(right_top.get(387, 387), image.get(511, 387));
    assert_eq!(gray("crop_left_bottom.png").get(0, 0), image.get(0, 512 - 388));

    // Pads are 572x572 RGB: gray image pixels inside, a yellow frame at the
    // image border, mirror padding outside it.
    let pad = &decode_pages(&std::fs::read(out.join("pad_left_top.png")).unwrap(), "pad_left_top.png").unwrap()[0];
    assert_eq!((pad.width(), pad.height()), (572, 572));
    let png = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(out.join("pad_left_top.png")).unwrap()));
    let mut reader = png.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut rgb).unwrap();
    let px = |x: usize, y: usize| [rgb[(y * 572 + x) * 3], rgb[(y * 572 + x) * 3 + 1], rgb[(y * 572 + x) * 3 + 2]];
    // The tile starts 92 px above and left of the image: (92, 92) is image (0, 0).
    let v = image.get(0, 0);
    assert_eq!(px(92, 92), [v, v, v]);
    let v = image.get(479, 479);
    assert_eq!(px(571, 571), [v, v, v]);
    assert_eq!(px(91, 200), [255, 255, 0]);
    assert_eq!(px(300, 90), [255, 255, 0]);
    // Beyond the frame: the mirror image (symmetric padding: tile x 0 is image x 91).
    let v = image.get(91, 300 - 92);
    assert_eq!(px(0, 300), [v, v, v]);

    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for name in
        ["flip_both.png", "elastic_2.png", "pad_right_bottom.png", "mask_pad_right_bottom.png", "uniform_100.png"]
    {
        assert!(index.contains(&format!("href=\"{name}\"")), "index.html links {name}");
    }
    assert!(index.contains("Standard deviation: 50"));
    // The robust recipe's rows: 256x256 windows at four scales (with masks), tone
    // curves, blur and inversion of the whole slice, and four random training crops.
    for scale in ["0.5", "0.71", "1.41", "2"] {
        assert_eq!(gray(&format!("scale_{scale}.png")).dims(), (256, 256), "{scale}");
        read_mask(&out.join(format!("mask_scale_{scale}.png"))).unwrap_or_else(|e| panic!("{e}"));
    }
    // At 2x the window shows the central 128x128 px, at 0.5x all 512x512; masks take
    // the pixel under each centre, images average (0.5x) or interpolate (2x).
    assert_eq!(gray("mask_scale_2.png").get(0, 0), mask.get(192, 192));
    assert_eq!(gray("mask_scale_2.png").get(255, 255), mask.get(319, 319));
    assert_eq!(gray("mask_scale_0.5.png").get(0, 0), mask.get(1, 1));
    let block: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)].iter().map(|&(x, y)| u32::from(image.get(x, y))).sum();
    assert_eq!(u32::from(gray("scale_0.5.png").get(0, 0)), (block + 2) / 4);
    for name in ["gamma_0.5.png", "gamma_2.png", "contrast_0.5.png", "blur_2.png", "invert.png"] {
        assert_eq!(gray(name).dims(), (512, 512), "{name}");
    }
    assert_eq!(gray("invert.png"), image.map(|v| 255 - v));
    let mean = |name: &str| gray(name).data().iter().map(|&v| f64::from(v)).sum::<f64>() / 262144.0;
    assert!(mean("gamma_0.5.png") > mean("original.png") && mean("gamma_2.png") < mean("original.png"));
    for k in 1..=4 {
        assert_eq!(gray(&format!("robust_{k}.png")).dims(), (256, 256));
        read_mask(&out.join(format!("mask_robust_{k}.png"))).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(index.contains("Scale (robust)") && index.contains("href=\"robust_4.png\""));

    let pngs = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"))
        .count();
    assert_eq!(pngs, 39 + 8 + 4 + 3 + 3 + 1 + 8);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn gallery_without_mask_and_with_a_small_image() {
    let out = scratch("augment-small");
    std::fs::create_dir_all(&out).unwrap();
    let small = out.join("small.png");
    let img = unetseg::Raster::from_fn(40, 30, |x, y| (x * 5 + y) as u8);
    unetseg::imageio::write_png_u8(&small, &img).unwrap();
    let gallery = out.join("gallery");
    let run = augment(&[small.to_str().unwrap(), "--out", gallery.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // Crops shrink to the image's shorter side; pads add 92 px on each side.
    assert_eq!(read_gray8(&gallery.join("crop_left_top.png")).unwrap().dims(), (30, 30));
    assert_eq!(read_gray8(&gallery.join("pad_right_top.png")).unwrap().dims(), (214, 214));
    assert!(!gallery.join("mask_flip_both.png").exists());
    // The robust rows' windows shrink to the shorter side too.
    assert_eq!(read_gray8(&gallery.join("scale_2.png")).unwrap().dims(), (30, 30));
    assert_eq!(read_gray8(&gallery.join("robust_1.png")).unwrap().dims(), (30, 30));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_input_fails_naming_the_file() {
    let out = scratch("augment-bad");
    std::fs::create_dir_all(&out).unwrap();
    let broken = out.join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nthis is not really a png").unwrap();
    let run = augment(&[broken.to_str().unwrap(), "--out", out.join("g").to_str().unwrap()]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("broken.png"), "{stderr}");

    // A gray image is not a mask.
    let run = augment(&[
        data("images/24.png").to_str().unwrap(),
        "--mask",
        data("images/25.png").to_str().unwrap(),
        "--out",
        out.join("g").to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("25.png") && stderr.contains("not a binary mask"), "{stderr}");

    let run = augment(&["/nonexistent/slice.png", "--out", out.join("g").to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("slice.png"));
    std::fs::remove_dir_all(&out).unwrap();
}
