//! One single-threaded matrix product of `f32` matrices that live in raw buffers with
//! any strides: the one shape of every product of the CPU inference engine
//! ([`super::cpu_unet`]) and of the training kernels ([`super::gemm_kernels`]). Natively
//! it is the `gemm` crate's (AVX2/FMA, NEON); in wasm, [`super::packed_matmul`]'s.

/// A matrix inside a buffer: its first element and the distances, in elements, from
/// one row to the next and from one column to the next (a transposed view swaps them).
#[derive(Clone, Copy)]
pub(super) struct Strided {
    /// The element at row 0, column 0.
    pub ptr: *const f32,
    /// Elements from one row to the next.
    pub row: usize,
    /// Elements from one column to the next.
    pub col: usize,
}

impl Strided {
    /// A matrix whose rows are `row` elements apart and whose columns are contiguous.
    pub fn rows(ptr: *const f32, row: usize) -> Self {
        Self { ptr, row, col: 1 }
    }

    /// The transpose of a matrix stored with rows `row` elements apart and contiguous
    /// columns: its rows are contiguous, its columns `row` elements apart.
    pub fn transposed(ptr: *const f32, row: usize) -> Self {
        Self { ptr, row: 1, col: row }
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`, for an `m x k` `lhs`
/// and a `k x n` `rhs`; `dst` is `m x n` with rows `dst_row` elements apart and
/// contiguous columns. Runs on the calling thread. With `k == 0` the product is zero.
///
/// # Safety
/// Every element of the three matrices must lie inside its buffer, `dst` must overlap
/// neither input, and no other thread may touch `dst`'s elements during the call.
pub(super) unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_row: usize,
    accumulate: bool,
    lhs: Strided,
    rhs: Strided,
) {
    #[cfg(target_family = "wasm")]
    // SAFETY: forwarded to the caller.
    unsafe {
        super::packed_matmul::matmul::<super::packed_matmul::Simd128>((m, n, k), dst, dst_row, accumulate, lhs, rhs)
    }
    #[cfg(not(target_family = "wasm"))]
    // SAFETY: forwarded to the caller; gemm reads dst only when `accumulate`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row as isize,
            accumulate,
            lhs.ptr,
            lhs.col as isize,
            lhs.row as isize,
            rhs.ptr,
            rhs.col as isize,
            rhs.row as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
