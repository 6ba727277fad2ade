//! A blocked `f32` matrix product over 4-lane vectors: what the page's wasm runs for
//! [`super::matmul::matmul`] in place of the `gemm` crate, whose wasm kernels ran the
//! convolutions' products at about two thirds of this one's speed in Chromium, and which
//! cannot use relaxed SIMD's fused multiply-add.
//!
//! The right-hand matrix is packed, [`KC`] rows at a time, into panels of [`NR`] = 8
//! contiguous columns (zero past its last column). Each block of [`MR`] = 4 left-hand
//! rows then meets each panel in a 4x8 tile of eight vector accumulators: per step of the
//! inner dimension, two vector loads from the panel, four scalar loads from the left
//! rows (any strides), eight multiply-adds. A tile of fewer rows repeats its last row
//! and stores only its own; a panel of fewer columns stores only its own.
//!
//! Lanes are the [`Lanes`] trait: wasm's `v128` (with `f32x4.relaxed_madd` when the
//! module is built with the `relaxed-simd` target feature, else a multiply and an add)
//! and, for the tests, four plain `f32`s with the same blocking.

use super::matmul::Strided;

/// Rows of the left-hand matrix per tile.
const MR: usize = 4;
/// Columns of the right-hand matrix per packed panel (two vectors).
const NR: usize = 8;
/// Rows of the right-hand matrix packed at a time (the inner dimension's block).
const KC: usize = 256;

/// Four `f32` lanes and the operations the product needs.
pub(super) trait Lanes: Copy {
    /// All four lanes `x`.
    fn splat(x: f32) -> Self;
    /// Four values from `ptr` (no alignment needed).
    ///
    /// # Safety
    /// `ptr .. ptr + 4` must be readable.
    unsafe fn load(ptr: *const f32) -> Self;
    /// Writes the four lanes to `ptr .. ptr + 4`.
    ///
    /// # Safety
    /// `ptr .. ptr + 4` must be writable.
    unsafe fn store(self, ptr: *mut f32);
    /// `self + a * b` per lane, rounded once or twice (a fused multiply-add where the
    /// lanes offer one).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `self + other` per lane.
    fn add(self, other: Self) -> Self;
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`, for an `m x k` `lhs` and
/// a `k x n` `rhs`; `dst` is `m x n` with rows `dst_row` elements apart and contiguous
/// columns, of which only the first `n` of each row are touched. With `k == 0` the
/// product is zero.
///
/// # Safety
/// Every element of the three matrices must lie inside its buffer and `dst` must not
/// overlap either input.
pub(super) unsafe fn matmul<L: Lanes>(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_row: usize,
    accumulate: bool,
    lhs: Strided,
    rhs: Strided,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i of dst, n elements, inside its buffer (caller's contract).
                unsafe { core::ptr::write_bytes(dst.add(i * dst_row), 0, n) };
            }
        }
        return;
    }
    let panels = n.div_ceil(NR);
    let mut packed = vec![0f32; KC.min(k) * panels * NR];
    for k0 in (0..k).step_by(KC) {
        let depth = KC.min(k - k0);
        // SAFETY: reads rows k0 .. k0 + depth, columns 0 .. n of rhs.
        unsafe { pack(&mut packed, rhs, k0, depth, n) };
        let add = accumulate || k0 > 0;
        for i0 in (0..m).step_by(MR) {
            let rows = MR.min(m - i0);
            // SAFETY: row i0 + r (r < rows, else the last of the tile), from column k0.
            let lhs_rows: [*const f32; MR] =
                core::array::from_fn(|r| unsafe { lhs.ptr.add((i0 + r.min(rows - 1)) * lhs.row + k0 * lhs.col) });
            for panel in 0..panels {
                let columns = NR.min(n - panel * NR);
                // SAFETY: the tile's rows hold `depth` elements each from k0 (lhs.col
                // apart); the panel holds `depth` packed rows of NR.
                let tile = unsafe { multiply_tile::<L>(lhs_rows, lhs.col, depth, &packed[panel * depth * NR..]) };
                for (r, [low, high]) in tile.iter().take(rows).enumerate() {
                    // SAFETY: row i0 + r < m of dst, columns panel * NR .. + columns <= n.
                    unsafe { write_tile_row(dst.add((i0 + r) * dst_row + panel * NR), columns, add, *low, *high) };
                }
            }
        }
    }
}

/// Packs rows `k0 .. k0 + depth` of `rhs` (columns `0 .. n`) into `packed` as panels of
/// `NR` columns: panel `p`, row `q`, column `j` at `(p * depth + q) * NR + j`, zero past `n`.
///
/// # Safety
/// Those elements of `rhs` must lie inside its buffer.
unsafe fn pack(packed: &mut [f32], rhs: Strided, k0: usize, depth: usize, n: usize) {
    for (panel, block) in packed.chunks_exact_mut(depth * NR).take(n.div_ceil(NR)).enumerate() {
        for (q, row) in block.chunks_exact_mut(NR).enumerate() {
            for (j, value) in row.iter_mut().enumerate() {
                let column = panel * NR + j;
                // SAFETY: row k0 + q < k, column < n (caller's contract).
                *value = if column < n { unsafe { *rhs.ptr.add((k0 + q) * rhs.row + column * rhs.col) } } else { 0.0 };
            }
        }
    }
}

/// The `MR x NR` product of `depth` steps: left rows `rows` (elements `col` apart) times
/// the packed panel `panel`, as two vectors per row.
///
/// # Safety
/// Each of `rows` must hold `depth` elements `col` apart; `panel` holds `depth * NR`.
#[inline(always)]
unsafe fn multiply_tile<L: Lanes>(rows: [*const f32; MR], col: usize, depth: usize, panel: &[f32]) -> [[L; 2]; MR] {
    let mut acc = [[L::splat(0.0); 2]; MR];
    let panel = &panel[..depth * NR];
    for q in 0..depth {
        // SAFETY: q < depth; panel row q is NR = 8 values; left element q of each row.
        unsafe {
            let low = L::load(panel.as_ptr().add(q * NR));
            let high = L::load(panel.as_ptr().add(q * NR + 4));
            for (row, [acc_low, acc_high]) in rows.iter().zip(acc.iter_mut()) {
                let a = L::splat(*row.add(q * col));
                *acc_low = acc_low.mul_add(a, low);
                *acc_high = acc_high.mul_add(a, high);
            }
        }
    }
    acc
}

/// Stores (or adds, when `add`) the first `columns` of the eight values `low, high` at `dst`.
///
/// # Safety
/// `dst .. dst + columns` must be writable (and readable when `add`).
#[inline(always)]
unsafe fn write_tile_row<L: Lanes>(dst: *mut f32, columns: usize, add: bool, low: L, high: L) {
    // SAFETY: the full-width case touches dst .. dst + 8 = dst + columns.
    unsafe {
        if columns == NR {
            let (low, high) = if add { (low.add(L::load(dst)), high.add(L::load(dst.add(4)))) } else { (low, high) };
            low.store(dst);
            high.store(dst.add(4));
            return;
        }
        let mut values = [0f32; NR];
        low.store(values.as_mut_ptr());
        high.store(values.as_mut_ptr().add(4));
        for (j, value) in values.iter().take(columns).enumerate() {
            let out = dst.add(j);
            *out = if add { *out + value } else { *value };
        }
    }
}

/// Wasm's 128-bit SIMD lanes.
#[cfg(target_family = "wasm")]
#[derive(Clone, Copy)]
pub(super) struct Simd128(core::arch::wasm32::v128);

#[cfg(target_family = "wasm")]
impl Lanes for Simd128 {
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Self(core::arch::wasm32::f32x4_splat(x))
    }

    #[inline(always)]
    unsafe fn load(ptr: *const f32) -> Self {
        // SAFETY: forwarded (v128_load needs no alignment).
        Self(unsafe { core::arch::wasm32::v128_load(ptr.cast()) })
    }

    #[inline(always)]
    unsafe fn store(self, ptr: *mut f32) {
        // SAFETY: forwarded.
        unsafe { core::arch::wasm32::v128_store(ptr.cast(), self.0) }
    }

    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        return Self(core::arch::wasm32::f32x4_relaxed_madd(a.0, b.0, self.0));
        #[cfg(not(target_feature = "relaxed-simd"))]
        return Self(core::arch::wasm32::f32x4_add(self.0, core::arch::wasm32::f32x4_mul(a.0, b.0)));
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        Self(core::arch::wasm32::f32x4_add(self.0, other.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Four plain lanes: the blocking, packing and edges of the wasm product, natively.
    #[derive(Clone, Copy)]
    struct Portable([f32; 4]);

    impl Lanes for Portable {
        fn splat(x: f32) -> Self {
            Self([x; 4])
        }
        unsafe fn load(ptr: *const f32) -> Self {
            // SAFETY: forwarded.
            Self(core::array::from_fn(|i| unsafe { *ptr.add(i) }))
        }
        unsafe fn store(self, ptr: *mut f32) {
            for (i, v) in self.0.into_iter().enumerate() {
                // SAFETY: forwarded.
                unsafe { *ptr.add(i) = v };
            }
        }
        fn mul_add(self, a: Self, b: Self) -> Self {
            Self(core::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
        }
        fn add(self, other: Self) -> Self {
            Self(core::array::from_fn(|i| self.0[i] + other.0[i]))
        }
    }

    /// Element (i, j) of a strided matrix inside `buffer`.
    fn at(buffer: &[f32], view: (usize, usize, usize), i: usize, j: usize) -> f32 {
        let (offset, row, col) = view;
        buffer[offset + i * row + j * col]
    }

    #[test]
    fn products_of_every_edge_match_the_triple_loop() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let shapes =
            [(1, 1, 1), (4, 8, 3), (5, 9, 7), (3, 16, 48), (13, 2, 300), (9, 33, 257), (64, 7, 520), (2, 3, 0)];
        for (case, &(m, n, k)) in shapes.iter().enumerate() {
            for transposed_lhs in [false, true] {
                for transposed_rhs in [false, true] {
                    for accumulate in [false, true] {
                        // Views with padding between rows (or columns), as the kernels use them.
                        let (lhs_view, lhs_len) = if transposed_lhs {
                            ((3, 1, m + 2), 3 + (m + 2) * k + m)
                        } else {
                            ((1, k + 1, 1), 1 + (k + 1) * m + k)
                        };
                        let (rhs_view, rhs_len) = if transposed_rhs {
                            ((2, 1, k + 3), 2 + (k + 3) * n + k)
                        } else {
                            ((0, n + 5, 1), (n + 5) * k + n)
                        };
                        let lhs: Vec<f32> = (0..lhs_len).map(|_| rng.random_range(-1.0..1.0)).collect();
                        let rhs: Vec<f32> = (0..rhs_len).map(|_| rng.random_range(-1.0..1.0)).collect();
                        let dst_row = n + 2;
                        let start: Vec<f32> = (0..m * dst_row).map(|_| rng.random_range(-1.0..1.0)).collect();
                        let mut dst = start.clone();
                        let view = |buffer: &[f32], (offset, row, col): (usize, usize, usize)| Strided {
                            ptr: buffer[offset..].as_ptr(),
                            row,
                            col,
                        };
                        // SAFETY: every view's elements lie inside its buffer (lengths above).
                        unsafe {
                            matmul::<Portable>(
                                (m, n, k),
                                dst.as_mut_ptr(),
                                dst_row,
                                accumulate,
                                view(&lhs, lhs_view),
                                view(&rhs, rhs_view),
                            )
                        };
                        for i in 0..m {
                            for j in 0..dst_row {
                                let got = dst[i * dst_row + j];
                                if j >= n {
                                    assert_eq!(
                                        got,
                                        start[i * dst_row + j],
                                        "case {case}: column {j} past n was written"
                                    );
                                    continue;
                                }
                                let product: f64 = (0..k)
                                    .map(|p| at(&lhs, lhs_view, i, p) as f64 * at(&rhs, rhs_view, p, j) as f64)
                                    .sum();
                                let want = product + if accumulate { start[i * dst_row + j] as f64 } else { 0.0 };
                                assert!(
                                    (got as f64 - want).abs() <= 1e-5 * (k as f64).max(1.0),
                                    "case {case} ({m}x{n}x{k}, lhs^T {transposed_lhs}, rhs^T {transposed_rhs}, \
                                     accumulate {accumulate}): ({i}, {j}) = {got}, want {want}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
