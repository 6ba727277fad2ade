//! Guo–Hall parallel thinning of boundary maps to 1-pixel-wide borders.
//!
//! The algorithm is "A1" of Z. Guo and R. W. Hall, *Parallel thinning with
//! two-subiteration algorithms*, Comm. ACM 32(3):359–373, 1989, in the
//! formulation of Lam, Lee & Suen, *Thinning methodologies — a comprehensive
//! survey*, IEEE TPAMI 14(9), 1992. It is the algorithm behind MATLAB's
//! `bwmorph(bw, 'thin', Inf)` and scikit-image's `skimage.morphology.thin`,
//! and [`thin`] produces exactly the same pixels as the latter
//! (tests/metrics_thinning.rs checks it on the committed fixtures).
//! [`thin_membranes`], used by the ISBI scores, runs the same algorithm with
//! a fixed membrane frame around the image.
//!
//! Thinning deletes foreground pixels only and keeps the topology: no
//! 8-connected foreground component is split or removed and no two
//! 4-connected background components are merged. For a membrane map this
//! means the cells (the background of the thinning) keep their number and
//! their adjacency while the membranes between them shrink to thin lines.

use crate::raster::Raster;

/// The 8-neighbourhood of a pixel as a byte: bit `k - 1` holds `x_k` in Guo
/// and Hall's numbering, `x_1` = east, then counter-clockwise `x_2` = north-east,
/// `x_3` = north, `x_4` = north-west, `x_5` = west, `x_6` = south-west,
/// `x_7` = south, `x_8` = south-east.
const fn neighbour(code: usize, k: usize) -> bool {
    // x_9 is x_1 again.
    (code >> ((k - 1) % 8)) & 1 == 1
}

/// Conditions G1 and G2, shared by both sub-iterations.
const fn g1_and_g2(code: usize) -> bool {
    // G1: the crossing number X_H(P) is 1.
    let mut crossings = 0;
    let mut i = 1;
    while i <= 4 {
        if !neighbour(code, 2 * i - 1) && (neighbour(code, 2 * i) || neighbour(code, 2 * i + 1)) {
            crossings += 1;
        }
        i += 1;
    }
    // G2: 2 <= min(N1(P), N2(P)) <= 3.
    let (mut n1, mut n2) = (0, 0);
    let mut k = 1;
    while k <= 4 {
        if neighbour(code, 2 * k - 1) || neighbour(code, 2 * k) {
            n1 += 1;
        }
        if neighbour(code, 2 * k) || neighbour(code, 2 * k + 1) {
            n2 += 1;
        }
        k += 1;
    }
    let n = if n1 < n2 { n1 } else { n2 };
    crossings == 1 && n >= 2 && n <= 3
}

/// Deletion tables of the two sub-iterations, indexed by the neighbourhood code.
/// The first adds G3: `(x_2 | x_3 | !x_8) & x_1 == 0`; the second G3':
/// `(x_6 | x_7 | !x_4) & x_5 == 0`.
const fn deletion_tables() -> [[bool; 256]; 2] {
    let mut tables = [[false; 256]; 2];
    let mut code = 0;
    while code < 256 {
        let base = g1_and_g2(code);
        let g3 = !((neighbour(code, 2) || neighbour(code, 3) || !neighbour(code, 8)) && neighbour(code, 1));
        let g3p = !((neighbour(code, 6) || neighbour(code, 7) || !neighbour(code, 4)) && neighbour(code, 5));
        tables[0][code] = base && g3;
        tables[1][code] = base && g3p;
        code += 1;
    }
    tables
}

/// The deletion tables of the first and second sub-iteration: entry `code` is
/// true when a foreground pixel whose neighbourhood byte is `code` (bit layout
/// as in scikit-image: bit 0 = east, counter-clockwise) is deleted.
pub const DELETION_TABLES: [[bool; 256]; 2] = deletion_tables();

/// Runs the thinning on `framed`, a `stride`-wide bitmap whose outermost
/// rows and columns are background, deleting only pixels listed in
/// `candidates` (foreground pixels not on that outer frame).
fn thin_framed(framed: &mut [bool], stride: usize, mut candidates: Vec<usize>) {
    // Offsets of x_1 .. x_8.
    let s = stride as isize;
    let offsets: [isize; 8] = [1, 1 - s, -s, -1 - s, -1, s - 1, s, s + 1];
    let mut deleted = Vec::new();
    loop {
        let mut changed = false;
        for table in &DELETION_TABLES {
            // Decide every deletion on the image as it was before this
            // sub-iteration (parallel thinning), then apply them.
            deleted.clear();
            for &i in &candidates {
                let mut code = 0usize;
                for (bit, &offset) in offsets.iter().enumerate() {
                    if framed[i.wrapping_add_signed(offset)] {
                        code |= 1 << bit;
                    }
                }
                if table[code] {
                    deleted.push(i);
                }
            }
            for &i in &deleted {
                framed[i] = false;
            }
            if !deleted.is_empty() {
                changed = true;
                candidates.retain(|&i| framed[i]);
            }
        }
        if !changed {
            break;
        }
    }
}

/// Thins the foreground (`true`) of a bitmap in place until nothing changes.
/// Pixels outside the bitmap count as background: this is exactly
/// `skimage.morphology.thin`.
pub fn thin(bitmap: &mut Raster<bool>) {
    let (width, height) = bitmap.dims();
    let stride = width + 2;
    let mut framed = vec![false; stride * (height + 2)];
    for y in 0..height {
        framed[(y + 1) * stride + 1..(y + 1) * stride + 1 + width].copy_from_slice(bitmap.row(y));
    }
    let candidates = (0..framed.len()).filter(|&i| framed[i]).collect();
    thin_framed(&mut framed, stride, candidates);
    for y in 0..height {
        let row = &framed[(y + 1) * stride + 1..(y + 1) * stride + 1 + width];
        bitmap.data_mut()[y * width..(y + 1) * width].copy_from_slice(row);
    }
}

/// Thins the membranes of a cell mask (`true` = cell interior, `false` =
/// membrane) to 1-pixel-wide borders and returns the new cell mask.
///
/// The image is surrounded by a ring of membrane one pixel wide that the
/// thinning may not delete, so every cell stays closed against the image
/// edge: the number of cells and which cells touch which is unchanged, and a
/// membrane that runs into the edge still reaches it. Plain
/// [`thin`] of the membrane map (`skimage.morphology.thin`) would instead
/// shorten such a membrane at its end and join the cells on either side
/// (on the held-out masks it joins about a quarter of the cells), and a
/// deletable ring would leave small pockets of "cell" along the edge.
pub fn thin_membranes(cell: &Raster<bool>) -> Raster<bool> {
    let (width, height) = cell.dims();
    // Layout: background frame (for neighbour look-ups), fixed membrane
    // ring, then the image.
    let stride = width + 4;
    let mut framed = vec![false; stride * (height + 4)];
    let mut candidates = Vec::new();
    for y in 1..height + 3 {
        for x in 1..width + 3 {
            let inside = (2..width + 2).contains(&x) && (2..height + 2).contains(&y);
            let membrane = !inside || !cell.get(x - 2, y - 2);
            let i = y * stride + x;
            framed[i] = membrane;
            if inside && membrane {
                candidates.push(i);
            }
        }
    }
    thin_framed(&mut framed, stride, candidates);
    Raster::from_fn(width, height, |x, y| !framed[(y + 2) * stride + x + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitmap(rows: &[&str]) -> Raster<bool> {
        Raster::from_fn(rows[0].len(), rows.len(), |x, y| rows[y].as_bytes()[x] == b'#')
    }

    #[test]
    fn thick_bar_becomes_its_centre_line() {
        // Expected result from skimage.morphology.thin on the same bitmap.
        let mut px = bitmap(&[".........", ".#######.", ".#######.", ".#######.", "........."]);
        thin(&mut px);
        let expected = bitmap(&[".........", ".........", "..#####..", ".........", "........."]);
        assert_eq!(px, expected);
    }

    #[test]
    fn isolated_pixel_and_thin_line_are_fixed_points() {
        let mut px = bitmap(&[".....", ".#...", ".....", "#####", "....."]);
        let before = px.clone();
        thin(&mut px);
        assert_eq!(px, before);
    }

    #[test]
    fn membrane_into_the_image_edge_still_separates_the_cells() {
        // A 3-pixel-wide membrane from the top edge to the bottom edge. Bare
        // thinning shortens it at both ends (the cells would meet in rows 0
        // and 4); the fixed membrane frame keeps it reaching both edges.
        let membrane = bitmap(&["....###...."; 5]);
        let thinned = thin_membranes(&membrane.map(|m| !m));
        assert_eq!(thinned, bitmap(&[".....#....."; 5]).map(|m| !m));

        let mut bare = membrane.clone();
        thin(&mut bare);
        assert!(!bare.row(0).iter().any(|&m| m), "bare thinning keeps the top end");
    }
}
