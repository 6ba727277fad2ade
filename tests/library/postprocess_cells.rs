//! Cell instances of a segmentation: labels, statistics, CSV, 16-bit limit,
//! colour rendering. (Agreement with OpenCV on real slices is checked in
//! postprocess_opencv.rs.)

use proptest::prelude::*;
use unetseg::cells::Cells;
use unetseg::GrayU8;

/// A drawing: '#' = cell interior (255), '.' = membrane (0).
fn drawing(rows: &[&str]) -> GrayU8 {
    let width = rows[0].len();
    let data = rows.iter().flat_map(|r| r.bytes().map(|b| if b == b'#' { 255 } else { 0 })).collect();
    GrayU8::new(width, rows.len(), data).unwrap()
}

#[test]
fn cells_are_4_connected_and_numbered_in_raster_order() {
    let image = drawing(&["....###", "##..###", "##.....", "..#..##", "...#.##"]);
    let cells = Cells::from_segmentation(&image);
    // The two diagonal pixels are separate cells; the right-hand block starts first.
    assert_eq!(cells.count(), 5);
    let expected_rows: [&[i32]; 5] = [
        &[0, 0, 0, 0, 1, 1, 1],
        &[2, 2, 0, 0, 1, 1, 1],
        &[2, 2, 0, 0, 0, 0, 0],
        &[0, 0, 3, 0, 0, 4, 4],
        &[0, 0, 0, 5, 0, 4, 4],
    ];
    for (y, row) in expected_rows.iter().enumerate() {
        assert_eq!(cells.labels.row(y), *row, "row {y}");
    }
    let first = &cells.cells[0];
    assert_eq!((first.label, first.area), (1, 6));
    assert_eq!((first.centroid_x, first.centroid_y), (5.0, 0.5));
    assert_eq!((first.x0, first.y0, first.x1, first.y1), (4, 0, 6, 1));
    assert_eq!(
        cells.to_csv(),
        "label,area,centroid_x,centroid_y,bbox_x0,bbox_y0,bbox_x1,bbox_y1\n\
         1,6,5.000,0.500,4,0,6,1\n\
         2,4,0.500,1.500,0,1,1,2\n\
         3,1,2.000,3.000,2,3,2,3\n\
         4,4,5.500,3.500,5,3,6,4\n\
         5,1,3.000,4.000,3,4,3,4\n"
    );
    assert_eq!(cells.labels_u16().unwrap().data()[4], 1);
}

#[test]
fn an_image_without_cells_has_an_empty_table() {
    let cells = Cells::from_segmentation(&GrayU8::filled(3, 2, 0));
    assert_eq!(cells.count(), 0);
    assert_eq!(cells.to_csv().lines().count(), 1);
    assert!(cells.render().data().iter().all(|&c| c == [0, 0, 0]));
}

#[test]
fn more_than_65535_cells_do_not_fit_16_bits() {
    // A 512x512 checkerboard: 131072 isolated pixels under 4-connectivity.
    let board = GrayU8::from_fn(512, 512, |x, y| if (x + y) % 2 == 0 { 255 } else { 0 });
    let cells = Cells::from_segmentation(&board);
    assert_eq!(cells.count(), 512 * 512 / 2);
    let err = cells.labels_u16().unwrap_err();
    assert!(err.to_string().contains("131072 cells"), "{err}");
}

#[test]
fn rendering_colours_cells_and_leaves_membranes_black() {
    let image = drawing(&["##.#", "##.#"]);
    let cells = Cells::from_segmentation(&image);
    let rgb = cells.render();
    assert_eq!(rgb.get(2, 0), [0, 0, 0]);
    assert_ne!(rgb.get(0, 0), [0, 0, 0]);
    assert_eq!(rgb.get(0, 0), rgb.get(1, 1));
    assert_ne!(rgb.get(0, 0), rgb.get(3, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn statistics_are_consistent_with_the_labels(
        (w, h, data) in (1usize..16, 1usize..16).prop_flat_map(|(w, h)| (Just(w), Just(h), proptest::collection::vec(prop_oneof![Just(0u8), Just(255u8)], w * h)))
    ) {
        let image = GrayU8::new(w, h, data).unwrap();
        let cells = Cells::from_segmentation(&image);
        let total: usize = cells.cells.iter().map(|c| c.area).sum();
        prop_assert_eq!(total, image.data().iter().filter(|&&v| v != 0).count());
        for (i, c) in cells.cells.iter().enumerate() {
            prop_assert_eq!(c.label as usize, i + 1);
            prop_assert!(c.area > 0);
            let mut n = 0;
            for y in 0..h {
                for x in 0..w {
                    if cells.labels.get(x, y) == c.label as i32 {
                        n += 1;
                        prop_assert!(c.x0 <= x && x <= c.x1 && c.y0 <= y && y <= c.y1);
                    }
                }
            }
            prop_assert_eq!(n, c.area);
            prop_assert!(c.x0 as f64 <= c.centroid_x && c.centroid_x <= c.x1 as f64);
            prop_assert!(c.y0 as f64 <= c.centroid_y && c.centroid_y <= c.y1 as f64);
        }
        prop_assert_eq!(cells.to_csv().lines().count(), cells.count() + 1);
    }
}
