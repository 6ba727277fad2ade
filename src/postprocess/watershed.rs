//! Step 8 (second half): marker-based watershed, step for step as `cv2.watershed`.
//!
//! OpenCV's algorithm (Meyer's flooding) on a gray image replicated to three
//! channels, where "largest channel difference" is simply the gray difference:
//! 1. The one-pixel frame of the image becomes [`WATERSHED_LINE`] (-1); other
//!    negative markers become 0 (unlabelled).
//! 2. Raster scan of the interior: every unlabelled pixel with a labelled
//!    (positive) 4-neighbour is queued at priority `min |gray(p) - gray(n)|`
//!    over those neighbours `n`.
//! 3. 256 FIFO queues, lowest priority first. A popped pixel looks at its
//!    4-neighbours (left, right, up, down): if the positive labels among them
//!    disagree it becomes [`WATERSHED_LINE`], otherwise it takes their label
//!    and queues each still unlabelled neighbour `n` at priority
//!    `|gray(p) - gray(n)|`; the current priority drops to that value when it
//!    is lower (OpenCV does this, so the order is not strictly monotone).
//!
//! Unlabelled pixels that no marker can reach stay 0.

use crate::error::{Error, Result};
use crate::raster::{GrayU8, Labels};

/// Label of watershed lines and of the image frame in the output.
pub const WATERSHED_LINE: i32 = -1;

/// Marks a pixel waiting in a queue (OpenCV's `IN_QUEUE`).
const IN_QUEUE: i32 = -2;
/// End of a queue's linked list.
const NONE: u32 = u32::MAX;
/// Number of priority levels (8-bit differences).
const LEVELS: usize = 256;

/// Floods `markers` (positive = seed labels, 0 = unknown) over `gray` and
/// returns the labels: every reached pixel gets the label of its basin, or
/// [`WATERSHED_LINE`] between basins and on the image frame.
/// Fails when the two rasters differ in size.
pub fn watershed(gray: &GrayU8, markers: &Labels) -> Result<Labels> {
    if gray.dims() != markers.dims() {
        return Err(Error::invalid(format!(
            "watershed: image is {}x{} but markers are {}x{}",
            gray.width(),
            gray.height(),
            markers.width(),
            markers.height()
        )));
    }
    let (width, height) = gray.dims();
    let mut labels = markers.clone();
    let m = labels.data_mut();
    let img = gray.data();
    let diff = |a: usize, b: usize| img[a].abs_diff(img[b]) as usize;

    let mut queues = Queues::new(width * height);
    if height > 0 && width > 0 {
        m[..width].fill(WATERSHED_LINE);
        m[(height - 1) * width..].fill(WATERSHED_LINE);
    }
    for y in 1..height.saturating_sub(1) {
        let row = y * width;
        m[row] = WATERSHED_LINE;
        m[row + width - 1] = WATERSHED_LINE;
        for i in row + 1..row + width.saturating_sub(1) {
            if m[i] < 0 {
                m[i] = 0;
            }
            if m[i] != 0 {
                continue;
            }
            let mut level = LEVELS;
            for n in [i - 1, i + 1, i - width, i + width] {
                if m[n] > 0 {
                    level = level.min(diff(i, n));
                }
            }
            if level < LEVELS {
                queues.push(level, i);
                m[i] = IN_QUEUE;
            }
        }
    }

    let Some(mut active) = queues.first_non_empty(0) else {
        return Ok(labels);
    };
    loop {
        if queues.is_empty(active) {
            match queues.first_non_empty(active + 1) {
                Some(level) => active = level,
                None => break,
            }
        }
        let i = queues.pop(active);

        let mut label = 0;
        for n in [i - 1, i + 1, i - width, i + width] {
            let t = m[n];
            if t > 0 {
                if label == 0 {
                    label = t;
                } else if t != label {
                    label = WATERSHED_LINE;
                }
            }
        }
        debug_assert!(label != 0, "a queued pixel always has a labelled neighbour");
        m[i] = label;
        if label == WATERSHED_LINE {
            continue;
        }
        for n in [i - 1, i + 1, i - width, i + width] {
            if m[n] == 0 {
                let level = diff(i, n);
                queues.push(level, n);
                active = active.min(level);
                m[n] = IN_QUEUE;
            }
        }
    }
    Ok(labels)
}

/// 256 FIFO queues of pixel indices. Each pixel is queued at most once, so a
/// per-pixel link chains the queues without allocating nodes.
struct Queues {
    first: [u32; LEVELS],
    last: [u32; LEVELS],
    next: Vec<u32>,
}

impl Queues {
    fn new(pixels: usize) -> Self {
        Self { first: [NONE; LEVELS], last: [NONE; LEVELS], next: vec![NONE; pixels] }
    }

    fn push(&mut self, level: usize, pixel: usize) {
        let p = pixel as u32;
        self.next[pixel] = NONE;
        match self.last[level] {
            NONE => self.first[level] = p,
            tail => self.next[tail as usize] = p,
        }
        self.last[level] = p;
    }

    /// Removes and returns the oldest pixel of a non-empty queue.
    fn pop(&mut self, level: usize) -> usize {
        let pixel = self.first[level] as usize;
        self.first[level] = self.next[pixel];
        if self.first[level] == NONE {
            self.last[level] = NONE;
        }
        pixel
    }

    fn is_empty(&self, level: usize) -> bool {
        self.first[level] == NONE
    }

    /// The lowest non-empty level at or above `from`.
    fn first_non_empty(&self, from: usize) -> Option<usize> {
        (from..LEVELS).find(|&l| self.first[l] != NONE)
    }
}
