//! Result files in the formats that other programs exchange: cell outlines as an
//! ImageJ ROI set (`RoiSet.zip`, which Fiji's ROI Manager opens), label images as
//! TIFF (32-bit when a page has more than 65535 cells, one page per slice of a
//! stack), and the ZIP container of the ROI set.

pub mod label_tiff;
pub mod outline;
pub mod roi;
pub mod zip;
