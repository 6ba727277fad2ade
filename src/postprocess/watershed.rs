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

/// Label values at or below this mark pixels waiting in a queue (OpenCV's
/// `IN_QUEUE`); see [`Queues`] for what the value encodes.
const IN_QUEUE: i32 = -2;
/// No pixel (an empty queue's head and tail).
const NONE: u32 = u32::MAX;
/// Number of priority levels (8-bit differences).
const LEVELS: usize = 256;

/// Floods `markers` (positive = seed labels, 0 = unknown) over `gray` and
/// returns the labels: every reached pixel gets the label of its basin, or
/// [`WATERSHED_LINE`] between basins and on the image frame.
/// Fails when the two rasters differ in size or the image has more than
/// `i32::MAX - 2` pixels.
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
    if width * height > (i32::MAX - 2) as usize {
        return Err(Error::invalid(format!("watershed: a {width}x{height} image is too large")));
    }
    let mut labels = markers.clone();
    let m = labels.data_mut();
    let img = gray.data();
    let diff = |a: usize, b: usize| img[a].abs_diff(img[b]) as usize;

    let mut queues = Queues::new();
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
                queues.push(m, level, i);
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
        let i = queues.pop(m, active);

        let label = basin_of([m[i - 1], m[i + 1], m[i - width], m[i + width]]);
        debug_assert!(label != 0, "a queued pixel always has a labelled neighbour");
        m[i] = label;
        if label == WATERSHED_LINE {
            continue;
        }
        for n in [i - 1, i + 1, i - width, i + width] {
            if m[n] == 0 {
                let level = diff(i, n);
                queues.push(m, level, n);
                active = active.min(level);
            }
        }
    }
    Ok(labels)
}

/// The label a pixel takes from its neighbours' labels: the positive label
/// they agree on, [`WATERSHED_LINE`] when two positive labels differ, 0 when
/// none is positive. Written without branches, as the outcome is hard to predict.
fn basin_of(neighbours: [i32; 4]) -> i32 {
    let positive = neighbours.map(|t| t.max(0));
    let first = positive.iter().fold(0, |found, &t| if found == 0 { t } else { found });
    let disagree = positive.iter().fold(false, |any, &t| any | ((t != 0) & (t != first)));
    if disagree {
        WATERSHED_LINE
    } else {
        first
    }
}

/// 256 FIFO queues of pixels, as singly linked lists threaded through the
/// label array itself: a queued pixel holds `IN_QUEUE - k`, where `k` is 0 at
/// the tail of its queue and otherwise 1 + the index of the pixel queued after
/// it. Each pixel is queued at most once, so this needs no extra memory, and
/// every queued value stays below -1, distinct from labels, 0 and lines.
struct Queues {
    first: [u32; LEVELS],
    last: [u32; LEVELS],
    /// Bit `l` is set while queue `l` is non-empty.
    occupied: [u64; LEVELS / 64],
}

impl Queues {
    fn new() -> Self {
        Self { first: [NONE; LEVELS], last: [NONE; LEVELS], occupied: [0; LEVELS / 64] }
    }

    /// Appends `pixel` to queue `level`, marking it as queued in `labels`.
    fn push(&mut self, labels: &mut [i32], level: usize, pixel: usize) {
        labels[pixel] = IN_QUEUE;
        match self.last[level] {
            NONE => {
                self.first[level] = pixel as u32;
                self.occupied[level / 64] |= 1 << (level % 64);
            }
            tail => labels[tail as usize] = IN_QUEUE - (pixel as i32 + 1),
        }
        self.last[level] = pixel as u32;
    }

    /// Removes and returns the oldest pixel of a non-empty queue. Its entry in
    /// `labels` still holds the queue mark; the caller overwrites it.
    fn pop(&mut self, labels: &[i32], level: usize) -> usize {
        let pixel = self.first[level] as usize;
        match IN_QUEUE - labels[pixel] {
            0 => {
                self.first[level] = NONE;
                self.last[level] = NONE;
                self.occupied[level / 64] &= !(1 << (level % 64));
            }
            k => self.first[level] = (k - 1) as u32,
        }
        pixel
    }

    fn is_empty(&self, level: usize) -> bool {
        self.first[level] == NONE
    }

    /// The lowest non-empty level at or above `from`.
    fn first_non_empty(&self, from: usize) -> Option<usize> {
        if from >= LEVELS {
            return None;
        }
        let mut word = from / 64;
        let mut bits = self.occupied[word] & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            if word == self.occupied.len() {
                return None;
            }
            bits = self.occupied[word];
        }
    }
}
