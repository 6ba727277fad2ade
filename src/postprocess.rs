//! The 9-step watershed post-processing of the original project.
