import keras
import numpy as np
from keras import ops


def pixelcnn_masks(kernel_size, mask_type):
    """`(vertical [k, k], horizontal [1, k])` 0/1 kernel masks of a gated
    PixelCNN block (van den Oord et al. 2016).

    The vertical stack sees the rows above and its own row (every column):
    with "same" padding, output row i reads input rows i - k//2 .. i. Its
    features reach the horizontal stack only shifted down one row, so no pixel
    ever sees its own row through them: there is no blind spot and no leak.
    The horizontal stack sees its own row, left of the pixel: columns
    j - k//2 .. j ("B") or j - k//2 .. j - 1 ("A", the first block, which
    reads the image itself)."""
    if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"`kernel_size` must be an odd positive int, got {kernel_size!r}.")
    if mask_type not in ("A", "B"):
        raise ValueError(f"`mask_type` must be 'A' or 'B', got {mask_type!r}.")
    center = kernel_size // 2
    vertical = np.zeros((kernel_size, kernel_size), "float32")
    vertical[: center + 1] = 1.0
    horizontal = np.zeros((1, kernel_size), "float32")
    horizontal[0, : center + (mask_type == "B")] = 1.0
    return vertical, horizontal


@keras.saving.register_keras_serializable(package="keras_cgen")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One block of a gated, conditional PixelCNN: a vertical and a horizontal
    stack of masked convolutions with the gated activation

        y = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)

    where h is the condition (a per-channel bias through `V`, the same at every
    pixel) plus, optionally, a spatial condition s (a map `[H, W, S]` computed
    from the condition alone, e.g. a learned map per class: V_s * s is then a
    bias that differs per position, the paper's location-dependent
    conditioning). The horizontal stack also reads the vertical stack's features of
    the row above (a 1x1 convolution) and has a residual connection after the
    first block. See `pixelcnn_masks` for what each output sees.

    Args:
        filters: channels of both stacks' outputs (p; the gates use 2p).
        kernel_size: odd width of the masked kernels.
        mask_type: "A" for the first block (it reads the image), "B" after.

    Call as `block([vertical, horizontal])`, `block([vertical, horizontal,
    condition])` or `block([vertical, horizontal, condition, spatial])` with
    images `[B, H, W, C]`, a condition `[B, D]` and a spatial condition
    `[B, H, W, S]`; returns `[vertical, horizontal]`, each `[B, H, W, filters]`.

    Example:
    >>> image = keras.random.uniform((2, 8, 8, 1))
    >>> v, h = GatedPixelCNNBlock(16, 3, "A")([image, image, keras.ops.one_hot([3, 7], 10)])
    >>> tuple(h.shape)
    (2, 8, 8, 16)
    """

    def __init__(self, filters, kernel_size=3, mask_type="B", **kwargs):
        super().__init__(**kwargs)
        if int(filters) != filters or filters < 1:
            raise ValueError(f"`filters` must be a positive int, got {filters!r}.")
        self.vertical_mask, self.horizontal_mask = pixelcnn_masks(kernel_size, mask_type)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.mask_type = mask_type

    def build(self, input_shape):
        channels = input_shape[0][-1]
        k, gates = self.kernel_size, 2 * self.filters

        def weight(name, shape, initializer="glorot_uniform"):
            return self.add_weight(name=name, shape=shape, initializer=initializer)

        self.vertical_kernel = weight("vertical_kernel", (k, k, channels, gates))
        self.vertical_bias = weight("vertical_bias", (gates,), "zeros")
        self.horizontal_kernel = weight("horizontal_kernel", (1, k, input_shape[1][-1], gates))
        self.horizontal_bias = weight("horizontal_bias", (gates,), "zeros")
        self.vertical_to_horizontal = weight("vertical_to_horizontal", (gates, gates))
        self.output_kernel = weight("output_kernel", (self.filters, self.filters))
        self.output_bias = weight("output_bias", (self.filters,), "zeros")
        if len(input_shape) not in (2, 3, 4):
            raise ValueError(f"GatedPixelCNNBlock takes [vertical, horizontal] and optionally a condition and a "
                             f"spatial condition: 2 to 4 inputs, got {len(input_shape)}.")
        self.conditional = len(input_shape) >= 3
        if self.conditional:
            self.vertical_condition = weight("vertical_condition", (input_shape[2][-1], gates))
            self.horizontal_condition = weight("horizontal_condition", (input_shape[2][-1], gates))
        self.spatial = len(input_shape) == 4
        if self.spatial:
            self.vertical_spatial = weight("vertical_spatial", (input_shape[3][-1], gates))
            self.horizontal_spatial = weight("horizontal_spatial", (input_shape[3][-1], gates))
        self.residual = self.mask_type == "B" and input_shape[1][-1] == self.filters
        self.built = True

    def gate(self, x):
        return ops.tanh(x[..., : self.filters]) * ops.sigmoid(x[..., self.filters:])

    def call(self, inputs):
        vertical, horizontal = inputs[0], inputs[1]
        # Only the kernel rows (columns) the mask keeps are convolved, with the padding a
        # "same" convolution would add on that side: the same result as the masked
        # full kernel, at (c + 1) / k of its cost.
        c = self.kernel_size // 2
        v_kernel = (self.vertical_kernel * self.vertical_mask[:, :, None, None])[: c + 1]
        v = ops.conv(ops.pad(vertical, ((0, 0), (c, 0), (c, c), (0, 0))), v_kernel, padding="valid")
        v = v + self.vertical_bias
        h_kernel = (self.horizontal_kernel * self.horizontal_mask[:, :, None, None])[:, : c + 1]
        h = ops.conv(ops.pad(horizontal, ((0, 0), (0, 0), (c, 0), (0, 0))), h_kernel, padding="valid")
        h = h + self.horizontal_bias
        if self.conditional:
            condition = ops.cast(inputs[2], v.dtype)
            v = v + ops.matmul(condition, self.vertical_condition)[:, None, None, :]
            h = h + ops.matmul(condition, self.horizontal_condition)[:, None, None, :]
        if self.spatial:
            spatial = ops.cast(inputs[3], v.dtype)
            v = v + ops.matmul(spatial, self.vertical_spatial)
            h = h + ops.matmul(spatial, self.horizontal_spatial)
        above = ops.pad(v, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]  # row i gets the vertical stack's row i - 1
        h = h + ops.matmul(above, self.vertical_to_horizontal)
        out = ops.matmul(self.gate(h), self.output_kernel) + self.output_bias
        if self.residual:
            out = out + horizontal
        return [self.gate(v), out]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0][:-1]) + (self.filters,)
        return [shape, shape]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, mask_type=self.mask_type)
        return config
