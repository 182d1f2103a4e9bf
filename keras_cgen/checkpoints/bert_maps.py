"""Declarative name maps: our weight path -> checkpoint tensor name (+ transform).

`{i}` stands for the transformer layer index. Transforms:
    None        copy as is
    "transpose" PyTorch Linear stores [out, in]; Keras Dense kernels are [in, out]
    "reshape"   keras-hub keeps heads as their own axis; ours are flattened
"""

HF_BERT = {
    "Embedding-Token/embeddings": ("embeddings.word_embeddings.weight", None),
    "Embedding-Segment/embeddings": ("embeddings.token_type_embeddings.weight", None),
    "Embedding-Position/embeddings": ("embeddings.position_embeddings.weight", None),
    "Embedding-Norm/gamma": ("embeddings.LayerNorm.weight", None),
    "Embedding-Norm/beta": ("embeddings.LayerNorm.bias", None),
    "Transformer-{i}-MultiHeadSelfAttention/query/kernel": ("encoder.layer.{i}.attention.self.query.weight", "transpose"),
    "Transformer-{i}-MultiHeadSelfAttention/query/bias": ("encoder.layer.{i}.attention.self.query.bias", None),
    "Transformer-{i}-MultiHeadSelfAttention/key/kernel": ("encoder.layer.{i}.attention.self.key.weight", "transpose"),
    "Transformer-{i}-MultiHeadSelfAttention/key/bias": ("encoder.layer.{i}.attention.self.key.bias", None),
    "Transformer-{i}-MultiHeadSelfAttention/value/kernel": ("encoder.layer.{i}.attention.self.value.weight", "transpose"),
    "Transformer-{i}-MultiHeadSelfAttention/value/bias": ("encoder.layer.{i}.attention.self.value.bias", None),
    "Transformer-{i}-MultiHeadSelfAttention/output/kernel": ("encoder.layer.{i}.attention.output.dense.weight", "transpose"),
    "Transformer-{i}-MultiHeadSelfAttention/output/bias": ("encoder.layer.{i}.attention.output.dense.bias", None),
    "Transformer-{i}-MultiHeadSelfAttention-Norm/gamma": ("encoder.layer.{i}.attention.output.LayerNorm.weight", None),
    "Transformer-{i}-MultiHeadSelfAttention-Norm/beta": ("encoder.layer.{i}.attention.output.LayerNorm.bias", None),
    "Transformer-{i}-FeedForward-Intermediate/kernel": ("encoder.layer.{i}.intermediate.dense.weight", "transpose"),
    "Transformer-{i}-FeedForward-Intermediate/bias": ("encoder.layer.{i}.intermediate.dense.bias", None),
    "Transformer-{i}-FeedForward-Output/kernel": ("encoder.layer.{i}.output.dense.weight", "transpose"),
    "Transformer-{i}-FeedForward-Output/bias": ("encoder.layer.{i}.output.dense.bias", None),
    "Transformer-{i}-FeedForward-Norm/gamma": ("encoder.layer.{i}.output.LayerNorm.weight", None),
    "Transformer-{i}-FeedForward-Norm/beta": ("encoder.layer.{i}.output.LayerNorm.bias", None),
    "MLM-Dense/kernel": ("cls.predictions.transform.dense.weight", "transpose"),
    "MLM-Dense/bias": ("cls.predictions.transform.dense.bias", None),
    "MLM-Norm/gamma": ("cls.predictions.transform.LayerNorm.weight", None),
    "MLM-Norm/beta": ("cls.predictions.transform.LayerNorm.bias", None),
    "MLM-Bias/bias": ("cls.predictions.bias", None),
}

GOOGLE_TF1_BERT = {
    "Embedding-Token/embeddings": ("bert/embeddings/word_embeddings", None),
    "Embedding-Segment/embeddings": ("bert/embeddings/token_type_embeddings", None),
    "Embedding-Position/embeddings": ("bert/embeddings/position_embeddings", None),
    "Embedding-Norm/gamma": ("bert/embeddings/LayerNorm/gamma", None),
    "Embedding-Norm/beta": ("bert/embeddings/LayerNorm/beta", None),
    "Transformer-{i}-MultiHeadSelfAttention/query/kernel": ("bert/encoder/layer_{i}/attention/self/query/kernel", None),
    "Transformer-{i}-MultiHeadSelfAttention/query/bias": ("bert/encoder/layer_{i}/attention/self/query/bias", None),
    "Transformer-{i}-MultiHeadSelfAttention/key/kernel": ("bert/encoder/layer_{i}/attention/self/key/kernel", None),
    "Transformer-{i}-MultiHeadSelfAttention/key/bias": ("bert/encoder/layer_{i}/attention/self/key/bias", None),
    "Transformer-{i}-MultiHeadSelfAttention/value/kernel": ("bert/encoder/layer_{i}/attention/self/value/kernel", None),
    "Transformer-{i}-MultiHeadSelfAttention/value/bias": ("bert/encoder/layer_{i}/attention/self/value/bias", None),
    "Transformer-{i}-MultiHeadSelfAttention/output/kernel": ("bert/encoder/layer_{i}/attention/output/dense/kernel", None),
    "Transformer-{i}-MultiHeadSelfAttention/output/bias": ("bert/encoder/layer_{i}/attention/output/dense/bias", None),
    "Transformer-{i}-MultiHeadSelfAttention-Norm/gamma": ("bert/encoder/layer_{i}/attention/output/LayerNorm/gamma", None),
    "Transformer-{i}-MultiHeadSelfAttention-Norm/beta": ("bert/encoder/layer_{i}/attention/output/LayerNorm/beta", None),
    "Transformer-{i}-FeedForward-Intermediate/kernel": ("bert/encoder/layer_{i}/intermediate/dense/kernel", None),
    "Transformer-{i}-FeedForward-Intermediate/bias": ("bert/encoder/layer_{i}/intermediate/dense/bias", None),
    "Transformer-{i}-FeedForward-Output/kernel": ("bert/encoder/layer_{i}/output/dense/kernel", None),
    "Transformer-{i}-FeedForward-Output/bias": ("bert/encoder/layer_{i}/output/dense/bias", None),
    "Transformer-{i}-FeedForward-Norm/gamma": ("bert/encoder/layer_{i}/output/LayerNorm/gamma", None),
    "Transformer-{i}-FeedForward-Norm/beta": ("bert/encoder/layer_{i}/output/LayerNorm/beta", None),
    "MLM-Dense/kernel": ("cls/predictions/transform/dense/kernel", None),
    "MLM-Dense/bias": ("cls/predictions/transform/dense/bias", None),
    "MLM-Norm/gamma": ("cls/predictions/transform/LayerNorm/gamma", None),
    "MLM-Norm/beta": ("cls/predictions/transform/LayerNorm/beta", None),
    "MLM-Bias/bias": ("cls/predictions/output_bias", None),
}

KERAS_HUB_BERT = {
    "Embedding-Token/embeddings": ("token_embedding/embeddings", None),
    "Embedding-Segment/embeddings": ("segment_embedding/embeddings", None),
    "Embedding-Position/embeddings": ("position_embedding/embeddings", None),
    "Embedding-Norm/gamma": ("embeddings_layer_norm/gamma", None),
    "Embedding-Norm/beta": ("embeddings_layer_norm/beta", None),
    "Transformer-{i}-MultiHeadSelfAttention/query/kernel": ("transformer_layer_{i}/self_attention_layer/query/kernel", "reshape"),
    "Transformer-{i}-MultiHeadSelfAttention/query/bias": ("transformer_layer_{i}/self_attention_layer/query/bias", "reshape"),
    "Transformer-{i}-MultiHeadSelfAttention/key/kernel": ("transformer_layer_{i}/self_attention_layer/key/kernel", "reshape"),
    "Transformer-{i}-MultiHeadSelfAttention/key/bias": ("transformer_layer_{i}/self_attention_layer/key/bias", "reshape"),
    "Transformer-{i}-MultiHeadSelfAttention/value/kernel": ("transformer_layer_{i}/self_attention_layer/value/kernel", "reshape"),
    "Transformer-{i}-MultiHeadSelfAttention/value/bias": ("transformer_layer_{i}/self_attention_layer/value/bias", "reshape"),
    "Transformer-{i}-MultiHeadSelfAttention/output/kernel": ("transformer_layer_{i}/self_attention_layer/attention_output/kernel", "reshape"),
    "Transformer-{i}-MultiHeadSelfAttention/output/bias": ("transformer_layer_{i}/self_attention_layer/attention_output/bias", None),
    "Transformer-{i}-MultiHeadSelfAttention-Norm/gamma": ("transformer_layer_{i}/self_attention_layer_norm/gamma", None),
    "Transformer-{i}-MultiHeadSelfAttention-Norm/beta": ("transformer_layer_{i}/self_attention_layer_norm/beta", None),
    "Transformer-{i}-FeedForward-Intermediate/kernel": ("transformer_layer_{i}/feedforward_intermediate_dense/kernel", None),
    "Transformer-{i}-FeedForward-Intermediate/bias": ("transformer_layer_{i}/feedforward_intermediate_dense/bias", None),
    "Transformer-{i}-FeedForward-Output/kernel": ("transformer_layer_{i}/feedforward_output_dense/kernel", None),
    "Transformer-{i}-FeedForward-Output/bias": ("transformer_layer_{i}/feedforward_output_dense/bias", None),
    "Transformer-{i}-FeedForward-Norm/gamma": ("transformer_layer_{i}/feedforward_layer_norm/gamma", None),
    "Transformer-{i}-FeedForward-Norm/beta": ("transformer_layer_{i}/feedforward_layer_norm/beta", None),
    # A keras-hub BertBackbone preset carries no MLM head: those weights stay
    # at their initial values and load_bert lists them.
}


def expand(name_map, num_layers):
    """Replaces `{i}` by each layer index: {our_path: (checkpoint_name, transform)}."""
    expanded = {}
    for ours, (theirs, transform) in name_map.items():
        if "{i}" in ours:
            for i in range(num_layers):
                expanded[ours.format(i=i)] = (theirs.format(i=i), transform)
        else:
            expanded[ours] = (theirs, transform)
    return expanded
