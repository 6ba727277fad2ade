//! Import of PyTorch state_dicts of the original project.
