//! The physical size of a pixel (a page's spatial calibration), as an OME-TIFF's
//! metadata gives it.

use std::fmt;

use crate::error::{Error, Result};

/// A unit of length that a pixel size can be given in: the metric ones that
/// microscopy uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthUnit {
    /// Metre.
    Metre,
    /// Decimetre.
    Decimetre,
    /// Centimetre.
    Centimetre,
    /// Millimetre.
    Millimetre,
    /// Micrometre (micron).
    Micrometre,
    /// Nanometre.
    Nanometre,
    /// Picometre.
    Picometre,
    /// Ångström (0.1 nm).
    Angstrom,
}

impl LengthUnit {
    /// The unit of an OME `UnitsLength` symbol (`µm`, `nm`, `Å`, ...), also accepting
    /// the spellings other writers use (`um`, `micron`, the Greek mu, the Ångström
    /// sign); `None` for any other unit (imperial ones, `pixel`, `reference frame`).
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        let unit = match symbol.trim() {
            "m" => LengthUnit::Metre,
            "dm" => LengthUnit::Decimetre,
            "cm" => LengthUnit::Centimetre,
            "mm" => LengthUnit::Millimetre,
            "\u{b5}m" | "\u{3bc}m" | "um" | "micron" | "microns" => LengthUnit::Micrometre,
            "nm" => LengthUnit::Nanometre,
            "pm" => LengthUnit::Picometre,
            "\u{c5}" | "\u{212b}" => LengthUnit::Angstrom,
            _ => return None,
        };
        Some(unit)
    }

    /// The unit's length in metres.
    pub fn metres(self) -> f64 {
        match self {
            LengthUnit::Metre => 1.0,
            LengthUnit::Decimetre => 1e-1,
            LengthUnit::Centimetre => 1e-2,
            LengthUnit::Millimetre => 1e-3,
            LengthUnit::Micrometre => 1e-6,
            LengthUnit::Nanometre => 1e-9,
            LengthUnit::Picometre => 1e-12,
            LengthUnit::Angstrom => 1e-10,
        }
    }

    /// Its symbol in plain ASCII, as unetseg writes it (`um` for the micrometre,
    /// `angstrom` for the Ångström), so that CSV files read the same in every program.
    pub fn ascii_symbol(self) -> &'static str {
        match self {
            LengthUnit::Metre => "m",
            LengthUnit::Decimetre => "dm",
            LengthUnit::Centimetre => "cm",
            LengthUnit::Millimetre => "mm",
            LengthUnit::Micrometre => "um",
            LengthUnit::Nanometre => "nm",
            LengthUnit::Picometre => "pm",
            LengthUnit::Angstrom => "angstrom",
        }
    }
}

/// The width and height of one pixel in a unit of length: both positive and finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelSize {
    width: f64,
    height: f64,
    unit: LengthUnit,
}

impl PixelSize {
    /// A pixel `width` x `height` `unit`s large; fails unless both are positive and
    /// finite.
    pub fn new(width: f64, height: f64, unit: LengthUnit) -> Result<Self> {
        if !(width > 0.0 && width.is_finite() && height > 0.0 && height.is_finite()) {
            return Err(Error::invalid(format!(
                "a pixel size must be positive and finite, got {width} x {height} {}",
                unit.ascii_symbol()
            )));
        }
        Ok(Self { width, height, unit })
    }

    /// A pixel `width` `width_unit`s wide and `height` `height_unit`s high, both in
    /// `width_unit`; fails as [`PixelSize::new`] does.
    pub fn with_units(width: f64, width_unit: LengthUnit, height: f64, height_unit: LengthUnit) -> Result<Self> {
        let height =
            if height_unit == width_unit { height } else { height * height_unit.metres() / width_unit.metres() };
        Self::new(width, height, width_unit)
    }

    /// The pixel's width (along x), in [`PixelSize::unit`]s.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// The pixel's height (along y), in [`PixelSize::unit`]s.
    pub fn height(&self) -> f64 {
        self.height
    }

    /// The unit of the width and the height.
    pub fn unit(&self) -> LengthUnit {
        self.unit
    }

    /// The area of `pixels` pixels, in square [`PixelSize::unit`]s.
    pub fn area_of(&self, pixels: usize) -> f64 {
        pixels as f64 * self.width * self.height
    }
}

impl fmt::Display for PixelSize {
    /// `4 x 4 nm`, `0.1625 x 0.1625 um`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} x {} {}", self.width, self.height, self.unit.ascii_symbol())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ome_symbols_and_their_other_spellings_are_understood() {
        assert_eq!(LengthUnit::from_symbol("\u{b5}m"), Some(LengthUnit::Micrometre));
        assert_eq!(LengthUnit::from_symbol("\u{3bc}m"), Some(LengthUnit::Micrometre));
        assert_eq!(LengthUnit::from_symbol("micron"), Some(LengthUnit::Micrometre));
        assert_eq!(LengthUnit::from_symbol(" nm "), Some(LengthUnit::Nanometre));
        assert_eq!(LengthUnit::from_symbol("\u{c5}"), Some(LengthUnit::Angstrom));
        assert_eq!(LengthUnit::from_symbol("\u{212b}"), Some(LengthUnit::Angstrom));
        for other in ["in", "pixel", "reference frame", "km", "A", ""] {
            assert_eq!(LengthUnit::from_symbol(other), None, "{other}");
        }
    }

    #[test]
    fn a_height_in_another_unit_is_converted_to_the_width_s() {
        let size = PixelSize::with_units(4.0, LengthUnit::Nanometre, 0.005, LengthUnit::Micrometre).unwrap();
        assert_eq!(size.unit(), LengthUnit::Nanometre);
        assert!((size.height() - 5.0).abs() < 1e-12);
        assert!((size.area_of(3) - 60.0).abs() < 1e-9);
        assert_eq!(PixelSize::new(4.0, 4.0, LengthUnit::Nanometre).unwrap().to_string(), "4 x 4 nm");
    }

    #[test]
    fn sizes_must_be_positive_and_finite() {
        for (w, h) in [(0.0, 1.0), (1.0, -2.0), (f64::NAN, 1.0), (1.0, f64::INFINITY)] {
            assert!(PixelSize::new(w, h, LengthUnit::Micrometre).is_err(), "{w} x {h}");
        }
    }
}
