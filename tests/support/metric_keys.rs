//! The keys of the metrics JSON report (the core issue's names), in report order.

/// Every key that `unetseg metrics --json` and `eval --json` report per image (and for a stack).
pub const METRIC_KEYS: [&str; 15] = [
    "v_rand",
    "v_rand_split",
    "v_rand_merge",
    "v_rand_threshold",
    "v_info",
    "v_info_split",
    "v_info_merge",
    "v_info_threshold",
    "v_rand_unthinned",
    "v_info_unthinned",
    "pixel_accuracy",
    "iou_membrane",
    "iou_cell",
    "dice_membrane",
    "dice_cell",
];
