//! Segmentation quality metrics, including the ISBI 2012 scores.
