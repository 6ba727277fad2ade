//! Instance labels and per-cell statistics derived from a post-processed segmentation.
