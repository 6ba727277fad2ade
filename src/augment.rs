//! The original project's training augmentations and normalisations.
