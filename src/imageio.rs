//! Image reading and writing (PNG, JPEG, TIFF; 8/16-bit; multi-page).
