//! Small helpers for handing values to JavaScript.

use wasm_bindgen::prelude::*;

/// The crate's error as a JS `Error` with the same message.
pub fn error(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A plain JS object with the given properties.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in entries {
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

/// A copy of `bytes` in a JS `Uint8Array` of its own (transferable to the page).
pub fn bytes(bytes: &[u8]) -> JsValue {
    js_sys::Uint8Array::from(bytes).into()
}

/// `performance.now()` of the worker or window, in milliseconds; `Date.now()`
/// where no `performance` exists.
pub fn now_ms() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).ok();
    let now = performance
        .as_ref()
        .and_then(|p| js_sys::Reflect::get(p, &JsValue::from_str("now")).ok())
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match (performance, now) {
        (Some(p), Some(now)) => now.call0(&p).ok().and_then(|v| v.as_f64()).unwrap_or_else(js_sys::Date::now),
        _ => js_sys::Date::now(),
    }
}
