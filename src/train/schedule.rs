//! Learning-rate schedules: how the step size changes over a run.

use serde::{Deserialize, Serialize};

/// The learning rate as a function of the run's progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LrSchedule {
    /// The base rate throughout (the original project's choice).
    #[default]
    Constant,
    /// Half a cosine from the base rate at the first step down to `min` after the
    /// last step of the last epoch.
    Cosine {
        /// The rate reached at the end of the run.
        min: f64,
    },
}

impl LrSchedule {
    /// The rate for a step taken when `progress` (0 at the start, 1 at the end of the
    /// last epoch; clamped to that range) of the run is done, given the base rate.
    pub fn rate(self, base: f64, progress: f64) -> f64 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine { min } => {
                let t = progress.clamp(0.0, 1.0);
                min + 0.5 * (base - min) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_keeps_the_base_rate() {
        for p in [0.0, 0.3, 1.0, 2.0] {
            assert_eq!(LrSchedule::Constant.rate(1e-3, p), 1e-3);
        }
    }

    #[test]
    fn cosine_runs_from_base_to_min_through_the_midpoint() {
        let s = LrSchedule::Cosine { min: 1e-5 };
        assert!((s.rate(1e-3, 0.0) - 1e-3).abs() < 1e-15);
        assert!((s.rate(1e-3, 0.5) - (1e-3 + 1e-5) / 2.0).abs() < 1e-15);
        assert!((s.rate(1e-3, 1.0) - 1e-5).abs() < 1e-15);
        assert!((s.rate(1e-3, 1.5) - 1e-5).abs() < 1e-15, "clamped past the end");
        let rates: Vec<f64> = (0..=10).map(|i| s.rate(1e-3, i as f64 / 10.0)).collect();
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "strictly decreasing: {rates:?}");
    }
}
