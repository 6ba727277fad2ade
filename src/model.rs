//! The U-Net model, its configuration and its weights file.
