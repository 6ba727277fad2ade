//! unetseg's gemm layers ([`super::gemm_kernels`]) as burn tensor operations on the Flex
//! CPU backend, with their backward passes registered with burn's autodiff.
//!
//! burn 0.22's tensors carry no backend type; new primitive operations come as a backend
//! extension: a trait of operations marked `#[backend_extension(...)]` ([`GemmLayers`]),
//! implemented for each backend that the macro routes to (Flex, and burn's autodiff
//! decorator `Autodiff<Flex, C>`), and called through `Dispatch` on the tensors'
//! dispatch primitives. The autodiff implementation runs the Flex forward and registers
//! a `Backward` step that burn's `loss.backward()` calls with the output's gradient; it
//! computes the inputs' gradients with the gemm kernels and hands them back to burn's
//! gradient graph. Parameters stay burn `Param`s, so `GradientsParams` and the optimisers
//! see nothing unusual.
//!
//! Every activation here is a bordered NHWC batch `[images, height + 2, width + 2,
//! channels]` with a zero border ([`Bordered`]); [`to_bordered`] makes one from an NCHW
//! batch, and [`head1x1`] returns NCHW logits. Tensors must be `f32`. On wasm, where the
//! crate builds burn without autodiff, only the forward operations exist.

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::tensor::ops::PadMode;
use burn::tensor::{DType, Tensor, TensorData};

use super::gemm_kernels::{self as kernels, Bordered};

/// The gemm layers as primitive operations of a burn backend. Activations are bordered
/// NHWC batches; weights and biases have burn's layouts (those of `Conv2d` and
/// `ConvTranspose2d`).
#[backend_extension(Flex, Autodiff)]
pub trait GemmLayers: Backend {
    /// `conv3x3(x) + bias`, zero-padded, then a ReLU when `relu`; `weight`
    /// `[out, in, 3, 3]`, `bias` `[out]`.
    fn gemm_conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// [`gemm_conv3x3`](Self::gemm_conv3x3) of `cat(a, b)` on the channel axis (the
    /// decoder's `cat(upsampled, skip)`), the concatenation never built; `weight`
    /// `[out, in_a + in_b, 3, 3]`.
    fn gemm_conv3x3_cat(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// Batch norm in training mode followed by a ReLU:
    /// `relu(gamma (z - mean) / sqrt(variance + epsilon) + beta)` with the mean and biased
    /// variance of the batch's inner pixels, per channel. Returns the output, the mean and
    /// the variance (`[channels]` each, not differentiated).
    fn gemm_batch_norm_relu(
        z: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// 2x2 max-pool, stride 2 (even inner sides).
    fn gemm_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// 2x2 stride-2 transposed convolution plus bias; `weight` `[in, out, 2, 2]`, `bias` `[out]`.
    fn gemm_up_conv2x2(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;

    /// 1x1 convolution to NCHW logits `[images, classes, height, width]`; `weight`
    /// `[classes, in, 1, 1]`, `bias` `[classes]`.
    fn gemm_head1x1(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// `t` as a contiguous `f32` tensor (copied when it is a strided view).
///
/// # Panics
/// When `t` is not `f32`.
fn contiguous(t: FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "unetseg's gemm layers compute in f32 only");
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The values of a tensor made [`contiguous`].
fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// The shape of a bordered batch tensor.
fn bordered_shape(t: &FlexTensor) -> Bordered {
    Bordered::from_stored(t.layout().shape().dims::<4>())
}

/// A Flex tensor of `values` with dims `dims`.
fn flex_tensor(values: Vec<f32>, dims: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims))
}

/// Checks that `weight` has dims `expected` for the layer `name`.
fn check_dims(name: &str, weight: &FlexTensor, expected: &[usize]) {
    let dims = weight.layout().shape().as_slice();
    assert_eq!(dims, expected, "{name}: weight or bias of dims {dims:?}, expected {expected:?}");
}

/// The activation inputs of a 3x3 convolution with their shapes.
fn conv_inputs(inputs: &[FlexTensor]) -> Vec<(&[f32], Bordered)> {
    inputs.iter().map(|x| (values(x), bordered_shape(x))).collect()
}

/// [`GemmLayers::gemm_conv3x3`] of the concatenation of `inputs` (contiguous).
fn flex_conv3x3(inputs: &[FlexTensor], weight: &FlexTensor, bias: &FlexTensor, relu: bool) -> FlexTensor {
    let parts = conv_inputs(inputs);
    let out_c = bias.layout().shape().num_elements();
    let channels: usize = parts.iter().map(|(_, shape)| shape.channels).sum();
    check_dims("3x3 convolution", weight, &[out_c, channels, 3, 3]);
    let out = kernels::conv3x3(&parts, values(weight), values(bias), relu);
    flex_tensor(out, parts[0].1.with_channels(out_c).stored().to_vec())
}

/// [`GemmLayers::gemm_batch_norm_relu`] of contiguous tensors: the output and the statistics.
fn flex_batch_norm_relu(
    z: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    epsilon: f64,
) -> (FlexTensor, kernels::BatchStatistics) {
    let shape = bordered_shape(z);
    check_dims("batch norm", gamma, &[shape.channels]);
    check_dims("batch norm", beta, &[shape.channels]);
    let (out, stats) = kernels::batch_norm_relu(values(z), shape, values(gamma), values(beta), epsilon);
    (flex_tensor(out, shape.stored().to_vec()), stats)
}

/// The mean and the variance of `stats` as tensors.
fn statistics_tensors(stats: &kernels::BatchStatistics) -> (FlexTensor, FlexTensor) {
    let channels = stats.mean.len();
    (flex_tensor(stats.mean.clone(), vec![channels]), flex_tensor(stats.variance.clone(), vec![channels]))
}

impl GemmLayers for Flex {
    fn gemm_conv3x3(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, relu: bool) -> FlexTensor {
        flex_conv3x3(&[contiguous(x)], &contiguous(weight), &contiguous(bias), relu)
    }

    fn gemm_conv3x3_cat(a: FlexTensor, b: FlexTensor, weight: FlexTensor, bias: FlexTensor, relu: bool) -> FlexTensor {
        flex_conv3x3(&[contiguous(a), contiguous(b)], &contiguous(weight), &contiguous(bias), relu)
    }

    fn gemm_batch_norm_relu(
        z: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (out, stats) = flex_batch_norm_relu(&contiguous(z), &contiguous(gamma), &contiguous(beta), epsilon);
        let (mean, variance) = statistics_tensors(&stats);
        (out, mean, variance)
    }

    fn gemm_max_pool2x2(x: FlexTensor) -> FlexTensor {
        let x = contiguous(x);
        let shape = bordered_shape(&x);
        let out = kernels::max_pool2x2(values(&x), shape);
        let out_shape = Bordered { height: shape.height / 2, width: shape.width / 2, ..shape };
        flex_tensor(out, out_shape.stored().to_vec())
    }

    fn gemm_up_conv2x2(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
        let shape = bordered_shape(&x);
        let out_c = bias.layout().shape().num_elements();
        check_dims("up-convolution", &weight, &[shape.channels, out_c, 2, 2]);
        let out = kernels::up_conv2x2(values(&x), shape, values(&weight), values(&bias));
        let out_shape = Bordered { height: 2 * shape.height, width: 2 * shape.width, channels: out_c, ..shape };
        flex_tensor(out, out_shape.stored().to_vec())
    }

    fn gemm_head1x1(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
        let shape = bordered_shape(&x);
        let classes = bias.layout().shape().num_elements();
        check_dims("output convolution", &weight, &[classes, shape.channels, 1, 1]);
        let logits = kernels::head1x1(values(&x), shape, values(&weight), values(&bias));
        flex_tensor(logits, vec![shape.images, classes, shape.height, shape.width])
    }
}

/// The registration of the gemm layers' backward passes with burn's autodiff.
mod autodiff {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::autodiff::NodeId;
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Flex};

    use super::{
        bordered_shape, contiguous, conv_inputs, flex_batch_norm_relu, flex_conv3x3, flex_tensor, kernels,
        statistics_tensors, values, GemmLayers,
    };

    /// Registers `gradient` (of dims `dims`) for the input `node`, when it is tracked.
    fn register(grads: &mut Gradients, node: Option<NodeId>, gradient: Vec<f32>, dims: Vec<usize>) {
        if let Some(node) = node {
            grads.register::<Flex>(node, flex_tensor(gradient, dims));
        }
    }

    /// The dims of `t`.
    fn dims(t: &FlexTensor) -> Vec<usize> {
        t.layout().shape().to_vec()
    }

    /// The gradient of the operation's output (contiguous) and the node ids of its tracked inputs.
    fn start<S, const N: usize>(ops: &Ops<S, N>, grads: &mut Gradients) -> (FlexTensor, [Option<NodeId>; N]) {
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        (grad, ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id)))
    }

    /// Registers the gradients of a layer: those of its activation `inputs` (the first
    /// `N - 2` nodes), then of its weight and bias (the last two).
    fn register_layer<const N: usize>(
        grads: &mut Gradients,
        nodes: [Option<NodeId>; N],
        g: kernels::LayerGradients,
        inputs: &[FlexTensor],
        weight: &FlexTensor,
    ) {
        for ((gradient, node), x) in g.inputs.into_iter().zip(nodes).zip(inputs) {
            if let Some(gradient) = gradient {
                register(grads, node, gradient, dims(x));
            }
        }
        register(grads, nodes[N - 2], g.weight, dims(weight));
        let bias_len = g.bias.len();
        register(grads, nodes[N - 1], g.bias, vec![bias_len]);
    }

    /// Backward step of [`GemmLayers::gemm_conv3x3`] (`N = 3`) and
    /// [`GemmLayers::gemm_conv3x3_cat`] (`N = 4`): parents the `N - 2` activation inputs,
    /// the weight and the bias; state: the inputs, the weight, the output, the ReLU flag.
    #[derive(Debug)]
    struct Conv3x3Backward<const N: usize>;

    impl<const N: usize> Backward<Flex, N> for Conv3x3Backward<N> {
        type State = (Vec<FlexTensor>, FlexTensor, FlexTensor, bool);

        fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (grad, nodes) = start(&ops, grads);
            let (inputs, weight, output, relu) = &ops.state;
            let wanted: Vec<bool> = nodes[..N - 2].iter().map(Option::is_some).collect();
            let g = kernels::conv3x3_backward(
                &conv_inputs(inputs),
                values(weight),
                values(output),
                values(&grad),
                *relu,
                &wanted,
            );
            register_layer(grads, nodes, g, inputs, weight);
        }
    }

    /// Runs the 3x3 convolution of `tensors` (the activation inputs, then the weight and
    /// the bias) and registers its backward step.
    fn conv3x3<C: CheckpointStrategy, const N: usize>(
        tensors: [FloatTensor<Autodiff<Flex, C>>; N],
        relu: bool,
    ) -> FloatTensor<Autodiff<Flex, C>> {
        let nodes = tensors.each_ref().map(|t| t.node());
        let mut inputs: Vec<FlexTensor> = tensors.into_iter().map(|t| contiguous(t.into_primitive())).collect();
        let bias = inputs.pop().expect("a bias");
        let weight = inputs.pop().expect("a weight");
        let output = flex_conv3x3(&inputs, &weight, &bias, relu);
        match Conv3x3Backward::<N>.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((inputs, weight, output.clone(), relu), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    /// Backward step of [`GemmLayers::gemm_batch_norm_relu`]: parents the input, gamma and
    /// beta; state: the input, gamma, the output, the statistics and epsilon.
    #[derive(Debug)]
    struct BatchNormReluBackward;

    impl Backward<Flex, 3> for BatchNormReluBackward {
        type State = (FlexTensor, FlexTensor, FlexTensor, kernels::BatchStatistics, f64);

        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (grad, nodes) = start(&ops, grads);
            let (z, gamma, output, stats, epsilon) = &ops.state;
            let g = kernels::batch_norm_relu_backward(
                values(z),
                bordered_shape(z),
                values(gamma),
                stats,
                *epsilon,
                values(output),
                values(&grad),
            );
            register_layer(grads, nodes, g, core::slice::from_ref(z), gamma);
        }
    }

    /// Backward step of [`GemmLayers::gemm_max_pool2x2`]; state: input.
    #[derive(Debug)]
    struct MaxPool2x2Backward;

    impl Backward<Flex, 1> for MaxPool2x2Backward {
        type State = FlexTensor;

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (grad, [x_node]) = start(&ops, grads);
            let x = &ops.state;
            let input = kernels::max_pool2x2_backward(values(x), bordered_shape(x), values(&grad));
            register(grads, x_node, input, dims(x));
        }
    }

    /// Backward step of [`GemmLayers::gemm_up_conv2x2`]; state: input, weight.
    #[derive(Debug)]
    struct UpConv2x2Backward;

    impl Backward<Flex, 3> for UpConv2x2Backward {
        type State = (FlexTensor, FlexTensor);

        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (grad, nodes) = start(&ops, grads);
            let (x, weight) = &ops.state;
            let g = kernels::up_conv2x2_backward(
                values(x),
                bordered_shape(x),
                values(weight),
                values(&grad),
                nodes[0].is_some(),
            );
            register_layer(grads, nodes, g, core::slice::from_ref(x), weight);
        }
    }

    /// Backward step of [`GemmLayers::gemm_head1x1`]; state: input, weight.
    #[derive(Debug)]
    struct Head1x1Backward;

    impl Backward<Flex, 3> for Head1x1Backward {
        type State = (FlexTensor, FlexTensor);

        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (grad, nodes) = start(&ops, grads);
            let (x, weight) = &ops.state;
            let g = kernels::head1x1_backward(
                values(x),
                bordered_shape(x),
                values(weight),
                values(&grad),
                nodes[0].is_some(),
            );
            register_layer(grads, nodes, g, core::slice::from_ref(x), weight);
        }
    }

    /// Runs `forward`, a layer with an activation input, a weight and a bias, and
    /// registers its backward `step` with the input and the weight (contiguous) as its state.
    fn layer<C: CheckpointStrategy, S: Backward<Flex, 3, State = (FlexTensor, FlexTensor)>>(
        step: S,
        [x, weight, bias]: [FloatTensor<Autodiff<Flex, C>>; 3],
        forward: fn(FlexTensor, FlexTensor, FlexTensor) -> FlexTensor,
    ) -> FloatTensor<Autodiff<Flex, C>> {
        let nodes = [x.node(), weight.node(), bias.node()];
        let (x, weight) = (contiguous(x.into_primitive()), contiguous(weight.into_primitive()));
        let output = forward(x.clone(), weight.clone(), bias.into_primitive());
        match step.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x, weight), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    impl<C: CheckpointStrategy> GemmLayers for Autodiff<Flex, C> {
        fn gemm_conv3x3(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            relu: bool,
        ) -> FloatTensor<Self> {
            conv3x3::<C, 3>([x, weight, bias], relu)
        }

        fn gemm_conv3x3_cat(
            a: FloatTensor<Self>,
            b: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            relu: bool,
        ) -> FloatTensor<Self> {
            conv3x3::<C, 4>([a, b, weight, bias], relu)
        }

        fn gemm_batch_norm_relu(
            z: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f64,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            let nodes = [z.node(), gamma.node(), beta.node()];
            let (z, gamma) = (contiguous(z.into_primitive()), contiguous(gamma.into_primitive()));
            let (output, stats) = flex_batch_norm_relu(&z, &gamma, &contiguous(beta.into_primitive()), epsilon);
            let (mean, variance) = statistics_tensors(&stats);
            let output = match BatchNormReluBackward.prepare::<C>(nodes).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((z, gamma, output.clone(), stats, epsilon), output),
                OpsKind::UnTracked(prep) => prep.finish(output),
            };
            (output, FloatTensor::<Self>::new(mean), FloatTensor::<Self>::new(variance))
        }

        fn gemm_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
            let node = x.node();
            let x = contiguous(x.into_primitive());
            let output = Flex::gemm_max_pool2x2(x.clone());
            match MaxPool2x2Backward.prepare::<C>([node]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish(x, output),
                OpsKind::UnTracked(prep) => prep.finish(output),
            }
        }

        fn gemm_up_conv2x2(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            layer::<C, _>(UpConv2x2Backward, [x, weight, bias], Flex::gemm_up_conv2x2)
        }

        fn gemm_head1x1(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
            layer::<C, _>(Head1x1Backward, [x, weight, bias], Flex::gemm_head1x1)
        }
    }
}

/// A bordered NHWC batch (zero border) from an NCHW batch `[images, channels, height, width]`.
pub fn to_bordered(x: Tensor<4>) -> Tensor<4> {
    x.pad((1, 1, 1, 1), PadMode::Constant(0.0)).permute([0, 2, 3, 1])
}

/// `conv3x3(x) + bias` of a bordered batch, zero-padded, then a ReLU when `relu`.
pub fn conv3x3(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, relu: bool) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::gemm_conv3x3(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), relu))
}

/// [`conv3x3`] of the concatenation on the channel axis of two bordered batches of one
/// image size, the concatenation never built.
pub fn conv3x3_cat(a: Tensor<4>, b: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, relu: bool) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::gemm_conv3x3_cat(
        a.into_dispatch(),
        b.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        relu,
    ))
}

/// The output of [`batch_norm_relu`] and the batch statistics it used.
pub struct BatchNormRelu {
    /// The bordered output.
    pub output: Tensor<4>,
    /// Per-channel mean of the batch (not differentiated).
    pub mean: Tensor<1>,
    /// Per-channel biased variance of the batch (not differentiated).
    pub variance: Tensor<1>,
}

/// Batch norm in training mode (the batch's own statistics) followed by a ReLU, of a
/// bordered batch (see [`GemmLayers::gemm_batch_norm_relu`]).
pub fn batch_norm_relu(z: Tensor<4>, gamma: Tensor<1>, beta: Tensor<1>, epsilon: f64) -> BatchNormRelu {
    let (output, mean, variance) =
        Dispatch::gemm_batch_norm_relu(z.into_dispatch(), gamma.into_dispatch(), beta.into_dispatch(), epsilon);
    BatchNormRelu {
        output: Tensor::from_dispatch(output),
        mean: Tensor::from_dispatch(mean),
        variance: Tensor::from_dispatch(variance),
    }
}

/// 2x2 max-pool, stride 2, of a bordered batch with even inner sides.
pub fn max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::gemm_max_pool2x2(x.into_dispatch()))
}

/// 2x2 stride-2 transposed convolution plus bias of a bordered batch; `weight` `[in, out, 2, 2]`.
pub fn up_conv2x2(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::gemm_up_conv2x2(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch()))
}

/// 1x1 convolution of a bordered batch to NCHW logits; `weight` `[classes, in, 1, 1]`.
pub fn head1x1(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::gemm_head1x1(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch()))
}
