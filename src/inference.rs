//! Overlap-tile inference for images of any size.
