//! Import of PyTorch state_dicts of the original project (native only).
//!
//! Reads a `state_dict` saved with `torch.save` (`.pt`, `.pth`, `.pwf`: burn-store's
//! PyTorch reader, which also takes a whole pickled model or a checkpoint) or with
//! `safetensors` (`.safetensors`), under the original `CleanU_Net` names:
//!
//! `Conv_down{1..5}.conv.conv.{0,2}.{weight,bias}`, `Conv_up{1..4}.up.{weight,bias}`,
//! `Conv_up{1..4}.conv.conv.{0,2}.{weight,bias}`, `Conv_out.{weight,bias}`
//!
//! (a `module.` prefix on every name, left by `nn.DataParallel`, is dropped). The
//! file is checked against the chosen preset before anything is loaded: every
//! missing and every unexpected name and every wrong shape is reported by name.
//! Both frameworks store convolutions as `[out, in, kh, kw]` and transposed
//! convolutions as `[in, out, kh, kw]`, and both concatenate `(upsampled, skip)`,
//! so the tensors are copied unchanged.

#[cfg(not(target_family = "wasm"))]
pub use native::{expected_parameters, import_state_dict, infer_base_channels, ExpectedParameter};

#[cfg(not(target_family = "wasm"))]
mod native {
    use std::collections::BTreeMap;
    use std::path::Path;

    use burn::store::{KeyRemapper, ModuleSnapshot, ModuleStore, PytorchStore, SafetensorsStore};
    use burn::tensor::Device;

    use crate::model::{UNet, UNetConfig};
    use crate::{Error, Result};

    /// One parameter the original network has for a given configuration.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ExpectedParameter {
        /// Name in the PyTorch state_dict.
        pub pytorch: String,
        /// Path of the same tensor in [`UNet`].
        pub burn: String,
        /// Shape in both frameworks.
        pub shape: Vec<usize>,
    }

    /// The parameters of the original `CleanU_Net` built like `config`, in module order.
    pub fn expected_parameters(config: &UNetConfig) -> Vec<ExpectedParameter> {
        let mut out = Vec::new();
        let mut push = |pytorch: String, burn: String, weight: Vec<usize>| {
            // Transposed convolutions keep their output channels in dimension 1.
            let channels = if pytorch.ends_with(".up") { weight[1] } else { weight[0] };
            out.push(ExpectedParameter {
                pytorch: format!("{pytorch}.weight"),
                burn: format!("{burn}.weight"),
                shape: weight,
            });
            out.push(ExpectedParameter {
                pytorch: format!("{pytorch}.bias"),
                burn: format!("{burn}.bias"),
                shape: vec![channels],
            });
        };
        let double = |push: &mut dyn FnMut(String, String, Vec<usize>), pt: &str, bn: &str, cin: usize, cout: usize| {
            push(format!("{pt}.conv.conv.0"), format!("{bn}.conv.conv1"), vec![cout, cin, 3, 3]);
            push(format!("{pt}.conv.conv.2"), format!("{bn}.conv.conv2"), vec![cout, cout, 3, 3]);
        };
        for level in 0..config.depth {
            let cin = if level == 0 { config.in_channels } else { config.channels_at(level - 1) };
            double(
                &mut push,
                &format!("Conv_down{}", level + 1),
                &format!("conv_down.{level}"),
                cin,
                config.channels_at(level),
            );
        }
        for (i, level) in (0..config.depth - 1).rev().enumerate() {
            let (below, here) = (config.channels_at(level + 1), config.channels_at(level));
            let (pt, bn) = (format!("Conv_up{}", i + 1), format!("conv_up.{i}"));
            push(format!("{pt}.up"), format!("{bn}.up"), vec![below, here, 2, 2]);
            double(&mut push, &pt, &bn, 2 * here, here);
        }
        push("Conv_out".into(), "conv_out".into(), vec![config.classes, config.base_channels, 1, 1]);
        out
    }

    /// The tensors of a state_dict file: name -> shape, plus how to open it for loading.
    enum StateDict {
        Pytorch(PytorchStore),
        Safetensors(SafetensorsStore),
    }

    impl StateDict {
        fn open(path: &Path) -> Result<Self> {
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            match extension.as_str() {
                "safetensors" => Ok(Self::Safetensors(SafetensorsStore::from_file(path))),
                "pt" | "pth" | "pwf" | "bin" | "ckpt" => {
                    Ok(Self::Pytorch(PytorchStore::from_file(path).map_indices_contiguous(false)))
                }
                _ => {
                    Err(Error::file(path, "unknown state_dict format: expected .pt/.pth (torch.save) or .safetensors"))
                }
            }
        }

        /// Name -> shape of every tensor in the file.
        fn shapes(&mut self, path: &Path) -> Result<BTreeMap<String, Vec<usize>>> {
            let unreadable = |e: String| Error::file(path, format!("cannot read the state_dict: {e}"));
            let tensors = match self {
                Self::Pytorch(store) => store.get_all_tensors().map_err(|e| unreadable(e.to_string()))?,
                Self::Safetensors(store) => store.get_all_tensors().map_err(|e| unreadable(e.to_string()))?,
            };
            Ok(tensors.iter().map(|(name, t)| (name.clone(), t.shape.to_vec())).collect())
        }
    }

    /// Drops a `module.` prefix (from `nn.DataParallel`) carried by every name.
    fn strip_data_parallel(shapes: BTreeMap<String, Vec<usize>>) -> (BTreeMap<String, Vec<usize>>, &'static str) {
        let prefix = "module.";
        if !shapes.is_empty() && shapes.keys().all(|k| k.starts_with(prefix)) {
            (shapes.into_iter().map(|(k, v)| (k[prefix.len()..].to_string(), v)).collect(), prefix)
        } else {
            (shapes, "")
        }
    }

    /// Base channels of the state_dict at `path`: the output channels of `Conv_down1.conv.conv.0.weight`.
    pub fn infer_base_channels(path: &Path) -> Result<usize> {
        let (shapes, _) = strip_data_parallel(StateDict::open(path)?.shapes(path)?);
        let name = "Conv_down1.conv.conv.0.weight";
        match shapes.get(name).map(Vec::as_slice) {
            Some([base, _, _, _]) => Ok(*base),
            Some(shape) => Err(Error::file(path, format!("{name} has shape {shape:?}, expected [base, in, 3, 3]"))),
            None => Err(Error::file(path, format!("no {name}: not a state_dict of the original CleanU_Net"))),
        }
    }

    /// Builds the network of `config` on `device` from the state_dict at `path`.
    pub fn import_state_dict(path: &Path, config: &UNetConfig, device: &Device) -> Result<UNet> {
        if config.batch_norm {
            return Err(Error::invalid(
                "the original CleanU_Net has no batch norm: import into a configuration without it",
            ));
        }
        let mut state = StateDict::open(path)?;
        let (shapes, prefix) = strip_data_parallel(state.shapes(path)?);
        let expected = expected_parameters(config);
        check_names_and_shapes(path, &shapes, &expected)?;

        let remapper = KeyRemapper::from_patterns(
            expected
                .iter()
                .map(|p| (format!("^{}$", regex_escape(&format!("{prefix}{}", p.pytorch))), p.burn.clone()))
                .collect(),
        )
        .map_err(|e| Error::invalid(format!("internal name mapping failed: {e}")))?;
        let mut model = UNet::new(config, device)?;
        let result = match state {
            StateDict::Pytorch(store) => {
                model.load_from(&mut store.remap(remapper).validate(true)).map_err(|e| e.to_string())
            }
            StateDict::Safetensors(store) => {
                model.load_from(&mut store.remap(remapper).validate(true)).map_err(|e| e.to_string())
            }
        }
        .map_err(|e| Error::file(path, format!("cannot load the tensors: {e}")))?;
        if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
            let missing: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
            return Err(Error::file(
                path,
                format!(
                    "loading left errors {:?}, missing {missing:?}, unused {:?}",
                    result.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                    result.unused
                ),
            ));
        }
        Ok(model)
    }

    /// Compares the file's tensors with the expected ones; the error lists every
    /// missing name, unexpected name and wrong shape.
    fn check_names_and_shapes(
        path: &Path,
        shapes: &BTreeMap<String, Vec<usize>>,
        expected: &[ExpectedParameter],
    ) -> Result<()> {
        let mut problems = Vec::new();
        let missing: Vec<&str> =
            expected.iter().filter(|p| !shapes.contains_key(&p.pytorch)).map(|p| p.pytorch.as_str()).collect();
        if !missing.is_empty() {
            problems.push(format!("missing: {}", missing.join(", ")));
        }
        let unexpected: Vec<&str> =
            shapes.keys().filter(|k| !expected.iter().any(|p| &p.pytorch == *k)).map(String::as_str).collect();
        if !unexpected.is_empty() {
            problems.push(format!("unexpected: {}", unexpected.join(", ")));
        }
        for p in expected {
            if let Some(shape) = shapes.get(&p.pytorch).filter(|s| **s != p.shape) {
                problems.push(format!("{} has shape {shape:?}, expected {:?}", p.pytorch, p.shape));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::file(path, format!("does not match the chosen network: {}", problems.join("; "))))
        }
    }

    /// `text` with the regex metacharacters escaped.
    fn regex_escape(text: &str) -> String {
        text.chars().fold(String::new(), |mut s, c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                s.push('\\');
            }
            s.push(c);
            s
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn seed_names_and_shapes_follow_the_original() {
            let expected = expected_parameters(&UNetConfig::seed());
            assert_eq!(expected.len(), 2 * (5 * 2 + 4 * 3 + 1));
            let find = |name: &str| expected.iter().find(|p| p.pytorch == name).unwrap();
            assert_eq!(find("Conv_down1.conv.conv.0.weight").shape, vec![64, 1, 3, 3]);
            assert_eq!(find("Conv_down5.conv.conv.2.weight").shape, vec![1024, 1024, 3, 3]);
            assert_eq!(find("Conv_up1.up.weight").shape, vec![1024, 512, 2, 2]);
            assert_eq!(find("Conv_up1.up.bias").shape, vec![512]);
            assert_eq!(find("Conv_up1.conv.conv.0.weight").shape, vec![512, 1024, 3, 3]);
            assert_eq!(find("Conv_up4.conv.conv.2.bias").burn, "conv_up.3.conv.conv2.bias");
            assert_eq!(find("Conv_out.weight").shape, vec![2, 64, 1, 1]);
            let total: usize = expected.iter().map(|p| p.shape.iter().product::<usize>()).sum();
            assert_eq!(total, UNetConfig::seed().parameter_count());
        }

        #[test]
        fn escaping_keeps_dots_literal() {
            assert_eq!(regex_escape("a.b[0]"), "a\\.b\\[0\\]");
        }
    }
}
