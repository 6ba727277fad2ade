//! Training of the U-Net.
