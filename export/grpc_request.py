"""TF Serving gRPC API (pip install tensorflow-serving-api): titles for a batch.

    python export/grpc_request.py --model autotitle-lstm-en --host localhost:8500 "a description" ...
"""

import argparse

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="+")
    parser.add_argument("--model", default="autotitle-lstm-en")
    parser.add_argument("--host", default="localhost:8500")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(args.host))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = args.model
    request.model_spec.signature_name = "serving_default"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(args.texts, dtype=tf.string))
    response = stub.Predict(request, args.timeout)
    titles = tf.make_ndarray(response.outputs["text"])
    scores = tf.make_ndarray(response.outputs["score"])
    for text, title, score in zip(args.texts, titles, scores):
        print(f"{score:7.3f}  {title.decode()}  <-  {text[:60]}")


if __name__ == "__main__":
    main()
